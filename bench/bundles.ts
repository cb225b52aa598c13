/**
 * Each Lambda handler bundled as the stack bundles it (esbuild, ESM, minified,
 * node22, AWS SDK included), its size, and the time Node takes to load the
 * bundle in a fresh process (median of several), which is the module-load part
 * of a cold start. Environment variables the handlers read at load are set to
 * dummies; no request is made.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const DUMMY_ENV: Record<string, string> = {
  SLIPWAY_TABLE: 'bench', SLIPWAY_ENGINE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/bench.fifo', SLIPWAY_RELEASE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/bench',
  SLIPWAY_ARTIFACT_BUCKET: 'bench', SLIPWAY_BUILD_PROJECTS: '{"small":"s","medium":"m","large":"l"}', SLIPWAY_BUILD_ROLES: '{"release":"r","pullRequest":"p","fork":"f","image":"i"}', SLIPWAY_BUILD_LOG_GROUP: 'bench', SLIPWAY_RUN_RETENTION_DAYS: '90',
  SLIPWAY_ECR_REGISTRY: '1.dkr.ecr.us-east-1.amazonaws.com', SLIPWAY_NOTIFICATION_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/bench-notifications', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'ERROR',
};

/** Minified sizes on main when the speed issue was filed (KB), for comparison. */
const WHEN_FILED_KB: Record<string, number> = { api: 1587, 'run-engine': 1351, notifier: 1308, releaser: 977, reconciler: 799, 'build-events': 783, webhook: 674 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function benchBundles(loads = 7): Promise<void> {
  const out = mkdtempSync(path.join(os.tmpdir(), 'slipway-bundles-'));
  try {
    // Handlers only (functions/wiring.ts is their shared wiring, not a function of its own).
    const entries = readdirSync(path.join(ROOT, 'functions')).filter((f) => f.endsWith('.ts') && /^export const handler\b/m.test(readFileSync(path.join(ROOT, 'functions', f), 'utf8')));
    console.log(`\nLambda bundles (esbuild, ESM, minified, node22; module load = median of ${loads} fresh \`node\` processes importing the bundle):`);
    console.log(`  ${'function'.padEnd(14)} ${'bundle'.padStart(10)} ${'gzip'.padStart(9)} ${'load'.padStart(9)} ${'when filed'.padStart(11)}`);
    for (const f of entries) {
      const outfile = path.join(out, f.replace(/\.ts$/, '.mjs'));
      await build({
        entryPoints: [path.join(ROOT, 'functions', f)], bundle: true, minify: true, platform: 'node', target: 'node22', format: 'esm', outfile, logLevel: 'error',
        banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      });
      const size = statSync(outfile).size;
      const gz = gzipSync(readFileSync(outfile)).length;
      const loader = path.join(out, `load-${f}.mjs`);
      writeFileSync(loader, `const t=process.hrtime.bigint(); await import(${JSON.stringify(pathToFileURL(outfile).href)}); console.log(Number(process.hrtime.bigint()-t)/1e6);`);
      const times: number[] = [];
      for (let i = 0; i < loads; i++) {
        const r = spawnSync(process.execPath, [loader], { env: { ...process.env, ...DUMMY_ENV }, encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`loading ${f} failed: ${r.stderr}`);
        times.push(Number(r.stdout.trim()));
      }
      const name = f.replace(/\.ts$/, '');
      const filed = WHEN_FILED_KB[name];
      console.log(`  ${name.padEnd(14)} ${`${(size / 1024).toFixed(0)} KB`.padStart(10)} ${`${(gz / 1024).toFixed(0)} KB`.padStart(9)} ${`${median(times).toFixed(0)} ms`.padStart(9)} ${(filed ? `${filed} KB` : '-').padStart(11)}`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchBundles();
