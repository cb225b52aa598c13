/**
 * Runtime honesty: which version a job asked for, which it got, and whether the
 * project itself accepts what it got (`engines.node`, `requires-python`, the
 * go.mod `go` directive, composer's `require.php`). Pure: the caller reads the
 * files and runs the version command.
 */
import type { RuntimeDeclaration } from './templates.ts';

export type Version = [number, number, number];

/** The first dotted number in a version string: `v20.20.2`, `go1.19.8`, `openjdk version "17.0.9"`, `corretto21`. */
export function parseVersion(text: string): Version | undefined {
  const m = /(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

function cmp(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Does `got` match what the template asked for, to the precision asked (`22` matches 22.x, `3.12` matches 3.12.x)? */
export function matchesAsked(asked: string, got: Version): boolean {
  const m = /(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(asked);
  if (!m) return true;
  const parts = [m[1], m[2], m[3]].filter((x) => x !== undefined).map(Number);
  return parts.every((p, i) => got[i] === p);
}

interface Partial3 { parts: number[] }

function partial(text: string): Partial3 | undefined {
  const t = text.trim().replace(/^v/, '');
  if (t === '' || t === '*' || /^[xX]$/.test(t)) return { parts: [] };
  const m = /^(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:[-+].*)?$/.exec(t);
  if (!m) return undefined;
  const parts: number[] = [];
  for (const p of [m[1], m[2], m[3]]) {
    if (p === undefined || /^[xX*]$/.test(p)) break;
    parts.push(Number(p));
  }
  return { parts };
}

const floor = (p: Partial3): Version => [p.parts[0] ?? 0, p.parts[1] ?? 0, p.parts[2] ?? 0];
/** The first version past a partial one: `22` -> 23.0.0, `3.12` -> 3.13.0. */
function nextOf(p: Partial3): Version | undefined {
  if (p.parts.length === 0) return undefined;
  const v = floor(p);
  const i = p.parts.length - 1;
  v[i] += 1;
  for (let j = i + 1; j < 3; j++) v[j] = 0;
  return v;
}

type Check = (v: Version) => boolean;

/** One comparator of an npm/composer range; undefined when it cannot be read. */
function comparator(token: string, dialect: 'npm' | 'composer'): Check | undefined {
  const m = /^(\^|~>?|>=|<=|>|<|=|==|!=)?\s*(.+)$/.exec(token.trim());
  if (!m) return undefined;
  const op = m[1] ?? '';
  const p = partial(m[2]);
  if (!p) return undefined;
  const lo = floor(p);
  switch (op) {
    case '>=': return (v) => cmp(v, lo) >= 0;
    case '>': {
      if (p.parts.length === 3) return (v) => cmp(v, lo) > 0;
      const n = nextOf(p); // >22 means 23.0.0 and up
      return n ? (v) => cmp(v, n) >= 0 : () => false;
    }
    case '<=': {
      if (p.parts.length === 3) return (v) => cmp(v, lo) <= 0;
      const n = nextOf(p); // <=22 means anything 22.x
      return n ? (v) => cmp(v, n) < 0 : () => true;
    }
    case '<': return (v) => cmp(v, lo) < 0;
    case '!=': return (v) => !(p.parts.every((x, i) => v[i] === x));
    case '^': {
      // The left-most non-zero part may not change (^1.2 < 2.0.0, ^0.2 < 0.3.0, ^0.0 < 0.1.0).
      let i = p.parts.findIndex((x) => x !== 0);
      if (i === -1) i = Math.max(0, p.parts.length - 1);
      const hi: Version = [...lo];
      hi[i] += 1;
      for (let j = i + 1; j < 3; j++) hi[j] = 0;
      return (v) => cmp(v, lo) >= 0 && cmp(v, hi) < 0;
    }
    case '~':
    case '~>': {
      // npm: ~1.2.3 and ~1.2 allow patch changes, ~1 minor ones. Composer: ~1.2 allows minor changes (>=1.2 <2.0).
      const keep = dialect === 'composer' && p.parts.length >= 2 ? p.parts.length - 1 : Math.min(2, p.parts.length);
      const hi = nextOf({ parts: p.parts.slice(0, Math.max(1, keep)) });
      return (v) => cmp(v, lo) >= 0 && (!hi || cmp(v, hi) < 0);
    }
    default: {
      // A bare or `=` version: exact when complete, an x-range when partial.
      const hi = nextOf(p);
      return p.parts.length === 3 ? (v) => cmp(v, lo) === 0 : (v) => cmp(v, lo) >= 0 && (!hi || cmp(v, hi) < 0);
    }
  }
}

/** npm (`>=20 <23 || ^24`) or composer (`^8.1 | ^8.2`, `>=8.1,<9`) range; undefined when it cannot be read. */
export function satisfiesRange(version: Version, range: string, dialect: 'npm' | 'composer' = 'npm'): boolean | undefined {
  const alternatives = range.split(dialect === 'composer' ? /\s*\|\|?\s*/ : /\s*\|\|\s*/);
  let any = false;
  for (const alt of alternatives) {
    const hyphen = /^\s*(\S+)\s+-\s+(\S+)\s*$/.exec(alt);
    const tokens = hyphen ? [`>=${hyphen[1]}`, `<=${hyphen[2]}`] : alt.trim().replace(/(>=|<=|>|<|=|\^|~>?)\s+/g, '$1').split(dialect === 'composer' ? /[\s,]+/ : /\s+/).filter(Boolean);
    const checks = tokens.map((t) => comparator(t, dialect));
    if (checks.some((c) => c === undefined)) return undefined;
    if (checks.every((c) => c!(version))) any = true;
  }
  return any;
}

/** PEP 440 specifiers (`>=3.10`, `>=3.9,<3.13`, `~=3.11`, `==3.12.*`, `!=3.11.2`); undefined when they cannot be read. */
export function satisfiesPep440(version: Version, spec: string): boolean | undefined {
  for (const clause of spec.split(',').map((c) => c.trim()).filter(Boolean)) {
    const m = /^(~=|===|==|!=|>=|<=|>|<)\s*([0-9][0-9.]*)(\.\*)?$/.exec(clause);
    if (!m) return undefined;
    const parts = m[2].split('.').filter(Boolean).map(Number);
    const p: Partial3 = { parts: parts.slice(0, 3) };
    const lo = floor(p);
    const wildcard = m[3] !== undefined;
    const prefix = (v: Version) => p.parts.every((x, i) => v[i] === x);
    let ok: boolean;
    switch (m[1]) {
      case '>=': ok = cmp(version, lo) >= 0; break;
      case '<=': ok = cmp(version, lo) <= 0; break;
      case '>': ok = cmp(version, lo) > 0; break;
      case '<': ok = cmp(version, lo) < 0; break;
      case '==': case '===': ok = wildcard || p.parts.length < 3 ? prefix(version) : cmp(version, lo) === 0; break;
      case '!=': ok = !(wildcard || p.parts.length < 3 ? prefix(version) : cmp(version, lo) === 0); break;
      default: { // ~=X.Y: >=X.Y, ==X.*
        if (p.parts.length < 2) return undefined;
        ok = cmp(version, lo) >= 0 && p.parts.slice(0, -1).every((x, i) => version[i] === x);
      }
    }
    if (!ok) return false;
  }
  return true;
}

export interface DeclaredRequirement {
  /** Where it was read, e.g. `package.json engines.node`. */
  source: RuntimeDeclaration;
  /** The requirement as written, e.g. `>=22.12`. */
  requirement: string;
  check(v: Version): boolean | undefined;
}

/**
 * What the project declares about its runtime, from the file's text (undefined
 * when it declares nothing, or the file is missing or unreadable).
 */
export function declaredRequirement(source: RuntimeDeclaration, fileText: string | undefined): DeclaredRequirement | undefined {
  if (fileText === undefined || source === 'none') return undefined;
  try {
    switch (source) {
      case 'package.json engines.node': {
        const r = (JSON.parse(fileText) as { engines?: { node?: unknown } }).engines?.node;
        return typeof r === 'string' ? { source, requirement: r, check: (v) => satisfiesRange(v, r, 'npm') } : undefined;
      }
      case 'composer.json require.php': {
        const r = (JSON.parse(fileText) as { require?: { php?: unknown } }).require?.php;
        return typeof r === 'string' ? { source, requirement: r, check: (v) => satisfiesRange(v, r, 'composer') } : undefined;
      }
      case 'pyproject.toml requires-python': {
        // Only the [project] table's key; a full TOML parser is not needed for one string.
        const project = /^\[project\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(fileText)?.[1] ?? '';
        const r = /^requires-python\s*=\s*["']([^"']+)["']/m.exec(project)?.[1];
        return r ? { source, requirement: r, check: (v) => satisfiesPep440(v, r) } : undefined;
      }
      case 'go.mod go directive': {
        // Since Go 1.21 the directive is a minimum; the template runs with GOTOOLCHAIN=local, so no newer Go is fetched.
        const r = /^go\s+(\d+(?:\.\d+){0,2})\s*$/m.exec(fileText)?.[1];
        return r ? { source, requirement: `>=${r}`, check: (v) => cmp(v, floor({ parts: r.split('.').map(Number) })) >= 0 } : undefined;
      }
    }
  } catch {
    return undefined;
  }
}

/** The file each declaration lives in, relative to the repository root. */
export const DECLARATION_FILES: Record<RuntimeDeclaration, string | undefined> = {
  'package.json engines.node': 'package.json',
  'pyproject.toml requires-python': 'pyproject.toml',
  'go.mod go directive': 'go.mod',
  'composer.json require.php': 'composer.json',
  none: undefined,
};

export interface RuntimeVerdict {
  ok: boolean;
  /** One line for the job's log (or the failure's reason). */
  message: string;
}

/**
 * The verdict on the runtime a job got: a different version than asked is
 * stated; it fails the job only when the project declares it unsupported.
 */
export function judgeRuntime(runtime: string, asked: string, gotText: string, declared: DeclaredRequirement | undefined): RuntimeVerdict {
  const got = parseVersion(gotText);
  const gotLabel = got ? got.join('.') : gotText.trim() || 'unknown';
  if (!got) return { ok: true, message: `runtime ${runtime}: asked ${asked}, could not read the version this machine has (${JSON.stringify(gotText.trim())})` };
  const same = matchesAsked(asked, got);
  const head = `runtime ${runtime}: asked ${asked}, got ${gotLabel}`;
  if (!declared) return { ok: true, message: same ? head : `${head} (this machine's; the project declares no supported versions)` };
  const fits = declared.check(got);
  if (fits === false) {
    return { ok: false, message: `${head}, but the project requires ${runtime} ${declared.requirement} (${declared.source}): install a matching ${runtime}, or run this job on AWS where the template's version is used` };
  }
  if (fits === undefined) return { ok: true, message: `${head} (could not read ${declared.source} ${JSON.stringify(declared.requirement)})` };
  return { ok: true, message: `${head}${same ? '' : ` (this machine's)`}; ${declared.source} ${declared.requirement} accepts it` };
}
