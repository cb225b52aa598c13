import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { ulid } from 'ulid';
import { createDocumentClient } from '../../shared/aws/clients.ts';
import { DynamoRunStore } from '../../shared/aws/run-store.ts';
import { MAX_ITEM_BYTES, ensureTable, estimateItemSize, keys } from '../../shared/aws/table.ts';
import { OUTBOX_EFFECTS_LIMIT, RecentRuns, applyEvent, type RunStateWithOutbox } from '../../shared/services/apply-event.ts';
import { decide } from '../../shared/domain/decide.ts';
import { largestPlan, largestRun } from '../../shared/domain/run-bounds.ts';
import { ConflictError, NotFoundError, PayloadTooLargeError, ValidationError } from '../../shared/domain/errors.ts';
import type { Decision } from '../../shared/domain/run-effects.ts';
import type { EngineEvent } from '../../shared/domain/run-events.ts';
import type { JobPlan, JobState, RunState } from '../../shared/domain/run.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';
import { runStoreContract } from '../support/contracts/run-store.contract.ts';

const cfg = emulatorConfig();
const client = createDocumentClient(cfg);
const table = uniqueName('runs');
const store = new DynamoRunStore(client, table);

before(async () => {
  await ensureTable(client, table);
});

// ---- factories -----------------------------------------------------------------

let clock = Date.parse('2026-01-01T00:00:00.000Z');
function nextTime(): string {
  clock += 1000;
  return new Date(clock).toISOString();
}

function aRun(overrides: Partial<RunStateWithOutbox> = {}): RunState {
  const createdAt = overrides.createdAt ?? nextTime();
  return {
    runId: ulid(),
    pipelineId: 'pl-' + uniqueName('p'),
    pipelineVersion: 1,
    concurrency: 'superseded',
    trigger: { event: 'push', provider: 'github', repository: 'acme/shop', branch: 'main', commit: 'a'.repeat(40) },
    status: 'running',
    jobs: { test: { status: 'running', attempt: 1, buildId: 'slipway-small:1234' } },
    plan: { test: { kind: 'build', needs: [], maxAttempts: 1 } },
    createdAt,
    updatedAt: createdAt,
    startedAt: createdAt,
    version: 0,
    appliedEventIds: ['evt-1'],
    ...overrides,
  };
}

/**
 * A small honest state machine for these tests (the real one is shared/domain/decide.ts):
 * RunRequested starts a run; ApprovalGiven increments the named job's counter
 * (`attempt`); CancelRequested ends the run. Every applied event is recorded.
 */
function countingDecide(state: RunState | undefined, event: EngineEvent): Decision {
  if (event.type === 'RunRequested') {
    if (state) return { state, effects: [] };
    const jobs: Record<string, JobState> = {};
    for (const name of Object.keys(event.plan)) jobs[name] = { status: 'pending', attempt: 0 };
    return {
      state: {
        runId: event.runId, pipelineId: event.pipelineId, pipelineVersion: event.pipelineVersion, concurrency: event.concurrency,
        trigger: event.trigger, status: 'running', jobs, plan: event.plan, createdAt: event.at, updatedAt: event.at, startedAt: event.at,
        version: 0, appliedEventIds: [event.id],
      },
      effects: [{ type: 'Notify', runId: event.runId, kind: 'run_started' }],
    };
  }
  if (!state) throw new Error(`no run for ${event.type}`);
  const next = structuredClone(state);
  next.appliedEventIds.push(event.id);
  next.updatedAt = event.at;
  if (event.type === 'ApprovalGiven') {
    next.jobs[event.job]!.attempt += 1;
    return { state: next, effects: [{ type: 'Notify', runId: state.runId, kind: 'released', job: event.job }] };
  }
  if (event.type === 'CancelRequested') {
    next.status = 'cancelled';
    next.finishedAt = event.at;
    return { state: next, effects: [{ type: 'Notify', runId: state.runId, kind: 'run_cancelled' }] };
  }
  return { state, effects: [] };
}

function runRequested(runId: string, pipelineId = 'pl-counter'): EngineEvent {
  return {
    type: 'RunRequested', id: `${runId}:requested`, runId, at: nextTime(), pipelineId, pipelineVersion: 1, concurrency: 'parallel',
    trigger: { event: 'manual', commit: 'b'.repeat(40), branch: 'main' }, plan: { counter: { kind: 'approval', needs: [], maxAttempts: 1 } },
    skippedByWhen: [], admission: 'start',
  };
}

function approval(runId: string, n: number): EngineEvent {
  return { type: 'ApprovalGiven', id: `${runId}:approval:${n}`, runId, at: nextTime(), job: 'counter', by: `user-${n}` };
}

async function rawItem(runId: string): Promise<Record<string, any> | undefined> {
  return (await client.send(new GetCommand({ TableName: table, Key: keys.run(runId), ConsistentRead: true }))).Item;
}

runStoreContract('DynamoRunStore', () => store);

// ---- what only the DynamoDB item shows -------------------------------------------------

test('a run gets its expiry when it ends, counted from finishedAt, and none while active', async () => {
  const days = 30;
  const shortStore = new DynamoRunStore(client, table, { retentionDays: days });
  const run = aRun();
  await shortStore.create(run);
  assert.equal((await rawItem(run.runId))?.expiresAt, undefined);
  const finishedAt = '2026-03-01T12:00:00.000Z';
  await shortStore.save({ ...run, status: 'succeeded', finishedAt }, 0);
  assert.equal((await rawItem(run.runId))?.expiresAt, Date.parse(finishedAt) / 1000 + days * 86_400);
});

test('a run store refuses a retention that is not a positive number of days', () => {
  assert.throws(() => new DynamoRunStore(client, table, { retentionDays: 0 }), ValidationError);
});

// ---- item size ------------------------------------------------------------------------

function bigRun(jobCount: number): RunStateWithOutbox {
  const plan: Record<string, JobPlan> = {};
  const jobs: Record<string, JobState> = {};
  const applied: string[] = [];
  const runId = ulid();
  const started = Date.parse('2026-02-01T09:00:00.000Z');
  for (let i = 0; i < jobCount; i++) {
    const name = `integration-tests-shard-${String(i).padStart(3, '0')}`;
    const kind = i % 10 === 9 ? 'image' : 'build';
    // Wide fan-in: each job needs up to 5 earlier ones.
    const needs = Array.from({ length: Math.min(i, 5) }, (_, k) => `integration-tests-shard-${String(i - 1 - k).padStart(3, '0')}`);
    plan[name] = { kind, needs, maxAttempts: 3 };
    const buildId = `slipway-medium:${crypto.randomUUID()}`;
    jobs[name] = {
      status: i % 17 === 0 ? 'failed' : 'succeeded',
      attempt: 3,
      buildId,
      startedAt: new Date(started + i * 60_000).toISOString(),
      finishedAt: new Date(started + i * 60_000 + 45_000).toISOString(),
      reason: i % 17 === 0 ? 'build failed in phase BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: npm test. Reason: exit status 1' : 'succeeded',
      outputs: kind === 'image'
        ? { imageUri: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/shop-service:${'c'.repeat(40)}`, imageDigest: `sha256:${'d'.repeat(64)}` }
        : { reportUrl: `s3://slipway-artifacts-123456789012-eu-west-1/runs/${runId}/${name}/report.xml` },
    };
    // Three attempts, each: started, in progress, finished.
    for (let a = 1; a <= 3; a++) {
      applied.push(`${runId}:${name}:${a}:started`, `${buildId}:${a}:IN_PROGRESS`, `${buildId}:${a}:SUCCEEDED`);
    }
  }
  // A full outbox of StartBuild effects (see apply-event.ts).
  const outbox = Array.from({ length: OUTBOX_EFFECTS_LIMIT }, (_, i) => {
    const job = `integration-tests-shard-${String(i % jobCount).padStart(3, '0')}`;
    return { eventId: `${runId}:${job}:3:started`, effects: [{ type: 'StartBuild' as const, runId, job, attempt: 3, token: `${runId}:${job}:3` }] };
  });
  return aRun({
    runId,
    jobs,
    plan,
    outbox,
    appliedEventIds: applied,
    trigger: {
      event: 'push', provider: 'github', repository: 'acme-corporation/shop-service', branch: 'feature/very-long-branch-name-for-the-checkout-rework',
      commit: 'e'.repeat(40), author: 'Jane Developer <jane.developer@example.com>', message: 'Rework the checkout flow: split payment and shipping steps\n\n'.repeat(4),
      deliveryId: crypto.randomUUID(),
    },
  });
}

test('the largest definition the bounds allow fits in one item, by DynamoDB\'s own measure', async () => {
  const plan = largestPlan();
  const run = largestRun(plan, ulid());
  const size = estimateItemSize({ ...keys.run(run.runId), state: run });
  await store.create(run as RunState);
  const read = await client.send(new GetCommand({ TableName: table, Key: keys.run(run.runId), ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }));
  const measuredUpTo = (read.ConsumedCapacity?.CapacityUnits ?? Infinity) * 4096;
  assert.ok(measuredUpTo <= MAX_ITEM_BYTES, `DynamoDB measured up to ${measuredUpTo} bytes (estimate ${size})`);
  // 4% headroom (the previous attempt's build id per job takes ~33 KB at 200 jobs); DynamoDB measured it above.
  assert.ok(size < MAX_ITEM_BYTES * 0.96, `estimated ${size} bytes leaves less than 4% headroom under ${MAX_ITEM_BYTES}`);
  const loaded = await store.get(run.runId);
  assert.equal(Object.keys(loaded.jobs).length, Object.keys(plan).length);
});

test('a save that can never succeed fails the run with a reason instead of failing its message forever', async () => {
  const runId = ulid();
  const deps = { runs: store, decide };
  // Built by an older engine without bounds: notices alone fill the item to just under the limit.
  const requested: EngineEvent = {
    type: 'RunRequested', id: `requested:${runId}`, runId, at: '2026-11-30T09:00:00.000Z', pipelineId: 'big', pipelineVersion: 1, concurrency: 'superseded',
    trigger: { event: 'push', branch: 'main', commit: 'c'.repeat(40) }, plan: { a: { kind: 'build', needs: [], maxAttempts: 1 }, b: { kind: 'build', needs: [], maxAttempts: 1 } },
    skippedByWhen: [], admission: 'start',
  };
  await applyEvent(deps, requested);
  const legacy = await store.get(runId);
  legacy.notices = Array.from({ length: 20 }, (_, i) => ({ at: '2026-11-30T09:00:00.000Z', kind: 'notification_failed' as const, message: `${i}:`.padEnd(19_000, 'n') }));
  await store.save(legacy, legacy.version);

  // Filled to within 150 bytes of what DynamoDB accepts.
  const base = await store.get(runId);
  const first = base.notices![0].message;
  let slack = MAX_ITEM_BYTES - estimateItemSize({ ...keys.run(runId), state: base });
  for (let step = 0; ; step++) {
    const grown = await store.get(runId);
    grown.notices![0].message = first + 'x'.repeat(Math.max(0, slack - 150));
    const saved = await store.save(grown, grown.version).then(() => true, (err) => { if (err instanceof PayloadTooLargeError) return false; throw err; });
    if (saved) break;
    assert.ok(step < 40, 'could not fill the item');
    slack -= 50;
  }
  // A's build fails: its reason and build id grow the state by a few hundred bytes, past the limit.
  const started: EngineEvent = {
    type: 'BuildStateChanged', id: `build:${runId}:a:FAILED`, runId, at: '2026-11-30T09:01:00.000Z', job: 'a', attempt: 1, buildId: `slipway-small:${'b'.repeat(36)}`,
    state: 'FAILED', reason: 'exit status 1: '.padEnd(500, 'e'),
  };
  const result = await applyEvent(deps, started);

  assert.equal(result.applied, true);
  const run = await store.get(runId);
  assert.equal(run.status, 'failed');
  assert.match(run.reason!, /400 KB item limit while applying BuildStateChanged/);
  assert.deepEqual(Object.values(run.jobs).map((j) => j.status), ['cancelled', 'cancelled']);
  assert.deepEqual(result.effects.map((e) => e.type), ['Notify']);
  // A redelivery changes nothing more.
  assert.equal((await applyEvent(deps, started)).applied, false);
});

test('a 200-job run with every job on its third attempt, every event id kept and a full outbox fits in one item', async () => {
  const run = bigRun(200);
  const size = estimateItemSize({ ...keys.run(run.runId), state: run });
  assert.ok(size < MAX_ITEM_BYTES * 0.75, `estimated ${size} bytes leaves less than 25% headroom under ${MAX_ITEM_BYTES}`);
  await store.create(run);
  // DynamoDB's own measure: a strongly consistent read costs one unit per started 4 KB of the item.
  const read = await client.send(new GetCommand({ TableName: table, Key: keys.run(run.runId), ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' }));
  const measuredUpTo = (read.ConsumedCapacity?.CapacityUnits ?? Infinity) * 4096;
  assert.ok(measuredUpTo < MAX_ITEM_BYTES * 0.75, `DynamoDB measured up to ${measuredUpTo} bytes (estimate ${size})`);
  const loaded = await store.get(run.runId);
  assert.equal(Object.keys(loaded.jobs).length, 200);
  loaded.status = 'failed';
  await store.save(loaded, loaded.version);
  assert.deepEqual(await store.get(run.runId), loaded);
});

// ---- applyEvent against the real table -----------------------------------------------------

test('twenty events racing on one run through two writers are all applied, none lost', async () => {
  const runId = ulid();
  const writerA = new DynamoRunStore(createDocumentClient(cfg), table);
  const writerB = new DynamoRunStore(createDocumentClient(cfg), table);
  await applyEvent({ runs: writerA, decide: countingDecide }, runRequested(runId));
  const events = Array.from({ length: 20 }, (_, i) => approval(runId, i));
  const results = await Promise.all(events.map((e, i) => applyEvent({ runs: i % 2 ? writerA : writerB, decide: countingDecide, maxAttempts: 40 }, e)));
  assert.ok(results.every((r) => r.applied));
  const final = await store.get(runId);
  assert.equal(final.jobs.counter!.attempt, 20);
  assert.equal(final.version, 20);
  assert.deepEqual(new Set(final.appliedEventIds), new Set([`${runId}:requested`, ...events.map((e) => e.id)]));
});

test('two writers that each remember what they wrote apply every event on DynamoDB Local, none lost, a memory behind the table never overwriting it', async () => {
  const runId = ulid();
  const writers = [0, 1].map(() => ({ runs: new DynamoRunStore(createDocumentClient(cfg), table), decide: countingDecide, recent: new RecentRuns(), maxAttempts: 40 }));
  await applyEvent(writers[0]!, runRequested(runId));
  const events = Array.from({ length: 20 }, (_, i) => approval(runId, i));
  // In turns first (each writer's memory is one event behind the other's write), then racing.
  for (const [i, e] of events.slice(0, 10).entries()) assert.equal((await applyEvent(writers[i % 2]!, e)).applied, true);
  const results = await Promise.all(events.slice(10).map((e, i) => applyEvent(writers[i % 2]!, e)));
  assert.ok(results.every((r) => r.applied));
  const final = await store.get(runId);
  assert.equal(final.jobs.counter!.attempt, 20);
  assert.equal(final.version, 20);
  assert.deepEqual(new Set(final.appliedEventIds), new Set([`${runId}:requested`, ...events.map((e) => e.id)]));
});

test('a RunRequested delivered twice at once creates the run once', async () => {
  const runId = ulid();
  const event = runRequested(runId);
  const results = await Promise.all([0, 1].map(() => applyEvent({ runs: store, decide: countingDecide }, event)));
  assert.deepEqual(results.map((r) => r.applied).sort(), [false, true]);
  assert.equal((await store.get(runId)).version, 0);
});

test('a redelivered event writes nothing and repeats the effects it produced', async () => {
  const runId = ulid();
  const deps = { runs: store, decide: countingDecide };
  await applyEvent(deps, runRequested(runId));
  const event = approval(runId, 1);
  const first = await applyEvent(deps, event);
  assert.equal(first.applied, true);
  const again = await applyEvent(deps, event);
  assert.equal(again.applied, false);
  assert.deepEqual(again.effects, first.effects, 'a crash between save and effects is recovered by the redelivery');
  const stored = await store.get(runId);
  assert.equal(stored.version, 1);
  assert.equal(stored.jobs.counter!.attempt, 1);
});

test('a redelivered event repeats its effects even after later events were applied', async () => {
  const runId = ulid();
  const deps = { runs: store, decide: countingDecide };
  const requested = runRequested(runId);
  const first = await applyEvent(deps, requested);
  await applyEvent(deps, approval(runId, 1));
  await applyEvent(deps, approval(runId, 2));
  const again = await applyEvent(deps, requested);
  assert.equal(again.applied, false);
  assert.deepEqual(again.effects, first.effects);
  assert.equal(again.state.jobs.counter!.attempt, 2, 'the replay comes with the current state');
});

test('the outbox keeps the newest events\' effects within its limit', async () => {
  const runId = ulid();
  const deps = { runs: store, decide: countingDecide };
  await applyEvent(deps, runRequested(runId));
  const events = Array.from({ length: OUTBOX_EFFECTS_LIMIT + 3 }, (_, i) => approval(runId, i));
  for (const e of events) await applyEvent(deps, e);
  const stored = (await store.get(runId)) as RunStateWithOutbox;
  assert.equal(stored.outbox?.length, OUTBOX_EFFECTS_LIMIT + 1, 'the newest entry and OUTBOX_EFFECTS_LIMIT effects before it');
  assert.equal(stored.outbox?.at(-1)?.eventId, events.at(-1)!.id);
  assert.deepEqual((await applyEvent(deps, events.at(-1)!)).effects, [{ type: 'Notify', runId, kind: 'released', job: 'counter' }]);
  assert.deepEqual((await applyEvent(deps, events[0]!)).effects, [], 'the oldest entries were dropped');
});

test('an event that changes nothing is not written', async () => {
  const runId = ulid();
  const deps = { runs: store, decide: countingDecide };
  await applyEvent(deps, runRequested(runId));
  const result = await applyEvent(deps, { type: 'RunDequeued', id: `${runId}:dequeued`, runId, at: nextTime() });
  assert.equal(result.applied, false);
  assert.equal((await store.get(runId)).version, 0);
});

test('an event for a run that does not exist is NotFound unless it requests the run', async () => {
  await assert.rejects(applyEvent({ runs: store, decide: countingDecide }, approval(ulid(), 1)), NotFoundError);
});

test('a writer that keeps losing the race gives up with a conflict and never overwrites the winner', async () => {
  const runId = ulid();
  await applyEvent({ runs: store, decide: countingDecide }, runRequested(runId));
  const rival = new DynamoRunStore(createDocumentClient(cfg), table);
  let rivalWrites = 0;
  // Before each of our writes lands, a rival writer gets its own write in (a real write to the same item).
  const contested = {
    get: (id: string) => store.get(id),
    create: (run: RunState) => store.create(run),
    listByPipeline: store.listByPipeline.bind(store),
    listActive: store.listActive.bind(store),
    save: async (run: RunState, expected: number) => {
      const current = await rival.get(runId);
      current.jobs.counter!.attempt += 100;
      await rival.save(current, current.version);
      rivalWrites++;
      return store.save(run, expected);
    },
  };
  await assert.rejects(applyEvent({ runs: contested, decide: countingDecide, maxAttempts: 3, backoffMs: () => 0 }, approval(runId, 1)), ConflictError);
  const stored = await store.get(runId);
  assert.equal(rivalWrites, 3);
  assert.equal(stored.jobs.counter!.attempt, 300, 'only the rival\'s increments are stored');
  assert.equal(stored.version, 3);
});

test('a terminal run written through applyEvent leaves the active list', async () => {
  const runId = ulid();
  const pipelineId = uniqueName('apply-active');
  const deps = { runs: store, decide: countingDecide };
  await applyEvent(deps, runRequested(runId, pipelineId));
  assert.deepEqual((await store.listActive(pipelineId)).map((r) => r.runId), [runId]);
  await applyEvent(deps, { type: 'CancelRequested', id: `${runId}:cancel`, runId, at: nextTime(), by: 'ops' });
  assert.deepEqual(await store.listActive(pipelineId), []);
  assert.equal(typeof (await rawItem(runId))?.expiresAt, 'number');
});
