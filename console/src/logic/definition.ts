/**
 * The definition page's logic (loaded only on that page: it bundles the YAML library and
 * the same parser the API validates with, shared/domain/definition.ts). Pure.
 */
import { isMap, isSeq, LineCounter, parseDocument, stringify } from 'yaml';
import { parsePipeline } from '../../../shared/domain/definition.ts';

export interface LocatedProblem { path: string; message: string; line?: number }

/** The stored (normalised) definition as YAML text. */
export function toYaml(spec: unknown): string {
  return stringify(spec, { lineWidth: 0 });
}

/** Splits `jobs.deploy.needs[0]` into `['jobs', 'deploy', 'needs', 0]`. */
export function pathSegments(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const part of path.split('.')) {
    if (part === '') continue;
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) { out.push(part); continue; }
    if (m[1]) out.push(m[1]);
    for (const i of m[2].matchAll(/\[(\d+)\]/g)) out.push(Number(i[1]));
  }
  return out;
}

/**
 * The line (1-based) where `path` is written in the YAML text, or its nearest written
 * ancestor's (a missing key is reported at its parent); undefined for the whole document.
 */
export function lineOfPath(text: string, path: string): number | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  let segs = pathSegments(path);
  // A problem in an envelope (`definition.jobs...`) points into the definition itself.
  while (segs.length > 0) {
    const at = locate(doc.contents, segs);
    if (at !== undefined) return lines.linePos(at).line;
    segs = segs.slice(0, -1);
  }
  return undefined;
}

function locate(root: unknown, segs: Array<string | number>): number | undefined {
  let node: unknown = root;
  let pos: number | undefined;
  for (const s of segs) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === s);
      if (!pair) return undefined;
      pos = (pair.key as { range?: [number, number, number] }).range?.[0];
      node = pair.value;
    } else if (isSeq(node) && typeof s === 'number') {
      const item = node.items[s] as { range?: [number, number, number] } | undefined;
      if (!item) return undefined;
      pos = item.range?.[0];
      node = item;
    } else return undefined;
  }
  return pos;
}

/** Checks a definition with the API's own rules; each problem with the line it points at. */
export function checkDefinition(text: string): LocatedProblem[] {
  const result = parsePipeline(text);
  if (result.ok) return [];
  return locateProblems(text, result.problems);
}

export function locateProblems(text: string, problems: ReadonlyArray<{ path: string; message: string }>, prefix = ''): LocatedProblem[] {
  return problems.map((p) => {
    const path = prefix && p.path.startsWith(prefix) ? p.path.slice(prefix.length) : p.path;
    const line = path ? lineOfPath(text, path) : undefined;
    return { path: p.path, message: p.message, ...(line !== undefined ? { line } : {}) };
  });
}
