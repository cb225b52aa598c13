import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesPaths, matchesTriggers } from '../../shared/domain/trigger-match.ts';
import type { SourceEvent } from '../../shared/git/source-event.ts';
import { triggers } from '../fixtures/webhooks/support.ts';

const base = { provider: 'github', repository: 'acme/web', deliveryId: 'd' } as const;

function push(branch: string, changedFiles?: string[]): SourceEvent {
  return { ...base, kind: 'push', ref: `refs/heads/${branch}`, branch, commit: 'c1', changedFiles };
}
function tag(name: string): SourceEvent {
  return { ...base, kind: 'tag', ref: `refs/tags/${name}`, tag: name, commit: 'c1' };
}
function pr(action: NonNullable<SourceEvent['pullRequest']>['action'], targetBranch = 'main'): SourceEvent {
  return { ...base, kind: 'pull_request', ref: 'refs/heads/feature/x', branch: targetBranch, commit: 'c2', pullRequest: { number: 1, action, sourceBranch: 'feature/x', targetBranch, fork: false } };
}

test('a push matches branch globs', () => {
  const t = triggers({ events: ['push'], branches: ['main', 'release/*', 'hotfix/**'] });
  assert.equal(matchesTriggers(t, push('main')), true);
  assert.equal(matchesTriggers(t, push('release/1.2')), true);
  assert.equal(matchesTriggers(t, push('release/1.2/rc')), false, 'a single star stops at a slash');
  assert.equal(matchesTriggers(t, push('hotfix/a/b')), true);
  assert.equal(matchesTriggers(t, push('feature/main')), false);
  assert.equal(matchesTriggers(t, push('mainline')), false);
});

test('no branch globs means every branch', () => {
  assert.equal(matchesTriggers(triggers({ events: ['push'] }), push('anything/at/all')), true);
});

test('a push does not start a pipeline that does not listen to pushes', () => {
  assert.equal(matchesTriggers(triggers({ events: ['tag', 'pull_request'] }), push('main')), false);
});

test('a tag matches tag globs and ignores branch globs and path filters', () => {
  const t = triggers({ events: ['tag'], branches: ['main'], tags: ['v*.*.*'], paths: { include: ['src/**'], exclude: [] } });
  assert.equal(matchesTriggers(t, tag('v1.2.3')), true);
  assert.equal(matchesTriggers(t, tag('v1.2')), false);
  assert.equal(matchesTriggers(t, tag('nightly')), false);
  assert.equal(matchesTriggers(triggers({ events: ['push'] }), tag('v1.2.3')), false, 'pushes do not cover tags');
});

test('pull requests match on their target branch and only when they bring code', () => {
  const t = triggers({ events: ['pull_request'], branches: ['main'] });
  assert.equal(matchesTriggers(t, pr('opened')), true);
  assert.equal(matchesTriggers(t, pr('updated')), true);
  assert.equal(matchesTriggers(t, pr('reopened')), true);
  assert.equal(matchesTriggers(t, pr('merged')), false, 'the push to the target branch starts the run');
  assert.equal(matchesTriggers(t, pr('closed')), false);
  assert.equal(matchesTriggers(t, pr('other')), false);
  assert.equal(matchesTriggers(t, pr('opened', 'develop')), false);
});

test('a branch or tag deletion starts nothing, whatever the triggers', () => {
  const t = triggers();
  assert.equal(matchesTriggers(t, { ...base, kind: 'delete', ref: 'refs/heads/main', branch: 'main', deleted: 'branch' }), false);
  assert.equal(matchesTriggers(t, { ...base, kind: 'delete', ref: 'refs/tags/v1', tag: 'v1', deleted: 'tag' }), false);
  assert.equal(matchesTriggers(t, { ...base, kind: 'ping' }), false);
});

test('path include globs need one changed file to match', () => {
  const t = triggers({ events: ['push'], paths: { include: ['src/**', 'package.json'], exclude: [] } });
  assert.equal(matchesTriggers(t, push('main', ['README.md', 'src/app/main.ts'])), true);
  assert.equal(matchesTriggers(t, push('main', ['package.json'])), true);
  assert.equal(matchesTriggers(t, push('main', ['README.md', 'docs/a.md'])), false);
  assert.equal(matchesTriggers(t, push('main', [])), false);
});

test('path exclude globs take files out of consideration', () => {
  const paths = { include: ['src/**'], exclude: ['src/**/*.md', '**/*.test.ts'] };
  assert.equal(matchesPaths(paths, ['src/readme.md', 'src/a.test.ts']), false);
  assert.equal(matchesPaths(paths, ['src/readme.md', 'src/a.ts']), true);
  // Only excludes: a change made only of excluded files starts nothing.
  assert.equal(matchesPaths({ include: [], exclude: ['docs/**'] }, ['docs/a.md']), false);
  assert.equal(matchesPaths({ include: [], exclude: ['docs/**'] }, ['docs/a.md', 'x.ts']), true);
});

test('dotfiles are matched by ** globs', () => {
  assert.equal(matchesPaths({ include: ['config/**'], exclude: [] }, ['config/.env.example']), true);
});

test('unknown changed files (Bitbucket, truncated pushes, pull requests) let path-filtered pipelines run', () => {
  const t = triggers({ events: ['push', 'pull_request'], paths: { include: ['src/**'], exclude: [] } });
  assert.equal(matchesTriggers(t, push('main', undefined)), true);
  assert.equal(matchesTriggers(t, pr('opened')), true);
});

test('no path filter matches even a push that changed no file', () => {
  assert.equal(matchesTriggers(triggers({ events: ['push'] }), push('main', [])), true);
});
