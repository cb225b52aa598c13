/**
 * `slipway dev --repo PATH` end to end: the real CLI process runs the local mode on a small
 * repository of the test's own, whose build job is shell only (it keeps the committed VERSION
 * file and an executable script as artifacts; no install step). A commit in that repository
 * starts a run for that very commit, which succeeds; then `slipway artifacts RUN JOB` lists what
 * the job kept and `--download DIR` writes it, with its content and its executable bit.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { descendants } from '../support/processes.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(ROOT, 'cli', 'slipway.ts');
const TSX = import.meta.resolve('tsx');
const PIPELINE = 'own-e2e';
const PIPELINE_FILE = `name: ${PIPELINE}
source:
  provider: github
  repository: e2e/own
  triggers: { events: [push], branches: [main] }
jobs:
  build:
    install: []
    commands:
      - mkdir -p dist
      - cp VERSION dist/version.txt
      - printf '#!/bin/sh\\necho hello\\n' > dist/hello.sh
      - chmod +x dist/hello.sh
    outputs: ["dist/**"]
`;

let repoDir: string;
let dataDir: string;
let workDir: string;
let dev: ChildProcess;
let out = '';
let api: { url: string; token: string };
/** The run of the test's commit, once the first test has found it. */
let runId: string | undefined;

function git(...args: string[]): string {
  const r = spawnSync('git', ['-C', repoDir, '-c', 'user.name=e2e', '-c', 'user.email=e2e@localhost', '-c', 'commit.gpgsign=false', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

function commit(files: Record<string, string>, message: string): string {
  for (const [f, text] of Object.entries(files)) writeFileSync(path.join(repoDir, f), text);
  git('add', '-A');
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD');
}

async function get<T>(route: string): Promise<T> {
  const res = await fetch(`${api.url}${route}`, { headers: { authorization: `Bearer ${api.token}` } });
  const body = await res.json();
  if (!res.ok) throw new Error(`GET ${route}: ${res.status} ${JSON.stringify(body)}`);
  return body as T;
}

/** Polls `probe` until it returns something, or fails with what the local mode printed last. */
async function until<T>(what: string, withinMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${withinMs / 1000} s\n--- slipway dev said:\n${out.slice(-3000)}`);
    if (dev.exitCode !== null) assert.fail(`${what}: slipway dev exited (${dev.exitCode})\n${out.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The CLI as a user runs it, from a folder of their own (the running local mode is found through SLIPWAY_DATA_DIR). */
function slipway(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--import', TSX, CLI, ...args], { cwd: workDir, env: { ...process.env, SLIPWAY_DATA_DIR: dataDir } });
    let o = '';
    let e = '';
    c.stdout.on('data', (d) => (o += d));
    c.stderr.on('data', (d) => (e += d));
    c.on('close', (code) => resolve({ code, out: o, err: e }));
  });
}

before(async () => {
  const t0 = Date.now();
  repoDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-own-repo-'));
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-own-data-'));
  workDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-own-work-'));
  spawnSync('git', ['-c', 'init.defaultBranch=main', 'init', '-q', repoDir]);
  commit({ 'slipway.yml': PIPELINE_FILE, VERSION: '1.0.0\n' }, 'first');
  dev = spawn(process.execPath, ['--import', TSX, CLI, 'dev', '--repo', repoDir], {
    cwd: workDir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SLIPWAY_DATA_DIR: dataDir },
  });
  dev.stdout!.on('data', (c) => (out += c));
  dev.stderr!.on('data', (c) => (out += c));
  // Up once the API listens: the pipeline is registered and the commit watcher runs by then.
  await until('slipway dev --repo starts', 90_000, async () => (/API\s+http/.test(out) ? true : undefined));
  const state = JSON.parse(readFileSync(path.join(dataDir, 'dev.json'), 'utf8')) as { apiUrl: string; apiToken: string };
  api = { url: state.apiUrl, token: state.apiToken };
  console.log(`slipway dev --repo answered after ${Date.now() - t0} ms`);
}, { timeout: 120_000 });

after(async () => {
  if (dev && dev.exitCode === null) {
    const t0 = Date.now();
    const started = descendants(dev.pid!);
    dev.kill('SIGTERM');
    const exited = new Promise((r) => dev.once('exit', r));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise((r) => { timer = setTimeout(r, 40_000); })]);
    clearTimeout(timer);
    console.log(`slipway dev stopped ${Date.now() - t0} ms after SIGTERM (exit ${dev.exitCode})`);
    // Only if it did not stop by itself: nothing it started may outlive the test.
    if (dev.exitCode === null && dev.signalCode === null) for (const p of [-dev.pid!, ...started]) try { process.kill(p, 'SIGKILL'); } catch { /* already gone */ }
  }
  // Whatever the local mode started may still hold its output pipes; they must not keep this process alive.
  dev?.stdout?.destroy();
  dev?.stderr?.destroy();
  for (const d of [repoDir, dataDir, workDir]) if (d) rmSync(d, { recursive: true, force: true });
}, { timeout: 60_000 });

test('slipway dev --repo: a commit in the repository starts a run for that commit, and it succeeds', { timeout: 90_000 }, async () => {
  const pipeline = await get<{ id: string; version: number }>(`/pipelines/${PIPELINE}`);
  assert.equal(pipeline.id, PIPELINE, 'the repository\'s pipeline file is registered under its name');

  const sha = commit({ VERSION: '1.1.0\n' }, 'version 1.1.0');
  type Summary = { runId: string; commit: string; status: string };
  const found = await until('a run for the commit', 30_000, async () => {
    const page = await get<{ items: Summary[] }>(`/pipelines/${PIPELINE}/runs`);
    return page.items.find((r) => r.commit === sha);
  });
  runId = found.runId;
  type Run = { status: string; trigger: { event: string; branch?: string; commit: string }; jobs: Record<string, { status: string }> };
  const run = await until('the run to end', 60_000, async () => {
    const r = await get<Run>(`/runs/${found.runId}`);
    return ['succeeded', 'failed', 'cancelled', 'superseded'].includes(r.status) ? r : undefined;
  });
  assert.equal(run.status, 'succeeded', `${JSON.stringify(run.jobs)}\n${out.slice(-3000)}`);
  assert.deepEqual({ event: run.trigger.event, branch: run.trigger.branch, commit: run.trigger.commit }, { event: 'push', branch: 'main', commit: sha });
  assert.equal(run.jobs.build?.status, 'succeeded');
  const runs = await get<{ items: Summary[] }>(`/pipelines/${PIPELINE}/runs`);
  assert.deepEqual(runs.items.filter((r) => r.commit === sha).map((r) => r.runId), [found.runId], 'one run for the commit');
  assert.ok(!runs.items.some((r) => r.commit === git('rev-parse', 'HEAD~1')), 'the commit it started on runs nothing');
});

test('slipway artifacts RUN JOB lists what the job kept, and --download DIR writes it with content and executable bit', { timeout: 60_000 }, async (t) => {
  if (!runId) { t.skip('needs the run of the first test'); return; }
  const list = await slipway('artifacts', runId, 'build');
  assert.equal(list.code, 0, list.err);
  assert.match(list.out, /^dist\/hello\.sh\s+\d+$/m);
  assert.match(list.out, /^dist\/version\.txt\s+6$/m);

  const download = await slipway('artifacts', runId, 'build', '--download', 'got');
  assert.equal(download.code, 0, download.err);
  assert.match(download.out, /downloaded 2 artifact\(s\) of build into got/);
  const dir = path.join(workDir, 'got');
  assert.equal(readFileSync(path.join(dir, 'dist', 'version.txt'), 'utf8'), '1.1.0\n', 'the file the build made at the commit');
  assert.equal(readFileSync(path.join(dir, 'dist', 'hello.sh'), 'utf8'), '#!/bin/sh\necho hello\n');
  assert.equal(statSync(path.join(dir, 'dist', 'hello.sh')).mode & 0o111, 0o111, 'the script is executable, as the build left it');
  assert.equal(statSync(path.join(dir, 'dist', 'version.txt')).mode & 0o111, 0, 'the text file is not');
  assert.equal(spawnSync(path.join(dir, 'dist', 'hello.sh'), { encoding: 'utf8' }).stdout, 'hello\n');
});
