/**
 * Notifications end to end through DynamoDB Local and fauxqs (SQS): a run fails,
 * the engine puts the notifications on the real queue, the notifier posts the
 * commit statuses and the Slack message to local HTTP servers standing in for
 * GitHub and Slack, and a dead Slack webhook comes back to the run as a notice
 * through the engine queue, leaving the run's status alone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import { createDocumentClient, createSqsClient } from '../../shared/aws/clients.ts';
import { SqsEventQueue } from '../../shared/aws/event-queue.ts';
import { SqsNotificationQueue } from '../../shared/aws/notification-queue.ts';
import { DynamoPipelineStore } from '../../shared/aws/pipeline-store.ts';
import { DynamoRunStore } from '../../shared/aws/run-store.ts';
import { ensureTable } from '../../shared/aws/table.ts';
import { decide } from '../../shared/domain/decide.ts';
import type { BuildStateChanged } from '../../shared/domain/run-events.ts';
import { handleEngineMessage, processRecords, type EngineDeps } from '../../shared/services/run-engine.ts';
import type { RunRequest } from '../../shared/ports/messages.ts';
import { handleNotification, processNotificationRecords, type NotifierDeps } from '../../shared/notify/notifier.ts';
import { QueueNotifier } from '../../shared/notify/queue-notifier.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';
import { FakeBuildRunner } from '../support/fake-build-runner.ts';
import { MemoryReleaseQueue } from '../support/memory-stores.ts';
import { jobSpec, pipelineSpec } from '../support/engine-fixtures.ts';
import { startHttpStub, type HttpStub } from '../support/http-stub.ts';
import { MapSecrets } from '../support/notify-fixtures.ts';

const cfg = emulatorConfig();
const ddb = createDocumentClient(cfg);
const sqs = createSqsClient(cfg);
const table = uniqueName('notify');
const COMMIT = 'f'.repeat(40);
let engineQueueUrl: string;
let notificationQueueUrl: string;
let github: HttpStub;
let slack: HttpStub;

before(async () => {
  await ensureTable(ddb, table);
  engineQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${uniqueName('engine')}.fifo`, Attributes: { FifoQueue: 'true', VisibilityTimeout: '30' } }))).QueueUrl!;
  notificationQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('notifications'), Attributes: { VisibilityTimeout: '30' } }))).QueueUrl!;
  github = await startHttpStub({ status: 201, body: {} });
  slack = await startHttpStub({ status: 404, body: 'no_service' });
});

after(async () => {
  await github.close();
  await slack.close();
  ddb.destroy();
  sqs.destroy();
});

async function world(pipelineId: string, notifierOverrides: Partial<NotifierDeps> = {}) {
  const runs = new DynamoRunStore(ddb, table);
  const pipelines = new DynamoPipelineStore(ddb, table);
  const events = new SqsEventQueue(sqs, engineQueueUrl);
  const notifications = new SqsNotificationQueue(sqs, notificationQueueUrl);
  await pipelines.put({
    id: pipelineId,
    spec: pipelineSpec([jobSpec('build', { commands: ['false'] })], { notifications: [{ kind: 'slack', secret: `slipway/${pipelineId}/slack`, on: ['run_failed'] }] }),
    definitionSource: { kind: 'registered' },
    tokenSecretName: `slipway/${pipelineId}/token`,
  });
  const engine: EngineDeps = { runs, pipelines, events, releases: new MemoryReleaseQueue(), builds: new FakeBuildRunner(), notifier: new QueueNotifier(notifications), decide };
  const notifier: NotifierDeps = {
    pipelines, runs, events, queue: notifications,
    secrets: new MapSecrets({ [`slipway/${pipelineId}/token`]: 'ghp_token', [`slipway/${pipelineId}/slack`]: `${slack.url}/services/T/B/x` }),
    sns: new SNSClient({ region: cfg.region, endpoint: cfg.awsEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
    gitBaseUrls: { github: github.url },
    publicApiUrl: 'https://slipway.example.com',
    quickBackoffMs: () => 1,
    timeoutMs: 1000,
    ...notifierOverrides,
  };
  const problems: string[] = [];
  const logger = { error: (m: string, x: Record<string, unknown>) => void problems.push(`${m} ${JSON.stringify(x)}`), warn: (m: string, x: Record<string, unknown>) => void problems.push(`${m} ${JSON.stringify(x)}`) };

  async function pump(queueUrl: string, handle: (records: Array<{ messageId: string; body: string; attributes: { MessageGroupId?: string } }>) => Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }>, waitSeconds = 0): Promise<number> {
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds, MessageSystemAttributeNames: ['MessageGroupId'] }));
    const messages = got.Messages ?? [];
    const out = await handle(messages.map((m) => ({ messageId: m.MessageId!, body: m.Body!, attributes: { MessageGroupId: m.Attributes?.MessageGroupId } })));
    assert.deepEqual(out.batchItemFailures, [], problems.join('\n'));
    for (const m of messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
    return messages.length;
  }
  const pumpEngine = async () => { while ((await pump(engineQueueUrl, (r) => processRecords(r, (m) => handleEngineMessage(engine, m), logger))) > 0); };
  const pumpNotifications = (waitSeconds = 0) => pump(notificationQueueUrl, (r) => processNotificationRecords(r, (m) => handleNotification(notifier, m), logger), waitSeconds);
  return { runs, events, pumpEngine, pumpNotifications };
}

async function failRun(w: Awaited<ReturnType<typeof world>>, pipelineId: string, runId: string): Promise<void> {
  const request: RunRequest = { type: 'RunRequest', id: `req:${runId}`, runId, pipelineId, trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch: 'main', commit: COMMIT }, at: new Date().toISOString() };
  await w.events.send([request]);
  await w.pumpEngine();
  const run = await w.runs.get(runId);
  const failed: BuildStateChanged = { type: 'BuildStateChanged', id: `b:${runId}`, runId, at: new Date().toISOString(), job: 'build', attempt: 1, buildId: run.jobs.build.buildId ?? 'b-1', state: 'FAILED', reason: 'exit status 1' };
  await w.events.send([failed]);
  await w.pumpEngine();
  assert.equal((await w.runs.get(runId)).status, 'failed');
}

test('a failed run shows on the commit, and a dead Slack webhook lands on the run as a notice', async () => {
  const pipelineId = uniqueName('web');
  const runId = `01J${uniqueName('RUN').toUpperCase()}`;
  const w = await world(pipelineId);
  await failRun(w, pipelineId, runId);

  while ((await w.pumpNotifications()) > 0);
  const statuses = github.requests.filter((r) => r.json?.context === `slipway/${pipelineId}`);
  // run_started and run_failed may be delivered in one batch, in either order.
  assert.deepEqual(statuses.map((r) => `${r.url} ${r.json.state} ${r.headers.authorization}`).sort(), [
    `/repos/acme/web/statuses/${COMMIT} failure Bearer ghp_token`,
    `/repos/acme/web/statuses/${COMMIT} pending Bearer ghp_token`,
  ]);
  assert.equal(statuses.find((r) => r.json.state === 'failure')?.json.target_url, `https://slipway.example.com/runs/${runId}`);
  assert.equal(slack.requests.length, 1, 'a 404 is not retried');

  await w.pumpEngine();
  const run = await w.runs.get(runId);
  assert.equal(run.status, 'failed', 'a notification never changes the outcome');
  assert.equal(run.notices?.length, 1);
  assert.equal(run.notices![0].kind, 'notification_failed');
  assert.match(run.notices![0].message, new RegExp(`^slack \\(secret slipway/${pipelineId}/slack\\): run failed not delivered: .*HTTP 404 \\(no_service\\)`));
});

test('a channel that keeps failing comes back through the queue after its delay, then is reported on the run', async () => {
  const pipelineId = uniqueName('web');
  const runId = `01J${uniqueName('RUN').toUpperCase()}`;
  slack.answer({ status: 503, body: 'try later' });
  const w = await world(pipelineId, { quickTries: 1, maxAttempts: 2, retryDelaySeconds: () => 1 });
  await failRun(w, pipelineId, runId);
  while ((await w.pumpNotifications()) > 0);
  assert.equal((await w.runs.get(runId)).notices, undefined, 'nothing is reported while attempts remain');

  // The retry was sent with DelaySeconds=1: it is back within a few seconds.
  let seen = 0;
  for (let i = 0; i < 5 && seen === 0; i++) seen = await w.pumpNotifications(2);
  assert.equal(seen, 1);
  await w.pumpEngine();
  const run = await w.runs.get(runId);
  assert.equal(run.status, 'failed');
  assert.match(run.notices?.[0]?.message ?? '', /HTTP 503 \(try later\); gave up after 2 deliveries$/);
});
