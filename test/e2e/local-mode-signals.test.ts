/**
 * `kill <pid of npm start>` stops the local mode and everything it started:
 * npm exits on SIGTERM without passing it on, so the processes below it notice
 * their parent is gone and stop themselves (emulators, release target, builds).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { alive, descendants } from '../support/processes.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');


test('SIGTERM to the npm start process stops the local mode and every process it started', { timeout: 150_000 }, async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-signals-'));
  const npm = spawn('npm', ['start'], { cwd: ROOT, detached: true, env: { ...process.env, SLIPWAY_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  npm.stdout!.on('data', (c) => (out += c));
  npm.stderr!.on('data', (c) => (out += c));
  try {
    // Up once the API is listening; the first run (and its builds) starts right after.
    const t0 = Date.now();
    while (!/API\s+http/.test(out)) {
      assert.ok(Date.now() - t0 < 90_000, `the local mode did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, 2000));
    const started = descendants(npm.pid!);
    assert.ok(started.length >= 4, `npm, the launcher, the local mode and its emulators: ${started.length} processes`);
    process.kill(npm.pid!, 'SIGTERM');
    let left = started.filter(alive);
    const t1 = Date.now();
    while (left.length > 0 && Date.now() - t1 < 40_000) {
      await new Promise((r) => setTimeout(r, 500));
      left = started.filter(alive);
    }
    const ps = spawnSync('ps', ['-o', 'pid,args', '-p', left.join(',') || '0'], { encoding: 'utf8' }).stdout;
    assert.deepEqual(left, [], `still running after SIGTERM to npm:\n${ps}\n${out.slice(-2000)}`);
  } finally {
    try { process.kill(-npm.pid!, 'SIGKILL'); } catch { /* all gone */ }
    for (const p of descendants(npm.pid!)) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    rmSync(dataDir, { recursive: true, force: true });
  }
});
