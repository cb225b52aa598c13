import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Provider } from '../../shared/domain/pipeline.ts';
import type { RunRequest } from '../../shared/ports/messages.ts';
import { bodyClaimKey, respondToWebhook, type WebhookDeps, type HttpRequestV2 } from '../../shared/services/ingest-webhook.ts';
import { RetryableError } from '../../shared/domain/errors.ts';
import { headClaimKey, recoveredClaimKey } from '../../shared/domain/recovery.ts';
import { signBody } from '../../shared/git/signatures.ts';
import { gitWebhooks } from '../../shared/git/protocol.ts';
import {
  eventHeaderValue, fixture, MemorySecrets, pipelineRecord, signedHeaders,
} from '../fixtures/webhooks/support.ts';
import { MemoryDeliveryStore, MemoryEventQueue, MemoryPipelineStore } from '../support/memory-stores.ts';

const SECRET = 'hook-secret-1';

function setup(records = [pipelineRecord('web')], secrets: Record<string, string> = { 'slipway/web/webhook': SECRET }) {
  const pipelines = new MemoryPipelineStore().seed(...records);
  const deliveries = new MemoryDeliveryStore();
  const queue = new MemoryEventQueue();
  const secretSource = new MemorySecrets(secrets);
  let n = 0;
  const deps: WebhookDeps = { pipelines, deliveries, queue, secrets: secretSource, protocol: gitWebhooks, newRunId: () => `01JRUN${String(++n).padStart(20, '0')}`, now: () => new Date('2026-11-27T01:00:00Z') };
  return { deps, pipelines, deliveries, queue, secretSource };
}

function request(provider: Provider, name: string, opts: { secret?: string; deliveryId?: string; base64?: boolean; headers?: Record<string, string | undefined>; body?: Buffer } = {}): HttpRequestV2 {
  const body = opts.body ?? fixture(provider, name);
  const headers = { ...signedHeaders(provider, { event: eventHeaderValue(provider, name), deliveryId: opts.deliveryId ?? 'delivery-1', secret: opts.secret ?? SECRET, body }), ...opts.headers };
  return {
    rawPath: `/webhooks/${provider}`,
    pathParameters: { provider },
    headers,
    isBase64Encoded: opts.base64 ?? false,
    body: opts.base64 ? body.toString('base64') : body.toString('utf8'),
  };
}

async function send(deps: WebhookDeps, req: HttpRequestV2) {
  const res = await respondToWebhook(deps, req, 'req-123');
  return { status: res.statusCode, body: JSON.parse(res.body) as Record<string, unknown>, headers: res.headers };
}

test('a signed GitHub push starts one run and answers 202 with the run id', async () => {
  const { deps, queue, deliveries } = setup();
  const res = await send(deps, request('github', 'push'));
  assert.equal(res.status, 202);
  assert.deepEqual(res.body, { deliveryId: 'delivery-1', runs: [{ pipeline: 'web', runId: '01JRUN00000000000000000001' }] });
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(queue.batches, 1);
  assert.deepEqual(queue.sent, [{
    type: 'RunRequest',
    id: 'req:github:delivery-1:web',
    runId: '01JRUN00000000000000000001',
    pipelineId: 'web',
    pipelineVersion: 1,
    trigger: {
      event: 'push', provider: 'github', repository: 'acme/web', branch: 'main', commit: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
      trust: 'trusted', author: 'octocat', message: 'Fix typo in README', deliveryId: 'delivery-1',
    },
    at: '2026-11-27T01:00:00.000Z',
  } satisfies RunRequest]);
  assert.deepEqual([...deliveries.claimed], [
    'github#delivery-1', `github#${bodyClaimKey('web', fixture('github', 'push'))}`,
    `github#${headClaimKey('web', 'refs/heads/main', '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c')}`,
  ]);
});

test('GitLab and Bitbucket deliveries start runs too', async () => {
  const { deps, queue } = setup(
    [pipelineRecord('api', { provider: 'gitlab' }), pipelineRecord('billing', { provider: 'bitbucket' })],
    { 'slipway/api/webhook': 'gl-token', 'slipway/billing/webhook': 'bb-secret' },
  );
  const gl = await send(deps, request('gitlab', 'merge_request-open', { secret: 'gl-token', deliveryId: 'gl-1' }));
  assert.equal(gl.status, 202);
  assert.equal((gl.body.runs as unknown[]).length, 1);
  const bb = await send(deps, request('bitbucket', 'repo-push', { secret: 'bb-secret', deliveryId: '{bb-1}' }));
  assert.equal(bb.status, 202);
  assert.deepEqual(queue.sent.map((m) => m.id), ['req:gitlab:gl-1:api', 'req:bitbucket:{bb-1}:billing']);
});

test('a Bitbucket push of two branches sends one request per branch, in one batch, with distinct ids', async () => {
  const { deps, queue } = setup([pipelineRecord('billing', { provider: 'bitbucket' })], { 'slipway/billing/webhook': 'bb' });
  const res = await send(deps, request('bitbucket', 'repo-push-multiple', { secret: 'bb', deliveryId: 'u1' }));
  assert.equal(res.status, 202);
  assert.equal(queue.batches, 1);
  assert.deepEqual(queue.sent.map((m) => [m.id, (m as RunRequest).trigger.branch]), [['req:bitbucket:u1:billing:0', 'main'], ['req:bitbucket:u1:billing:1', 'release/3.1']]);
});

test('a base64-encoded body is verified on the decoded bytes', async () => {
  const { deps, queue } = setup();
  const res = await send(deps, request('github', 'push', { base64: true }));
  assert.equal(res.status, 202);
  assert.equal(queue.sent.length, 1);
});

test('a ping answers 200 and writes nothing', async () => {
  const { deps, queue, deliveries } = setup();
  const res = await send(deps, request('github', 'ping'));
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { deliveryId: 'delivery-1', ping: true });
  assert.equal(queue.sent.length, 0);
  assert.equal(deliveries.claims, 0);
});

test('a redelivered webhook starts nothing new: 202 duplicate', async () => {
  const { deps, queue } = setup();
  assert.equal((await send(deps, request('github', 'push'))).status, 202);
  const again = await send(deps, request('github', 'push'));
  assert.equal(again.status, 202);
  assert.deepEqual(again.body, { deliveryId: 'delivery-1', duplicate: true });
  assert.equal(queue.sent.length, 1);
});

test('concurrent copies of one delivery start one run, and the winner names it', async () => {
  const { deps, queue } = setup();
  const results = await Promise.all(Array.from({ length: 10 }, () => send(deps, request('github', 'push'))));
  const winners = results.filter((r) => r.body.runs);
  assert.equal(winners.length, 1);
  assert.equal(results.filter((r) => r.body.duplicate === true).length, 9);
  assert.equal(queue.sent.length, 1);
  assert.equal((winners[0].body.runs as Array<{ runId: string }>)[0].runId, (queue.sent[0] as RunRequest).runId);
});

test('when enqueueing fails the claim is released: 503, and the redelivery starts the run', async () => {
  const { deps, queue, deliveries } = setup();
  queue.failNext = 1;
  const failed = await send(deps, request('github', 'push'));
  assert.equal(failed.status, 503);
  assert.deepEqual(Object.keys(failed.body).sort(), ['error', 'message', 'requestId']);
  assert.doesNotMatch(JSON.stringify(failed.body), /sqs/);
  assert.equal(deliveries.releases, 3, 'the delivery id, the signed body and the head');
  assert.equal(deliveries.claimed.size, 0);
  const retried = await send(deps, request('github', 'push'));
  assert.equal(retried.status, 202);
  assert.equal((retried.body.runs as unknown[]).length, 1);
  assert.equal(queue.sent.length, 1);
});

test('a push that matches no pipeline answers 202 with no runs and writes nothing', async () => {
  const { deps, queue, deliveries } = setup([pipelineRecord('web', { triggers: { branches: ['release/*'] } })]);
  const res = await send(deps, request('github', 'push'));
  assert.equal(res.status, 202);
  assert.deepEqual(res.body, { deliveryId: 'delivery-1', runs: [] });
  assert.equal(queue.sent.length, 0);
  assert.equal(deliveries.claims, 0);
});

test('a branch deletion starts nothing', async () => {
  const { deps, queue } = setup();
  const res = await send(deps, request('github', 'push-branch-deleted'));
  assert.equal(res.status, 202);
  assert.deepEqual(res.body.runs, []);
  assert.equal(queue.sent.length, 0);
});

test('a delivery starts only the pipelines whose secret verifies it', async () => {
  const { deps, queue } = setup(
    [pipelineRecord('web'), pipelineRecord('web-staging'), pipelineRecord('web-same'), pipelineRecord('web-nosecret', { secretName: null })],
    { 'slipway/web/webhook': SECRET, 'slipway/web-staging/webhook': 'different', 'slipway/web-same/webhook': SECRET },
  );
  const res = await send(deps, request('github', 'push'));
  assert.equal(res.status, 202);
  assert.deepEqual((res.body.runs as Array<{ pipeline: string }>).map((r) => r.pipeline), ['web', 'web-same']);
  assert.equal(queue.batches, 1);
});

test('each pipeline\'s secret is fetched once per delivery', async () => {
  const { deps, secretSource } = setup([pipelineRecord('a'), pipelineRecord('b')], { 'slipway/a/webhook': SECRET, 'slipway/b/webhook': SECRET });
  await send(deps, request('github', 'push'));
  assert.equal(secretSource.gets, 2);
});

test('a pipeline whose record names another pipeline\'s webhook secret accepts nothing with it (issue 14, finding 7)', async () => {
  // Written before the rule, or by hand: B's record points at A's secret.
  const { deps, queue, secretSource } = setup([pipelineRecord('a'), pipelineRecord('b', { secretName: 'slipway/a/webhook' })], { 'slipway/a/webhook': SECRET });
  const res = await send(deps, request('github', 'push'));
  assert.deepEqual((res.body.runs as Array<{ pipeline: string }>).map((r) => r.pipeline), ['a']);
  assert.equal(queue.sent.length, 1);
  assert.equal(secretSource.gets, 1);
});

test('401 for a missing signature, before anything is read', async () => {
  const { deps, pipelines, queue } = setup();
  const res = await send(deps, request('github', 'push', { headers: { 'X-Hub-Signature-256': undefined } }));
  assert.equal(res.status, 401);
  assert.deepEqual(res.body, { error: 'Unauthorized', message: 'missing or malformed x-hub-signature-256 header', requestId: 'req-123' });
  assert.equal(pipelines.finds, 0);
  assert.equal(queue.sent.length, 0);
});

test('401 for a wrong signature, a tampered body, an unregistered repository or a missing secret, all with one message', async () => {
  const cases: Array<[string, () => ReturnType<typeof setup>, HttpRequestV2]> = [
    ['wrong secret', () => setup(), request('github', 'push', { secret: 'guess' })],
    ['tampered body', () => setup(), { ...request('github', 'push'), body: fixture('github', 'push').toString('utf8').replace('main', 'prod') }],
    ['unregistered repository', () => setup([]), request('github', 'push')],
    ['secret missing in Secrets Manager', () => setup(undefined, {}), request('github', 'push')],
    ['pipeline without a webhook secret', () => setup([pipelineRecord('web', { secretName: null })]), request('github', 'push')],
  ];
  for (const [what, make, req] of cases) {
    const { deps, queue, deliveries } = make();
    const res = await send(deps, req);
    assert.equal(res.status, 401, what);
    assert.equal(res.body.message, 'webhook signature could not be verified', what);
    assert.equal(queue.sent.length + deliveries.claims, 0, `${what}: nothing written`);
  }
});

test('a GitLab token for another project does not open this one', async () => {
  const { deps } = setup([pipelineRecord('api', { provider: 'gitlab' })], { 'slipway/api/webhook': 'gl-token' });
  assert.equal((await send(deps, request('gitlab', 'push', { secret: 'gl-token-of-another-project' }))).status, 401);
});

test('400 for malformed JSON, with error, message and request id', async () => {
  const { deps } = setup();
  const body = Buffer.from('{"ref": "refs/heads/main",');
  const res = await send(deps, request('github', 'push', { body }));
  assert.equal(res.status, 400);
  assert.equal(res.body.error, 'ValidationError');
  assert.match(String(res.body.message), /not valid JSON/);
  assert.equal(res.body.requestId, 'req-123');
});

test('400 for a form-encoded GitHub delivery', async () => {
  const { deps } = setup();
  const body = Buffer.from(`payload=${encodeURIComponent(fixture('github', 'push').toString())}`);
  const res = await send(deps, request('github', 'push', { body }));
  assert.equal(res.status, 400);
  assert.match(String(res.body.message), /application\/json/);
});

test('an issues event from an authenticated hook is answered 2xx ignored, with the reason, and writes nothing', async () => {
  const { deps, queue, deliveries } = setup();
  const res = await send(deps, request('github', 'issues-opened'));
  assert.equal(res.status, 200);
  assert.equal(res.body.deliveryId, 'delivery-1');
  assert.match(String(res.body.ignored), /GitHub event 'issues' starts nothing/);
  assert.equal(queue.sent.length, 0);
  assert.equal(deliveries.claims, 0);
});

test('an unsigned issues event is still 401: the signature is checked before the event type', async () => {
  const { deps, queue } = setup();
  const res = await send(deps, request('github', 'issues-opened', { headers: { 'X-Hub-Signature-256': undefined } }));
  assert.equal(res.status, 401);
  const forged = await send(deps, request('github', 'issues-opened', { secret: 'not-the-secret' }));
  assert.equal(forged.status, 401);
  assert.equal(queue.sent.length, 0);
});

test('400 for a missing delivery id', async () => {
  const { deps } = setup();
  const res = await send(deps, request('github', 'push', { headers: { 'X-GitHub-Delivery': undefined } }));
  assert.equal(res.status, 400);
  assert.match(String(res.body.message), /x-github-delivery/);
});

test('400 for a payload that names no repository', async () => {
  const { deps } = setup();
  const res = await send(deps, request('github', 'push', { body: Buffer.from('{"zen":"hi"}') }));
  assert.equal(res.status, 400);
});

test('413 for a body over 6 MiB, before parsing', async () => {
  const { deps, pipelines } = setup();
  const body = Buffer.alloc(6 * 1024 * 1024 + 1, 0x20);
  const res = await send(deps, request('github', 'push', { body }));
  assert.equal(res.status, 413);
  assert.equal(res.body.error, 'PayloadTooLarge');
  assert.equal(pipelines.finds, 0);
});

test('404 for an unknown provider', async () => {
  const { deps } = setup();
  const res = await send(deps, { ...request('github', 'push'), pathParameters: { provider: 'svn' }, rawPath: '/webhooks/svn' });
  assert.equal(res.status, 404);
});

test('the provider is read from the path when there are no path parameters', async () => {
  const { deps } = setup();
  const res = await send(deps, { ...request('github', 'push'), pathParameters: undefined });
  assert.equal(res.status, 202);
});

test('an unexpected failure is a 500 that reveals nothing', async () => {
  const { deps } = setup();
  deps.pipelines = { findByRepository: async () => { throw new TypeError('Cannot read properties of undefined (reading "Items") at table.ts:42'); } };
  const logged: unknown[] = [];
  deps.logger = { info() {}, warn() {}, error: (_m, extra) => logged.push(extra) };
  const res = await send(deps, request('github', 'push'));
  assert.equal(res.status, 500);
  assert.deepEqual(res.body, { error: 'InternalError', message: 'internal error', requestId: 'req-123' });
  assert.equal(logged.length, 1);
});

test('a secret store outage is a 503 (the provider may retry), unless another pipeline verified', async () => {
  const { deps, secretSource } = setup([pipelineRecord('web'), pipelineRecord('web2', { secretName: 'flaky' })]);
  secretSource.get = async (name: string) => {
    if (name === 'flaky') throw new RetryableError('throttled');
    return SECRET;
  };
  assert.equal((await send(deps, request('github', 'push'))).status, 202);
  const outage = setup();
  outage.secretSource.get = async () => { throw new RetryableError('throttled'); };
  assert.equal((await send(outage.deps, request('github', 'push'))).status, 503);
});

test('secrets are never logged', async () => {
  const { deps } = setup([pipelineRecord('web'), pipelineRecord('gone', { secretName: 'missing' })]);
  const lines: string[] = [];
  const capture = (m: string, extra?: Record<string, unknown>) => lines.push(m + JSON.stringify(extra ?? {}));
  deps.logger = { info: capture, warn: capture, error: capture };
  await send(deps, request('github', 'push'));
  await send(deps, request('github', 'push', { secret: 'wrong', deliveryId: 'd2' }));
  assert.ok(lines.length > 0);
  for (const line of lines) {
    assert.doesNotMatch(line, new RegExp(SECRET));
    assert.doesNotMatch(line, new RegExp(signBody(SECRET, fixture('github', 'push')).slice(7)));
  }
});

test('a delivery store without release: the failed enqueue is still a 503, and the loss is logged loudly', async () => {
  const { deps, queue } = setup();
  const claims = new MemoryDeliveryStore();
  deps.deliveries = { claim: (p, id, ttl) => claims.claim(p, id, ttl) };
  const errors: string[] = [];
  deps.logger = { info() {}, warn() {}, error: (m) => errors.push(m) };
  queue.failNext = 1;
  const res = await send(deps, request('github', 'push'));
  assert.equal(res.status, 503);
  assert.ok(errors.some((m) => /cannot release claims/.test(m)));
});

test('a pipeline registered with other letter case still receives the repository webhooks', async () => {
  const records = [pipelineRecord('web', { repository: 'Acme/Web' })];
  const { deps, queue } = setup(records);
  deps.pipelines = { findByRepository: async (_p, repo) => records.filter((r) => r.spec.source.repository.toLowerCase() === repo.toLowerCase()) };
  assert.equal((await send(deps, request('github', 'push'))).status, 202);
  assert.equal(queue.sent.length, 1);
});

// ---- issue 14, finding 1: replayed deliveries --------------------------------

test('a captured delivery re-sent with a new delivery id starts nothing: 202 duplicate', async () => {
  const { deps, queue } = setup();
  const first = await send(deps, request('github', 'push', { deliveryId: 'delivery-1' }));
  assert.equal((first.body.runs as unknown[]).length, 1);
  // The attacker has the signed body and its signature; only the unsigned id header is new.
  for (const id of ['replay-1', 'replay-2', 'replay-3']) {
    const replay = await send(deps, request('github', 'push', { deliveryId: id }));
    assert.equal(replay.status, 202);
    assert.deepEqual(replay.body, { deliveryId: id, duplicate: true });
  }
  assert.equal(queue.sent.length, 1, 'one run, however often the body is replayed');
});

test('replays are recognised for Bitbucket and GitLab bodies too', async () => {
  for (const provider of ['bitbucket', 'gitlab'] as const) {
    const { deps, queue } = setup([pipelineRecord('web', { provider })]);
    await send(deps, request(provider, provider === 'gitlab' ? 'push' : 'repo-push', { deliveryId: 'd-1' }));
    const replay = await send(deps, request(provider, provider === 'gitlab' ? 'push' : 'repo-push', { deliveryId: 'd-2' }));
    assert.equal(replay.body.duplicate, true, provider);
    assert.equal(queue.sent.length, 1, provider);
  }
});

test('concurrent replays under different delivery ids start one run', async () => {
  const { deps, queue } = setup();
  const results = await Promise.all(Array.from({ length: 8 }, (_, i) => send(deps, request('github', 'push', { deliveryId: `race-${i}` }))));
  assert.equal(results.filter((r) => r.body.runs).length, 1);
  assert.equal(queue.sent.length, 1);
});

test('the body is remembered per pipeline: a pipeline registered after the first delivery still gets its run', async () => {
  const { deps, queue, pipelines } = setup();
  await send(deps, request('github', 'push', { deliveryId: 'd-1' }));
  pipelines.seed(pipelineRecord('web-2'));
  (deps.secrets as MemorySecrets).values['slipway/web-2/webhook'] = SECRET;
  const again = await send(deps, request('github', 'push', { deliveryId: 'd-2' }));
  assert.deepEqual((again.body.runs as Array<{ pipeline: string }>).map((r) => r.pipeline), ['web-2']);
  assert.equal(queue.sent.length, 2);
});

test('a different body (another push) is no replay', async () => {
  const { deps, queue } = setup();
  await send(deps, request('github', 'push', { deliveryId: 'd-1' }));
  const other = Buffer.from(fixture('github', 'push').toString('utf8').replace('Fix typo in README', 'Fix another typo'));
  const res = await send(deps, request('github', 'push', { deliveryId: 'd-2', body: other }));
  assert.equal((res.body.runs as unknown[]).length, 1);
  assert.equal(queue.sent.length, 2);
});

test('a delivery id that poses as a body record is refused with 400', async () => {
  const { deps, queue } = setup();
  const res = await send(deps, request('github', 'push', { deliveryId: bodyClaimKey('web', fixture('github', 'push')) }));
  assert.equal(res.status, 400);
  assert.match(String(res.body.message), /must not start with "body:"/);
  assert.equal(queue.sent.length, 0);
});

// ---- hygiene and recovery (issue 16) --------------------------------------------------------

function signed(provider: Provider, event: string, body: Buffer, extra: Record<string, string> = {}, deliveryId = 'delivery-big'): HttpRequestV2 {
  return {
    rawPath: `/webhooks/${provider}`,
    pathParameters: { provider },
    headers: { ...signedHeaders(provider, { event, deliveryId, secret: SECRET, body }), ...extra },
    isBase64Encoded: false,
    body: body.toString('utf8'),
  };
}

function pushPayload(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...JSON.parse(fixture('github', 'push').toString()), ...extra };
}

test('a 5 MB signed GitHub push (one commit adding 130,000 files) starts its run', async () => {
  const { deps, queue } = setup([pipelineRecord('web', { triggers: { paths: { include: ['src/**'], exclude: [] } } })]);
  const files = Array.from({ length: 130_000 }, (_, i) => `src/generated/module-${String(i).padStart(6, '0')}/index.ts`);
  const body = Buffer.from(JSON.stringify(pushPayload({ commits: [{ id: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c', message: 'import', added: files, modified: [], removed: [] }] })));
  assert.ok(body.length > 5_000_000 && body.length < 6 * 1024 * 1024, `body is ${body.length} bytes`);
  const res = await send(deps, signed('github', 'push', body));
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.equal((res.body.runs as unknown[]).length, 1);
  assert.equal(queue.sent.length, 1);
});

test('a form-encoded GitHub push (the default content type) runs; its signature is over the form body as sent', async () => {
  const { deps, queue } = setup();
  const form = Buffer.from(new URLSearchParams({ payload: fixture('github', 'push').toString('utf8') }).toString());
  const res = await send(deps, signed('github', 'push', form, { 'Content-Type': 'application/x-www-form-urlencoded' }));
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.equal((queue.sent[0] as RunRequest).trigger.commit, '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c');
  // The HMAC over the decoded JSON is not the one GitHub sent: refused.
  const wrong = signed('github', 'push', fixture('github', 'push'), { 'Content-Type': 'application/x-www-form-urlencoded' }, 'delivery-form-2');
  const res2 = await send(deps, { ...wrong, body: form.toString('utf8') });
  assert.equal(res2.status, 401);
});

test('a force-push rewind (forced, commits: []) runs a pipeline with a paths filter', async () => {
  const { deps, queue } = setup([pipelineRecord('web', { triggers: { paths: { include: ['services/api/**'], exclude: [] } } })]);
  const res = await send(deps, signed('github', 'push', Buffer.from(JSON.stringify(pushPayload({ forced: true, commits: [], head_commit: { id: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c', message: 'v1' } })))));
  assert.equal(res.status, 202);
  assert.equal(queue.sent.length, 1, 'the rollback deploys');
});

test('a push the paths filter rules out starts nothing but marks its head as seen, so the reconciler does not run it', async () => {
  const { deps, queue, deliveries } = setup([pipelineRecord('web', { triggers: { paths: { include: ['services/api/**'], exclude: [] } } })]);
  const res = await send(deps, signed('github', 'push', Buffer.from(JSON.stringify(pushPayload({ commits: [{ id: 'x', added: [], modified: ['docs/README.md'], removed: [] }] })))));
  assert.equal(res.status, 202);
  assert.deepEqual(res.body.runs, []);
  assert.equal(queue.sent.length, 0);
  assert.ok(deliveries.claimed.has(`github#${headClaimKey('web', 'refs/heads/main', '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c')}`));
});

test('a webhook arriving after the reconciler recovered its push starts nothing', async () => {
  const { deps, queue, deliveries } = setup();
  const sha = '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c';
  // What services/push-recovery.ts claims when it recovers the head.
  await deliveries.claim('github', headClaimKey('web', 'refs/heads/main', sha), 60);
  await deliveries.claim('github', recoveredClaimKey('web', 'refs/heads/main', sha), 60);
  const res = await send(deps, request('github', 'push'));
  assert.equal(res.status, 202);
  assert.deepEqual(res.body, { deliveryId: 'delivery-1', runs: [], alreadyRecovered: ['web'] });
  assert.equal(queue.sent.length, 0);
});

test('a second push of the same commit to the same ref (a rewind back to it) runs again: only a recovery suppresses it', async () => {
  const { deps, queue } = setup();
  assert.equal((await send(deps, request('github', 'push', { deliveryId: 'd-first' }))).status, 202);
  const again = pushPayload({ before: '1111111111111111111111111111111111111111', forced: true, commits: [] });
  const res = await send(deps, signed('github', 'push', Buffer.from(JSON.stringify(again)), {}, 'd-rewind'));
  assert.equal(res.status, 202);
  assert.equal((res.body.runs as unknown[]).length, 1);
  assert.equal(queue.sent.length, 2);
});

test('a delivery id that poses as a head or recovery claim is refused', async () => {
  const { deps } = setup();
  for (const id of ['head:web:abc', 'recovered:web:abc']) {
    const res = await send(deps, request('github', 'push', { deliveryId: id }));
    assert.equal(res.status, 400);
  }
});

test('a push for a disabled pipeline starts nothing and answers 200 ignored, saying it is disabled and how to enable it', async () => {
  const { deps, queue, deliveries, pipelines } = setup();
  await pipelines.setDisabled('web', { by: 'arn:aws:iam::123456789012:user/alice', at: '2026-11-27T00:00:00Z' });
  const res = await send(deps, request('github', 'push'));
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { deliveryId: 'delivery-1', ignored: 'pipeline web is disabled (slipway pipelines enable web)' });
  assert.equal(queue.sent.length, 0);
  // The head is claimed as for a push a path filter ruled out: the reconciler does not run it later as a missed push.
  assert.deepEqual([...deliveries.claimed], [`github#${headClaimKey('web', 'refs/heads/main', '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c')}`]);

  // Enabled again, the next push runs (the delivery id was not claimed while it was disabled).
  await pipelines.setDisabled('web', undefined);
  const again = await send(deps, request('github', 'push', { deliveryId: 'delivery-2' }));
  assert.equal(again.status, 202);
  assert.deepEqual((again.body.runs as Array<{ pipeline: string }>).map((r) => r.pipeline), ['web']);
});

test('a delivery for two pipelines of one repository runs the enabled one and names the disabled one', async () => {
  const { deps, queue, pipelines } = setup([pipelineRecord('web'), pipelineRecord('web-staging')], { 'slipway/web/webhook': SECRET, 'slipway/web-staging/webhook': SECRET });
  await pipelines.setDisabled('web-staging', { by: 'alice', at: '2026-11-27T00:00:00Z' });
  const res = await send(deps, request('github', 'push'));
  assert.equal(res.status, 202);
  assert.deepEqual(res.body, { deliveryId: 'delivery-1', runs: [{ pipeline: 'web', runId: '01JRUN00000000000000000001' }], disabled: ['web-staging'] });
  assert.deepEqual(queue.sent.map((m) => (m as RunRequest).pipelineId), ['web']);
});

test('a disabled pipeline whose triggers do not take the push is not named: the push matched nothing', async () => {
  const { deps, pipelines } = setup([pipelineRecord('web', { triggers: { branches: ['release/*'] } })]);
  await pipelines.setDisabled('web', { by: 'alice', at: '2026-11-27T00:00:00Z' });
  const res = await send(deps, request('github', 'push'));
  assert.equal(res.status, 202);
  assert.deepEqual(res.body, { deliveryId: 'delivery-1', runs: [] });
});
