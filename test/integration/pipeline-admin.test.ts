/**
 * Re-runs and deleting pipelines through the API against DynamoDB Local, SQS and S3
 * (fauxqs): what the stores really keep and remove, and the artifacts a re-run of the
 * failed jobs carries over.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { CreateQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { S3ArtifactStore } from '../../shared/aws/artifact-store.ts';
import { createDocumentClient, createS3Client, createSqsClient } from '../../shared/aws/clients.ts';
import { SqsEventQueue } from '../../shared/aws/event-queue.ts';
import { DynamoPipelineStore } from '../../shared/aws/pipeline-store.ts';
import { DynamoRunStore } from '../../shared/aws/run-store.ts';
import { ensureTable } from '../../shared/aws/table.ts';
import { ApiService } from '../../shared/services/api-service.ts';
import { apiRoutes } from '../../shared/http/api-routes.ts';
import { createRouter } from '../../shared/http/router.ts';
import type { RunRequest } from '../../shared/ports/messages.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';
import { httpEvent, runState, VALID_YAML } from '../support/api-fixtures.ts';

const cfg = emulatorConfig();
const documents = createDocumentClient(cfg);
const sqs = createSqsClient(cfg);
const s3 = createS3Client(cfg);
const table = uniqueName('admin');
const bucket = uniqueName('artifacts');
const runs = new DynamoRunStore(documents, table);
const pipelines = new DynamoPipelineStore(documents, table);
const artifacts = new S3ArtifactStore(s3, bucket);
const OLD_RUN = '01JZ00000000000000000000A1';
const ALICE = 'arn:aws:iam::123456789012:user/alice';
let queueUrl: string;
let n = 0;
const ids = ['01JZ00000000000000000000R1', '01JZ00000000000000000000R2', '01JZ00000000000000000000R3'];
let call: (input: Parameters<typeof httpEvent>[0]) => Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any

before(async () => {
  await ensureTable(documents, table);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${uniqueName('engine')}.fifo`, Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' } }))).QueueUrl!;
  let r = 0;
  const api = new ApiService({ pipelines, runs, queue: new SqsEventQueue(sqs, queueUrl), artifacts, newRunId: () => ids[r++] });
  const route = createRouter(apiRoutes(api));
  call = async (input) => {
    const res = await route(httpEvent({ requestId: `req-${++n}`, ...input }));
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
});

async function received(): Promise<RunRequest[]> {
  const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
  return (out.Messages ?? []).map((m) => JSON.parse(m.Body!));
}

const partition = async (pk: string) => (await documents.send(new QueryCommand({ TableName: table, KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': pk } }))).Items ?? [];

test('a re-run of the failed jobs reaches the engine queue pinned and linked, with the kept job\'s artifacts copied in S3', async () => {
  assert.equal((await call({ method: 'PUT', path: '/pipelines/shop', body: VALID_YAML, headers: { 'content-type': 'application/yaml' } })).status, 201);
  const old = runState({ runId: OLD_RUN, status: 'failed', finishedAt: '2026-01-01T00:10:00.000Z' }, { approve: { status: 'failed' }, deploy: { status: 'skipped' } });
  await runs.create(old);
  await artifacts.putArtifact(old.runId, 'build', 'dist/app.js', 'console.log(1)');
  const res = await call({ method: 'POST', path: `/runs/${old.runId}/rerun`, userArn: ALICE, body: '{"failedOnly":true}' });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const [request] = await received();
  assert.equal(request.runId, ids[0]);
  assert.equal(request.pipelineVersion, 1);
  assert.deepEqual(request.rerun, { of: old.runId, by: ALICE, reused: { build: {} } });
  const copy = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: artifacts.key(ids[0], 'build', 'dist/app.js') }));
  assert.equal(await copy.Body!.transformToString(), 'console.log(1)');
});

test('disable, delete keeping the history (a tombstone: versions kept, re-registering continues the numbering), then delete with the history', async () => {
  assert.equal((await call({ method: 'POST', path: '/pipelines/shop/disable', userArn: ALICE })).status, 200);
  assert.equal((await pipelines.get('shop')).disabled?.by, ALICE);
  assert.equal((await pipelines.findByRepository('github', 'acme/shop'))[0].disabled?.by, ALICE, 'webhook matching sees it disabled');
  assert.equal((await call({ method: 'POST', path: '/pipelines/shop/enable' })).status, 200);
  assert.equal((await pipelines.get('shop')).disabled, undefined);

  const kept = await call({ method: 'DELETE', path: '/pipelines/shop' });
  assert.equal(kept.status, 200, JSON.stringify(kept.body));
  assert.equal((await call({ method: 'GET', path: '/pipelines/shop' })).status, 404);
  assert.deepEqual((await pipelines.list()).items.filter((p) => p.id === 'shop'), []);
  assert.deepEqual(await pipelines.findByRepository('github', 'acme/shop'), [], 'webhooks no longer match it');
  assert.equal((await pipelines.get('shop', 1)).version, 1, 'the version its runs pinned stays');
  assert.equal((await call({ method: 'GET', path: '/pipelines/shop/runs' })).body.items.length, 1);

  const again = await call({ method: 'PUT', path: '/pipelines/shop', body: VALID_YAML, headers: { 'content-type': 'application/yaml' } });
  assert.equal(again.body.version, 2, 'registered again after a delete with history: the next version');

  const gone = await call({ method: 'DELETE', path: '/pipelines/shop', query: { history: 'delete' } });
  assert.equal(gone.status, 200, JSON.stringify(gone.body));
  assert.equal(gone.body.runsDeleted, 1);
  assert.deepEqual(await partition('PIPELINE#shop'), [], 'every version item is gone');
  assert.equal((await call({ method: 'GET', path: '/pipelines/shop/runs' })).status, 404);
  assert.equal((await partition(`RUN#${OLD_RUN}`)).length, 0);
});
