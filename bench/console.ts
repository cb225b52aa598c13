/**
 * The web console's size: what a first page load fetches (main.js and its static imports,
 * gzipped), against its budget of 100 KB; the definition page's checker (the YAML library
 * and the API's own parser) loads only on that page and is reported apart.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildConsole } from '../scripts/build-console.mjs';

export const FIRST_LOAD_BUDGET_BYTES = 100 * 1024;

export async function benchConsole(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-console-bench-'));
  try {
    const out = await buildConsole(path.join(dir, 'console'));
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
    const css = statSync(path.join(out.outDir, 'style.css')).size;
    const lazy = readdirSync(out.outDir, { recursive: true }).map(String).filter((f) => f.endsWith('.js') && !out.firstLoadFiles.includes(f));
    const lazyGz = lazy.reduce((n, f) => n + gzipSync(readFileSync(path.join(out.outDir, f)), { level: 9 }).length, 0);
    console.log('\nWeb console (esbuild, ES2022, minified; gzip -9):');
    console.log(`  first-load JavaScript  ${kb(out.firstLoadJsGzipBytes).padStart(9)} gzipped (${kb(out.firstLoadJsBytes)} raw, ${out.firstLoadFiles.length} file(s)); budget ${kb(FIRST_LOAD_BUDGET_BYTES)}: ${out.firstLoadJsGzipBytes <= FIRST_LOAD_BUDGET_BYTES ? 'within' : 'OVER'}`);
    console.log(`  style.css              ${kb(gzipSync(readFileSync(path.join(out.outDir, 'style.css'))).length).padStart(9)} gzipped (${kb(css)} raw)`);
    console.log(`  loaded on demand       ${kb(lazyGz).padStart(9)} gzipped (${lazy.length} file(s): the definition page's checker)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchConsole();
