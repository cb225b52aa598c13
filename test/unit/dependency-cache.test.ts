/**
 * Dependency caches: keys and fallbacks (pure), who may write, and the local mode's restore and save
 * end to end (a cache directory per key, restored into the job's cache directory).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { branchSegment, cacheKeys, cacheScope, defaultBranchOf } from '../../shared/domain/dependency-cache.ts';
import type { JobSpec } from '../../shared/domain/pipeline.ts';
import { TEMPLATES } from '../../shared/domain/templates.ts';
import { LocalBuildRunner } from '../../shared/local/build-runner.ts';
import type { BuildRequest } from '../../shared/ports/index.ts';
import { toBuildStateChanged, type BuildStateChangeEvent } from '../../shared/services/build-events.ts';

describe('cache keys', () => {
  it('restore the branch\'s entry for the lock hash, then the fallback\'s, then each one\'s newest; save under the branch', () => {
    const keys = cacheKeys('web', 'test', { branch: 'feature_x', fallback: 'main' }, '0123456789abcdef');
    assert.deepEqual(keys.restore, [
      'cache/web/test/feature_x/0123456789abcdef.tar.gz',
      'cache/web/test/main/0123456789abcdef.tar.gz',
      'cache/web/test/feature_x/latest.tar.gz',
      'cache/web/test/main/latest.tar.gz',
    ]);
    assert.equal(keys.save, 'cache/web/test/feature_x/0123456789abcdef.tar.gz');
    assert.equal(keys.latest, 'cache/web/test/feature_x/latest.tar.gz');
  });

  it('on the default branch, the fallbacks are not tried twice', () => {
    assert.equal(cacheKeys('web', 'test', { branch: 'main', fallback: 'main' }, 'h').restore.length, 2);
  });

  it('a push writes its branch and falls back to the default branch; a pull request writes its source branch and falls back to its target', () => {
    assert.deepEqual(cacheScope({ event: 'push', branch: 'feature/x' }, 'main'), { branch: 'feature_x', fallback: 'main', write: true });
    assert.deepEqual(cacheScope({ event: 'pull_request', branch: 'release', sourceBranch: 'fix-1' }, 'main'), { branch: 'fix-1', fallback: 'release', write: true });
  });

  it('a fork reads the shared caches and never writes them', () => {
    assert.equal(cacheScope({ event: 'pull_request', branch: 'main', sourceBranch: 'main', fork: true }, 'main').write, false);
  });

  it('branch names become one safe key segment; the default branch is the first literal trigger branch', () => {
    assert.equal(branchSegment('../../etc'), '.._.._etc');
    assert.equal(branchSegment(''), '_');
    assert.equal(defaultBranchOf({ source: { provider: 'github', repository: 'a/b', triggers: { events: ['push'], branches: ['release/*', 'trunk'], tags: [], paths: { include: [], exclude: [] } } } }), 'trunk');
  });
});

/** A git repository in a temporary folder with `files` committed; `commit` adds more and returns the sha. */
function repo(files: Record<string, string>): { dir: string; first: string; commit: (files: Record<string, string>) => string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-cache-repo-'));
  const git = (...a: string[]) => spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', ...a], { cwd: dir, encoding: 'utf8' }).stdout.trim();
  const commit = (f: Record<string, string>) => {
    for (const [name, content] of Object.entries(f)) writeFileSync(path.join(dir, name), content);
    git('add', '-A');
    git('commit', '-q', '-m', 'x');
    return git('rev-parse', 'HEAD');
  };
  git('init', '-q');
  return { dir, first: commit(files), commit };
}

describe('the local mode\'s dependency cache', () => {
  // A stand-in for `npm ci`: reports whether the tool's cache (npm_config_cache) was warm, then fills it.
  const install = 'if [ -f "$npm_config_cache/fetched" ]; then echo "cache: warm $(cat "$npm_config_cache/fetched")"; else echo "cache: cold"; fi; mkdir -p "$npm_config_cache" && cat package-lock.json > "$npm_config_cache/fetched"';
  const spec: JobSpec = {
    name: 'test', kind: 'build', needs: [], when: { branches: [], tags: [], events: [] }, template: 'node', install: [install], commands: ['true'], cache: [], env: {},
    outputs: [], inputs: [], timeoutMinutes: 15, retries: 0, compute: 'lambda',
  };

  function setup() {
    const source = repo({ 'package-lock.json': '{"v":1}\n', 'package.json': '{"name":"x"}\n' });
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-cache-data-'));
    const events: BuildStateChangeEvent[] = [];
    const runner = new LocalBuildRunner({
      dataDir, repositoryPath: () => source.dir, s3: {} as S3Client, artifactBucket: 'bucket', onStateChange: (e) => { events.push(e); }, hasTool: () => true,
    });
    let n = 0;
    const run = async (commit: string, over: Partial<BuildRequest> = {}) => {
      n += 1;
      const request: BuildRequest = {
        runId: `run${n}`, pipelineId: 'web', job: 'test', attempt: 1, token: `run${n}:test:1`, commit, branch: 'main', repository: 'acme/web', provider: 'github', spec,
        cache: { branch: 'main', fallback: 'main', write: true }, ...over,
      };
      const { buildId } = await runner.start(request);
      await runner.idle();
      const last = await toBuildStateChanged(events.at(-1)!);
      assert.equal(last?.state, 'SUCCEEDED', readFileSync(runner.logFile(buildId), 'utf8'));
      return readFileSync(runner.logFile(buildId), 'utf8');
    };
    return { source, dataDir, run, runner };
  }

  it('a cold build saves its cache under the lock hash; the next build of the same lock file restores it and saves nothing', async () => {
    const { source, dataDir, run } = setup();
    const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: source.dir, encoding: 'utf8' }).stdout.trim();
    const cold = await run(head);
    assert.match(cold, /dependency cache miss/);
    assert.match(cold, /cache: cold/);
    assert.match(cold, /dependency cache saved as cache\/web\/test\/main\/[0-9a-f]{16}\.tar\.gz/);
    assert.ok(existsSync(path.join(dataDir, 'cache', 'web', 'test', 'main', 'latest')));
    const warm = await run(head);
    assert.match(warm, /dependency cache cache\/web\/test\/main\/[0-9a-f]{16}\.tar\.gz restored/);
    assert.match(warm, /cache: warm \{"v":1\}/);
    assert.match(warm, /nothing to save/);
  });

  it('a new lock file on another branch starts from the default branch\'s newest cache, and saves under its own branch', async () => {
    const { source, dataDir, run } = setup();
    const first = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: source.dir, encoding: 'utf8' }).stdout.trim();
    await run(first);
    const changed = source.commit({ 'package-lock.json': '{"v":2}\n' });
    const log = await run(changed, { branch: 'feature/x', cache: { branch: 'feature_x', fallback: 'main', write: true } });
    assert.match(log, /dependency cache cache\/web\/test\/main\/latest\.tar\.gz restored/);
    assert.match(log, /cache: warm \{"v":1\}/, 'the older lock file\'s packages were there to reuse');
    assert.match(log, /saved as cache\/web\/test\/feature_x\//);
    assert.ok(existsSync(path.join(dataDir, 'cache', 'web', 'test', 'feature_x', 'latest')));
  });

  it('a fork\'s build restores the shared cache but writes nothing', async () => {
    const { source, dataDir, run } = setup();
    const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: source.dir, encoding: 'utf8' }).stdout.trim();
    await run(head);
    const changed = source.commit({ 'package-lock.json': '{"v":3}\n' });
    const before = spawnSync('find', [path.join(dataDir, 'cache')], { encoding: 'utf8' }).stdout;
    const log = await run(changed, { lane: 'fork', cache: { branch: 'main', fallback: 'main', write: false } });
    assert.match(log, /restored/);
    assert.match(log, /never writes them/);
    assert.equal(spawnSync('find', [path.join(dataDir, 'cache')], { encoding: 'utf8' }).stdout, before);
  });

  it('an entry over the size cap is not saved', async () => {
    const source = repo({ 'package-lock.json': '{}\n' });
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-cache-data-'));
    mkdirSync(dataDir, { recursive: true });
    const events: BuildStateChangeEvent[] = [];
    const runner = new LocalBuildRunner({ dataDir, repositoryPath: () => source.dir, s3: {} as S3Client, artifactBucket: 'b', onStateChange: (e) => { events.push(e); }, hasTool: () => true, cacheMaxBytes: 1 });
    const commit = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: source.dir, encoding: 'utf8' }).stdout.trim();
    const { buildId } = await runner.start({ runId: 'r', pipelineId: 'web', job: 'test', attempt: 1, token: 't', commit, repository: 'acme/web', provider: 'github', spec, cache: { branch: 'main', fallback: 'main', write: true } });
    await runner.idle();
    assert.match(readFileSync(runner.logFile(buildId), 'utf8'), /over the cap of 1; not saved/);
    assert.equal(existsSync(path.join(dataDir, 'cache', 'web')), false);
  });
});

/**
 * The installed tree (node_modules) kept beside the npm cache: put back only for the same lock file
 * and runtime, and then `npm ci` is skipped. `npm` and `node` are stand-ins that log what they are
 * asked; the install step is the node template's own.
 */
describe('the installed tree (node_modules) in the dependency cache', () => {
  function fakeTools(): { bin: string; npmLog: string } {
    const bin = mkdtempSync(path.join(os.tmpdir(), 'slipway-fake-npm-'));
    const npmLog = path.join(bin, 'npm.log');
    writeFileSync(npmLog, '');
    writeFileSync(path.join(bin, 'npm'), [
      '#!/bin/bash',
      `echo "$1" >> ${JSON.stringify(npmLog)}`,
      'case "$1" in',
      '  ci|install) rm -rf node_modules; mkdir -p node_modules/dep node_modules/.bin && echo "built by $(node --version)" > node_modules/dep/index.js && ln -s ../dep/index.js node_modules/.bin/dep;;',
      '  ls) [ -f node_modules/dep/index.js ] && [ -z "${FAKE_LS_FAIL:-}" ];;',
      'esac',
    ].join('\n'), { mode: 0o755 });
    writeFileSync(path.join(bin, 'node'), '#!/bin/bash\necho "${FAKE_NODE_VERSION:-v22.1.0}"\n', { mode: 0o755 });
    return { bin, npmLog };
  }

  function setup() {
    const tools = fakeTools();
    const { dir, first, commit } = repo({ 'package-lock.json': '{"lockfileVersion":3}\n', 'package.json': '{"name":"x"}\n' });
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-installed-data-'));
    const events: BuildStateChangeEvent[] = [];
    const runner = new LocalBuildRunner({ dataDir, repositoryPath: () => dir, s3: {} as S3Client, artifactBucket: 'b', onStateChange: (e) => { events.push(e); }, hasTool: () => true });
    let n = 0;
    const build = async (sha: string, env: Record<string, string> = {}) => {
      n += 1;
      const spec: JobSpec = {
        name: 'test', kind: 'build', needs: [], when: { branches: [], tags: [], events: [] }, template: 'node',
        install: [...TEMPLATES.node.install],
        // The restored tree is whole: its file, and its relative link in .bin still relative.
        commands: ['cat node_modules/dep/index.js', 'echo "link: $(readlink node_modules/.bin/dep)"'],
        cache: [], env: { PATH: `${tools.bin}:${process.env.PATH}`, ...env }, outputs: [], inputs: [], timeoutMinutes: 15, retries: 0, compute: 'lambda',
      };
      const { buildId } = await runner.start({
        runId: `r${n}`, pipelineId: 'web', job: 'test', attempt: 1, token: `r${n}:test:1`, commit: sha, branch: 'main', repository: 'acme/web', provider: 'github', spec,
        cache: { branch: 'main', fallback: 'main', write: true },
      });
      await runner.idle();
      const log = readFileSync(runner.logFile(buildId), 'utf8');
      assert.equal((await toBuildStateChanged(events.at(-1)!))?.state, 'SUCCEEDED', log);
      const calls = readFileSync(tools.npmLog, 'utf8').split('\n').filter(Boolean);
      writeFileSync(tools.npmLog, '');
      return { log, calls };
    };
    return { first, commit, build, dataDir, dir };
  }

  it('is saved with the cache and, for the same lock file and runtime, put back whole so npm ci is skipped', async () => {
    const { first, build, dataDir } = setup();
    const cold = await build(first);
    assert.deepEqual(cold.calls, ['ci']);
    assert.match(cold.log, /dependency cache saved as .*with node_modules/);
    const entry = spawnSync('find', [path.join(dataDir, 'cache'), '-path', '*installed*', '-name', 'index.js'], { encoding: 'utf8' }).stdout;
    assert.match(entry, /installed\/node_modules\/dep\/index\.js/);
    const warm = await build(first);
    assert.match(warm.log, /installed node_modules restored/);
    assert.match(warm.log, /^\S+ slipway: node_modules restored from the dependency cache for this lock file; npm ci skipped$/m, "the install step said so (not just echoed its own text)");
    assert.deepEqual(warm.calls, ['ls'], 'npm ls checked the tree; npm ci never ran');
    assert.match(warm.log, /built by v22\.1\.0/);
    assert.match(warm.log, /link: \.\.\/dep\/index\.js/);
  });

  it('is not put back for another lock file (the newest cache helps npm ci, its tree does not), another runtime, or a tree npm ls rejects', async () => {
    const { first, commit, build } = setup();
    await build(first);
    const otherRuntime = await build(first, { FAKE_NODE_VERSION: 'v24.0.0' });
    assert.match(otherRuntime.log, /built for another runtime; not used/);
    assert.deepEqual(otherRuntime.calls, ['ci']);
    assert.match(otherRuntime.log, /dependency cache saved as .*with node_modules/, 'saved again for the new runtime');
    const onNew = await build(first, { FAKE_NODE_VERSION: 'v24.0.0' });
    assert.deepEqual(onNew.calls, ['ls'], 'the next build on the new runtime reuses it');
    const stale = await build(first, { FAKE_NODE_VERSION: 'v24.0.0', FAKE_LS_FAIL: '1' });
    assert.match(stale.log, /installed node_modules restored/);
    assert.deepEqual(stale.calls, ['ls', 'ci'], 'a restored tree npm ls rejects is installed again');
    const changed = commit({ 'package-lock.json': '{"lockfileVersion":3,"v":2}\n' });
    const newLock = await build(changed);
    assert.match(newLock.log, /latest\.tar\.gz restored/);
    assert.doesNotMatch(newLock.log, /installed node_modules restored/);
    assert.deepEqual(newLock.calls, ['ci']);
  });

  it('is neither kept nor put back without a lock file: every commit would hash alike', async () => {
    const { dir, commit, build } = setup();
    spawnSync('git', ['rm', '-q', 'package-lock.json'], { cwd: dir });
    const unlocked = commit({ 'package.json': '{"name":"x","v":2}\n' });
    const cold = await build(unlocked);
    assert.doesNotMatch(cold.log, /with node_modules/);
    const again = await build(unlocked);
    assert.doesNotMatch(again.log, /installed node_modules restored/);
    assert.deepEqual(again.calls, ['install']);
  });
});
