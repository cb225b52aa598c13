/**
 * Dependency caches, measured here: a real Node.js project (bench/fixtures/cache-project: express and
 * jest, 340 packages from the npm registry) built through the local mode's build runner with the
 * node template's install step (`npm ci`), cold (no cache for its key: every package from the
 * registry) and warm (the cache the cold build saved, restored into the job first). Median of 3 each;
 * every build gets a fresh workspace, and each cold one a fresh data folder. Needs the registry.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
  return { wallMs, installMs: runner.commandMs(buildId), log };
}

export async function benchDependencyCache(rounds = 3): Promise<void> {
  console.log(`\nDependency cache (local mode, node template \`npm ci\` of bench/fixtures/cache-project: 340 packages from the registry; median of ${rounds}):`);
  const repo = fixtureRepo();
  const cold: Array<{ wallMs: number; installMs: number }> = [];
  const warm: Array<{ wallMs: number; installMs: number }> = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-bench-cache-'));
      const events: BuildStateChangeEvent[] = [];
      const runner = new LocalBuildRunner({ dataDir, repositoryPath: () => repo.dir, s3: {} as S3Client, artifactBucket: 'bench', onStateChange: (e) => { events.push(e); } });
      try {
        const c = await build(runner, events, repo, 2 * i);
        if (!/dependency cache miss/.test(c.log) || !/dependency cache saved/.test(c.log)) throw new Error('the cold build did not start cold and save');
        cold.push(c);
        const w = await build(runner, events, repo, 2 * i + 1);
        if (!/restored in/.test(w.log)) throw new Error('the warm build restored no cache');
        warm.push(w);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
  } finally {
    rmSync(repo.dir, { recursive: true, force: true });
  }
  const ci = (xs: Array<{ installMs: number }>) => median(xs.map((x) => x.installMs));
  const wall = (xs: Array<{ wallMs: number }>) => median(xs.map((x) => x.wallMs));
  console.log(`  cold: npm ci ${secs(ci(cold))}, whole build ${secs(wall(cold))} (checkout, cache miss, install, cache save)`);
  console.log(`  warm: npm ci ${secs(ci(warm))}, whole build ${secs(wall(warm))} (checkout, cache restore, install)`);
  console.log(`  warm install is ${(ci(cold) / ci(warm)).toFixed(1)}x faster than cold (goal: 3x); the whole build ${(wall(cold) / wall(warm)).toFixed(1)}x`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchDependencyCache(Number(process.env.BENCH_ROUNDS ?? 3));
