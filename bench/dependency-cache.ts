/**
 * Dependency caches, measured here: a real Node.js project (bench/fixtures/cache-project: express and
 * jest, 340 packages from the npm registry) built through the local mode's build runner with the
 * node template's install step, cold (no cache for its key: `npm ci` fetches every package from the
 * registry), warm (the entry the cold build saved: npm's cache and node_modules put back, `npm ls`
 * accepts the tree, `npm ci` skipped) and warm with npm's cache only (the entry's node_modules
 * removed: `npm ci --prefer-offline` from the cache, what the cache gave before it kept node_modules).
 * "Install" is the restore plus the install step, so restoring a big tree is not free in the figure.
 * Median of 3 each; every build gets a fresh workspace, and each round a fresh data folder. Needs the registry.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { TEMPLATES } from '../shared/domain/templates.ts';
import type { JobSpec } from '../shared/domain/pipeline.ts';
import { LocalBuildRunner } from '../shared/local/build-runner.ts';
import type { BuildRequest } from '../shared/ports/index.ts';
import { toBuildStateChanged, type BuildStateChangeEvent } from '../shared/services/build-events.ts';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'cache-project');

/** The install step's own line (the log also shows the step's text, which contains the words). */
const SKIPPED = /^\S+ slipway: node_modules restored from the dependency cache/m;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function fixtureRepo(): { dir: string; commit: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-cache-repo-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const git = (...a: string[]) => spawnSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', '-c', 'init.defaultBranch=main', ...a], { cwd: dir, encoding: 'utf8' }).stdout.trim();
  git('init', '-q'); git('add', '-A'); git('commit', '-q', '-m', 'fixture');
  return { dir, commit: git('rev-parse', 'HEAD') };
}

const spec: JobSpec = {
  name: 'install', kind: 'build', needs: [], when: { branches: [], tags: [], events: [] }, template: 'node',
  install: [...TEMPLATES.node.install], commands: ['test -d node_modules/jest'], cache: [], env: { ...TEMPLATES.node.env },
  outputs: [], inputs: [], timeoutMinutes: 15, retries: 0, compute: 'lambda',
};

async function build(runner: LocalBuildRunner, events: BuildStateChangeEvent[], repo: { dir: string; commit: string }, n: number): Promise<{ wallMs: number; installMs: number; log: string }> {
  const request: BuildRequest = {
    runId: `bench${n}`, pipelineId: 'bench', job: 'install', attempt: 1, token: `bench${n}:install:1`, commit: repo.commit, branch: 'main',
    repository: 'acme/bench', provider: 'github', spec, cache: { branch: 'main', fallback: 'main', write: true },
  };
  const t = Date.now();
  const { buildId } = await runner.start(request);
  await runner.idle();
  const wallMs = Date.now() - t;
  const log = readFileSync(runner.logFile(buildId), 'utf8');
  const last = await toBuildStateChanged(events.at(-1)!);
  if (last?.state !== 'SUCCEEDED') throw new Error(`bench build ${n} ${last?.state}: ${log.slice(-2000)}`);
  // The restore's copies (npm's cache and node_modules, side by side: the cache line times both) count as install time.
  const restoreMs = Number(/dependency cache \S+ restored in (\d+) ms/.exec(log)?.[1] ?? 0);
  return { wallMs, installMs: runner.commandMs(buildId) + restoreMs, log };
}

export async function benchDependencyCache(rounds = 3): Promise<void> {
  console.log(`\nDependency cache (local mode, node template \`npm ci\` of bench/fixtures/cache-project: 340 packages from the registry; median of ${rounds}):`);
  const repo = fixtureRepo();
  const cold: Array<{ wallMs: number; installMs: number }> = [];
  const warm: Array<{ wallMs: number; installMs: number }> = [];
  const npmCacheOnly: Array<{ wallMs: number; installMs: number }> = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-cache-'));
      const events: BuildStateChangeEvent[] = [];
      const runner = new LocalBuildRunner({ dataDir, repositoryPath: () => repo.dir, s3: {} as S3Client, artifactBucket: 'bench', onStateChange: (e) => { events.push(e); } });
      try {
        const c = await build(runner, events, repo, 3 * i);
        if (!/dependency cache miss/.test(c.log) || !/dependency cache saved/.test(c.log)) throw new Error('the cold build did not start cold and save');
        cold.push(c);
        const w = await build(runner, events, repo, 3 * i + 1);
        if (!/installed node_modules restored/.test(w.log) || !SKIPPED.test(w.log)) throw new Error(`the warm build did not reuse node_modules: ${w.log.slice(-2000)}`);
        warm.push(w);
        for (const e of readdirSync(path.join(dataDir, 'cache'), { recursive: true }) as string[]) {
          if (path.basename(e) === 'installed') rmSync(path.join(dataDir, 'cache', e), { recursive: true, force: true });
        }
        const n = await build(runner, events, repo, 3 * i + 2);
        if (!/restored in/.test(n.log) || SKIPPED.test(n.log)) throw new Error('the npm-cache-only build did not restore npm\'s cache alone');
        npmCacheOnly.push(n);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(repo.dir, { recursive: true, force: true });
  }
  const ci = (xs: Array<{ installMs: number }>) => median(xs.map((x) => x.installMs));
  const wall = (xs: Array<{ wallMs: number }>) => median(xs.map((x) => x.wallMs));
  console.log(`  cold: install ${secs(ci(cold))} (npm ci from the registry), whole build ${secs(wall(cold))} (checkout, cache miss, install, test, cache save)`);
  console.log(`  warm: install ${secs(ci(warm))} (restore npm's cache and node_modules, npm ls, npm ci skipped), whole build ${secs(wall(warm))}`);
  console.log(`  warm, npm's cache only: install ${secs(ci(npmCacheOnly))} (npm ci --prefer-offline), whole build ${secs(wall(npmCacheOnly))}`);
  console.log(`  warm install is ${(ci(cold) / ci(warm)).toFixed(1)}x faster than cold (goal: 3x; npm's cache alone: ${(ci(cold) / ci(npmCacheOnly)).toFixed(1)}x); the whole build ${(wall(cold) / wall(warm)).toFixed(1)}x`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchDependencyCache(Number(process.env.BENCH_ROUNDS ?? 3));
