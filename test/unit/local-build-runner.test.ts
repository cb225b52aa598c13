import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { JobSpec } from '../../shared/domain/pipeline.ts';
import { toBuildStateChanged, type BuildStateChangeEvent } from '../../shared/services/build-events.ts';
import { dockerCmd, LocalBuildRunner, STOP_GRACE_MS } from '../../shared/local/build-runner.ts';
import type { BuildRequest } from '../../shared/ports/index.ts';
import { TEMPLATES, type ToolRequirement } from '../../shared/domain/templates.ts';
import { alive } from '../support/processes.ts';

function repo(files: Record<string, string>): { dir: string; sha: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-repo-'));
  for (const [f, c] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), c);
  }
  const git = (...a: string[]) => spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', ...a], { cwd: dir, encoding: 'utf8' }).stdout.trim();
  git('init', '-q'); git('add', '-A'); git('commit', '-q', '-m', 'x');
  return { dir, sha: git('rev-parse', 'HEAD') };
}

const job = (over: Partial<JobSpec> = {}): JobSpec => ({
  name: 'build', kind: 'build', needs: [], when: { branches: [], tags: [], events: [] }, install: [], commands: ['echo hi'], cache: [], env: {},
  outputs: [], inputs: [], timeoutMinutes: 60, retries: 0, compute: 'small', ...over,
});

function setup(files: Record<string, string>, opts: { hasTool?: (t: ToolRequirement) => boolean; onLog?: (buildId: string, line: string) => void } = {}) {
  const { dir, sha } = repo(files);
  const events: BuildStateChangeEvent[] = [];
  const runner = new LocalBuildRunner({
    dataDir: mkdtempSync(path.join(os.tmpdir(), 'slipway-data-')),
    repositoryPath: () => dir,
    s3: {} as S3Client, // no inputs or outputs in these tests: S3 is never called
    artifactBucket: 'bucket',
    onStateChange: (e) => { events.push(e); },
    hasTool: opts.hasTool,
    onLog: opts.onLog,
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

test('the jobs of a commit share one checkout, copied afresh into each workspace: what one job changes the next does not see', async () => {
  const { runner, events, request } = setup({ 'hello.txt': 'pristine\n' });
  const dataDir = (runner as unknown as { opts: { dataDir: string } }).opts.dataDir;
  const first = await runner.start(request(job({ name: 'a', commands: ['cat hello.txt', 'echo changed > hello.txt', 'touch made-by-a', 'git status --short'] })));
  await runner.idle();
  const second = await runner.start(request(job({ name: 'b', commands: ['cat hello.txt', 'test ! -e made-by-a', 'git rev-parse HEAD', 'git status --short'] })));
  await runner.idle();
  assert.deepEqual((await Promise.all(events.map((e) => toBuildStateChanged(e)))).map((s) => s?.state), ['IN_PROGRESS', 'SUCCEEDED', 'IN_PROGRESS', 'SUCCEEDED']);
  const logA = readFileSync(runner.logFile(first.buildId), 'utf8');
  const logB = readFileSync(runner.logFile(second.buildId), 'utf8');
  assert.match(logA, /pristine/);
  assert.match(logA, / M hello\.txt/, 'the workspace is a git checkout');
  assert.match(logB, /pristine/);
  assert.doesNotMatch(logB, / M hello\.txt/);
  assert.match(logB, /[0-9a-f]{40}/);
  assert.equal(readdirSync(path.join(dataDir, 'sources')).length, 1, 'one checkout for the commit');
});

test('prepare checks a requested commit out ahead of its first job, which then uses it; a commit that is no sha, or one the repository lacks, prepares nothing', async () => {
  const { runner, events, request } = setup({ 'hello.txt': 'prepared\n' });
  const dataDir = (runner as unknown as { opts: { dataDir: string } }).opts.dataDir;
  const repoDir = (runner as unknown as { opts: { repositoryPath: (r: BuildRequest) => string } }).opts.repositoryPath(request(job()));
  runner.prepare(repoDir, 'main');
  runner.prepare(repoDir, 'e'.repeat(40));
  runner.prepare(repoDir, request(job()).commit);
  // Made before any job asked for it.
  const made = () => existsSync(path.join(dataDir, 'sources')) && readdirSync(path.join(dataDir, 'sources')).some((n) => n.endsWith(`-${request(job()).commit}`));
  for (let i = 0; i < 100 && !made(); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(made(), 'prepare made the checkout ahead of the job');
  const { buildId } = await runner.start(request(job({ commands: ['cat hello.txt'] })));
  await runner.idle();
  assert.equal((await toBuildStateChanged(events.at(-1)!))?.state, 'SUCCEEDED');
  assert.match(readFileSync(runner.logFile(buildId), 'utf8'), /prepared/);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(readdirSync(path.join(dataDir, 'sources')).map((n) => n.slice(13)), [request(job()).commit]);
});

test('a commit the repository does not have fails the job in DOWNLOAD_SOURCE with the commit named, and leaves no half-made checkout', async () => {
  const { runner, events, request } = setup({ 'a': '1' });
  const dataDir = (runner as unknown as { opts: { dataDir: string } }).opts.dataDir;
  await runner.start({ ...request(job()), commit: 'f'.repeat(40) });
  await runner.idle();
  const last = await toBuildStateChanged(events.at(-1)!);
  assert.equal(last?.state, 'FAILED');
  assert.match(JSON.stringify(events.at(-1)), /DOWNLOAD_SOURCE.*commit f{40} not found/);
  assert.deepEqual(readdirSync(path.join(dataDir, 'sources')), []);
});

test('a fault of the runner itself ends the build FAILED with a FAULT phase naming it, instead of leaving the job running', async () => {
  const events: BuildStateChangeEvent[] = [];
  const runner = new LocalBuildRunner({
    dataDir: mkdtempSync(path.join(os.tmpdir(), 'slipway-data-')),
    repositoryPath: () => { throw new Error('the repository folder vanished'); },
    s3: {} as S3Client, artifactBucket: 'bucket', onStateChange: (e) => { events.push(e); },
  });
  await runner.start({ runId: 'run1', pipelineId: 'p', job: 'build', attempt: 1, token: 'run1:build:1', commit: 'a'.repeat(40), branch: 'main', repository: 'acme/x', provider: 'github', spec: job() });
  await runner.idle();
  const states = await Promise.all(events.map((e) => toBuildStateChanged(e)));
  assert.deepEqual(states.map((s) => s?.state), ['IN_PROGRESS', 'FAULT']);
  assert.match(states[1]?.reason ?? '', /the local build runner failed: the repository folder vanished/);
});

test('a final state that could not be reported is followed by the runner\'s FAULT, so the job does not stay running', async () => {
  const { dir, sha } = repo({ 'a': '1' });
  const events: BuildStateChangeEvent[] = [];
  let failOnce = true;
  const runner = new LocalBuildRunner({
    dataDir: mkdtempSync(path.join(os.tmpdir(), 'slipway-data-')), repositoryPath: () => dir, s3: {} as S3Client, artifactBucket: 'bucket',
    onStateChange: (e) => {
      events.push(e);
      if (e.detail['build-status'] === 'SUCCEEDED' && failOnce) { failOnce = false; throw new Error('queue unreachable'); }
    },
  });
  await runner.start({ runId: 'run1', pipelineId: 'p', job: 'build', attempt: 1, token: 'run1:build:1', commit: sha, branch: 'main', repository: 'acme/x', provider: 'github', spec: job() });
  await runner.idle();
  const states = await Promise.all(events.map((e) => toBuildStateChanged(e)));
  assert.deepEqual(states.map((s) => s?.state), ['IN_PROGRESS', 'SUCCEEDED', 'FAULT']);
  assert.match(states[2]?.reason ?? '', /queue unreachable/);
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
  const { runner, events, request } = setup({ 'a': '1' }, { hasTool: (t) => t.command !== 'php' && t.command !== 'composer' });
  await runner.start(request(job({ template: 'php', install: [...TEMPLATES.php.install], commands: [...TEMPLATES.php.commands] })));
  await runner.idle();
  const last = await toBuildStateChanged(events.at(-1)!);
  assert.equal(last?.state, 'FAILED');
  // Both tools the template runs are named, each with what to install.
  assert.match(last?.reason ?? '', /needs `php` \(install PHP 8\.3 CLI.*\); `composer` \(install Composer/);
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

test('a job sees PATH, its own HOME, the locale, its variables and SLIPWAY_*, nothing else of the environment that started the local mode', async () => {
  const { runner, request } = setup({ 'a': '1' });
  const saved = { ...process.env };
  Object.assign(process.env, { AWS_SECRET_ACCESS_KEY: 'leak', npm_package_name: 'leak', GITHUB_TOKEN: 'leak', LANG: 'C.UTF-8' });
  process.env.PATH = `${process.cwd()}/node_modules/.bin:${saved.PATH}`;
  let buildId: string;
  try {
    ({ buildId } = await runner.start(request(job({ env: { MINE: 'yes' }, commands: ['env | sort'] }))));
    await runner.idle();
  } finally {
    process.env = saved;
  }
  const log = readFileSync(runner.logFile(buildId), 'utf8');
  const names = [...log.matchAll(/Z ([A-Za-z_][A-Za-z0-9_]*)=/g)].map((m) => m[1]);
  assert.deepEqual(names.filter((n) => !/^(PATH|HOME|LANG|LC_[A-Z]+|TZ|MINE|CI|SLIPWAY_[A-Z_]+|PWD|OLDPWD|SHLVL|_)$/.test(n)), [], log);
  assert.ok(names.includes('MINE') && names.includes('SLIPWAY_JOB'));
  assert.match(log, new RegExp(`HOME=${runner.homeDir('p').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  assert.doesNotMatch(log, /node_modules\/\.bin/, 'the PATH npm start adds is not the job\'s');
});

test('the working directory and exported variables carry from one command to the next, as in buildspec 0.2', async () => {
  const { runner, request } = setup({ 'sub/x.txt': 'x' });
  const { buildId } = await runner.start(request(job({ install: ['cd sub', 'export GREETING=hello'], commands: ['echo "$GREETING from $(basename "$PWD") $(cat x.txt)"'] })));
  await runner.idle();
  assert.match(readFileSync(runner.logFile(buildId), 'utf8'), /hello from sub x/);
});

test('logs are stored without colour codes', async () => {
  const { runner, request } = setup({ 'a': '1' });
  const { buildId } = await runner.start(request(job({ commands: [`printf '\\033[1;31mred\\033[0m plain\\n'`] })));
  await runner.idle();
  const log = readFileSync(runner.logFile(buildId), 'utf8');
  assert.match(log, /red plain/);
  assert.doesNotMatch(log, /\x1b/);
});

test('a log line that arrives in two reads (a character or the line itself split) is stored whole', async () => {
  const { runner, request } = setup({ 'a': '1' });
  const { buildId } = await runner.start(request(job({ commands: [`printf 'caf\\303'; sleep 0.2; printf '\\251 done\\nsecond '; sleep 0.2; printf 'half\\nno newline at the end'`] })));
  await runner.idle();
  const lines = readFileSync(runner.logFile(buildId), 'utf8').split('\n').map((l) => l.slice(25));
  assert.ok(lines.includes('café done'), lines.join('\n'));
  assert.ok(lines.includes('second half'));
  assert.ok(lines.includes('no newline at the end'), 'the last partial line is kept when the step ends');
  assert.ok(!lines.some((l) => l.includes('\ufffd')));
});

test('a runtime the project declares unsupported fails the job with the reason; one it accepts is stated', async () => {
  const refused = setup({ 'package.json': JSON.stringify({ name: 'x', engines: { node: '>=99' } }) });
  await refused.runner.start(refused.request(job({ template: 'node', install: [], commands: ['true'] })));
  await refused.runner.idle();
  const last = await toBuildStateChanged(refused.events.at(-1)!);
  assert.equal(last?.state, 'FAILED');
  assert.match(last?.reason ?? '', /runtime nodejs: asked 22, got \d+\.\d+\.\d+, but the project requires nodejs >=99 \(package\.json engines\.node\)/);

  const accepted = setup({ 'package.json': JSON.stringify({ name: 'x', engines: { node: '>=18' } }) });
  const { buildId } = await accepted.runner.start(accepted.request(job({ template: 'node', install: [], commands: ['true'] })));
  await accepted.runner.idle();
  assert.equal((await toBuildStateChanged(accepted.events.at(-1)!))?.state, 'SUCCEEDED');
  assert.match(readFileSync(accepted.runner.logFile(buildId), 'utf8'), /runtime nodejs: asked 22, got \d+\.\d+\.\d+.*engines\.node >=18 accepts it/);
});

test('a retry waits its backoff before it starts, and a stop ends the wait', async () => {
  const { runner, events, request } = setup({ 'a': '1' });
  const t0 = Date.now();
  const { buildId } = await runner.start(request(job({ retries: 2, retryDelaySeconds: 1, commands: ['true'] }), 2));
  await runner.idle();
  assert.ok(Date.now() - t0 >= 1000, 'attempt 2 waited the retry delay');
  assert.match(readFileSync(runner.logFile(buildId), 'utf8'), /attempt 2: waiting 1s before starting \(retry backoff\)[\s\S]*== build \(attempt 2 of 3\)/);
  assert.equal((await toBuildStateChanged(events.at(-1)!))?.state, 'SUCCEEDED');

  const waiting = setup({ 'a': '1' });
  const t1 = Date.now();
  const started = await waiting.runner.start(waiting.request(job({ retries: 3, retryDelaySeconds: 60, commands: ['true'] }), 3));
  await waiting.runner.stop(started.buildId);
  await waiting.runner.idle();
  assert.ok(Date.now() - t1 < 5000, 'the stop did not wait out the 120 s backoff');
  assert.equal((await toBuildStateChanged(waiting.events.at(-1)!))?.state, 'STOPPED');
});


for (const how of ['stop', 'stopAll'] as const) {
  test(`${how === 'stop' ? 'a stopped build' : 'Ctrl-C (stopAll, then idle)'}: a step that ignores SIGTERM is killed after ${STOP_GRACE_MS / 1000} s, not waited for, and the build ends STOPPED${how === 'stopAll' ? ', unreported' : ''}`, { timeout: 30_000 }, async () => {
    const lines: string[] = [];
    const { runner, events, request } = setup({ 'a': '1' }, { onLog: (_id, l) => lines.push(l) });
    // Real processes: the step's shell and its sleep both ignore SIGTERM (an ignored signal stays ignored across exec).
    const { buildId } = await runner.start(request(job({ commands: ['trap "" TERM; sleep 25 & echo "sleeper $!"; wait'] })));
    const t0 = Date.now();
    while (!lines.some((l) => l.startsWith('sleeper '))) {
      assert.ok(Date.now() - t0 < 10_000, `the step did not start: ${lines.join('\n')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const sleeper = Number(lines.find((l) => l.startsWith('sleeper '))!.split(' ')[1]);
    assert.ok(alive(sleeper));
    const t1 = Date.now();
    if (how === 'stop') await runner.stop(buildId); else await runner.stopAll();
    await runner.idle();
    const took = Date.now() - t1;
    assert.ok(took >= STOP_GRACE_MS - 100, `SIGTERM alone ended it after ${took} ms: the step did not ignore it, so the kill was not tested`);
    assert.ok(took < STOP_GRACE_MS + 3000, `the stop waited ${took} ms`);
    // A build the local mode's stop ends reports nothing (the next start's recovery does); one stopped on its own reports STOPPED.
    assert.equal((await toBuildStateChanged(events.at(-1)!))?.state, how === 'stop' ? 'STOPPED' : 'IN_PROGRESS');
    assert.ok(!alive(sleeper), 'nothing of the step is left running');
    assert.match(readFileSync(runner.logFile(buildId), 'utf8'), /== STOPPED/);
  });
}

test('a python job whose own install step forgets the virtual environment fails instead of installing into the machine\'s Python', async () => {
  const { runner, events, request } = setup({ 'a': '1' });
  const { buildId } = await runner.start(request(job({ template: 'python', env: { ...TEMPLATES.python.env }, install: ['python3 -m pip install --no-index slipway-nothing'], commands: ['true'] })));
  await runner.idle();
  assert.equal((await toBuildStateChanged(events.at(-1)!))?.state, 'FAILED');
  assert.match(readFileSync(runner.logFile(buildId), 'utf8'), /virtualenv/i);
});

test('once the local mode stops its builds, no build starts: the engine\'s message comes back after the next start', async () => {
  const { runner, events, request } = setup({ 'a': '1' });
  await runner.stopAll();
  await assert.rejects(runner.start(request(job())), (e: Error) => e.name === 'RetryableError' && /the local mode is stopping/.test(e.message));
  assert.deepEqual(events, []);
});
