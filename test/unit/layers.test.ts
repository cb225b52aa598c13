// The layering rule of shared/README.md, checked on the source: which folder may import
// which, and no import circles anywhere. Read from the files' import statements (type-only
// imports included: a circle of types is still a circle for the reader).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const SOURCE_ROOTS = ['shared', 'functions', 'cli', 'infra', 'scripts', 'bench'];

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) return name === 'node_modules' || name === 'cdk.out' ? [] : walk(p);
    return /\.(ts|mts|mjs)$/.test(name) && !name.endsWith('.d.mts') ? [p] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

interface Module { file: string; relative: string[]; packages: string[] }

function modules(): Map<string, Module> {
  const out = new Map<string, Module>();
  for (const root of SOURCE_ROOTS) {
    for (const abs of walk(path.join(ROOT, root))) {
      const file = path.relative(ROOT, abs);
      const src = readFileSync(abs, 'utf8');
      const relative: string[] = [];
      const packages: string[] = [];
      for (const m of src.matchAll(IMPORT)) {
        const spec = m[1] ?? m[2];
        if (spec.startsWith('.')) relative.push(path.relative(ROOT, path.resolve(path.dirname(abs), spec)));
        else packages.push(spec);
      }
      out.set(file, { file, relative, packages });
    }
  }
  return out;
}

/** The layer a file is in; the order is the direction imports may point (inward = lower). */
function layerOf(file: string): string {
  const [top, second] = file.split(path.sep);
  if (top !== 'shared') return top; // functions, cli, infra, scripts, bench: wiring and tools
  if (second === 'domain' || second === 'ports' || second === 'services') return second;
  if (['aws', 'git', 'notify', 'http', 'local'].includes(second)) return 'adapters';
  return `shared/${second}`; // e.g. shared/config.ts: settings names, read by adapters and wiring
}

/** Who may import whom (domain <- ports <- services <- adapters <- functions, cli/dev). */
const MAY_IMPORT: Record<string, readonly string[]> = {
  domain: ['domain'],
  ports: ['domain', 'ports'],
  services: ['domain', 'ports', 'services'],
  adapters: ['domain', 'ports', 'services', 'adapters', 'shared/config.ts'],
  'shared/config.ts': [],
  functions: ['domain', 'ports', 'services', 'adapters', 'shared/config.ts', 'functions'],
};

test('imports point inward: domain <- ports <- services <- adapters <- functions, and shared/ never imports the wiring', () => {
  const wrong: string[] = [];
  for (const m of modules().values()) {
    const from = layerOf(m.file);
    const allowed = MAY_IMPORT[from];
    for (const dep of m.relative) {
      const to = layerOf(dep);
      if (allowed && !allowed.includes(to)) wrong.push(`${m.file} (${from}) imports ${dep} (${to})`);
    }
  }
  assert.deepEqual(wrong, []);
});

test('the pure layers use no AWS SDK, Lambda or Powertools package', () => {
  const pure = /^(@aws-sdk|@smithy|@middy|@aws-lambda-powertools|aws-lambda|aws-cdk-lib|constructs)(\/|$)/;
  const wrong = [...modules().values()]
    .filter((m) => ['domain', 'ports', 'services'].includes(layerOf(m.file)))
    .flatMap((m) => m.packages.filter((p) => pure.test(p)).map((p) => `${m.file} imports ${p}`));
  assert.deepEqual(wrong, []);
});

test('no import circles', () => {
  const graph = modules();
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next); low.set(v, next); next += 1;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v)!.relative) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); component.push(w); } while (w !== v);
      if (component.length > 1 || graph.get(v)!.relative.includes(v)) circles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  assert.deepEqual(circles, []);
});

test('the check sees imports: a known edge is found', () => {
  // Guards the regex above: if it stopped matching, the tests before would pass vacuously.
  const api = modules().get(path.join('functions', 'api.ts'))!;
  assert.ok(api.relative.includes(path.join('shared', 'http', 'api-routes.ts')), api.relative.join(', '));
  assert.ok(modules().size > 100);
});
