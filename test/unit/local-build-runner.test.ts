import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { JobSpec } from '../../shared/domain/pipeline.ts';
import { toBuildStateChanged, type BuildStateChangeEvent } from '../../shared/engine/build-events.ts';
import { dockerCmd, LocalBuildRunner } from '../../shared/local/build-runner.ts';
import type { BuildRequest } from '../../shared/ports.ts';

function repo(files: Record<string, string>): { dir: string; sha: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-repo-'));
  for (const [f, c] of Object.entries(files)) writeFileSync(path.join(dir, f), c);
  const git = (...a: string[]) => spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', ...a], { cwd: dir, encoding: 'utf8' }).stdout.trim();
  git('init', '-q'); git('add', '-A'); git('commit', '-q', '-m', 'x');
  return { dir, sha: git('rev-parse', 'HEAD') };
}

const job = (over: Partial<JobSpec> = {}): JobSpec => ({
  name: 'build', kind: 'build', needs: [], when: { branches: [], tags: [], events: [] }, install: [], commands: ['echo hi'], cache: [], env: {},
  outputs: [], inputs: [], timeoutMinutes: 60, retries: 0, compute: 'small', ...over,
});

function setup(files: Record<string, string>, opts: { hasCommand?: (c: string) => boolean } = {}) {
  const { dir, sha } = repo(files);
  const events: BuildStateChangeEvent[] = [];
  const runner = new LocalBuildRunner({
    dataDir: mkdtempSync(path.join(os.tmpdir(), 'slipway-data-')),
    repositoryPath: () => dir,
    s3: {} as S3Client, // no inputs or outputs in these tests: S3 is never called
    artifactBucket: 'bucket',
    onStateChange: (e) => { events.push(e); },
    hasCommand: opts.hasCommand,
  });
  const request = (spec: JobSpec, attempt = 1): BuildRequest => ({ runId: 'run1', pipelineId: 'p', job: spec.name, attempt, token: `run1:${spec.name}:${attempt}`, commit: sha, branch: 'main', repository: 'acme/x', provider: 'github', spec });
  return { runner, events, request };
}

test('a job runs its commands in a checkout of the commit and reports CodeBuild-shaped states the engine understands', async () => {
  const { runner, events, request } = setup({ 'hello.txt': 'from the repo\n' });
  const { buildId } = await runner.start(request(job({ commands: ['cat hello.txt', 'echo "job=$SLIPWAY_JOB attempt=$SLIPWAY_ATTEMPT"'] })));
  await runner.idle();
  const states = await Promise.all(events.map((e) => toBuildStateChanged(e)));
  assert.deepEqual(states.map((s) => s?.state), ['IN_PROGRESS', 'SUCCEEDED']);
  assert.equal(states[1]?.job, 'build');
  assert.equal(states[1]?.buildId, buildId);
  const log = readFileSync(runner.logFile(buildId), 'utf8');
  assert.match(log, /from the repo/);
  assert.match(log, /job=build attempt=1/);
});

test('the same token starts nothing twice, as CodeBuild\'s idempotency token', async () => {
  const { runner, events, request } = setup({ 'a': '1' });
  const first = await runner.start(request(job()));
  const again = await runner.start(request(job()));
  await runner.idle();
  assert.equal(first.buildId, again.buildId);
  assert.equal(events.filter((e) => e.detail['build-status'] === 'SUCCEEDED').length, 1);
});

test('a failing command fails the build with the command named', async () => {
  const { runner, events, request } = setup({ 'a': '1' });
  await runner.start(request(job({ commands: ['true', 'exit 3', 'echo never'] })));
  await runner.idle();
  const last = await toBuildStateChanged(events.at(-1)!);
  assert.equal(last?.state, 'FAILED');
  assert.match(last?.reason ?? '', /`exit 3` exited with 3/);
});

test('a missing toolchain fails the job with a message naming it', async () => {
  const { runner, events, request } = setup({ 'a': '1' }, { hasCommand: (c) => c !== 'php' });
  await runner.start(request(job({ template: 'php' })));
  await runner.idle();
  const last = await toBuildStateChanged(events.at(-1)!);
  assert.equal(last?.state, 'FAILED');
  assert.match(last?.reason ?? '', /needs `php`, which is not installed/);
});

test('a job past its timeout is reported TIMED_OUT', async () => {
  const { runner, events, request } = setup({ 'a': '1' });
  await runner.start(request(job({ timeoutMinutes: 0.01, commands: ['sleep 5'] })));
  await runner.idle();
  assert.equal((await toBuildStateChanged(events.at(-1)!))?.state, 'TIMED_OUT');
});

test('an image job without Docker packages its context and exports imageUri and imageDigest', async () => {
  const { runner, events, request } = setup({ 'Dockerfile': 'FROM node:22\nCMD ["node", "server.mjs"]\n', 'server.mjs': '// app\n' });
  await runner.start(request(job({ name: 'image', kind: 'image', commands: [], image: { dockerfile: 'Dockerfile', context: '.', repository: 'hello', tags: [] } })));
  await runner.idle();
  const last = await toBuildStateChanged(events.at(-1)!);
  assert.equal(last?.state, 'SUCCEEDED');
  assert.match(last?.outputs?.imageUri ?? '', /^local\/hello:[0-9a-f]{12}@sha256:[0-9a-f]{64}$/);
  assert.match(last?.outputs?.imageDigest ?? '', /^sha256:/);
});

test('the Dockerfile CMD is read in exec and shell form', () => {
  assert.deepEqual(dockerCmd('FROM x\nCMD ["node", "a.js"]\n'), ['node', 'a.js']);
  assert.deepEqual(dockerCmd('FROM x\nCMD node a.js\n'), ['sh', '-c', 'node a.js']);
  assert.equal(dockerCmd('FROM x\n'), undefined);
});
