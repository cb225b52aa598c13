/**
 * Delivery at the HTTP boundary: quick retries on 5xx, a provider that never
 * answers, a refused token, later attempts through the queue, and failures that
 * end up on the run through NotificationFailed.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../shared/domain/decide.ts';
import type { NotificationFailed } from '../../shared/domain/run-events.ts';
import { handleNotification, processNotificationRecords } from '../../shared/notify/notifier.ts';
import { startHttpStub, type HttpStub } from '../support/http-stub.ts';
import { finishedRun, notificationMessage, notifySetup, SHA } from '../support/notify-fixtures.ts';

let host: HttpStub;
let chat: HttpStub;
before(async () => { host = await startHttpStub(); chat = await startHttpStub(); });
after(async () => { await host.close(); await chat.close(); });
beforeEach(() => { host.requests.length = 0; chat.requests.length = 0; chat.answer({ status: 200, body: 'ok' }); });

const slack = { kind: 'slack' as const, secret: 'slipway/web/slack', on: ['run_failed' as const] };

function setup(extra: Parameters<typeof notifySetup>[0] = {}) {
  return notifySetup({
    tokenSecretName: 'slipway/web/token',
    secrets: { 'slipway/web/token': 'tok', 'slipway/web/slack': `${chat.url}/hooks/T000/B000/xyz` },
    deps: { gitBaseUrls: { github: host.url } },
    ...extra,
  });
}

test('a 5xx is retried in the process and the status is delivered once the provider answers', async () => {
  const { deps, queue, events } = setup();
  host.answer({ status: 502, body: 'bad gateway' }, { status: 503, body: 'busy' }, { status: 201, body: {} });
  const out = await handleNotification(deps, notificationMessage());
  assert.deepEqual(out.delivered, ['github commit status (acme/web)']);
  assert.equal(host.requests.length, 3);
  assert.ok(host.requests.every((r) => r.url === `/repos/acme/web/statuses/${SHA}` && r.json.state === 'failure'));
  assert.equal(queue.sent.length + events.sent.length, 0);
});

test('a provider still failing after the quick tries gets the channel back on the queue, alone, with a growing delay', async () => {
  const { deps, queue, events } = setup({ notifications: [slack] });
  host.answer({ status: 500, body: 'oops' });
  chat.answer({ status: 500, body: 'oops' });
  const out = await handleNotification(deps, notificationMessage());
  assert.equal(host.requests.length, 3, 'three quick tries of the status');
  assert.equal(chat.requests.length, 3, 'three quick tries of the chat message');
  assert.equal(out.retrying.length, 2);
  assert.deepEqual(queue.sent.map((s) => [s.message.channel?.kind, s.message.attempt, s.delaySeconds]), [['status', 1, 30], ['slack', 1, 30]]);
  assert.equal(events.sent.length, 0, 'nothing is reported on the run yet');

  host.requests.length = 0;
  chat.requests.length = 0;
  chat.answer({ status: 200, body: 'ok' });
  const retried = await handleNotification(deps, queue.sent[1].message);
  assert.deepEqual(retried.delivered, ['slack (secret slipway/web/slack)']);
  assert.deepEqual(chat.requests.map((r) => r.url), ['/hooks/T000/B000/xyz']);
  assert.equal(host.requests.length, 0, 'only the channel that failed is sent again');
});

test('the delay grows with each attempt, and the last attempt reports the failure on the run', async () => {
  const { deps, queue, events } = setup({ deps: { gitBaseUrls: { github: host.url }, maxAttempts: 3, quickTries: 1 } });
  host.answer({ status: 503, body: 'maintenance' });
  await handleNotification(deps, notificationMessage());
  await handleNotification(deps, queue.sent[0].message);
  assert.deepEqual(queue.sent.map((s) => [s.message.attempt, s.delaySeconds]), [[1, 30], [2, 120]]);
  const out = await handleNotification(deps, queue.sent[1].message);
  assert.deepEqual(out.failed, ['github commit status (acme/web)']);
  assert.equal(queue.sent.length, 2);
  const [failed] = events.sent as NotificationFailed[];
  assert.equal(failed.type, 'NotificationFailed');
  assert.equal(failed.runId, 'R1');
  assert.equal(failed.channel, 'github commit status (acme/web)');
  assert.match(failed.message, /answered HTTP 503 \(maintenance\); gave up after 3 deliveries/);
});

test('a provider that never answers times out and is retried later, not waited on', async () => {
  const { deps, queue } = setup({ deps: { gitBaseUrls: { github: host.url }, timeoutMs: 100, quickTries: 2 } });
  host.answer('hang');
  const t0 = Date.now();
  const out = await handleNotification(deps, notificationMessage());
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  assert.equal(host.requests.length, 2);
  assert.deepEqual(out.retrying, ['github commit status (acme/web)']);
  assert.equal(queue.sent[0].message.attempt, 1);
});

test('a timeout on the last attempt is reported on the run with what happened', async () => {
  const { deps, events } = setup({ deps: { gitBaseUrls: { github: host.url }, timeoutMs: 100, quickTries: 1, maxAttempts: 1 } });
  host.answer('hang');
  await handleNotification(deps, notificationMessage());
  assert.match((events.sent[0] as NotificationFailed).message, /timed out after 100 ms; gave up after 1 deliveries/);
});

test('a refused token (401) is not retried: one request, reported on the run at once, naming the secret but not its value', async () => {
  const { deps, queue, events } = setup({ secrets: { 'slipway/web/token': 'ghp_supersecret' } });
  host.answer({ status: 401, body: { message: 'Bad credentials' } });
  const out = await handleNotification(deps, notificationMessage());
  assert.equal(host.requests.length, 1);
  assert.equal(host.requests[0].headers.authorization, 'Bearer ghp_supersecret');
  assert.deepEqual(out.failed, ['github commit status (acme/web)']);
  assert.equal(queue.sent.length, 0);
  const failed = events.sent[0] as NotificationFailed;
  assert.match(failed.message, /run failed not delivered: .*token in secret "slipway\/web\/token"\) refused the credentials: answered HTTP 401 \(\{"message":"Bad credentials"\}\)/);
  assert.doesNotMatch(JSON.stringify(failed), /ghp_supersecret/);

  // The engine applies it: the ended run keeps its status and gains a notice.
  const run = { ...finishedRun('R1', 'failed'), reason: 'job "test" failed' };
  const next = decide(run, failed).state;
  assert.equal(next.status, 'failed');
  assert.equal(next.reason, 'job "test" failed');
  assert.deepEqual(next.notices, [{ at: failed.at, kind: 'notification_failed', message: `github commit status (acme/web): ${failed.message}` }]);
});

test('a 403 rate limit is retried, a 403 without one is refused for good', async () => {
  const { deps, queue, events } = setup({ deps: { gitBaseUrls: { github: host.url }, quickTries: 1 } });
  host.answer({ status: 403, body: 'API rate limit exceeded', headers: { 'x-ratelimit-remaining': '0' } });
  await handleNotification(deps, notificationMessage());
  assert.equal(queue.sent.length, 1);
  host.answer({ status: 403, body: 'Resource not accessible by integration' });
  await handleNotification(deps, notificationMessage());
  assert.equal(events.sent.length, 1);
  assert.match((events.sent[0] as NotificationFailed).message, /refused the credentials/);
});

test('a webhook that is gone (404) is reported on the run without retries; the channels that work are delivered', async () => {
  const { deps, queue, events } = setup({ notifications: [slack], secrets: { 'slipway/web/token': 'tok', 'slipway/web/slack': `${chat.url}/gone` } });
  chat.answer({ status: 404, body: 'no_service' });
  host.answer({ status: 201, body: {} });
  const out = await handleNotification(deps, notificationMessage());
  assert.equal(chat.requests.length, 1);
  assert.equal(host.requests.length, 1);
  assert.equal(out.delivered.length, 1);
  assert.equal(out.failed.length, 1);
  assert.equal(queue.sent.length, 0);
  const failed = events.sent[0] as NotificationFailed;
  assert.equal(failed.channel, 'slack (secret slipway/web/slack)');
  assert.match(failed.message, /does not exist \(any more\): answered HTTP 404 \(no_service\)/);
  assert.doesNotMatch(failed.message, /\/gone|127\.0\.0\.1/, 'the webhook URL is a secret and never shown');
});

test('a missing secret is a permanent failure reported on the run', async () => {
  const { deps, events } = setup({ notifications: [slack], secrets: { 'slipway/web/token': 'tok' } });
  host.answer({ status: 201, body: {} });
  await handleNotification(deps, notificationMessage());
  assert.equal(events.sent.length, 1);
  assert.match((events.sent[0] as NotificationFailed).message, /secret "slipway\/web\/slack" does not exist/);
});

test('the report of one notification and channel has one id, so a redelivery is not recorded twice', async () => {
  const { deps, events } = setup();
  host.answer({ status: 401, body: 'no' });
  await handleNotification(deps, notificationMessage());
  await handleNotification(deps, notificationMessage());
  assert.equal(events.sent[0].id, events.sent[1].id);
  assert.equal(events.size, 1);
});

test('a batch reports only the records whose reporting failed, and malformed ones', async () => {
  const { deps } = setup();
  host.answer({ status: 201, body: {} });
  const logged: string[] = [];
  const logger = { error: (m: string) => logged.push(`error ${m}`), warn: (m: string) => logged.push(`warn ${m}`) };
  const failing = { ...deps, events: { send: async () => { throw new Error('queue down'); } } };
  host.answer({ status: 401, body: 'no' });
  const out = await processNotificationRecords(
    [
      { messageId: 'm1', body: JSON.stringify(notificationMessage()) },
      { messageId: 'm2', body: '{"type":"Nope"}' },
      { messageId: 'm3', body: 'not json' },
    ],
    (m) => handleNotification(failing, m),
    logger,
  );
  assert.deepEqual(out.batchItemFailures, [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }, { itemIdentifier: 'm3' }]);
  assert.deepEqual(logged.sort(), ['error notification message failed permanently; it goes to the DLQ after the receive limit', 'error notification message failed permanently; it goes to the DLQ after the receive limit', 'warn notification message failed; it will be redelivered']);

  const ok = await processNotificationRecords([{ messageId: 'm4', body: JSON.stringify(notificationMessage()) }], (m) => handleNotification(deps, m), logger);
  assert.deepEqual(ok.batchItemFailures, []);
});
