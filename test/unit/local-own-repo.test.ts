/**
 * Defect 5 / `slipway dev --repo PATH`: the local mode on your own repository reads the
 * working copy where it is, and says clearly what is wrong with a folder it cannot use.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readOwnRepository } from '../../cli/dev/local-mode.ts';
import { nextVersion } from '../../cli/dev/local-mode.ts';
import { commitWatcher } from '../../cli/dev/commit-watcher.ts';
import { headClaimKey } from '../../shared/domain/recovery.ts';
import type { RunRequest } from '../../shared/ports/messages.ts';
import { MemoryDeliveryStore, MemoryEventQueue, MemoryPipelineStore } from '../support/memory-stores.ts';

const CLI = path.join(import.meta.dirname, '..', '..', 'cli', 'slipway.ts');

const made: string[] = [];
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

function repo(files: Record<string, string>, branch = 'trunk'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-own-'));
  made.push(dir);
  spawnSync('git', ['-c', `init.defaultBranch=${branch}`, 'init', '-q', dir]);
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
  return dir;
}

const PIPELINE = 'name: mine\nsource: { provider: github, repository: me/mine }\njobs:\n  test:\n    template: node\n';

test('a working copy with slipway.yml is read as the pipeline to register, on its checked-out branch', () => {
  const dir = repo({ 'slipway.yml': PIPELINE, 'package.json': '{}' });
  const own = readOwnRepository(dir);
  assert.equal(own.pipelineId, 'mine');
  assert.equal(own.dir, dir);
  assert.equal(own.branch, 'trunk');
  assert.equal(own.spec.source.repository, 'me/mine');
  assert.equal(readOwnRepository(repo({ '.slipway.yml': PIPELINE })).file, '.slipway.yml');
});

test('a folder that is no repository, or has no pipeline file, or an invalid one: clear errors', () => {
  assert.throws(() => readOwnRepository(mkdtempSync(path.join(os.tmpdir(), 'slipway-own-'))), /is not a git repository \(no \.git\)/);
  assert.throws(() => readOwnRepository(repo({})), /has no pipeline file .* slipway init -o/);
  assert.throws(() => readOwnRepository(repo({ 'slipway.yml': 'name: x\n' })), /source/);
});

test('slipway dev --repo with a folder it cannot use exits 2 with the reason, before starting anything', async () => {
  const data = mkdtempSync(path.join(os.tmpdir(), 'slipway-data-'));
  const notRepo = mkdtempSync(path.join(os.tmpdir(), 'slipway-own-'));
  const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const c = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), CLI, 'dev', '--repo', notRepo], { env: { ...process.env, SLIPWAY_DATA_DIR: data } });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => resolve({ code, err }));
  });
  assert.equal(r.code, 2);
  assert.match(r.err, /is not a git repository/);
  assert.doesNotMatch(r.err, /at .*\.ts:\d+/, 'no stack trace');
});

test('the banner suggests the sample\'s next version, not always 1.1.0 (defect 8)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-ver-'));
  assert.equal(nextVersion(dir), '1.1.0');
  writeFileSync(path.join(dir, 'VERSION'), '1.3.2\n');
  assert.equal(nextVersion(dir), '1.4.0');
});

// ---- commits on the watched branch (cli/dev/commit-watcher.ts) -----------------------------

function commitIn(dir: string, file: string, text: string): string {
  writeFileSync(path.join(dir, file), text);
  const git = (...args: string[]) => spawnSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@localhost', '-c', 'commit.gpgsign=false', ...args], { encoding: 'utf8' });
  git('add', '-A');
  git('commit', '-q', '-m', `change ${file}`);
  return git('rev-parse', 'HEAD').stdout.trim();
}

function watched(pipelineFile: string) {
  const dir = repo({ 'slipway.yml': pipelineFile }, 'trunk');
  const first = commitIn(dir, 'README', 'one\n');
  const own = readOwnRepository(dir);
  const pipelines = new MemoryPipelineStore();
  pipelines.register(own.pipelineId, own.spec);
  const events = new MemoryEventQueue();
  const deliveries = new MemoryDeliveryStore();
  const lines: string[] = [];
  let n = 0;
  const watcher = commitWatcher({ own, pipelines, events, deliveries, author: 'dev', log: (l) => lines.push(l), newRunId: () => `01JLOCAL${String(++n).padStart(18, '0')}` });
  return { dir, first, own, pipelines, events, deliveries, lines, watcher };
}

test('a commit on the checked-out branch requests one push run for that commit; the head it started on runs nothing', async () => {
  const w = watched(PIPELINE);
  await w.watcher.check();
  assert.equal(w.events.sent.length, 0, 'the head at start is what was registered');
  const sha = commitIn(w.dir, 'README', 'two\n');
  await w.watcher.check();
  await w.watcher.check();
  assert.equal(w.events.sent.length, 1, 'one run per commit, however often it looks');
  const request = w.events.sent[0] as RunRequest;
  assert.deepEqual({ id: request.id, pipelineId: request.pipelineId, trigger: request.trigger }, {
    id: `req:local-push:mine:${sha}`, pipelineId: 'mine',
    trigger: { event: 'push', provider: 'github', repository: 'me/mine', branch: 'trunk', commit: sha, trust: 'trusted', author: 'dev', message: 'change README' },
  });
  assert.match(w.lines.join('\n'), new RegExp(`commit ${sha.slice(0, 8)} on trunk: run 01JLOCAL0+1 requested`));
  // Claimed as a webhook claims it, so the local reconciler never adds a recovered run for it, however slow the engine.
  assert.deepEqual([...w.deliveries.claimed], [`github#${headClaimKey('mine', 'refs/heads/trunk', sha)}`]);
});

test('a run request that cannot be sent gives the head back to the reconciler, and says so', async () => {
  const w = watched(PIPELINE);
  w.events.failWith = new Error('queue unavailable');
  const sha = commitIn(w.dir, 'README', 'two\n');
  await w.watcher.check();
  assert.deepEqual([...w.deliveries.claimed], []);
  assert.match(w.lines.at(-1)!, new RegExp(`commit ${sha.slice(0, 8)}: could not request a run: queue unavailable`));
});

test('a commit while the pipeline is disabled starts no run, says so, and claims the head so recovery does not run it later; enabled, the next commit runs', async () => {
  const w = watched(PIPELINE);
  await w.pipelines.setDisabled('mine', { by: 'dev', at: '2026-11-30T00:00:00Z' });
  const sha = commitIn(w.dir, 'README', 'two\n');
  await w.watcher.check();
  assert.equal(w.events.sent.length, 0);
  assert.match(w.lines.at(-1)!, new RegExp(`commit ${sha.slice(0, 8)} on trunk: pipeline mine is disabled \\(by dev\\); no run \\(slipway pipelines enable mine\\)`));
  assert.deepEqual([...w.deliveries.claimed], [`github#${headClaimKey('mine', 'refs/heads/trunk', sha)}`]);

  await w.pipelines.setDisabled('mine', undefined);
  await w.watcher.check();
  assert.equal(w.events.sent.length, 0, 'enabling does not run the commit made while disabled');
  const next = commitIn(w.dir, 'README', 'three\n');
  await w.watcher.check();
  assert.deepEqual(w.events.sent.map((m) => (m as RunRequest).trigger.commit), [next]);
});

test('a deleted pipeline starts no run from a commit, and says how to register it again', async () => {
  const w = watched(PIPELINE);
  await w.pipelines.remove('mine', { keepVersions: true });
  commitIn(w.dir, 'README', 'two\n');
  await w.watcher.check();
  assert.equal(w.events.sent.length, 0);
  assert.match(w.lines.at(-1)!, /pipeline mine was deleted; no run \(restart `slipway dev --repo`/);
});

test('triggers decide as for a push webhook: no branches filter takes the checked-out branch; a filter without it, or no push event, runs nothing', async () => {
  const any = watched('name: mine\nsource:\n  provider: github\n  repository: me/mine\n  triggers: { events: [push] }\njobs:\n  test:\n    template: node\n');
  commitIn(any.dir, 'README', 'two\n');
  await any.watcher.check();
  assert.equal(any.events.sent.length, 1);

  for (const triggers of ['{ events: [push], branches: [main] }', '{ events: [pull_request], branches: [trunk] }']) {
    const w = watched(`name: mine\nsource:\n  provider: github\n  repository: me/mine\n  triggers: ${triggers}\njobs:\n  test:\n    template: node\n`);
    commitIn(w.dir, 'README', 'two\n');
    await w.watcher.check();
    assert.equal(w.events.sent.length, 0, triggers);
    assert.match(w.lines.at(-1)!, /the pipeline's triggers do not take pushes to it/);
  }
});
