/**
 * Defect 5 / `slipway dev --repo PATH`: the local mode on your own repository reads the
 * working copy where it is, and says clearly what is wrong with a folder it cannot use.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readOwnRepository } from '../../cli/dev/local-mode.ts';
import { nextVersion } from '../../cli/dev/local-mode.ts';

const CLI = path.join(import.meta.dirname, '..', '..', 'cli', 'slipway.ts');

function repo(files: Record<string, string>, branch = 'trunk'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-own-'));
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
