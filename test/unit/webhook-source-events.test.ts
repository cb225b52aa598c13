import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Provider } from '../../shared/domain/pipeline.ts';
import { ValidationError } from '../../shared/domain/errors.ts';
import { IgnoredEventError } from '../../shared/domain/source-event.ts';
import { normalise, repositoryOf, triggerOf, type SourceEvent } from '../../shared/git/source-event.ts';
import { eventHeaderValue, fixture, REPOS } from '../fixtures/webhooks/support.ts';

function normaliseFixture(provider: Provider, name: string, deliveryId = 'delivery-1'): SourceEvent[] {
  const payload = JSON.parse(fixture(provider, name).toString('utf8'));
  const headerName = { github: 'X-GitHub-Event', gitlab: 'X-Gitlab-Event', bitbucket: 'X-Event-Key' }[provider];
  return normalise(provider, { [headerName]: eventHeaderValue(provider, name) }, payload, deliveryId);
}

function one(provider: Provider, name: string): SourceEvent {
  const events = normaliseFixture(provider, name);
  assert.equal(events.length, 1);
  return events[0];
}

const GH = { provider: 'github', repository: 'acme/web', deliveryId: 'delivery-1' } as const;
const GL = { provider: 'gitlab', repository: 'acme/platform/api', deliveryId: 'delivery-1' } as const;
const BB = { provider: 'bitbucket', repository: 'acme-team/billing', deliveryId: 'delivery-1' } as const;

test('the repository is found in every provider payload', () => {
  for (const [provider, name] of [['github', 'push'], ['github', 'ping'], ['gitlab', 'merge_request-open'], ['bitbucket', 'pullrequest-created']] as const) {
    assert.equal(repositoryOf(provider, JSON.parse(fixture(provider, name).toString())), REPOS[provider]);
  }
  assert.equal(repositoryOf('github', null), undefined);
  assert.equal(repositoryOf('github', [1, 2]), undefined);
  assert.equal(repositoryOf('gitlab', { project: { path_with_namespace: 7 } }), undefined);
});

// ---- GitHub ----------------------------------------------------------------

test('a GitHub branch push lists the files its commits added, modified and removed', () => {
  assert.deepEqual(one('github', 'push'), {
    ...GH,
    kind: 'push',
    ref: 'refs/heads/main',
    branch: 'main',
    commit: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
    changedFiles: ['src/checkout/button.tsx', 'src/checkout/index.ts', 'README.md', 'docs/old.md'],
    author: 'octocat',
    message: 'Fix typo in README',
  });
});

test('a GitHub push creating a branch without new commits has unknown changed files', () => {
  const e = one('github', 'push-new-branch');
  assert.equal(e.kind, 'push');
  assert.equal(e.branch, 'feature/login');
  assert.equal(e.changedFiles, undefined);
});

test('a GitHub tag push is a tag event', () => {
  const e = one('github', 'push-tag');
  assert.deepEqual({ kind: e.kind, tag: e.tag, branch: e.branch, ref: e.ref, commit: e.commit }, {
    kind: 'tag', tag: 'v1.4.0', branch: undefined, ref: 'refs/tags/v1.4.0', commit: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
  });
});

test('GitHub branch and tag deletions are delete events with no commit', () => {
  assert.deepEqual(one('github', 'push-branch-deleted'), { ...GH, kind: 'delete', ref: 'refs/heads/feature/login', branch: 'feature/login', deleted: 'branch', author: 'octocat' });
  assert.deepEqual(one('github', 'push-tag-deleted'), { ...GH, kind: 'delete', ref: 'refs/tags/v1.3.0', tag: 'v1.3.0', deleted: 'tag', author: 'octocat' });
  assert.deepEqual(one('github', 'delete-branch'), { ...GH, kind: 'delete', ref: 'refs/heads/feature/login', branch: 'feature/login', deleted: 'branch', author: 'octocat' });
});

test('GitHub pull request actions map to opened, updated, merged, closed and other', () => {
  const expected: Record<string, string> = {
    'pull_request-opened': 'opened',
    'pull_request-synchronize': 'updated',
    'pull_request-closed-merged': 'merged',
    'pull_request-closed': 'closed',
    'pull_request-labeled': 'other',
  };
  for (const [name, action] of Object.entries(expected)) {
    const e = one('github', name);
    assert.deepEqual(e, {
      ...GH,
      kind: 'pull_request',
      ref: 'refs/heads/feature/one-click',
      branch: 'main',
      commit: 'a10867b14bb761a232cd80139fbd4c0d33264240',
      author: 'octocat',
      message: 'Checkout: one-click button',
      pullRequest: { number: 42, action, sourceBranch: 'feature/one-click', targetBranch: 'main', title: 'Checkout: one-click button', fork: false, headRepository: 'acme/web', baseCommit: '9049f1265b7d61be4a8904a9a27120d2064dab3b' },
    }, name);
  }
});

test('a GitHub ping is a ping', () => {
  assert.deepEqual(one('github', 'ping'), { ...GH, kind: 'ping' });
});

test('an unsupported GitHub event is an ignored event naming it', () => {
  assert.throws(() => normaliseFixture('github', 'issues-opened'), (e: unknown) => e instanceof IgnoredEventError && /GitHub event 'issues' starts nothing/.test(e.message));
});

test('a missing event header is a validation error', () => {
  assert.throws(() => normalise('github', {}, JSON.parse(fixture('github', 'push').toString()), 'd'), ValidationError);
});

test('a push to a ref that is neither a branch nor a tag is ignored', () => {
  const payload = { ...JSON.parse(fixture('github', 'push').toString()), ref: 'refs/notes/commits' };
  assert.throws(() => normalise('github', { 'x-github-event': 'push' }, payload, 'd'), IgnoredEventError);
});

// ---- GitLab ----------------------------------------------------------------

test('a GitLab push lists the files of its commits', () => {
  assert.deepEqual(one('gitlab', 'push'), {
    ...GL,
    kind: 'push',
    ref: 'refs/heads/main',
    branch: 'main',
    commit: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
    changedFiles: ['locales/ca.yml', 'src/orders/rate-limit.go', 'src/orders/handler.go', 'go.mod'],
    author: 'jsmith',
    message: 'Add rate limiting to /orders\n',
  });
});

test('a GitLab push with more commits than listed has unknown changed files', () => {
  assert.equal(one('gitlab', 'push-truncated').changedFiles, undefined);
});

test('a GitLab tag push is a tag event at the checked-out commit', () => {
  assert.deepEqual(one('gitlab', 'tag_push'), {
    ...GL, kind: 'tag', ref: 'refs/tags/v2.0.0', tag: 'v2.0.0', commit: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7', author: 'jsmith', message: 'Release 2.0.0',
  });
});

test('GitLab branch and tag deletions are delete events', () => {
  assert.deepEqual(one('gitlab', 'push-branch-deleted'), { ...GL, kind: 'delete', ref: 'refs/heads/feature/old', branch: 'feature/old', deleted: 'branch', author: 'jsmith' });
  assert.deepEqual(one('gitlab', 'tag_push-deleted'), { ...GL, kind: 'delete', ref: 'refs/tags/v1.9.0', tag: 'v1.9.0', deleted: 'tag', author: 'jsmith' });
});

test('GitLab merge request actions: an update without oldrev brought no code', () => {
  const expected: Record<string, string> = {
    'merge_request-open': 'opened',
    'merge_request-update': 'updated',
    'merge_request-update-title': 'other',
    'merge_request-merge': 'merged',
    'merge_request-close': 'closed',
  };
  for (const [name, action] of Object.entries(expected)) {
    assert.deepEqual(one('gitlab', name), {
      ...GL,
      kind: 'pull_request',
      ref: 'refs/heads/feature/rate-limit',
      branch: 'main',
      commit: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
      author: 'root',
      message: 'Rate limit /orders',
      pullRequest: { number: 7, action, sourceBranch: 'feature/rate-limit', targetBranch: 'main', title: 'Rate limit /orders', fork: false, headRepository: 'acme/platform/api' },
    }, name);
  }
});

test('an unsupported GitLab event is ignored', () => {
  const payload = { object_kind: 'issue', project: { path_with_namespace: 'acme/platform/api' } };
  assert.throws(() => normalise('gitlab', { 'x-gitlab-event': 'Issue Hook' }, payload, 'd'), (e: unknown) => e instanceof IgnoredEventError && /GitLab event 'issue' starts nothing/.test(e.message));
});

// ---- Bitbucket -------------------------------------------------------------

test('a Bitbucket branch push has no file list (path filters cannot narrow it)', () => {
  assert.deepEqual(one('bitbucket', 'repo-push'), {
    ...BB,
    kind: 'push',
    ref: 'refs/heads/main',
    branch: 'main',
    commit: '1e6f7c2d9a8b0c4d3e2f1a0b9c8d7e6f5a4b3c2d',
    author: 'emma',
    message: 'Invoice totals include VAT\n',
  });
});

test('a Bitbucket tag push and a branch deletion', () => {
  const tag = one('bitbucket', 'repo-push-tag');
  assert.equal(tag.kind, 'tag');
  assert.equal(tag.tag, 'v3.1.0');
  assert.deepEqual(one('bitbucket', 'repo-push-branch-deleted'), { ...BB, kind: 'delete', ref: 'refs/heads/feature/vat', branch: 'feature/vat', deleted: 'branch', author: 'emma' });
});

test('a Bitbucket push updating two refs yields one event per ref', () => {
  const events = normaliseFixture('bitbucket', 'repo-push-multiple');
  assert.deepEqual(events.map((e) => [e.kind, e.branch]), [['push', 'main'], ['push', 'release/3.1']]);
});

test('Bitbucket pull request events map to opened, updated, merged and closed', () => {
  const expected: Record<string, string> = {
    'pullrequest-created': 'opened',
    'pullrequest-updated': 'updated',
    'pullrequest-fulfilled': 'merged',
    'pullrequest-rejected': 'closed',
  };
  for (const [name, action] of Object.entries(expected)) {
    assert.deepEqual(one('bitbucket', name), {
      ...BB,
      kind: 'pull_request',
      ref: 'refs/heads/feature/vat',
      branch: 'main',
      commit: '1e6f7c2d9a8b',
      author: 'emma',
      message: 'VAT on invoice totals',
      pullRequest: { number: 12, action, sourceBranch: 'feature/vat', targetBranch: 'main', title: 'VAT on invoice totals', fork: false, headRepository: 'acme-team/billing', baseCommit: '4c4d8c3e03e0' },
    }, name);
  }
});

test('an unsupported Bitbucket event is a validation error', () => {
  assert.throws(() => normalise('bitbucket', { 'x-event-key': 'issue:created' }, { repository: { full_name: 'a/b' } }, 'd'), ValidationError);
});

// ---- trigger ---------------------------------------------------------------

test('a run trigger carries branch, commit, pull request number, author, message and delivery id', () => {
  assert.deepEqual(triggerOf(one('github', 'pull_request-opened')), {
    event: 'pull_request',
    provider: 'github',
    repository: 'acme/web',
    branch: 'main',
    commit: 'a10867b14bb761a232cd80139fbd4c0d33264240',
    pullRequest: 42,
    trust: 'trusted',
    fork: false,
    sourceBranch: 'feature/one-click',
    headRepository: 'acme/web',
    baseCommit: '9049f1265b7d61be4a8904a9a27120d2064dab3b',
    author: 'octocat',
    message: 'Checkout: one-click button',
    deliveryId: 'delivery-1',
  });
  assert.equal(triggerOf(one('github', 'push')).trust, 'trusted', 'a push is the team\'s own code');
  assert.throws(() => triggerOf(one('github', 'ping')));
});

test("a fork's pull request is untrusted on every provider, and names where it comes from and who sent it", () => {
  const cases = [
    ['github', 'pull_request-opened-fork', 'mallory/web'],
    ['gitlab', 'merge_request-open-fork', 'mallory/api'],
    ['bitbucket', 'pullrequest-created-fork', 'mallory/billing'],
  ] as const;
  for (const [provider, fixture, head] of cases) {
    const trigger = triggerOf(one(provider, fixture));
    assert.equal(trigger.trust, 'untrusted', fixture);
    assert.equal(trigger.fork, true, fixture);
    assert.equal(trigger.headRepository, head, fixture);
    assert.equal(trigger.author, 'mallory', fixture);
  }
  for (const [provider, fixture] of [['github', 'pull_request-opened'], ['gitlab', 'merge_request-open'], ['bitbucket', 'pullrequest-created']] as const) {
    assert.equal(triggerOf(one(provider, fixture)).trust, 'trusted', `${fixture}: a branch of the same repository`);
  }
});

test('a pull request whose head repository is gone, or unnamed, counts as a fork', () => {
  const gh = JSON.parse(fixture('github', 'pull_request-opened').toString()) as { pull_request: { head: { repo: unknown } } };
  gh.pull_request.head.repo = null;
  assert.equal(triggerOf(normalise('github', { 'x-github-event': 'pull_request' }, gh, 'd')[0]).trust, 'untrusted');
  const gl = JSON.parse(fixture('gitlab', 'merge_request-open').toString()) as { object_attributes: Record<string, unknown> };
  delete gl.object_attributes.source_project_id;
  assert.equal(triggerOf(normalise('gitlab', { 'x-gitlab-event': 'Merge Request Hook' }, gl, 'd')[0]).trust, 'untrusted');
  const bb = JSON.parse(fixture('bitbucket', 'pullrequest-created').toString()) as { pullrequest: { source: Record<string, unknown> } };
  delete bb.pullrequest.source.repository;
  assert.equal(triggerOf(normalise('bitbucket', { 'x-event-key': 'pullrequest:created' }, bb, 'd')[0]).trust, 'untrusted');
});

test('payloads of the wrong shape are validation errors, never crashes', () => {
  const shapes: unknown[] = [null, 1, 'x', [], {}, { repository: null }, { repository: { full_name: 'a/b' }, ref: 5 }, { repository: { full_name: 'a/b' }, pull_request: [] }];
  for (const provider of ['github', 'gitlab', 'bitbucket'] as const) {
    for (const event of ['push', 'pull_request', 'Push Hook', 'Merge Request Hook', 'repo:push', 'pullrequest:created', 'ping']) {
      for (const payload of shapes) {
        try {
          normalise(provider, { 'x-github-event': event, 'x-gitlab-event': event, 'x-event-key': event }, payload, 'd');
        } catch (err) {
          assert.ok(err instanceof ValidationError, `${provider} ${event} ${JSON.stringify(payload)}: ${String(err)}`);
        }
      }
    }
  }
});

test('delivery ids come from each provider header; GitLab prefers its retry-stable Idempotency-Key', async () => {
  const { deliveryIdOf } = await import('../../shared/git/source-event.ts');
  assert.equal(deliveryIdOf('github', { 'X-GitHub-Delivery': ' 72d3162e-cc78-11e3-81ab-4c9367dc0958 ' }), '72d3162e-cc78-11e3-81ab-4c9367dc0958');
  assert.equal(deliveryIdOf('bitbucket', { 'X-Request-UUID': 'b1' }), 'b1');
  assert.equal(deliveryIdOf('gitlab', { 'X-Gitlab-Event-UUID': 'e1' }), 'e1');
  assert.equal(deliveryIdOf('gitlab', { 'X-Gitlab-Event-UUID': 'e1', 'Idempotency-Key': 'k1' }), 'k1');
  assert.equal(deliveryIdOf('gitlab', { 'X-Gitlab-Event-UUID': 'e1', 'Idempotency-Key': ' ' }), 'e1');
  assert.equal(deliveryIdOf('github', { 'X-GitHub-Delivery': '' }), undefined);
  assert.equal(deliveryIdOf('github', { 'X-GitHub-Delivery': 'x'.repeat(201) }), undefined);
  assert.equal(deliveryIdOf('github', { 'X-Request-UUID': 'b1' }), undefined, "another provider's header does not count");
});

// ---- rewinds, force-pushes and pushes without file lists: files unknown (issue 16) ----------

function githubPush(extra: Record<string, unknown>): SourceEvent {
  const payload = { ...JSON.parse(fixture('github', 'push').toString()), ...extra };
  const [e] = normalise('github', { 'x-github-event': 'push' }, payload, 'd');
  return e;
}

test('a GitHub force-push back to an older commit (forced, commits: []) has unknown files, not none', () => {
  assert.equal(githubPush({ forced: true, commits: [] }).changedFiles, undefined);
  assert.equal(githubPush({ forced: false, created: false, commits: [] }).changedFiles, undefined);
});

test('a GitHub force-push that lists its new commits still counts as files unknown (the rewritten ones are not listed)', () => {
  assert.equal(githubPush({ forced: true, commits: [{ id: 'a', added: [], modified: ['README.md'], removed: [] }] }).changedFiles, undefined);
});

test('GitHub commits listed without file lists mean files unknown; with them, the union', () => {
  assert.equal(githubPush({ forced: false, commits: [{ id: 'a', message: 'x' }] }).changedFiles, undefined);
  assert.deepEqual(githubPush({ forced: false, commits: [{ id: 'a', added: ['a.txt'], modified: [], removed: ['b.txt'] }] }).changedFiles, ['a.txt', 'b.txt']);
});

test('a GitLab rewind (commits: [], total_commits_count 0) has unknown files', () => {
  const payload = { ...JSON.parse(fixture('gitlab', 'push').toString()), commits: [], total_commits_count: 0 };
  const [e] = normalise('gitlab', { 'x-gitlab-event': 'Push Hook' }, payload, 'd');
  assert.equal(e.kind, 'push');
  assert.equal(e.changedFiles, undefined);
});
