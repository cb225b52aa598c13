/**
 * Ctrl-C in the terminal while a build runs: the terminal sends SIGINT to the whole foreground
 * process group, so every process of `slipway dev` that shares it gets the signal at once. The
 * local mode must still stop the build's processes (which run in process groups of their own)
 * before it exits. The build runner starts them through a helper process; a helper that shared the
 * terminal's group died first, the runner lost track of the step, and the step outlived the local
 * mode. Here the step ignores SIGTERM, so only the runner's SIGKILL after the grace period ends it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { alive } from '../support/processes.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'cli', 'slipway.ts');
const TSX = import.meta.resolve('tsx');

const repoDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-ctrlc-repo-'));
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-ctrlc-data-'));
const pidFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'slipway-ctrlc-pid-')), 'step.pid');
let dev: ChildProcess | undefined;
let out = '';

const PIPELINE_FILE = `name: ctrl-c-e2e
source:
  provider: github
  repository: e2e/ctrl-c
  triggers: { events: [push], branches: [main] }
jobs:
  slow:
    install: []
    commands:
      - echo $$ > ${pidFile}; trap '' TERM; sleep 120
`;

function git(...args: string[]): void {
  const r = spawnSync('git', ['-C', repoDir, '-c', 'user.name=e2e', '-c', 'user.email=e2e@localhost', '-c', 'commit.gpgsign=false', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
}


async function until(what: string, withinMs: number, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!probe()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${withinMs / 1000} s\n--- slipway dev said:\n${out.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

after(() => {
  if (dev && dev.exitCode === null && dev.signalCode === null) try { process.kill(-dev.pid!, 'SIGKILL'); } catch { /* gone */ }
  if (existsSync(pidFile)) { const pid = Number(readFileSync(pidFile, 'utf8')); try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }
  dev?.stdout?.destroy();
  dev?.stderr?.destroy();
  for (const d of [repoDir, dataDir, path.dirname(pidFile)]) rmSync(d, { recursive: true, force: true });
});

test('Ctrl-C (SIGINT to the terminal\'s process group) while a build runs: the local mode exits and the build\'s processes are gone', { timeout: 180_000 }, async () => {
  spawnSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q', repoDir]);
  writeFileSync(path.join(repoDir, 'slipway.yml'), PIPELINE_FILE);
  git('add', '-A');
  git('commit', '-q', '-m', 'first');
  // In a process group of its own, as a shell starts a foreground job.
  dev = spawn(process.execPath, ['--import', TSX, CLI, 'dev', '--repo', repoDir], {
    cwd: repoDir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SLIPWAY_DATA_DIR: dataDir },
  });
  dev.stdout!.on('data', (c) => (out += c));
  dev.stderr!.on('data', (c) => (out += c));
  await until('slipway dev --repo starts', 90_000, () => /API\s+http/.test(out));
  writeFileSync(path.join(repoDir, 'VERSION'), '2\n');
  git('add', '-A');
  git('commit', '-q', '-m', 'second');
  await until('the slow step runs', 60_000, () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '');
  const step = Number(readFileSync(pidFile, 'utf8'));
  assert.ok(alive(step));

  const exited = new Promise<void>((r) => dev!.once('exit', () => r()));
  process.kill(-dev.pid!, 'SIGINT');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise((r) => { timer = setTimeout(r, 40_000); })]);
  clearTimeout(timer);
  assert.ok(dev.exitCode !== null || dev.signalCode !== null, `slipway dev did not exit within 40 s of Ctrl-C\n${out.slice(-3000)}`);
  // The step ignores SIGTERM: the runner's SIGKILL, 2 s after its SIGTERM, ends it (and sleep with it).
  await until('the build\'s step is gone', 10_000, () => !alive(step));
  const group = () => spawnSync('ps', ['-eo', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.trim().split(/\s+/)[1] === String(step));
  // What is left of its process group (sleep) goes with it; a zombie waiting for init to reap it does not count.
  await until(`nothing of the step's process group is left (${group().join('; ')})`, 10_000, () => group().every((l) => / Z/.test(l)));
});
