/**
 * Run metrics derived from the engine's decisions: the real engine and `decide` over
 * in-memory stores, a RecordingMetrics sink, and CodeBuild's reports played by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../shared/domain/decide.ts';
import type { BuildStateChanged, JobStarted } from '../../shared/domain/run-events.ts';
import { handleEngineMessage, type EngineDeps } from '../../shared/services/run-engine.ts';
import { METRIC } from '../../shared/ports/metrics.ts';
import { runMetrics } from '../../shared/services/run-metrics.ts';
import type { EngineMessage, RunRequest } from '../../shared/ports/messages.ts';
import { FakeBuildRunner } from '../support/fake-build-runner.ts';
import { MemoryEventQueue, MemoryPipelineStore, MemoryReleaseQueue, MemoryRunStore } from '../support/memory-stores.ts';
import { jobSpec, pipelineSpec } from '../support/engine-fixtures.ts';
import { RecordingMetrics, RecordingNotifier } from '../support/recorders.ts';

/** build -> test; StartBuild answers 42 s after the webhook. */
function setup() {
  const pipelines = new MemoryPipelineStore();
  pipelines.register('web', pipelineSpec([jobSpec('build'), jobSpec('test', { needs: ['build'] })], { concurrency: 'parallel' }));
  const runs = new MemoryRunStore();
  const events = new MemoryEventQueue();
  const builds = new FakeBuildRunner();
  const metrics = new RecordingMetrics();
  const deps: EngineDeps = { pipelines, runs, events, releases: new MemoryReleaseQueue(), builds, notifier: new RecordingNotifier(), decide, metrics, now: () => '2026-11-27T01:00:42.000Z' };
  const request = (runId: string, event: 'push' | 'manual' = 'push'): RunRequest => ({
    type: 'RunRequest', id: `req:${runId}`, runId, pipelineId: 'web', at: '2026-11-27T01:00:00.000Z',
    trigger: { event, provider: 'github', repository: 'acme/web', branch: 'main', commit: `sha-${runId}` },
  });
  /** Delivers everything queued; then reports each started build with `state` until nothing new starts. */
  async function drive(state: (job: string) => BuildStateChanged['state'] = () => 'SUCCEEDED') {
    const reported = new Set<string>();
    for (;;) {
      let m: EngineMessage | undefined;
      while ((m = events.take()) !== undefined) await handleEngineMessage(deps, m);
      const next = [...builds.builds.values()].find((b) => !reported.has(b.buildId));
      if (!next) return;
      reported.add(next.buildId);
      const s = state(next.request.job);
      await events.send([{ type: 'BuildStateChanged', id: `build:${next.buildId}:${s}`, runId: next.request.runId, at: '2026-11-27T01:05:00.000Z', job: next.request.job, attempt: next.request.attempt, buildId: next.buildId, state: s }]);
    }
  }
  return { deps, events, metrics, request, drive, runs };
}

test('a run that succeeds counts one start and one success, and its first build\'s latency from the webhook', async () => {
  const env = setup();
  await handleEngineMessage(env.deps, env.request('R1'));
  await env.drive();
  assert.equal(env.metrics.sum(METRIC.runsStarted), 1);
  assert.equal(env.metrics.sum(METRIC.runsSucceeded), 1);
  assert.equal(env.metrics.sum(METRIC.runsFailed), 0);
  // Only the root job's first build: the webhook arrived at :00, StartBuild answered at :42.
  assert.deepEqual(env.metrics.data.filter((d) => d.name === METRIC.webhookToBuildStart), [{ name: METRIC.webhookToBuildStart, unit: 'Milliseconds', value: 42_000 }]);
});

test('a failed run counts a failure, not a success', async () => {
  const env = setup();
  await handleEngineMessage(env.deps, env.request('R1'));
  await env.drive((job) => (job === 'build' ? 'FAILED' : 'SUCCEEDED'));
  assert.equal(env.metrics.sum(METRIC.runsFailed), 1);
  assert.equal(env.metrics.sum(METRIC.runsSucceeded), 0);
});

test('a redelivered event is not counted again', async () => {
  const env = setup();
  await handleEngineMessage(env.deps, env.request('R1'));
  const started = env.events.sent.find((m): m is JobStarted => m.type === 'JobStarted')!;
  await env.drive();
  const before = env.metrics.data.length;
  await handleEngineMessage(env.deps, started);
  await handleEngineMessage(env.deps, env.request('R1'));
  assert.equal(env.metrics.data.length, before);
});

test('a manual run has no webhook, so no webhook-to-build latency', async () => {
  const env = setup();
  await handleEngineMessage(env.deps, env.request('R1', 'manual'));
  await env.drive();
  assert.equal(env.metrics.data.filter((d) => d.name === METRIC.webhookToBuildStart).length, 0);
  assert.equal(env.metrics.sum(METRIC.runsStarted), 1);
});

test('runMetrics reads nothing but Notify effects and first-attempt starts of root jobs', () => {
  const state = { createdAt: '2026-11-27T01:00:00.000Z', trigger: { event: 'push', commit: 'c' }, plan: { b: { kind: 'build', needs: [], maxAttempts: 2 } } } as never;
  const retry: JobStarted = { type: 'JobStarted', id: 'x', runId: 'R', at: '2026-11-27T01:09:00.000Z', job: 'b', attempt: 2, buildId: 'p:2' };
  assert.deepEqual(runMetrics(retry, state, [{ type: 'StartBuild', runId: 'R', job: 'b', attempt: 2, token: 't' }]), []);
});

test('each build start is counted by the compute it runs on, and the job records that compute', async () => {
  const { deps, runs, drive, request, metrics } = setup();
  await handleEngineMessage(deps, request('R-compute'));
  await drive();
  const run = await runs.get('R-compute');
  assert.equal(run?.jobs.build.compute, 'small', 'the job records the compute its build ran on');
  assert.equal(run?.jobs.test.compute, 'small');
  assert.equal(metrics.sum(METRIC.buildsOnEc2), 2);
  const lambda: JobStarted = { type: 'JobStarted', id: 's', runId: 'R', at: '2026-11-27T01:00:00.000Z', job: 'x', attempt: 2, buildId: 'b', compute: 'lambda' };
  assert.deepEqual(runMetrics(lambda, run, []).map((d) => d.name), [METRIC.buildsOnLambda]);
});
