/**
 * The engine's side of notifications: effects become messages on the
 * notifications queue, and `decide` keeps undelivered ones as notices on the run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { runView } from '../../cli/format.ts';
import { SqsNotificationQueue } from '../../shared/aws/notification-queue.ts';
import { decide } from '../../shared/domain/decide.ts';
import { RUN_NOTICES_LIMIT, type RunState } from '../../shared/domain/run.ts';
import { type NotificationFailed } from '../../shared/domain/run-events.ts';
import { performEffects, type EffectDeps } from '../../shared/services/effects.ts';
import { parseEngineMessage } from '../../shared/services/run-engine.ts';
import { RetryableError } from '../../shared/domain/errors.ts';
import { QueueNotifier } from '../../shared/notify/queue-notifier.ts';
import { FakeBuildRunner } from '../support/fake-build-runner.ts';
import { MemoryEventQueue, MemoryPipelineStore, MemoryReleaseQueue, MemoryRunStore } from '../support/memory-stores.ts';
import { fourJobPipeline } from '../support/engine-fixtures.ts';
import { finishedRun, MemoryNotificationQueue, notificationMessage } from '../support/notify-fixtures.ts';

const failed = (n: number, overrides: Partial<NotificationFailed> = {}): NotificationFailed => ({
  type: 'NotificationFailed',
  id: `notify-failed:${n}`,
  runId: 'R1',
  at: `2026-11-27T02:00:${String(n % 60).padStart(2, '0')}.000Z`,
  channel: 'slack (secret slipway/web/slack)',
  message: `run failed not delivered: attempt ${n}`,
  ...overrides,
});

function running(): RunState {
  return { ...finishedRun('R1', 'running'), jobs: { build: { status: 'running', attempt: 1, buildId: 'b-1' } }, plan: { build: { kind: 'build', needs: [], maxAttempts: 1 } } };
}

test('a NotificationFailed becomes a notice on a running run; its status, jobs and effects are untouched', () => {
  const run = running();
  const d = decide(run, failed(1, { job: 'build' }));
  assert.equal(d.state.status, 'running');
  assert.deepEqual(d.state.jobs, run.jobs);
  assert.deepEqual(d.effects, []);
  assert.deepEqual(d.state.notices, [{ at: '2026-11-27T02:00:01.000Z', kind: 'notification_failed', message: 'slack (secret slipway/web/slack): run failed not delivered: attempt 1', job: 'build' }]);
  assert.equal(run.notices, undefined, 'decide does not mutate its input');
});

test('ended runs take notices too (notifications arrive after the end), and stay ended', () => {
  for (const status of ['succeeded', 'failed', 'cancelled', 'superseded'] as const) {
    const run = { ...finishedRun('R1', status), finishedAt: '2026-11-27T01:59:00.000Z' };
    const d = decide(run, failed(1));
    assert.equal(d.state.status, status);
    assert.equal(d.state.finishedAt, run.finishedAt);
    assert.equal(d.state.notices?.length, 1, status);
  }
});

test('a redelivered NotificationFailed adds no second notice', () => {
  const once = decide(running(), failed(1)).state;
  const twice = decide(once, failed(1));
  assert.equal(twice.state, once);
  assert.equal(twice.state.notices?.length, 1);
});

test(`a run keeps the newest ${RUN_NOTICES_LIMIT} notices`, () => {
  let run = running();
  for (let i = 1; i <= RUN_NOTICES_LIMIT + 5; i++) run = decide(run, failed(i)).state;
  assert.equal(run.notices?.length, RUN_NOTICES_LIMIT);
  assert.match(run.notices![0].message, /attempt 6$/);
  assert.match(run.notices!.at(-1)!.message, /attempt 25$/);
});

test('the engine queue accepts NotificationFailed messages', () => {
  assert.equal(parseEngineMessage(JSON.stringify(failed(1))).type, 'NotificationFailed');
});

function effectDeps(queue: MemoryNotificationQueue): EffectDeps {
  const pipelines = new MemoryPipelineStore();
  pipelines.register('web', fourJobPipeline());
  return { pipelines, runs: new MemoryRunStore(), events: new MemoryEventQueue(), releases: new MemoryReleaseQueue(), builds: new FakeBuildRunner(), notifier: new QueueNotifier(queue) };
}

test('Notify effects put one NotificationMessage each on the notifications queue; RequestApproval adds none of its own', async () => {
  const queue = new MemoryNotificationQueue();
  const run: RunState = { ...finishedRun('R1', 'failed'), reason: 'job "test" failed', startedAt: '2026-11-27T01:00:00.000Z', finishedAt: '2026-11-27T01:02:00.000Z', updatedAt: '2026-11-27T01:02:00.000Z' };
  await performEffects(effectDeps(queue), run, [
    { type: 'RequestApproval', runId: 'R1', job: 'approve' },
    { type: 'Notify', runId: 'R1', kind: 'approval_needed', job: 'approve' },
    { type: 'Notify', runId: 'R1', kind: 'run_failed' },
  ]);
  assert.deepEqual(queue.sent.map((s) => s.message.id), ['R1:approval_needed:approve', 'R1:run_failed']);
  assert.deepEqual(queue.sent[1].message, {
    type: 'Notification',
    id: 'R1:run_failed',
    kind: 'run_failed',
    runId: 'R1',
    pipelineId: 'web',
    pipelineVersion: 1,
    status: 'failed',
    trigger: run.trigger,
    reason: 'job "test" failed',
    startedAt: '2026-11-27T01:00:00.000Z',
    finishedAt: '2026-11-27T01:02:00.000Z',
    at: '2026-11-27T01:02:00.000Z',
  });
});

test('a run from request to end sends run_started then run_failed, whatever its endpoints do', async () => {
  const queue = new MemoryNotificationQueue();
  const deps = effectDeps(queue);
  const created = decide(undefined, {
    type: 'RunRequested', id: 'req', runId: 'R9', at: '2026-11-27T01:00:00.000Z', pipelineId: 'web', pipelineVersion: 1, concurrency: 'parallel',
    trigger: { event: 'push', branch: 'main', commit: 'c0ffee' }, plan: { build: { kind: 'build', needs: [], maxAttempts: 1 } }, skippedByWhen: [], admission: 'start',
  });
  await performEffects(deps, created.state, created.effects);
  const ended = decide(created.state, { type: 'BuildStateChanged', id: 'b', runId: 'R9', at: '2026-11-27T01:01:00.000Z', job: 'build', attempt: 1, buildId: 'x', state: 'FAILED' });
  await performEffects(deps, ended.state, ended.effects);
  assert.deepEqual(queue.sent.map((s) => [s.message.kind, s.message.status]), [['run_started', 'running'], ['run_failed', 'failed']]);
});

test('SqsNotificationQueue sends in batches of ten with the delay capped at 900 s, and a refused entry is retryable', async () => {
  const sqs = mockClient(SQSClient);
  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [] });
  const queue = new SqsNotificationQueue(new SQSClient({ region: 'us-east-1' }), 'https://sqs.example/notifications');
  const messages = Array.from({ length: 12 }, (_, i) => notificationMessage({ id: `R1:n${i}` }));
  await queue.send(messages, 5000);
  const calls = sqs.commandCalls(SendMessageBatchCommand);
  assert.deepEqual(calls.map((c) => c.args[0].input.Entries?.length), [10, 2]);
  assert.ok(calls.every((c) => c.args[0].input.Entries!.every((e) => e.DelaySeconds === 900)));
  assert.deepEqual(JSON.parse(calls[1].args[0].input.Entries![1].MessageBody!), messages[11]);

  sqs.on(SendMessageBatchCommand).resolves({ Successful: [], Failed: [{ Id: '0', Code: 'InternalError', SenderFault: false }] });
  await assert.rejects(queue.send([messages[0]]), RetryableError);
  sqs.restore();
});

test('slipway status lists a run\'s notices under its jobs', () => {
  const run = decide({ ...finishedRun('R1', 'failed'), jobs: { build: { status: 'failed', attempt: 1 } } }, failed(1, { job: 'build' })).state;
  const view = runView(run, Date.parse('2026-11-27T03:00:00Z'));
  assert.match(view, /\nnotices:\n  2026-11-27T02:00:01\.000Z  \[build\] slack \(secret slipway\/web\/slack\): run failed not delivered: attempt 1$/);
  assert.doesNotMatch(runView(finishedRun('R2', 'failed')), /notices/);
});
