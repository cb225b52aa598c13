/**
 * One build per job attempt for as long as messages live. The engine queue
 * redelivers a failed message every 3 minutes (visibility) up to 5 times, and a
 * DLQ redrive or an EventBridge retry can bring one back much later; CodeBuild
 * honours an idempotency token for 5 minutes only. These tests drive the real
 * engine, the real CodeBuild adapter and an SDK-level fake of CodeBuild that
 * forgets tokens after 5 minutes, on a clock the test moves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CodeBuildRunner } from '../../shared/aws/codebuild-runner.ts';
import { decide } from '../../shared/domain/decide.ts';
import type { BuildStateChanged, EngineEvent } from '../../shared/domain/run-events.ts';
import { handleEngineMessage, type EngineDeps } from '../../shared/services/run-engine.ts';
import { RetryableError } from '../../shared/domain/errors.ts';
import type { EngineMessage, RunRequest } from '../../shared/ports/messages.ts';
import { FakeCodeBuild } from '../support/fake-codebuild.ts';
import { MemoryEventQueue, MemoryPipelineStore, MemoryReleaseQueue, MemoryRunStore } from '../support/memory-stores.ts';
import { fourJobPipeline, jobSpec, pipelineSpec } from '../support/engine-fixtures.ts';
import { RecordingNotifier } from '../support/recorders.ts';

const MINUTE = 60_000;
/** CodeBuild's answer to too many StartBuild calls: no build is created. */
const throttling = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
const T0 = Date.parse('2026-11-30T09:00:00.000Z');

/** An event queue whose next sends can be made to fail, as a throttled SendMessageBatch would. */
class FlakyEventQueue extends MemoryEventQueue {
  failNextSends = 0;
  override async send(messages: EngineMessage[]): Promise<void> {
    if (this.failNextSends > 0) {
      this.failNextSends--;
      throw new RetryableError('could not enqueue 1 engine message(s): ThrottlingException');
    }
    return super.send(messages);
  }
}

function setup() {
  let clock = T0;
  const codebuild = new FakeCodeBuild(() => clock);
  const pipelines = new MemoryPipelineStore();
  const runs = new MemoryRunStore();
  const events = new FlakyEventQueue();
  const deps: EngineDeps = {
    pipelines,
    runs,
    events,
    releases: new MemoryReleaseQueue(),
    builds: new CodeBuildRunner(codebuild.client, { projects: { small: 'slipway-small' }, artifactBucket: 'artifacts' }),
    notifier: new RecordingNotifier(),
    decide,
    now: () => new Date(clock).toISOString(),
  };
  return {
    codebuild, pipelines, runs, events, deps,
    at(minutes: number) { clock = T0 + minutes * MINUTE; },
    /** One delivery of a message, as the Lambda gets it: true if handled, false if it failed (and will come again). */
    async deliver(message: EngineMessage): Promise<boolean> {
      try {
        await handleEngineMessage(deps, message);
        return true;
      } catch {
        return false;
      }
    },
    /** Delivers everything queued, in order. */
    async drain(): Promise<void> {
      let m: EngineMessage | undefined;
      while ((m = events.take()) !== undefined) await handleEngineMessage(deps, m);
    },
  };
}

function runRequest(runId: string): RunRequest {
  return {
    type: 'RunRequest', id: `req:${runId}`, runId, pipelineId: 'web', at: new Date(T0).toISOString(),
    trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch: 'main', commit: 'c'.repeat(40) },
  };
}

function buildEvent(runId: string, job: string, buildId: string, state: BuildStateChanged['state'], minutes: number): BuildStateChanged {
  return { type: 'BuildStateChanged', id: `build:${buildId}:${state}`, runId, at: new Date(T0 + minutes * MINUTE).toISOString(), job, attempt: 1, buildId, state };
}

test('a redelivery 6 minutes after StartBuild starts no build', async () => {
  const w = setup();
  w.pipelines.register('web', fourJobPipeline());
  const request = runRequest('R1');
  // StartBuild works, but JobStarted cannot be enqueued: the message fails at 0 and at 3 minutes.
  w.events.failNextSends = 2;

  assert.equal(await w.deliver(request), false);
  w.at(3);
  assert.equal(await w.deliver(request), false);
  w.at(6);
  assert.equal(await w.deliver(request), true, 'the third delivery goes through');

  assert.equal(w.codebuild.buildsOf('R1', 'build', 1).length, 1, 'CodeBuild started one build for the attempt');
  await w.drain();
  const run = await w.runs.get('R1');
  assert.equal(run.jobs.build.status, 'running');
  assert.equal(run.jobs.build.buildId, w.codebuild.buildsOf('R1', 'build', 1)[0].id, 'the run records the build the first try started');
});

test('a throttled StartBuild retried at 0, 3 and 6 minutes yields one build', async () => {
  const w = setup();
  // Two root jobs: "a" starts at once, "b" is throttled twice; every delivery repeats both starts.
  w.pipelines.register('web', pipelineSpec([jobSpec('a'), jobSpec('b')]));
  const request = runRequest('R2');
  let refusalsOfB = 2;
  w.codebuild.refuse = (env) => (env.SLIPWAY_JOB === 'b' && refusalsOfB-- > 0 ? throttling() : undefined);

  assert.equal(await w.deliver(request), false, 'b throttled at 0 minutes');
  w.at(3);
  assert.equal(await w.deliver(request), false, 'b throttled at 3 minutes');
  w.at(6);
  assert.equal(await w.deliver(request), true, 'b starts at 6 minutes');

  assert.equal(w.codebuild.buildsOf('R2', 'a', 1).length, 1, 'a: one build, though its StartBuild was repeated past the token window');
  assert.equal(w.codebuild.buildsOf('R2', 'b', 1).length, 1, 'b: one build');
  await w.drain();
  const run = await w.runs.get('R2');
  assert.equal(run.jobs.a.buildId, w.codebuild.buildsOf('R2', 'a', 1)[0].id);
  assert.equal(run.jobs.b.buildId, w.codebuild.buildsOf('R2', 'b', 1)[0].id);
});

test('a build event redelivered after its run succeeded starts nothing', async () => {
  const w = setup();
  w.pipelines.register('web', pipelineSpec([jobSpec('build'), jobSpec('test', { needs: ['build'] })]));
  await w.deliver(runRequest('R3'));
  await w.drain();
  const first = w.codebuild.buildsOf('R3', 'build', 1)[0];
  w.at(2);
  const buildDone = buildEvent('R3', 'build', first.id, 'SUCCEEDED', 2);
  await w.deliver(buildDone);
  await w.drain();
  w.at(4);
  await w.deliver(buildEvent('R3', 'test', w.codebuild.buildsOf('R3', 'test', 1)[0].id, 'SUCCEEDED', 4));
  await w.drain();
  assert.equal((await w.runs.get('R3')).status, 'succeeded');
  const calls = w.codebuild.startCalls;

  // An EventBridge retry, or a DLQ redrive a day later, of the event that started "test".
  w.at(10);
  assert.equal(await w.deliver(buildDone), true);
  w.at(24 * 60);
  assert.equal(await w.deliver(buildDone), true);

  assert.equal(w.codebuild.startCalls, calls, 'no StartBuild was even asked for');
  assert.equal(w.codebuild.buildsOf('R3', 'test', 1).length, 1);
});

test('a replay inside the token window relies on the token and lists nothing', async () => {
  const w = setup();
  w.pipelines.register('web', fourJobPipeline());
  w.events.failNextSends = 1;
  assert.equal(await w.deliver(runRequest('R4')), false);
  w.at(3);
  assert.equal(await w.deliver(runRequest('R4')), true);
  assert.equal(w.codebuild.buildsOf('R4', 'build', 1).length, 1);
  assert.equal(w.codebuild.listCalls, 0, 'CodeBuild was not searched while the token still held');
});

test('a replay past the window starts the build when the first try started none', async () => {
  const w = setup();
  w.pipelines.register('web', fourJobPipeline());
  // The first try's StartBuild never reached CodeBuild (throttled), and neither did the second.
  w.codebuild.refuseNext.push(
    throttling(),
    throttling(),
  );
  assert.equal(await w.deliver(runRequest('R5')), false);
  w.at(3);
  assert.equal(await w.deliver(runRequest('R5')), false);
  w.at(6);
  assert.equal(await w.deliver(runRequest('R5')), true);
  assert.equal(w.codebuild.buildsOf('R5', 'build', 1).length, 1);
  assert.ok(w.codebuild.listCalls >= 1, 'CodeBuild was searched before starting');
});

test("a stray build's events leave the job to its recorded build and the stray is stopped", async () => {
  const w = setup();
  w.pipelines.register('web', fourJobPipeline());
  await w.deliver(runRequest('R6'));
  await w.drain();
  const recorded = (await w.runs.get('R6')).jobs.build.buildId!;
  const stray: EngineEvent = buildEvent('R6', 'build', 'slipway-small:stray', 'IN_PROGRESS', 1);
  await w.deliver(stray);
  await w.deliver(buildEvent('R6', 'build', 'slipway-small:stray', 'FAILED', 2));
  const run = await w.runs.get('R6');
  assert.equal(run.jobs.build.status, 'running');
  assert.equal(run.jobs.build.buildId, recorded);
  assert.deepEqual(w.codebuild.stopped, ['slipway-small:stray']);
});

test('looking for an attempt\'s build reads the project newest first, page by page, and stops at builds older than the first try', async () => {
  let clock = T0;
  const codebuild = new FakeCodeBuild(() => clock);
  const runner = new CodeBuildRunner(codebuild.client, { projects: { small: 'slipway-small' }, artifactBucket: 'artifacts' });
  const request = (runId: string, attempt = 1) => ({
    runId, pipelineId: 'web', job: 'build', attempt, token: `${runId}:build:${attempt}`, commit: 'c'.repeat(40), repository: 'acme/web', provider: 'github' as const,
    spec: jobSpec('build', { commands: ['make'] }),
  });
  await runner.start(request('OLD'));
  clock += 10 * MINUTE;
  const since = new Date(clock - MINUTE);
  const { buildId } = await runner.start(request('R7'));
  // 150 builds of other runs since: the one looked for is on the second page.
  for (let i = 0; i < 150; i++) await runner.start(request(`X${i}`));

  assert.deepEqual(await runner.find(request('R7'), since), { buildId });
  assert.equal(codebuild.listCalls, 2);
  assert.equal(await runner.find(request('R7', 2), since), undefined, 'another attempt has no build');
  assert.equal(codebuild.listCalls, 4, 'two pages, then the builds before the first try end the search');
});
