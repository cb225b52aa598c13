import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { S3ArtifactStore } from '../../shared/aws/artifact-store.ts';
import { createDocumentClient, createS3Client, createSqsClient } from '../../shared/aws/clients.ts';
import { SqsEventQueue } from '../../shared/aws/event-queue.ts';
import { DynamoPipelineStore } from '../../shared/aws/pipeline-store.ts';
import { DynamoRunStore } from '../../shared/aws/run-store.ts';
import { ensureTable } from '../../shared/aws/table.ts';
import { ApiService } from '../../shared/services/api-service.ts';
import { apiRoutes } from '../../shared/http/api-routes.ts';
import { createRouter } from '../../shared/http/router.ts';
import type { EngineMessage } from '../../shared/ports/messages.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';
import { httpEvent, runState, SHA, VALID_YAML } from '../support/api-fixtures.ts';

const cfg = emulatorConfig();
const documents = createDocumentClient(cfg);
const sqs = createSqsClient(cfg);
const table = uniqueName('api');
const runs = new DynamoRunStore(documents, table);
const ALICE = 'arn:aws:iam::123456789012:user/alice';
let queueUrl: string;
let call: (input: Parameters<typeof httpEvent>[0]) => Promise<{ status: number; body: any }>;

before(async () => {
  await ensureTable(documents, table);
  const q = await sqs.send(new CreateQueueCommand({ QueueName: `${uniqueName('engine')}.fifo`, Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' } }));
  queueUrl = q.QueueUrl!;
  const api = new ApiService({ pipelines: new DynamoPipelineStore(documents, table), runs, queue: new SqsEventQueue(sqs, queueUrl) });
  const route = createRouter(apiRoutes(api));
  let n = 0;
  call = async (input) => {
    const res = await route(httpEvent({ requestId: `req-${++n}`, ...input }));
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
});

/** Everything on the engine queue now, with its message group; deleted once read. */
async function drain(): Promise<Array<{ group?: string; message: EngineMessage }>> {
  const out: Array<{ group?: string; message: EngineMessage }> = [];
  for (;;) {
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['MessageGroupId'] }));
    const msgs = got.Messages ?? [];
    if (msgs.length === 0) return out;
    for (const m of msgs) out.push({ group: m.Attributes?.MessageGroupId, message: JSON.parse(m.Body!) });
    await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
  }
}

async function itemCount(): Promise<number> {
  return (await documents.send(new ScanCommand({ TableName: table, Select: 'COUNT' }))).Count ?? 0;
}

test('an invalid definition lists every problem and writes nothing', async () => {
  const body = 'name: "no good"\nsource:\n  provider: svn\njobs:\n  build:\n    kind: compile\n';
  const res = await call({ method: 'PUT', path: '/pipelines/broken', body, headers: { 'content-type': 'application/yaml' } });
  assert.equal(res.status, 400);
  assert.equal(res.body.error, 'ValidationError');
  const paths = res.body.problems.map((p: { path: string }) => p.path);
  for (const p of ['name', 'source.provider', 'source.repository', 'jobs.build.kind']) assert.ok(paths.includes(p), paths.join());
  assert.equal(await itemCount(), 0);
  assert.equal((await call({ method: 'GET', path: '/pipelines/broken' })).status, 404);
});

test('register, read back, update and list pipelines page by page', async () => {
  assert.equal((await call({ method: 'PUT', path: '/pipelines/shop', body: VALID_YAML, headers: { 'content-type': 'application/yaml' } })).status, 201);
  const again = await call({ method: 'PUT', path: '/pipelines/shop', body: VALID_YAML.replace('template: node', 'template: go') });
  assert.deepEqual([again.status, again.body.version], [200, 2]);
  const repo = { definitionSource: { kind: 'repository', path: 'ci/slipway.yml' }, source: { provider: 'gitlab', repository: 'acme/platform/cart' }, tokenSecretName: 'slipway/cart/gitlab' };
  assert.equal((await call({ method: 'PUT', path: '/pipelines/cart', body: JSON.stringify(repo), headers: { 'content-type': 'application/json' } })).status, 201);

  const latest = await call({ method: 'GET', path: '/pipelines/shop' });
  assert.equal(latest.body.spec.jobs.build.template, 'go');
  assert.equal((await call({ method: 'GET', path: '/pipelines/shop', query: { version: '1' } })).body.spec.jobs.build.template, 'node');
  const cart = await call({ method: 'GET', path: '/pipelines/cart' });
  assert.deepEqual(cart.body.definitionSource, { kind: 'repository', path: 'ci/slipway.yml' });

  const first = await call({ method: 'GET', path: '/pipelines', query: { limit: '1' } });
  assert.equal(first.status, 200);
  assert.equal(first.body.items.length, 1);
  assert.ok(first.body.cursor);
  const second = await call({ method: 'GET', path: '/pipelines', query: { limit: '1', cursor: first.body.cursor } });
  const ids = [...first.body.items, ...second.body.items].map((p: { id: string }) => p.id).sort();
  assert.deepEqual(ids, ['cart', 'shop']);
  const junk = await call({ method: 'GET', path: '/pipelines', query: { cursor: 'not-a-cursor' } });
  assert.equal(junk.status, 400);
});

test('a manual run lands on the FIFO queue as a RunRequest in the pipeline group; bad requests send nothing', async () => {
  await drain();
  assert.equal((await call({ method: 'POST', path: '/pipelines/ghost/runs', body: JSON.stringify({ commit: SHA }) })).status, 404);
  assert.equal((await call({ method: 'POST', path: '/pipelines/shop/runs', body: JSON.stringify({}) })).status, 400);
  assert.equal((await call({ method: 'POST', path: '/pipelines/shop/runs', body: '{"commit":' })).status, 400);
  const res = await call({ method: 'POST', path: '/pipelines/shop/runs', body: JSON.stringify({ commit: SHA, parameters: { TARGET: 'staging' } }), userArn: ALICE });
  assert.equal(res.status, 202);
  const sent = await drain();
  assert.equal(sent.length, 1);
  assert.equal(sent[0].group, 'pipeline#shop');
  const msg = sent[0].message;
  assert.ok(msg.type === 'RunRequest');
  assert.equal(msg.runId, res.body.runId);
  assert.equal(msg.pipelineVersion, 2);
  assert.deepEqual(msg.trigger, { event: 'manual', provider: 'github', repository: 'acme/shop', commit: SHA, author: ALICE, parameters: { TARGET: 'staging' } });
});

test('runs: read, list in pages, cancel once running and 409 once finished', async () => {
  const ids = ['01JZ0000000000000000000001', '01JZ0000000000000000000002', '01JZ0000000000000000000003'];
  for (const [i, runId] of ids.entries()) await runs.create(runState({ runId, createdAt: `2026-01-01T00:00:0${i}.000Z` }));
  const run = await call({ method: 'GET', path: `/runs/${ids[0]}` });
  assert.deepEqual([run.status, run.body.status], [200, 'running']);
  const page1 = await call({ method: 'GET', path: '/pipelines/shop/runs', query: { limit: '2' } });
  assert.deepEqual(page1.body.items.map((r: { runId: string }) => r.runId), [ids[2], ids[1]]);
  const page2 = await call({ method: 'GET', path: '/pipelines/shop/runs', query: { limit: '2', cursor: page1.body.cursor } });
  assert.deepEqual(page2.body.items.map((r: { runId: string }) => r.runId), [ids[0]]);
  assert.equal(page2.body.cursor, undefined);

  await drain();
  assert.equal((await call({ method: 'POST', path: `/runs/${ids[0]}/cancel`, userArn: ALICE })).status, 202);
  const sent = await drain();
  assert.deepEqual(sent.map((s) => [s.group, s.message.type]), [[`run#${ids[0]}`, 'CancelRequested']]);

  const stored = await runs.get(ids[1]);
  await runs.save({ ...stored, status: 'failed', version: stored.version + 1 }, stored.version);
  const late = await call({ method: 'POST', path: `/runs/${ids[1]}/cancel` });
  assert.deepEqual([late.status, late.body.error], [409, 'Conflict']);
  assert.equal((await call({ method: 'POST', path: '/runs/01JZ00000000000000000000ZZ/cancel' })).status, 404);
  assert.deepEqual(await drain(), []);
});

test('approvals: 404 for an unknown job, 409 for a job not waiting, 202 and an ApprovalGiven for a waiting one', async () => {
  const runId = '01JZ0000000000000000000004';
  await runs.create(runState({ runId }));
  await drain();
  assert.equal((await call({ method: 'POST', path: `/runs/${runId}/jobs/ghost/approve`, userArn: ALICE })).status, 404);
  assert.equal((await call({ method: 'POST', path: `/runs/${runId}/jobs/deploy/approve`, userArn: ALICE })).status, 409);
  assert.equal((await call({ method: 'POST', path: `/runs/${runId}/jobs/approve/approve`, userArn: 'arn:aws:iam::1:user/mallory' })).status, 403);
  assert.deepEqual(await drain(), []);
  const ok = await call({ method: 'POST', path: `/runs/${runId}/jobs/approve/approve`, userArn: ALICE });
  assert.equal(ok.status, 202);
  const sent = await drain();
  assert.equal(sent.length, 1);
  assert.ok(sent[0].message.type === 'ApprovalGiven');
  assert.deepEqual([sent[0].message.job, sent[0].message.by], ['approve', ALICE]);
});

test('artifacts are listed with presigned links that download them, and one artifact redirects to its link', async () => {
  const s3 = createS3Client(cfg);
  const bucket = uniqueName('artifacts').toLowerCase();
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const store = new S3ArtifactStore(s3, bucket);
  const runId = '01JZ0000000000000000000005';
  await runs.create(runState({ runId }));
  await store.putArtifact(runId, 'build', 'dist/app.js', 'console.log(1)');
  const api = new ApiService({ pipelines: new DynamoPipelineStore(documents, table), runs, queue: new SqsEventQueue(sqs, queueUrl), artifacts: store });
  const route = createRouter(apiRoutes(api));
  const list = await route(httpEvent({ method: 'GET', path: `/runs/${runId}/jobs/build/artifacts` }));
  assert.equal(list.statusCode, 200);
  const body = JSON.parse(list.body);
  assert.deepEqual(body.artifacts.map((a: { path: string; size: number }) => [a.path, a.size]), [['dist/app.js', 14]]);
  assert.equal(await (await fetch(body.artifacts[0].url)).text(), 'console.log(1)');
  const one = await route(httpEvent({ method: 'GET', path: `/runs/${runId}/jobs/build/artifacts/dist/app.js` }));
  assert.equal(one.statusCode, 302);
  assert.equal(await (await fetch(String(one.headers?.location))).text(), 'console.log(1)');
  assert.equal((await route(httpEvent({ method: 'GET', path: `/runs/${runId}/jobs/build/artifacts/dist/missing.js` }))).statusCode, 404);
});
