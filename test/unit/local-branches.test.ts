import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NotFoundError, ValidationError } from '../../shared/domain/errors.ts';
import { localBranchResolver } from '../../shared/local/local-adapters.ts';

function reposWith(branch: string): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'slipway-repos-'));
  const dir = path.join(root, 'acme', 'lib');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'README'), 'x');
  const git = (...a: string[]) => spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', `init.defaultBranch=${branch}`, ...a], { cwd: dir, encoding: 'utf8' }).stdout.trim();
  git('init', '-q'); git('add', '-A'); git('commit', '-q', '-m', 'x');
  return root;
}

test('the default branch of a repository on disk is what its HEAD names', async () => {
  const root = reposWith('trunk');
  const git = localBranchResolver((r) => path.join(root, r));
  assert.equal(await git.defaultBranch('github', 'acme/lib'), 'trunk');
  assert.match(await git.resolveBranch('github', 'acme/lib', 'trunk'), /^[0-9a-f]{40}$/);
});

test('a missing repository and a missing branch are different errors, each saying what to do', async () => {
  const root = reposWith('main');
  const git = localBranchResolver((r) => path.join(root, r));
  await assert.rejects(git.resolveBranch('github', 'acme/ghost', 'main'), (e: unknown) =>
    e instanceof ValidationError && /acme\/ghost has no git repository at .*acme\/ghost.*git init, or git clone/.test(e.message));
  await assert.rejects(git.defaultBranch('github', 'acme/ghost'), ValidationError);
  await assert.rejects(git.resolveBranch('github', 'acme/lib', 'develop'), (e: unknown) =>
    e instanceof NotFoundError && /branch develop does not exist in acme\/lib \(its branches: main\)/.test(e.message));
});
