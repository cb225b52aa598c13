/**
 * The reconciler's Lambda handler, wired from its environment, over DynamoDB Local
 * (pipelines, active runs) and fauxqs (the engine's FIFO queue), with CodeBuild faked
 * by aws-sdk-client-mock: what it sends is applied by the real engine.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchGetBuildsCommand, CodeBuildClient } from '@aws-sdk/client-codebuild';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { createDocumentClient, createSqsClient } from '../../shared/aws/clients.ts';
import { DynamoPipelineStore } from '../../shared/aws/pipeline-store.ts';
import { DynamoRunStore } from '../../shared/aws/run-store.ts';
import { ensureTable } from '../../shared/aws/table.ts';
import { decide } from '../../shared/domain/decide.ts';
import type { EngineEvent } from '../../shared/domain/run-events.ts';
import type { JobState, RunState } from '../../shared/domain/run.ts';
import { handleEngineMessage, type EngineDeps } from '../../shared/services/run-engine.ts';
import type { EngineMessage } from '../../shared/ports/messages.ts';
import { FakeBuildRunner } from '../support/fake-build-runner.ts';
import { MemoryEventQueue, MemoryReleaseQueue } from '../support/memory-stores.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';
import { jobSpec, pipelineSpec } from '../support/engine-fixtures.ts';
import { RecordingNotifier } from '../support/recorders.ts';

const cfg = emulatorConfig();
const ddb = createDocumentClient(cfg);
const sqs = createSqsClient(cfg);
const table = uniqueName('reconciler');
const codebuild = mockClient(CodeBuildClient);
let engineQueueUrl: string;

before(async () => {
  await ensureTable(ddb, table);
  engineQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${uniqueName('engine')}.fifo`, Attributes: { FifoQueue: 'true', VisibilityTimeout: '30' } }))).QueueUrl!;
});
after(() => codebuild.restore());

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();

function run(runId: string, pipelineId: string, job: JobState, updatedAt: string): RunState {
  return {
    runId, pipelineId, pipelineVersion: 1, concurrency: 'parallel', status: 'running',
    trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch: 'main', commit: 'c'.repeat(40) },
    plan: { build: { kind: 'build', needs: [], maxAttempts: 1 } },
    jobs: { build: job },
    createdAt: updatedAt, updatedAt, startedAt: updatedAt, version: 3, appliedEventIds: [],
  };
}

async function receiveAll(): Promise<EngineMessage[]> {
  const out: EngineMessage[] = [];
  for (;;) {
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: engineQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (!got.Messages?.length) return out;
    for (const m of got.Messages) {
      out.push(JSON.parse(m.Body!) as EngineMessage);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: engineQueueUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
  }
}

test('a pass repairs a run whose build ended unseen and one whose build never started, and leaves a fresh one alone', async () => {
  const pipelineId = uniqueName('web');
  const pipelines = new DynamoPipelineStore(ddb, table);
  const runs = new DynamoRunStore(ddb, table);
  await pipelines.put({ id: pipelineId, spec: pipelineSpec([jobSpec('build', { timeoutMinutes: 30 })]), definitionSource: { kind: 'registered' } });
  const buildId = 'slipway-small:aaaaaaaa-1111-2222-3333-444444444444';
  await runs.create(run(`${pipelineId}-lost`, pipelineId, { status: 'running', attempt: 1, buildId, startedAt: hoursAgo(2) }, hoursAgo(2)));
  await runs.create(run(`${pipelineId}-never`, pipelineId, { status: 'queued', attempt: 1, startedAt: hoursAgo(1) }, hoursAgo(1)));
  await runs.create(run(`${pipelineId}-fresh`, pipelineId, { status: 'running', attempt: 1, buildId: 'slipway-small:fresh', startedAt: hoursAgo(0.1) }, hoursAgo(0.1)));
  codebuild.on(BatchGetBuildsCommand).resolves({ builds: [{ id: buildId, arn: `arn:aws:codebuild:us-east-1:123456789012:build/${buildId}`, buildStatus: 'SUCCEEDED', environment: { type: 'LINUX_CONTAINER', image: 'i', computeType: 'BUILD_GENERAL1_SMALL', environmentVariables: [] } }] });
  Object.assign(process.env, {
    SLIPWAY_TABLE: table,
    SLIPWAY_ENGINE_QUEUE_URL: engineQueueUrl,
    SLIPWAY_DYNAMODB_ENDPOINT: cfg.dynamoEndpoint,
    SLIPWAY_AWS_ENDPOINT: cfg.awsEndpoint,
    POWERTOOLS_LOG_LEVEL: 'CRITICAL',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  const reconciler = await import('../../functions/reconciler.ts');

  const report = await reconciler.handler({}, { awsRequestId: 'req-1', functionName: 'slipway-reconciler' } as never);
  assert.ok('sent' in report, 'an empty event is a reconcile pass');
  // Other test files may share the table: look only at this pipeline's runs.
  const mine = report.sent.filter((s) => s.runId.startsWith(pipelineId));
  assert.deepEqual(mine.map((s) => [s.runId.slice(pipelineId.length + 1), s.state, s.why]).sort(), [['lost', 'SUCCEEDED', 'build ended'], ['never', 'FAULT', 'never started']]);
  assert.deepEqual(codebuild.commandCalls(BatchGetBuildsCommand).map((c) => c.args[0].input.ids), [[buildId]]);

  const messages = (await receiveAll()).filter((m) => m.runId.startsWith(pipelineId));
  assert.deepEqual(messages.map((m) => m.id).sort(), [`build-never-started:${pipelineId}-never:build:1`, `build:${buildId}:SUCCEEDED`]);

  // The engine applies them: the runs reach their true state.
  const engine: EngineDeps = { pipelines, runs, events: new MemoryEventQueue(), releases: new MemoryReleaseQueue(), builds: new FakeBuildRunner(), notifier: new RecordingNotifier(), decide };
  for (const m of messages) await handleEngineMessage(engine, m as EngineEvent);
  assert.equal((await runs.get(`${pipelineId}-lost`)).status, 'succeeded');
  const never = await runs.get(`${pipelineId}-never`);
  assert.equal(never.status, 'failed');
  assert.match(never.jobs.build!.reason!, /the build never started/);
  assert.equal((await runs.get(`${pipelineId}-fresh`)).status, 'running');

  // A second pass finds nothing left to repair for this pipeline.
  const again = await reconciler.handler({}, { awsRequestId: 'req-2', functionName: 'slipway-reconciler' } as never);
  assert.ok('sent' in again);
  assert.deepEqual(again.sent.filter((s) => s.runId.startsWith(pipelineId)), []);
});
