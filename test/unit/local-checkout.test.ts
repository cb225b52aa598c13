/**
 * The local mode's checkout of a commit (shared/local/checkout.ts) makes what `git clone --shared
 * --no-checkout` + `git checkout <commit>` make, with one git process, and clones what it cannot read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkout, plainRefs, type Run } from '../../shared/local/checkout.ts';

const gitIn = (dir: string, ...args: string[]) => {
  const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', ...args], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, `git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};

/** Runs a program, counting the git processes started. */
function counting(): { run: Run; gits: string[] } {
  const gits: string[] = [];
  const run: Run = (cmd, args, opts = {}) => {
    if (cmd === 'git') gits.push(args.join(' '));
    return new Promise((resolve) => execFile(cmd, args, { cwd: opts.cwd, encoding: 'utf8' }, (err, stdout, stderr) => resolve({ status: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })));
  };
  return { run, gits };
}

/** A repository with history, branches (one packed, one loose, one with a '#'), a lightweight and an annotated tag, and a commit that is no branch's tip. */
function repository(): { dir: string; middle: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-checkout-'));
  gitIn(dir, 'init', '-q');
  const commit = (file: string, text: string) => { writeFileSync(path.join(dir, file), text); gitIn(dir, 'add', '-A'); gitIn(dir, 'commit', '-q', '-m', text); return gitIn(dir, 'rev-parse', 'HEAD'); };
  commit('a.txt', 'one');
  gitIn(dir, 'tag', 'v1');
  const middle = commit('b.txt', 'two');
  gitIn(dir, 'tag', '-a', 'v2', '-m', 'release two');
  gitIn(dir, 'branch', 'feature#1');
  gitIn(dir, 'pack-refs', '--all');
  commit('a.txt', 'three');
  gitIn(dir, 'branch', 'later');
  return { dir, middle };
}

/** What a build can ask git about its workspace. */
function describe(dir: string) {
  return {
    head: gitIn(dir, 'rev-parse', 'HEAD'),
    branch: gitIn(dir, 'branch', '--show-current'),
    refs: gitIn(dir, 'for-each-ref', '--format=%(refname) %(objectname)'),
    status: gitIn(dir, 'status', '--porcelain'),
    files: gitIn(dir, 'ls-files'),
    describe: gitIn(dir, 'describe', '--tags'),
    log: gitIn(dir, 'log', '--format=%H %s'),
    origin: gitIn(dir, 'config', '--get', 'remote.origin.url'),
    upstream: gitIn(dir, 'rev-parse', '--abbrev-ref', 'main@{upstream}'),
  };
}

test('a checkout has what a shared clone checked out at the commit has, with one git process', async () => {
  const { dir: repo, middle } = repository();
  const out = mkdtempSync(path.join(os.tmpdir(), 'slipway-checkout-out-'));
  const fast = counting();
  assert.equal(await checkout(fast.run, repo, middle, path.join(out, 'fast')), undefined);
  assert.equal(fast.gits.length, 1, `one git process: ${fast.gits.join('; ')}`);
  const cloned = path.join(out, 'clone');
  gitIn(out, 'clone', '-q', '--shared', '--no-checkout', repo, cloned);
  gitIn(cloned, 'checkout', '-q', middle);
  assert.deepEqual(describe(path.join(out, 'fast')), describe(cloned));
  assert.equal(describe(cloned).describe, 'v2', 'the annotated tag is found');
});

test('a commit the repository does not have is a problem in words', async () => {
  const { dir: repo } = repository();
  const out = mkdtempSync(path.join(os.tmpdir(), 'slipway-checkout-out-'));
  const problem = await checkout(counting().run, repo, '0123456789abcdef0123456789abcdef01234567', path.join(out, 'x'));
  assert.match(problem ?? '', /^commit 0123456789abcdef0123456789abcdef01234567 not found in /);
});

test('a repository whose .git is a file (a worktree) or that names [extensions] is cloned', async () => {
  const { dir: repo, middle } = repository();
  const worktree = path.join(mkdtempSync(path.join(os.tmpdir(), 'slipway-wt-')), 'wt');
  gitIn(repo, 'worktree', 'add', '-q', '--detach', worktree, middle);
  assert.equal(plainRefs(worktree), undefined);
  const out = mkdtempSync(path.join(os.tmpdir(), 'slipway-checkout-out-'));
  const c = counting();
  assert.equal(await checkout(c.run, worktree, middle, path.join(out, 'w')), undefined);
  assert.match(c.gits[0] ?? '', /^clone /);
  assert.equal(gitIn(path.join(out, 'w'), 'rev-parse', 'HEAD'), middle);

  gitIn(repo, 'config', 'extensions.worktreeConfig', 'true');
  assert.equal(plainRefs(repo), undefined);
});
