// Builds the web console (console/) into dist/console/: esbuild bundles the TypeScript
// (ES modules, code splitting: the definition page's YAML parser loads only there),
// and copies index.html and style.css. Offline: esbuild is a dev dependency.
// `node scripts/build-console.mjs [--out DIR]`; `buildConsole()` is used by the tests and `npm start`.
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildSync } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CONSOLE_DIST = path.join(ROOT, 'dist', 'console');

/** Builds the console; returns the output folder and the first-load JavaScript size (the entry and its static imports). */
export async function buildConsole(outDir = CONSOLE_DIST) {
  return buildConsoleSync(outDir);
}

/** The same, synchronously: `cdk synth` builds the console when dist/console is missing (constructs are built synchronously). */
export function buildConsoleSync(outDir = CONSOLE_DIST) {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const result = buildSync({
    entryPoints: { main: path.join(ROOT, 'console', 'src', 'main.ts') },
    outdir: outDir, bundle: true, splitting: true, format: 'esm', minify: true, target: 'es2022', platform: 'browser',
    chunkNames: 'chunks/[name]-[hash]', metafile: true, logLevel: 'error', legalComments: 'none', sourcemap: false,
  });
  for (const f of ['index.html', 'style.css']) cpSync(path.join(ROOT, 'console', f), path.join(outDir, f));
  return { outDir, ...firstLoad(result.metafile, outDir) };
}

/** Bytes (raw and gzipped) of what the first page load fetches: main.js, its static imports, and style.css. */
function firstLoad(metafile, outDir) {
  const outputs = metafile.outputs;
  const rel = (p) => path.relative(outDir, path.resolve(ROOT, p));
  const entry = Object.keys(outputs).find((p) => outputs[p].entryPoint?.endsWith('main.ts'));
  const seen = new Set();
  const visit = (p) => {
    if (seen.has(p)) return;
    seen.add(p);
    for (const imp of outputs[p].imports) if (imp.kind === 'import-statement') visit(imp.path);
  };
  visit(entry);
  const files = [...seen].map((p) => path.resolve(ROOT, p));
  const js = files.reduce((n, f) => n + statSync(f).size, 0);
  const jsGzip = files.reduce((n, f) => n + gzipSync(readFileSync(f), { level: 9 }).length, 0);
  const all = readdirSync(outDir, { recursive: true }).filter((f) => f.endsWith('.js'));
  return { firstLoadFiles: files.map((f) => rel(path.relative(ROOT, f))), firstLoadJsBytes: js, firstLoadJsGzipBytes: jsGzip, jsFiles: all.length };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const i = process.argv.indexOf('--out');
  const out = await buildConsole(i > 0 ? path.resolve(process.argv[i + 1]) : undefined);
  console.log(`console built in ${path.relative(process.cwd(), out.outDir) || '.'}: first-load JavaScript ${(out.firstLoadJsGzipBytes / 1024).toFixed(1)} KB gzipped (${(out.firstLoadJsBytes / 1024).toFixed(1)} KB), ${out.jsFiles} script file(s)`);
}
