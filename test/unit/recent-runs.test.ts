/**
 * The engine's memory of the runs it wrote (RecentRuns): an event is decided on the
 * remembered state instead of a read, and nothing is lost when that state is behind
 * the store because another instance moved the run on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../shared/domain/decide.ts';
import type { BuildStateChanged, JobStarted } from '../../shared/domain/run-events.ts';
import { HeldGroup, RecentRuns } from '../../shared/services/apply-event.ts';
import { handleEngineMessage, processRecords, type EngineDeps } from '../../shared/services/run-engine.ts';
import { ConflictError } from '../../shared/domain/errors.ts';
import type { RunRequest } from '../../shared/ports/messages.ts';
import type { RunState } from '../../shared/domain/run.ts';
import { FakeBuildRunner } from '../support/fake-build-runner.ts';
import { MemoryEventQueue, MemoryPipelineStore, MemoryReleaseQueue, MemoryRunStore } from '../support/memory-stores.ts';
import { jobSpec, pipelineSpec } from '../support/engine-fixtures.ts';
import { RecordingNotifier } from '../support/recorders.ts';

/** A run store that counts its reads. */
class CountingRunStore extends MemoryRunStore {
  reads = 0;
  override async get(runId: string): Promise<RunState> {
    this.reads++;
    return super.get(runId);
  }
}

/** One table and queue, and an engine instance per call of `instance` (each with its own memory, as two warm Lambdas). */
function setup() {
  const pipelines = new MemoryPipelineStore();
  const runs = new CountingRunStore();
  const events = new MemoryEventQueue();
  const releases = new MemoryReleaseQueue();
  const builds = new FakeBuildRunner();
  const notifier = new RecordingNotifier();
  const instance = (remember = true): EngineDeps => ({ pipelines, runs, events, releases, builds, notifier, decide, ...(remember ? { recent: new RecentRuns() } : {}) });
  return { pipelines, runs, builds, instance };
}

const request = (runId: string): RunRequest => ({
  type: 'RunRequest', id: `req:${runId}`, runId, pipelineId: 'web',
  trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch: 'main', commit: `sha-${runId}` },
  at: '2026-11-30T10:00:00.000Z',
});
const started = (job: string, attempt: number, buildId: string): JobStarted => ({ type: 'JobStarted', id: `started:${buildId}`, runId: 'R1', at: '2026-11-30T10:00:01.000Z', job, attempt, buildId });
const build = (job: string, attempt: number, buildId: string, state: BuildStateChanged['state']): BuildStateChanged => ({ type: 'BuildStateChanged', id: `build:${buildId}:${state}`, runId: 'R1', at: '2026-11-30T10:00:02.000Z', job, attempt, buildId, state });

test('an instance decides the next event of a run it wrote without reading it again', async () => {
  for (const remember of [true, false]) {
    const env = setup();
    env.pipelines.register('web', pipelineSpec([jobSpec('a'), jobSpec('b', { needs: ['a'] })]));
    const engine = env.instance(remember);
    await handleEngineMessage(engine, request('R1'));
    await handleEngineMessage(engine, started('a', 1, 'build-a'));
    await handleEngineMessage(engine, build('a', 1, 'build-a', 'SUCCEEDED'));
    const run = await env.runs.get('R1');
    assert.equal(run.jobs.a.status, 'succeeded');
    assert.equal(run.jobs.b.status, 'queued');
    assert.deepEqual([...env.builds.builds.keys()], ['R1:a:1', 'R1:b:1']);
    // The run request's own look for the run (it does not exist yet), then, without memory, one read per event.
    assert.equal(env.runs.reads - 1, remember ? 1 : 3, remember ? 'only the check that the run is new reads it' : 'every event reads the run');
  }
});

test('a remembered state another instance moved on fails its conditional write and the event is decided again on the stored state', async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('a'), jobSpec('b', { needs: ['a'] })]));
  // One attempt only: a memory that is behind must not count as losing a race.
  const first = { ...env.instance(), maxApplyAttempts: 1 };
  const second = env.instance();
  await handleEngineMessage(first, request('R1'));
  // The second instance records the build: the first one's memory (a queued, no build) is now behind.
  await handleEngineMessage(second, started('a', 1, 'build-a'));
  const moved = (await env.runs.get('R1')).version;
  const before = env.runs.reads;
  const handled = await handleEngineMessage(first, build('a', 1, 'build-a', 'SUCCEEDED'));
  assert.equal(handled.applied, true);
  assert.equal(env.runs.reads - before, 1, 'one read, after the conflict');
  const run = await env.runs.get('R1');
  assert.equal(run.version, moved + 1, 'written once, on the stored state');
  assert.equal(run.jobs.a.status, 'succeeded');
  assert.deepEqual(run.appliedEventIds.filter((id) => id.startsWith('started:') || id.startsWith('build:')), ['started:build-a', 'build:build-a:SUCCEEDED']);
  assert.deepEqual([...env.builds.builds.keys()], ['R1:a:1', 'R1:b:1']);
});

test('an event that changes nothing on a remembered state is decided again on the stored state before it is let go', async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('flaky', { retries: 1 })]));
  const first = env.instance();
  const second = env.instance();
  await handleEngineMessage(first, request('R1'));
  // The second instance fails attempt 1 and starts attempt 2; the first still remembers attempt 1.
  await handleEngineMessage(second, build('flaky', 1, 'build-1', 'FAILED'));
  assert.deepEqual([...env.builds.builds.keys()], ['R1:flaky:1', 'R1:flaky:2']);
  // On the remembered state, attempt 2's success is for an attempt that does not exist: a no-op there.
  const handled = await handleEngineMessage(first, build('flaky', 2, 'build-2', 'SUCCEEDED'));
  assert.equal(handled.applied, true);
  const run = await env.runs.get('R1');
  assert.equal(run.status, 'succeeded');
  assert.equal(run.jobs.flaky.attempt, 2);
});

test('a redelivered event is answered from the stored outbox, not from memory', async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('a'), jobSpec('b', { needs: ['a'] })]));
  const engine = env.instance();
  await handleEngineMessage(engine, request('R1'));
  await handleEngineMessage(engine, build('a', 1, 'build-a', 'SUCCEEDED'));
  const before = env.runs.reads;
  const again = await handleEngineMessage(engine, build('a', 1, 'build-a', 'SUCCEEDED'));
  assert.equal(again.applied, false);
  assert.equal(env.runs.reads - before, 1);
  // The replay repeats b's start with the same token: still one build.
  assert.deepEqual([...env.builds.builds.keys()], ['R1:a:1', 'R1:b:1']);
});

test('RecentRuns keeps the newest runs up to its limit, and copies of what was written', () => {
  const recent = new RecentRuns(2);
  const state = (runId: string) => ({ runId, version: 1, jobs: {} }) as unknown as RunState;
  const r1 = state('R1');
  recent.remember(r1);
  recent.remember(state('R2'));
  recent.remember(state('R1'));
  recent.remember(state('R3'));
  assert.equal(recent.size, 2);
  assert.equal(recent.get('R2'), undefined, 'the least recently written goes first');
  assert.ok(recent.get('R1') && recent.get('R3'));
  r1.version = 99;
  assert.equal(recent.get('R1')!.version, 1);
  assert.throws(() => new RecentRuns(0), RangeError);
  // A read that began before this process's write and ended after it is older than what is kept: not kept.
  recent.remember({ ...state('R3'), version: 5 } as RunState);
  recent.remember({ ...state('R3'), version: 4 } as RunState);
  assert.equal(recent.get('R3')!.version, 5);
});

test('while it holds the run\'s message group, an instance lets an event that changes nothing go on what it wrote in the hold, without a read', async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('a'), jobSpec('b', { needs: ['a'] })]));
  const engine = env.instance();
  await handleEngineMessage(engine, request('R1'));
  // One batch: the engine's JobStarted and CodeBuild's IN_PROGRESS of the same build, in the run's group.
  const hold = new HeldGroup('run#R1');
  let before = env.runs.reads;
  assert.equal((await handleEngineMessage(engine, started('a', 1, 'build-a'), hold)).applied, true);
  assert.equal((await handleEngineMessage(engine, build('a', 1, 'build-a', 'IN_PROGRESS'), hold)).applied, false);
  assert.equal(env.runs.reads - before, 0, 'the hold wrote the run: its state is the stored one');
  // The next batch is a new hold: the same kind of event is checked on a read before it is let go.
  before = env.runs.reads;
  assert.equal((await handleEngineMessage(engine, build('a', 1, 'build-a', 'IN_PROGRESS'), new HeldGroup('run#R1'))).applied, false);
  assert.equal(env.runs.reads - before, 1);
  // And an event that does change something is applied on what the hold read.
  const next = new HeldGroup('run#R1');
  before = env.runs.reads;
  await handleEngineMessage(env.instance(), build('a', 1, 'build-a', 'IN_PROGRESS'), next);
  assert.equal(env.runs.reads - before, 1, 'an instance that never saw the run reads it once');
  const other = env.instance();
  await handleEngineMessage(other, build('a', 1, 'build-a', 'IN_PROGRESS'), next);
  assert.equal(env.runs.reads - before, 2, 'a hold covers what this instance saw, not what another one did');
  assert.equal((await handleEngineMessage(other, build('a', 1, 'build-a', 'SUCCEEDED'), next)).applied, true);
  assert.equal(env.runs.reads - before, 2, 'decided on what the hold read');
  assert.equal((await env.runs.get('R1')).jobs.a.status, 'succeeded');
});

test('a hold counts only its own run\'s group, and a write that fails in it counts no longer', async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('a'), jobSpec('b', { needs: ['a'] })]));
  const engine = { ...env.instance(), maxApplyAttempts: 1 };
  await handleEngineMessage(engine, request('R1'));
  const pipelineGroup = new HeldGroup('pipeline#web');
  pipelineGroup.saw('R1', 0);
  assert.equal(pipelineGroup.covers('R1', 0), false, 'the pipeline\'s group does not hold the run\'s events');

  const hold = new HeldGroup('run#R1');
  await handleEngineMessage(engine, started('a', 1, 'build-a'), hold);
  const written = (await env.runs.get('R1')).version;
  assert.equal(hold.covers('R1', written), true);
  assert.equal(hold.covers('R1', written - 1), false, 'only the version it saw');
  // Something wrote the run behind the hold's back (nothing should; this is what the fresh read guards against).
  await handleEngineMessage(env.instance(), build('a', 1, 'build-a', 'FAILED'));
  await assert.rejects(handleEngineMessage(engine, build('a', 1, 'build-a', 'SUCCEEDED'), hold), ConflictError);
  assert.equal(hold.covers('R1', written), false, 'the failed write ends what the hold vouches for');
  const before = env.runs.reads;
  await handleEngineMessage(engine, build('a', 1, 'build-a', 'IN_PROGRESS'), hold);
  assert.equal(env.runs.reads - before, 1, 'read again');
  assert.equal((await env.runs.get('R1')).jobs.a.status, 'failed');
});

test('a batch gives each message group one hold, shared by its records in order, and a new batch new holds', async () => {
  const record = (id: string, group: string) => ({ messageId: id, body: JSON.stringify(build('a', 1, `build-${id}`, 'IN_PROGRESS')), attributes: { MessageGroupId: group } });
  const seen: Array<[string, HeldGroup]> = [];
  const batch = [record('1', 'run#R1'), record('2', 'run#R2'), record('3', 'run#R1')];
  const logger = { error: () => undefined, warn: () => undefined };
  await processRecords(batch, async (m, hold) => { seen.push([(m as BuildStateChanged).buildId, hold]); }, logger);
  const holdOf = (id: string) => seen.find(([b]) => b === `build-${id}`)![1];
  assert.equal(holdOf('1'), holdOf('3'));
  assert.notEqual(holdOf('1'), holdOf('2'));
  assert.equal(holdOf('1').groupId, 'run#R1');
  const earlier = holdOf('1');
  seen.length = 0;
  await processRecords([record('1', 'run#R1')], async (m, hold) => { seen.push([(m as BuildStateChanged).buildId, hold]); }, logger);
  assert.notEqual(seen[0]![1], earlier, 'the group was let go between the batches');
});
