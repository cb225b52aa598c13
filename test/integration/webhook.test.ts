/**
 * Webhook through the real Lambda handler module (functions/webhook.ts) against
 * DynamoDB Local (pipeline and delivery stores) and fauxqs (engine-events.fifo).
 * Secrets Manager has no emulator here: it is mocked with aws-sdk-client-mock.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { createDocumentClient, createSqsClient } from '../../shared/aws/clients.ts';
import { DynamoPipelineStore } from '../../shared/aws/pipeline-store.ts';
import { ensureTable } from '../../shared/aws/table.ts';
import type { RunRequest } from '../../shared/ports/messages.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';
import { fixture, pipelineRecord, signedHeaders } from '../fixtures/webhooks/support.ts';

const cfg = emulatorConfig();
const documents = createDocumentClient(cfg);
const sqs = createSqsClient(cfg);
const table = uniqueName('webhook');
const SECRET = 'integration-secret';
const secretsManager = mockClient(SecretsManagerClient);
let queueUrl: string;
let handler: (e: APIGatewayProxyEventV2, c: Context) => Promise<APIGatewayProxyStructuredResultV2>;

before(async () => {
  await ensureTable(documents, table);
  const q = await sqs.send(new CreateQueueCommand({
    QueueName: `${uniqueName('engine-events')}.fifo`,
    Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' },
  }));
  queueUrl = q.QueueUrl!;
  const { version: _v, createdAt: _c, ...record } = pipelineRecord('web', { triggers: { events: ['push'], branches: ['main'] } });
  await new DynamoPipelineStore(documents, table).put(record);
  secretsManager.on(GetSecretValueCommand, { SecretId: 'slipway/web/webhook' }).resolves({ SecretString: SECRET });
  Object.assign(process.env, {
    SLIPWAY_TABLE: table,
    SLIPWAY_ENGINE_QUEUE_URL: queueUrl,
    SLIPWAY_DYNAMODB_ENDPOINT: cfg.dynamoEndpoint,
    SLIPWAY_AWS_ENDPOINT: cfg.awsEndpoint,
    AWS_REGION: cfg.region,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  ({ handler } = await import('../../functions/webhook.ts'));
});

after(() => secretsManager.restore());

/** A push whose body differs per `bodyOf` (default: the delivery id), as distinct pushes' bodies do. */
function pushEvent(deliveryId: string, secret = SECRET, bodyOf = deliveryId): APIGatewayProxyEventV2 {
  const body = Buffer.from(fixture('github', 'push').toString('utf8').replace('Fix typo in README', `Fix typo in README (${bodyOf})`));
  const headers = Object.fromEntries(Object.entries(signedHeaders('github', { event: 'push', deliveryId, secret, body })).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    version: '2.0',
    routeKey: 'POST /webhooks/{provider}',
    rawPath: '/webhooks/github',
    rawQueryString: '',
    headers,
    pathParameters: { provider: 'github' },
    requestContext: { requestId: `req-${deliveryId}` } as APIGatewayProxyEventV2['requestContext'],
    // API Gateway base64-encodes bodies it considers binary; the handler must verify the decoded bytes.
    body: body.toString('base64'),
    isBase64Encoded: true,
  };
}

async function drain(): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const out = await sqs.send(new ReceiveMessageCommand({
      QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60, MessageSystemAttributeNames: ['All'],
    }));
    if (!out.Messages || out.Messages.length === 0) return all;
    all.push(...out.Messages);
    // A FIFO group stays blocked while one of its messages is in flight: delete what was read.
    for (const m of out.Messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
  }
}

const lambdaContext = {
  awsRequestId: 'lambda-req', functionName: 'slipway-webhook', functionVersion: '$LATEST', memoryLimitInMB: '256',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:slipway-webhook', getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

/** Through the exported handler, whose ports come from the environment set above. */
async function call(e: APIGatewayProxyEventV2) {
  const res = await handler(e, lambdaContext);
  return { status: res.statusCode, body: JSON.parse(String(res.body)) };
}

test('a signed push puts one RunRequest on the FIFO queue, grouped by pipeline and deduplicated by request id', async () => {
  const deliveryId = crypto.randomUUID();
  const res = await call(pushEvent(deliveryId));
  assert.equal(res.status, 202);
  assert.equal(res.body.runs.length, 1);
  const messages = await drain();
  assert.equal(messages.length, 1);
  const request = JSON.parse(messages[0].Body!) as RunRequest;
  assert.equal(request.type, 'RunRequest');
  assert.equal(request.id, `req:github:${deliveryId}:web`);
  assert.equal(request.runId, res.body.runs[0].runId);
  assert.equal(request.trigger.commit, '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c');
  assert.equal(messages[0].Attributes?.MessageGroupId, 'pipeline#web');
  assert.equal(messages[0].Attributes?.MessageDeduplicationId, `req:github:${deliveryId}:web`);
});

test('10 concurrent identical deliveries start exactly one run', async () => {
  const deliveryId = crypto.randomUUID();
  const results = await Promise.all(Array.from({ length: 10 }, () => call(pushEvent(deliveryId))));
  assert.deepEqual(results.map((r) => r.status), Array(10).fill(202));
  const started = results.filter((r) => r.body.runs);
  assert.equal(started.length, 1);
  assert.equal(results.filter((r) => r.body.duplicate === true).length, 9);
  const messages = await drain();
  assert.equal(messages.length, 1);
  assert.equal(JSON.parse(messages[0].Body!).runId, started[0].body.runs[0].runId);
});

test('a redelivery later starts nothing new', async () => {
  const deliveryId = crypto.randomUUID();
  assert.equal((await call(pushEvent(deliveryId))).body.runs.length, 1);
  await drain();
  const again = await call(pushEvent(deliveryId));
  assert.deepEqual(again.body, { deliveryId, duplicate: true });
  assert.equal((await drain()).length, 0);
});

test('a captured body replayed under new delivery ids starts nothing new (issue 14, finding 1)', async () => {
  const body = crypto.randomUUID();
  assert.equal((await call(pushEvent(crypto.randomUUID(), SECRET, body))).body.runs.length, 1);
  await drain();
  for (let i = 0; i < 3; i++) {
    const replayId = crypto.randomUUID();
    const replay = await call(pushEvent(replayId, SECRET, body));
    assert.deepEqual(replay.body, { deliveryId: replayId, duplicate: true });
  }
  assert.equal((await drain()).length, 0);
});

test('a wrong signature is 401 and leaves no trace on the queue', async () => {
  const res = await call(pushEvent(crypto.randomUUID(), 'not-the-secret'));
  assert.equal(res.status, 401);
  assert.equal(res.body.requestId.startsWith('req-'), true);
  assert.equal((await drain()).length, 0);
});

test('the exported handler starts one run per signed push and enqueues it', async () => {
  const res = await handler(pushEvent(crypto.randomUUID()), lambdaContext);
  assert.equal(res.statusCode, 202);
  assert.equal(JSON.parse(String(res.body)).runs.length, 1);
  assert.equal((await drain()).length, 1);
});
