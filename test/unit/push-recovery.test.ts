/**
 * Missed-webhook recovery against git host APIs faked at the HTTP boundary, with response
 * shapes from the hosts' documentation (GitHub "List branches", "Get a commit", "List
 * repository webhooks", "List deliveries for a repository webhook"; GitLab "List repository
 * branches", "List project hooks").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GitHostHeads } from '../../shared/git/heads.ts';
import { gitWebhooks } from '../../shared/git/protocol.ts';
import { newRecoveryMemory, recoverMissedPushes, type PushRecoveryDeps } from '../../shared/services/push-recovery.ts';
import { respondToWebhook } from '../../shared/services/ingest-webhook.ts';
import type { PipelineRecord, RunSummary } from '../../shared/ports/index.ts';
import type { MetricDatum } from '../../shared/ports/metrics.ts';
import type { RunRequest } from '../../shared/ports/messages.ts';
import { startHttpStub, type HttpStub } from '../support/http-stub.ts';
import { MemorySecrets, fixture, pipelineRecord, signedHeaders } from '../fixtures/webhooks/support.ts';
import { MemoryDeliveryStore, MemoryEventQueue, MemoryPipelineStore } from '../support/memory-stores.ts';

const SHA = '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c'; // the head of the github push fixture
const OLD = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';
const REGISTERED = '2026-11-26T00:00:00.000Z';
const T0 = Date.parse('2026-11-27T01:00:00Z');

/** GitHub "List branches" (GET /repos/{owner}/{repo}/branches). */
function githubBranches(main: string) {
  return [
    { name: 'main', commit: { sha: main, url: `https://api.github.com/repos/acme/web/commits/${main}` }, protected: true },
    { name: 'feature/x', commit: { sha: OLD, url: `https://api.github.com/repos/acme/web/commits/${OLD}` }, protected: false },
  ];
}

/** GitHub "Get a commit" (GET /repos/{owner}/{repo}/commits/{ref}), trimmed to what is read. */
function githubCommit(sha: string, date: string) {
  return { sha, commit: { author: { name: 'Octo', date }, committer: { name: 'Octo', date }, message: 'change' } };
}

/** Pushes to main only (the fixtures' default watches every branch and tag). */
const MAIN = { events: ['push' as const, 'pull_request' as const], branches: ['main'] };

interface Setup {
  deps: PushRecoveryDeps;
  queue: MemoryEventQueue;
  deliveries: MemoryDeliveryStore;
  metrics: MetricDatum[];
  clock: { now: number };
  runs: RunSummary[];
}

function setup(stub: HttpStub, records: PipelineRecord[], secrets: Record<string, string> = {}): Setup {
  const queue = new MemoryEventQueue();
  const deliveries = new MemoryDeliveryStore();
  const metrics: MetricDatum[] = [];
  const clock = { now: T0 };
  const runs: RunSummary[] = [];
  let n = 0;
  const deps: PushRecoveryDeps = {
    pipelines: { list: async () => ({ items: records }) },
    runs: { listByPipeline: async (id) => ({ items: runs.filter((r) => r.pipelineId === id) }) },
    deliveries,
    queue,
    heads: new GitHostHeads({ secrets: new MemorySecrets(secrets), baseUrls: { github: stub.url, gitlab: stub.url, bitbucket: stub.url } }),
    memory: newRecoveryMemory(),
    metrics: { add: (d) => metrics.push(d) },
    now: () => new Date(clock.now),
    newRunId: () => `01JRECOVERED${String(++n).padStart(14, '0')}`,
    graceSeconds: 120,
  };
  return { deps, queue, deliveries, metrics, clock, runs };
}

test('a watched head with no run is recovered once, marked "webhook missed" with the delay since its commit', async () => {
  const stub = await startHttpStub();
  try {
    const s = setup(stub, [pipelineRecord('web', { triggers: MAIN })]);
    // pass 1: the head is new; its webhook may be on its way (grace): one listing, nothing else
    stub.answer({ status: 200, body: githubBranches(SHA), headers: { etag: '"b1"' } });
    let report = await recoverMissedPushes(s.deps);
    assert.equal(report.recovered.length, 0);
    assert.equal(report.requests, 1);
    // pass 2, 3 minutes on: unchanged (304), past the grace: the commit's date, then the run
    s.clock.now += 3 * 60_000;
    stub.answer({ status: 304, headers: { etag: '"b1"' } }, { status: 200, body: githubCommit(SHA, '2026-11-27T00:58:30Z') });
    report = await recoverMissedPushes(s.deps);
    assert.equal(report.recovered.length, 1);
    assert.equal(report.requests, 2);
    assert.equal(s.queue.sent.length, 1);
    const request = s.queue.sent[0] as RunRequest;
    assert.equal(request.pipelineId, 'web');
    assert.deepEqual({ event: request.trigger.event, branch: request.trigger.branch, commit: request.trigger.commit }, { event: 'push', branch: 'main', commit: SHA });
    // from 00:58:30 (the commit) to 01:03:00 (the recovery)
    assert.deepEqual(request.trigger.recovered, { reason: 'webhook missed', delaySeconds: 270 });
    assert.deepEqual(s.metrics.map((m) => [m.name, m.value]), [['MissedWebhooksRecovered', 1], ['RecoveryDelay', 270]]);
    // feature/x is not watched (triggers: main only), so its old head is never looked at
    assert.ok(stub.requests.every((r) => !r.url.includes(OLD)));
    // pass 3: still no run recorded (the engine is slow): the head claim stops a second recovery
    s.clock.now += 5 * 60_000;
    stub.answer({ status: 304, headers: { etag: '"b1"' } });
    report = await recoverMissedPushes(s.deps);
    assert.equal(report.recovered.length, 0);
    assert.equal(s.queue.sent.length, 1, 'recovered once');
  } finally {
    await stub.close();
  }
});

test('a 304 costs nothing: the listing is sent with If-None-Match and the kept body is used', async () => {
  const stub = await startHttpStub();
  try {
    const s = setup(stub, [pipelineRecord('web', { triggers: MAIN })], { 'slipway/web/token': 'ghp_x' });
    s.runs.push({ runId: 'r1', pipelineId: 'web', status: 'succeeded', branch: 'main', commit: SHA, createdAt: '2026-11-27T00:59:00Z' });
    stub.answer({ status: 200, body: githubBranches(SHA), headers: { etag: 'W/"abc"' } });
    await recoverMissedPushes(s.deps);
    stub.answer({ status: 304, headers: { etag: 'W/"abc"' } });
    for (let i = 0; i < 3; i++) {
      s.clock.now += 5 * 60_000;
      const report = await recoverMissedPushes(s.deps);
      assert.deepEqual({ requests: report.requests, notModified: report.notModified, recovered: report.recovered.length }, { requests: 1, notModified: 1, recovered: 0 });
    }
    assert.equal(stub.requests.length, 4);
    assert.equal(stub.requests[0].headers['if-none-match'], undefined);
    for (const r of stub.requests.slice(1)) assert.equal(r.headers['if-none-match'], 'W/"abc"');
    assert.match(stub.requests[0].url, /^\/repos\/acme\/web\/branches\?per_page=100$/);
  } finally {
    await stub.close();
  }
});

test('a late webhook after the recovery starts nothing; the recovery after a webhook starts nothing', async () => {
  const stub = await startHttpStub();
  try {
    const record = pipelineRecord('web', { triggers: MAIN });
    const s = setup(stub, [record]);
    stub.answer({ status: 200, body: githubBranches(SHA), headers: { etag: '"b1"' } });
    await recoverMissedPushes(s.deps);
    s.clock.now += 3 * 60_000;
    stub.answer({ status: 304 }, { status: 200, body: githubCommit(SHA, '2026-11-27T00:58:30Z') });
    assert.equal((await recoverMissedPushes(s.deps)).recovered.length, 1);
    // the webhook of that push finally arrives
    const body = fixture('github', 'push');
    const res = await respondToWebhook({
      pipelines: new MemoryPipelineStore().seed(record), deliveries: s.deliveries, queue: s.queue, secrets: new MemorySecrets({ 'slipway/web/webhook': 's3cret' }), protocol: gitWebhooks,
    }, { rawPath: '/webhooks/github', pathParameters: { provider: 'github' }, headers: signedHeaders('github', { event: 'push', deliveryId: 'late-1', secret: 's3cret', body }), body: body.toString('utf8') }, 'req-1');
    assert.equal(res.statusCode, 202);
    assert.deepEqual(JSON.parse(res.body), { deliveryId: 'late-1', runs: [], alreadyRecovered: ['web'] });
    assert.equal(s.queue.sent.length, 1, 'one run for the push, the recovered one');
  } finally {
    await stub.close();
  }
});

test('a head whose webhook came (and was ruled out by a path filter) is not recovered', async () => {
  const stub = await startHttpStub();
  try {
    const record = pipelineRecord('web', { triggers: { ...MAIN, paths: { include: ['services/api/**'], exclude: [] } } });
    const s = setup(stub, [record]);
    const payload = { ...JSON.parse(fixture('github', 'push').toString()), commits: [{ id: SHA, added: [], modified: ['docs/x.md'], removed: [] }] };
    const body = Buffer.from(JSON.stringify(payload));
    const res = await respondToWebhook({
      pipelines: new MemoryPipelineStore().seed(record), deliveries: s.deliveries, queue: s.queue, secrets: new MemorySecrets({ 'slipway/web/webhook': 's3cret' }), protocol: gitWebhooks,
    }, { rawPath: '/webhooks/github', pathParameters: { provider: 'github' }, headers: signedHeaders('github', { event: 'push', deliveryId: 'd-1', secret: 's3cret', body }), body: body.toString('utf8') }, 'req-1');
    assert.equal(res.statusCode, 202);
    stub.answer({ status: 200, body: githubBranches(SHA) }, { status: 200, body: githubCommit(SHA, '2026-11-27T00:58:30Z') });
    await recoverMissedPushes(s.deps);
    s.clock.now += 3 * 60_000;
    const report = await recoverMissedPushes(s.deps);
    assert.equal(report.recovered.length, 0);
    assert.equal(s.queue.sent.length, 0);
  } finally {
    await stub.close();
  }
});

test('a head committed before the pipeline was registered is the state it was registered on, not a missed push', async () => {
  const stub = await startHttpStub();
  try {
    const s = setup(stub, [pipelineRecord('web', { triggers: MAIN })]);
    stub.answer({ status: 200, body: githubBranches(SHA), headers: { etag: '"b1"' } }, { status: 200, body: githubCommit(SHA, '2026-11-25T12:00:00Z') });
    await recoverMissedPushes(s.deps);
    s.clock.now += 3 * 60_000;
    stub.answer({ status: 304 }, { status: 200, body: githubCommit(SHA, '2026-11-25T12:00:00Z') });
    assert.equal((await recoverMissedPushes(s.deps)).recovered.length, 0);
    assert.equal(s.queue.sent.length, 0);
    assert.ok(REGISTERED > '2026-11-25T12:00:00Z');
  } finally {
    await stub.close();
  }
});

test('a GitLab hook GitLab disabled becomes a notice with the fix, and a metric', async () => {
  const stub = await startHttpStub();
  try {
    const record = { ...pipelineRecord('api', { provider: 'gitlab', triggers: MAIN }), tokenSecretName: 'slipway/api/token' };
    const s = setup(stub, [record], { 'slipway/api/token': 'glpat-x' });
    s.runs.push({ runId: 'r1', pipelineId: 'api', status: 'succeeded', branch: 'main', commit: SHA, createdAt: '2026-11-27T00:59:00Z' });
    // GitLab "List repository branches" and "List project hooks"
    stub.answer(
      { status: 200, body: [{ name: 'main', merged: false, protected: true, default: true, commit: { id: SHA, short_id: SHA.slice(0, 8), committed_date: '2026-11-27T00:58:30.000Z', title: 'change' } }] },
      { status: 200, body: [{ id: 1, url: 'https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/gitlab', push_events: true, tag_push_events: true, merge_requests_events: true, enable_ssl_verification: true, alert_status: 'disabled', disabled_until: null, created_at: '2026-01-01T00:00:00Z' }] },
    );
    const report = await recoverMissedPushes(s.deps);
    assert.equal(report.notices.length, 1);
    assert.equal(report.notices[0].kind, 'hook-disabled');
    assert.match(report.notices[0].message, /GitLab disabled the webhook of acme\/platform\/api/);
    assert.match(report.notices[0].fix, /Test/);
    assert.deepEqual(s.metrics.map((m) => m.name), ['WebhookProblems']);
    assert.equal(stub.requests[0].headers['private-token'], 'glpat-x');
    assert.match(stub.requests[1].url, /^\/api\/v4\/projects\/acme%2Fplatform%2Fapi\/hooks/);
    assert.equal(report.requests, 2);
  } finally {
    await stub.close();
  }
});

test('failed GitHub hook deliveries become a notice; a token that may not read hooks gives none', async () => {
  const stub = await startHttpStub();
  try {
    const record = { ...pipelineRecord('web', { triggers: MAIN }), tokenSecretName: 'slipway/web/token' };
    const s = setup(stub, [record], { 'slipway/web/token': 'ghp_x' });
    s.runs.push({ runId: 'r1', pipelineId: 'web', status: 'succeeded', branch: 'main', commit: SHA, createdAt: '2026-11-27T00:59:00Z' });
    stub.answer(
      { status: 200, body: githubBranches(SHA) },
      { status: 200, body: [{ type: 'Repository', id: 12345678, name: 'web', active: true, events: ['push', 'pull_request'], config: { content_type: 'json', insecure_ssl: '0', url: 'https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/github' } }] },
      { status: 200, body: [
        { id: 2, guid: '0b989ba4-242f-11e5-81e1-c7b6966d2516', delivered_at: '2026-11-27T00:58:31Z', redelivery: false, duration: 10, status: 'Internal Server Error', status_code: 502, event: 'push', action: null, installation_id: null, repository_id: 1 },
        { id: 1, guid: '0b989ba4-242f-11e5-81e1-c7b6966d2515', delivered_at: '2026-11-26T10:00:00Z', redelivery: false, duration: 0.27, status: 'OK', status_code: 202, event: 'push', action: null, installation_id: null, repository_id: 1 },
      ] },
    );
    const report = await recoverMissedPushes(s.deps);
    assert.equal(report.notices.length, 1);
    assert.equal(report.notices[0].kind, 'deliveries-failing');
    assert.match(report.notices[0].message, /1 of the last 30 deliveries .* failed .*HTTP 502/);
    assert.match(stub.requests[2].url, /^\/repos\/acme\/web\/hooks\/12345678\/deliveries\?per_page=30$/);
    // an hour later, a token without hook access: 403 on the hooks, no notice, no error
    s.clock.now += 61 * 60_000;
    stub.answer({ status: 200, body: githubBranches(SHA) }, { status: 403, body: { message: 'Resource not accessible by personal access token' } });
    const later = await recoverMissedPushes(s.deps);
    assert.deepEqual({ notices: later.notices.length, errors: later.errors.length }, { notices: 0, errors: 0 });
  } finally {
    await stub.close();
  }
});

test('a watched branch beyond the first page of a big repository is read by name, with its date; one that does not exist is skipped', async () => {
  const stub = await startHttpStub();
  try {
    // main and release/2 named exactly; hotfix-* only as a glob
    const record = pipelineRecord('web', { triggers: { events: ['push'], branches: ['main', 'release/2', 'hotfix-*'] } });
    const s = setup(stub, [record]);
    // A full first page, alphabetical: 100 dependabot branches, main not among them.
    const page = Array.from({ length: 100 }, (_, i) => ({ name: `dependabot/npm/pkg-${String(i).padStart(3, '0')}`, commit: { sha: OLD, url: '' }, protected: false }));
    // GitHub "Get a branch": the whole commit, with its committer date.
    const main = { name: 'main', commit: { sha: SHA, commit: { author: { name: 'Octo', date: '2026-11-27T00:58:00Z' }, committer: { name: 'Octo', date: '2026-11-27T00:58:30Z' }, message: 'change' } }, protected: true };
    const missing = { status: 404, body: { message: 'Branch not found', documentation_url: 'https://docs.github.com/rest/branches/branches#get-a-branch', status: '404' } };
    stub.answer({ status: 200, body: page }, { status: 200, body: main }, missing);
    let report = await recoverMissedPushes(s.deps);
    assert.deepEqual(stub.requests.map((r) => r.url), ['/repos/acme/web/branches?per_page=100', '/repos/acme/web/branches/main', '/repos/acme/web/branches/release%2F2']);
    assert.deepEqual({ requests: report.requests, errors: report.errors }, { requests: 3, errors: [] });
    // Past the grace: main is recovered with the date its branch answer gave (no commit read).
    s.clock.now += 3 * 60_000;
    stub.answer({ status: 200, body: page }, { status: 200, body: main }, missing);
    report = await recoverMissedPushes(s.deps);
    assert.deepEqual(report.recovered.map((r) => [r.ref, r.commit, r.delaySeconds]), [['refs/heads/main', SHA, 270]]);
    assert.equal(report.requests, 3);
  } finally {
    await stub.close();
  }
});

test('a watched branch that was renamed (GitHub answers 301 for its old name) is no head and no error', async () => {
  const stub = await startHttpStub();
  try {
    const s = setup(stub, [pipelineRecord('web', { triggers: { events: ['push'], branches: ['master'] } })]);
    const page = Array.from({ length: 100 }, (_, i) => ({ name: `dependabot/npm/pkg-${String(i).padStart(3, '0')}`, commit: { sha: OLD, url: '' }, protected: false }));
    // "Get a branch" for a renamed branch redirects to the new name.
    stub.answer({ status: 200, body: page }, { status: 301, headers: { location: `${stub.url}/repos/acme/web/branches/main` }, body: { message: 'Moved Permanently', url: `${stub.url}/repos/acme/web/branches/main` } });
    const report = await recoverMissedPushes(s.deps);
    assert.deepEqual({ requests: report.requests, errors: report.errors, recovered: report.recovered }, { requests: 2, errors: [], recovered: [] });
    assert.equal(stub.requests.length, 2, 'the redirect was not followed');
  } finally {
    await stub.close();
  }
});

test('GitLab: a watched branch beyond a full first page is read by name (URL-encoded), with its committed date', async () => {
  const stub = await startHttpStub();
  try {
    const s = setup(stub, [pipelineRecord('api', { provider: 'gitlab', triggers: { events: ['push'], branches: ['main'] } })]);
    const branch = (name: string, id: string) => ({ name, merged: false, protected: false, default: false, commit: { id, short_id: id.slice(0, 8), committed_date: '2026-11-27T00:58:30.000Z', title: 'change' } });
    const page = Array.from({ length: 100 }, (_, i) => branch(`feature/f-${String(i).padStart(3, '0')}`, OLD));
    stub.answer({ status: 200, body: page }, { status: 200, body: { ...branch('main', SHA), default: true } });
    await recoverMissedPushes(s.deps);
    s.clock.now += 3 * 60_000;
    stub.answer({ status: 200, body: page }, { status: 200, body: { ...branch('main', SHA), default: true } });
    const report = await recoverMissedPushes(s.deps);
    assert.deepEqual(report.recovered.map((r) => [r.ref, r.commit, r.delaySeconds]), [['refs/heads/main', SHA, 270]]);
    assert.equal(stub.requests[1].url, '/api/v4/projects/acme%2Fplatform%2Fapi/repository/branches/main');
  } finally {
    await stub.close();
  }
});

test('Bitbucket: watched branches beyond a full first page are asked for by name in one filtered listing', async () => {
  const stub = await startHttpStub();
  try {
    const s = setup(stub, [pipelineRecord('shop', { provider: 'bitbucket', triggers: { events: ['push'], branches: ['main', 'release/2'] } })]);
    // Bitbucket "List open branches" (GET /2.0/repositories/{workspace}/{repo_slug}/refs/branches)
    const branch = (name: string, hash: string) => ({ type: 'branch', name, target: { type: 'commit', hash, date: '2026-11-27T00:58:30+00:00' } });
    const page = { pagelen: 100, page: 1, values: Array.from({ length: 100 }, (_, i) => branch(`feature/f-${String(i).padStart(3, '0')}`, OLD)), next: 'https://api.bitbucket.org/2.0/repositories/acme/shop/refs/branches?page=2' };
    const named = { pagelen: 100, page: 1, values: [branch('main', SHA)] };
    stub.answer({ status: 200, body: page }, { status: 200, body: named });
    await recoverMissedPushes(s.deps);
    s.clock.now += 3 * 60_000;
    stub.answer({ status: 200, body: page }, { status: 200, body: named });
    const report = await recoverMissedPushes(s.deps);
    assert.deepEqual(report.recovered.map((r) => [r.ref, r.commit, r.delaySeconds]), [['refs/heads/main', SHA, 270]]);
    assert.equal(report.requests, 2);
    const url = new URL(stub.requests[1].url, 'http://x');
    assert.equal(url.pathname, `/2.0/repositories/${pipelineRecord('shop', { provider: 'bitbucket' }).spec.source.repository}/refs/branches`);
    assert.equal(url.searchParams.get('q'), 'name="main" OR name="release/2"');
  } finally {
    await stub.close();
  }
});

test('a first page that is not full holds every branch: nothing is read by name', async () => {
  const stub = await startHttpStub();
  try {
    const s = setup(stub, [pipelineRecord('web', { triggers: { events: ['push'], branches: ['main', 'develop'] } })]);
    stub.answer({ status: 200, body: githubBranches(SHA) });
    const report = await recoverMissedPushes(s.deps);
    assert.equal(report.requests, 1);
    assert.deepEqual(stub.requests.map((r) => r.url), ['/repos/acme/web/branches?per_page=100']);
  } finally {
    await stub.close();
  }
});

test('git host requests per pipeline per pass stay within the budget', async () => {
  const stub = await startHttpStub();
  try {
    const record = { ...pipelineRecord('web', { triggers: { events: ['push', 'tag'], branches: [], tags: ['v*'] } }), tokenSecretName: 'slipway/web/token' };
    const s = setup(stub, [record], { 'slipway/web/token': 'ghp_x' });
    s.deps.maxRequestsPerPipeline = 3;
    const many = Array.from({ length: 10 }, (_, i) => ({ name: `b${i}`, commit: { sha: String(i).repeat(40).slice(0, 40).replace(/[^0-9]/g, 'a') } }));
    stub.answer({ status: 200, body: many }, { status: 200, body: [] }, { status: 200, body: githubCommit(SHA, '2026-11-27T00:58:30Z') });
    await recoverMissedPushes(s.deps);
    s.clock.now += 3 * 60_000;
    const report = await recoverMissedPushes(s.deps);
    assert.ok(report.maxRequestsForOnePipeline <= 3, `used ${report.maxRequestsForOnePipeline}`);
    // Branches named exactly beyond a full page: read by name only as far as the budget goes.
    const named = { ...pipelineRecord('big', { triggers: { events: ['push', 'tag'], branches: ['main', 'develop', 'release/1'], tags: ['v*'] } }) };
    const t = setup(stub, [named]);
    t.deps.maxRequestsPerPipeline = 3;
    const full = Array.from({ length: 100 }, (_, i) => ({ name: `dependabot/b${String(i).padStart(3, '0')}`, commit: { sha: OLD } }));
    stub.answer({ status: 200, body: full }, { status: 404, body: { message: 'Branch not found' } }, { status: 200, body: [] });
    const big = await recoverMissedPushes(t.deps);
    assert.equal(big.maxRequestsForOnePipeline, 3, 'branches, main by name, tags');
  } finally {
    await stub.close();
  }
});

test('a disabled pipeline\'s missed push is not recovered, nor its git host asked; enabled again, the head is recovered after its grace', async () => {
  const stub = await startHttpStub();
  try {
    const records: PipelineRecord[] = [{ ...pipelineRecord('web', { triggers: MAIN }), disabled: { by: 'alice', at: '2026-11-26T12:00:00Z' } }];
    const s = setup(stub, records);
    stub.answer({ status: 200, body: githubBranches(SHA) }, { status: 200, body: githubCommit(SHA, '2026-11-27T00:58:30Z') });
    for (let pass = 0; pass < 3; pass++) {
      const report = await recoverMissedPushes(s.deps);
      assert.deepEqual(report.recovered, []);
      assert.equal(report.requests, 0);
      s.clock.now += 3 * 60_000;
    }
    assert.equal(s.queue.sent.length, 0);
    assert.equal(stub.requests.length, 0, 'no git host request for a disabled pipeline');

    records[0] = pipelineRecord('web', { triggers: MAIN });
    assert.equal((await recoverMissedPushes(s.deps)).recovered.length, 0, 'first seen now: its grace starts');
    s.clock.now += 3 * 60_000;
    stub.answer({ status: 200, body: githubBranches(SHA) }, { status: 200, body: githubCommit(SHA, '2026-11-27T00:58:30Z') });
    assert.equal((await recoverMissedPushes(s.deps)).recovered.length, 1);
    assert.equal((s.queue.sent[0] as RunRequest).trigger.commit, SHA);
  } finally {
    await stub.close();
  }
});
