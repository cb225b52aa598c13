/**
 * The local mode's checkout of a commit (shared/local/checkout.ts) makes what `git clone --shared
 * --no-checkout` + `git checkout <commit>` make, with one git process, and clones what it cannot read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkout, isRefName, plainRefs, type Run } from '../../shared/local/checkout.ts';

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
  // What a ref folder may hold besides refs: a lock file of a ref being written, a dangling link.
  writeFileSync(path.join(dir, '.git', 'refs', 'heads', 'later.lock'), `${middle}\n`);
  symlinkSync(path.join(dir, 'nowhere'), path.join(dir, '.git', 'refs', 'heads', 'dangling'));
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
  // The first checkout into a folder asks git about its file system once (git init).
  const first = counting();
  assert.equal(await checkout(first.run, repo, middle, path.join(out, 'first')), undefined);
  assert.deepEqual(first.gits.map((g) => g.split(' ')[0]), ['init', '-C']);
  const fast = counting();
  assert.equal(await checkout(fast.run, repo, middle, path.join(out, 'fast')), undefined);
  assert.equal(fast.gits.length, 1, `one git process: ${fast.gits.join('; ')}`);
  const cloned = path.join(out, 'clone');
  gitIn(out, 'clone', '-q', '--shared', '--no-checkout', repo, cloned);
  gitIn(cloned, 'checkout', '-q', middle);
  assert.deepEqual(describe(path.join(out, 'fast')), describe(cloned));
  // git itself skips a ref named as no ref can be, but a later `git fetch` stumbles on it: none is written.
  assert.doesNotMatch(readFileSync(path.join(out, 'fast', '.git', 'packed-refs'), 'utf8'), /\.lock|dangling/);
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

test('a shallow repository is cloned: its history ends where .git/shallow says', async () => {
  const { dir: repo } = repository();
  const shallow = path.join(mkdtempSync(path.join(os.tmpdir(), 'slipway-shallow-')), 's');
  gitIn(os.tmpdir(), 'clone', '-q', '--depth', '1', `file://${repo}`, shallow);
  assert.equal(plainRefs(shallow), undefined);
  const head = gitIn(shallow, 'rev-parse', 'HEAD');
  const out = mkdtempSync(path.join(os.tmpdir(), 'slipway-checkout-out-'));
  const c = counting();
  assert.equal(await checkout(c.run, shallow, head, path.join(out, 'w')), undefined);
  assert.match(c.gits[0] ?? '', /^clone /);
  assert.equal(gitIn(path.join(out, 'w'), 'log', '--format=%H').split('\n').length, 1, 'git log works: one commit, as in the source');
});

test('ref names git refuses are no refs', () => {
  for (const ok of ['refs/heads/main', 'refs/heads/a/b', 'refs/tags/v1.2', 'refs/heads/feature#1']) assert.equal(isRefName(ok), true, ok);
  for (const bad of ['refs/heads/main.lock', 'refs/heads/.hidden', 'refs/heads/a..b', 'refs/heads/x y', 'refs/heads/a~1', 'refs/heads/a^', 'refs/heads/a:b', 'refs/heads/a@{1}', 'refs/heads/new\nline', 'refs/heads/end.', 'refs/heads/a//b']) assert.equal(isRefName(bad), false, JSON.stringify(bad));
});
