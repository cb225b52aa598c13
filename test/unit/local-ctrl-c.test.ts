/**
 * Defect 3: a normal Ctrl-C lost the local mode's artifacts ("could not keep the
 * artifacts: connect ECONNREFUSED"). A terminal's Ctrl-C sends SIGINT to the whole
 * foreground process group, which killed the emulators before the local mode could copy
 * the bucket out of fauxqs. Real processes: a process group signalled as a terminal does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';

const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'local-mode', 'ctrl-c-save.ts');

function ctrlC(mode: 'detached' | 'same-group'): Promise<string> {
  return new Promise((resolve, reject) => {
    // Its own process group, as a shell gives a foreground job.
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), FIXTURE, mode], { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } reject(new Error(`no answer: ${out}`)); }, 90_000);
    child.stdout.on('data', (c) => {
      out += c;
      if (out.includes('ready') && !out.includes('sent')) { out += 'sent'; process.kill(-child.pid!, 'SIGINT'); }
    });
    child.on('close', () => { clearTimeout(timer); resolve(out); });
  });
}

test('Ctrl-C: the emulators outlive the signal, so the artifacts are saved', { timeout: 120_000 }, async () => {
  assert.match(await ctrlC('detached'), /saved 1/);
});

test('(the defect, for contrast) emulators in the terminal\'s process group die with the Ctrl-C and the save fails', { timeout: 120_000 }, async () => {
  assert.match(await ctrlC('same-group'), /could not keep the artifacts/);
});
