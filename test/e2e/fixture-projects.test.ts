/**
 * Real project shapes through the local mode, with the pipeline `slipway init`
 * writes, changed only as a user would for a library (repository, branch; no
 * image or deploy job): a Node library without a lockfile, a pyproject-only
 * Python library, a CMake C library tested with ctest, a stdlib-only Go module,
 * and a Composer project without dependencies. A Python job leaves the
 * machine's pip and site-packages as they were.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import type { TemplateName } from '../../shared/domain/pipeline.ts';
import { starterPipeline } from '../../shared/domain/templates.ts';
import { followRun } from '../../cli/dev/follow.ts';
import { startLocalMode, type LocalMode } from '../../cli/dev/local-mode.ts';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'projects');
const TEST = { timeout: 240_000 };
let mode: LocalMode;
let dataDir: string;
const lines: string[] = [];

const has = (cmd: string) => spawnSync('bash', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** `init --template LANG` for acme/NAME on BRANCH, minus the image and deploy jobs (a library ships no image). */
function libraryPipeline(template: TemplateName, name: string, branch: string): string {
  const doc = parseDocument(starterPipeline(template, `acme/${name}`, branch));
  doc.deleteIn(['jobs', 'image']);
  doc.deleteIn(['jobs', 'deploy-staging']);
  return doc.toString();
}

/** Copies a fixture into the local mode's repositories as acme/NAME, committed on `branch`. */
function publish(fixture: string, name: string, branch: string): void {
  const repo = path.join(mode.dataDir, 'repos', 'acme', name);
  mkdirSync(repo, { recursive: true });
  cpSync(path.join(FIXTURES, fixture), repo, { recursive: true });
  const git = (...a: string[]) => {
    const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', `init.defaultBranch=${branch}`, ...a], { cwd: repo, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  };
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'initial');
}

async function build(template: TemplateName, fixture: string, branch = 'main'): Promise<{ status: string; log: string }> {
  const name = `${fixture}-${template}`;
  publish(fixture, name, branch);
  await mode.api.registerPipeline(name, { kind: 'definition', definition: libraryPipeline(template, name, branch) });
  const { runId } = await mode.api.requestRun(name, { branch }, { by: 'fixture-test', requestId: `${name}-${Date.now()}` });
  const run = await followRun(mode.api, runId, () => {}, 200_000);
  const page = await mode.api.readLogs(runId, 'test', { limit: 10_000 });
  return { status: run.status, log: page.events.map((e) => e.message).join('\n') };
}

/** What `pip` and the interpreter's site-packages look like: the version line and every entry with its mtime. */
function hostPython(): string {
  const pip = spawnSync('python3', ['-m', 'pip', '--version'], { encoding: 'utf8' }).stdout.trim();
  const dirs = spawnSync('python3', ['-c', 'import site, sys; print("\\n".join(site.getsitepackages() + [site.getusersitepackages()]))'], { encoding: 'utf8' }).stdout.trim().split('\n');
  const entries = dirs.flatMap((d) => {
    try { return readdirSync(d).map((e) => `${d}/${e} ${statSync(path.join(d, e)).mtimeMs}`); } catch { return [`${d} (none)`]; }
  });
  return [pip, ...entries.sort()].join('\n');
}

before(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-fixtures-'));
  mode = await startLocalMode({ dataDir, reset: true, quiet: true, onLog: (l) => lines.push(l) });
}, { timeout: 120_000 });

after(async () => {
  await mode?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a Node library without a lockfile builds and tests with the node template', TEST, async () => {
  const { status, log } = await build('node', 'node-lib');
  assert.equal(status, 'succeeded', log);
  assert.match(log, /npm install --no-package-lock/);
  assert.match(log, /runtime nodejs: asked 22, got \d+\.\d+\.\d+/);
  assert.match(log, /# pass 1/);
});

test('a pyproject-only Python library builds and tests in its own virtual environment, and the machine\'s Python is untouched', TEST, async () => {
  const before = hostPython();
  const { status, log } = await build('python', 'python-lib');
  assert.equal(status, 'succeeded', log);
  assert.match(log, /runtime python: asked 3\.12, got 3\.\d+\.\d+/);
  assert.match(log, /requires-python >=3\.9 accepts it/);
  assert.match(log, /Ran 2 tests/);
  assert.equal(hostPython(), before, 'pip and site-packages of the machine changed');
});

test('a CMake C library builds and passes ctest with the cpp template', TEST, async () => {
  const { status, log } = await build('cpp', 'cmake-lib');
  assert.equal(status, 'succeeded', log);
  assert.match(log, /100% tests passed/);
});

test('a stdlib-only Go module vets, tests and builds with the go template on a branch other than main', { ...TEST, skip: has('go') ? false : 'Go is not installed on this machine' }, async () => {
  const { status, log } = await build('go', 'go-module', 'trunk');
  assert.equal(status, 'succeeded', log);
  assert.match(log, /runtime golang: asked 1\.23, got 1\.\d+/);
  assert.match(log, /ok\s+example\.com\/tinystack/);
});

test('a Composer project without dependencies installs and runs its test script with the php template', { ...TEST, skip: has('php') && has('composer') ? false : 'PHP or Composer is not installed on this machine' }, async () => {
  const { status, log } = await build('php', 'php-lib');
  assert.equal(status, 'succeeded', log);
  assert.match(log, /^ok$/m);
});
