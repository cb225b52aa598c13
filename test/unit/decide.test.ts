import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { APPLIED_EVENT_IDS_LIMIT, decide } from '../../shared/domain/decide.ts';
import { NotFoundError } from '../../shared/domain/errors.ts';
import type { ConcurrencyMode } from '../../shared/domain/pipeline.ts';
import { MAX_JOB_STEPS, type JobPlan, type RunState } from '../../shared/domain/run.ts';
import { type BuildState, type EngineEvent } from '../../shared/domain/run-events.ts';
import { type Effect } from '../../shared/domain/run-effects.ts';

// ---- factories -----------------------------------------------------------------

const RUN = 'run-1';
let clock = 0;
let nextId = 0;
const base = () => ({ id: `evt-${++nextId}`, runId: RUN, at: new Date(Date.UTC(2026, 0, 1, 0, 0, ++clock)).toISOString() });

const build = (needs: string[] = [], retries = 0): JobPlan => ({ kind: 'build', needs, maxAttempts: retries + 1 });
const image = (needs: string[] = []): JobPlan => ({ kind: 'image', needs, maxAttempts: 1 });
const deploy = (needs: string[] = [], target = 'staging', retries = 0): JobPlan => ({ kind: 'deploy', needs, maxAttempts: retries + 1, target });
const approval = (needs: string[] = []): JobPlan => ({ kind: 'approval', needs, maxAttempts: 1 });

const ev = {
  requested: (plan: Record<string, JobPlan>, o: { admission?: 'start' | 'queue'; skippedByWhen?: string[]; concurrency?: ConcurrencyMode } = {}): EngineEvent => ({
    ...base(),
    type: 'RunRequested',
    pipelineId: 'pipe',
    pipelineVersion: 3,
    concurrency: o.concurrency ?? 'superseded',
    trigger: { event: 'push', branch: 'main', commit: 'abc123' },
    plan,
    skippedByWhen: o.skippedByWhen ?? [],
    admission: o.admission ?? 'start',
  }),
  dequeued: (): EngineEvent => ({ ...base(), type: 'RunDequeued' }),
  jobStarted: (job: string, attempt = 1, buildId = `${job}-b${attempt}`): EngineEvent => ({ ...base(), type: 'JobStarted', job, attempt, buildId }),
  build: (job: string, state: BuildState, attempt = 1, extra: { outputs?: Record<string, string>; reason?: string } = {}): EngineEvent => ({
    ...base(), type: 'BuildStateChanged', job, attempt, buildId: `${job}-b${attempt}`, state, ...extra,
  }),
  approved: (job: string, by = 'ana'): EngineEvent => ({ ...base(), type: 'ApprovalGiven', job, by }),
  rejected: (job: string, by = 'ana', comment?: string): EngineEvent => ({ ...base(), type: 'ApprovalRejected', job, by, comment }),
  releaseStarted: (job: string, attempt = 1): EngineEvent => ({ ...base(), type: 'ReleaseStarted', job, attempt, releaseId: `rel-${job}-${attempt}` }),
  releaseFinished: (job: string, outcome: 'succeeded' | 'rolled_back' | 'failed', attempt = 1, reason?: string): EngineEvent => ({
    ...base(), type: 'ReleaseFinished', job, attempt, releaseId: `rel-${job}-${attempt}`, outcome, reason,
  }),
  cancel: (by = 'bob'): EngineEvent => ({ ...base(), type: 'CancelRequested', by }),
  superseded: (byRunId = 'run-2'): EngineEvent => ({ ...base(), type: 'RunSuperseded', byRunId }),
  failedToPlan: (reason: string): EngineEvent => ({ ...base(), type: 'RunFailedToPlan', reason }),
};

// Every state handed to decide is frozen, so any mutation of the input throws.
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Applies events in order; returns the final state and the effects of the last event. */
function play(state: RunState | undefined, ...events: EngineEvent[]): { state: RunState; effects: Effect[] } {
  let current = state;
  let effects: Effect[] = [];
  for (const event of events) {
    const decision = decide(current === undefined ? undefined : deepFreeze(current), event);
    current = decision.state;
    effects = decision.effects;
  }
  return { state: current!, effects };
}

const statuses = (s: RunState) => Object.fromEntries(Object.entries(s.jobs).map(([k, j]) => [k, j.status]));
const startBuild = (job: string, attempt = 1): Effect => ({ type: 'StartBuild', runId: RUN, job, attempt, token: `${RUN}:${job}:${attempt}` });
const notify = (kind: string, job?: string): Effect => ({ type: 'Notify', runId: RUN, kind, ...(job ? { job } : {}) } as Effect);

// ---- creating a run --------------------------------------------------------------

describe('a requested run', () => {
  it('starts every job without needs together and keeps the rest pending', () => {
    const { state, effects } = play(undefined, ev.requested({ lint: build(), test: build(), img: image(['lint', 'test']) }));
    assert.equal(state.status, 'running');
    assert.equal(state.version, 0);
    assert.deepEqual(statuses(state), { lint: 'queued', test: 'queued', img: 'pending' });
    assert.deepEqual(effects, [notify('run_started'), startBuild('lint'), startBuild('test')]);
    assert.equal(state.jobs.lint.attempt, 1);
    assert.equal(state.startedAt, state.createdAt);
  });

  it('waits in the queue without starting anything when admission is queue', () => {
    const { state, effects } = play(undefined, ev.requested({ a: build() }, { admission: 'queue' }));
    assert.equal(state.status, 'queued');
    assert.equal(state.startedAt, undefined);
    assert.deepEqual(statuses(state), { a: 'pending' });
    assert.deepEqual(effects, []);
  });

  it('arriving after a newer run of its branch, ends superseded at once and starts nothing', () => {
    const e = { ...(ev.requested({ a: build(), b: build(['a']) }) as Extract<EngineEvent, { type: 'RunRequested' }>), supersededBy: 'run-9' };
    const { state, effects } = play(undefined, e);
    assert.equal(state.status, 'superseded');
    assert.match(state.reason!, /superseded by run run-9/);
    assert.deepEqual(statuses(state), { a: 'cancelled', b: 'cancelled' });
    assert.deepEqual(effects, [notify('run_superseded')]);
  });

  it('queued behind another run in queued mode, asks once more whether its turn has come', () => {
    const { state, effects } = play(undefined, ev.requested({ a: build() }, { admission: 'queue', concurrency: 'queued' }));
    assert.equal(state.status, 'queued');
    assert.deepEqual(effects, [{ type: 'StartQueuedRun', pipelineId: 'pipe' }]);
  });

  it('skips jobs left out by their when filter, and their dependents with a reason naming the need', () => {
    const { state, effects } = play(undefined, ev.requested(
      { test: build(), prod: deploy(['test'], 'prod'), smoke: build(['prod']) },
      { skippedByWhen: ['prod'] },
    ));
    assert.deepEqual(statuses(state), { test: 'queued', prod: 'skipped', smoke: 'skipped' });
    assert.match(state.jobs.prod.reason!, /when filter does not match this run \(push on branch "main"\)/);
    assert.equal(state.jobs.smoke.reason, 'skipped because needed job "prod" was skipped');
    assert.deepEqual(effects, [notify('run_started'), startBuild('test')]);
  });

  it('succeeds at once when its when filters leave nothing to run', () => {
    const { state, effects } = play(undefined, ev.requested({ a: build() }, { skippedByWhen: ['a'], concurrency: 'queued' }));
    assert.equal(state.status, 'succeeded');
    assert.deepEqual(effects, [
      notify('run_started'),
      notify('run_succeeded'),
      { type: 'StartQueuedRun', pipelineId: 'pipe', afterRunId: RUN },
    ]);
  });

  it('is a no-op when requested again for an existing run', () => {
    const first = play(undefined, ev.requested({ a: build() })).state;
    const again = decide(first, ev.requested({ a: build(), b: build() }));
    assert.equal(again.state, first);
    assert.deepEqual(again.effects, []);
  });

  const broken: Array<[string, Record<string, JobPlan>, string[], RegExp]> = [
    ['a need on an unknown job', { a: build(['ghost']) }, [], /job "a" needs unknown job "ghost"/],
    ['a dependency cycle', { a: build(['b']), b: build(['a']), c: build() }, [], /dependency cycle among "a", "b"/],
    ['a deploy job without target', { d: { kind: 'deploy', needs: [], maxAttempts: 1 } }, [], /deploy job "d" has no target/],
    ['an unknown job skipped by when', { a: build() }, ['ghost'], /skippedByWhen names unknown job "ghost"/],
  ];
  for (const [what, plan, skippedByWhen, message] of broken) {
    it(`throws a plain Error for a plan with ${what}`, () => {
      assert.throws(() => decide(undefined, ev.requested(plan, { skippedByWhen })), (err: Error) => {
        assert.equal(err.constructor, Error);
        assert.match(err.message, message);
        return true;
      });
    });
  }

  it('throws NotFoundError for any other event on a run that does not exist', () => {
    assert.throws(() => decide(undefined, ev.jobStarted('a')), NotFoundError);
  });
});

describe('starting jobs by kind', () => {
  it('queues a deploy job with a StartRelease to its target', () => {
    const { state, effects } = play(undefined, ev.requested({ d: deploy([], 'prod') }));
    assert.deepEqual(statuses(state), { d: 'queued' });
    assert.deepEqual(effects, [notify('run_started'), { type: 'StartRelease', runId: RUN, job: 'd', attempt: 1, target: 'prod', token: `${RUN}:d:1` }]);
  });

  it('puts an approval job in waiting_approval and asks a person', () => {
    const { state, effects } = play(undefined, ev.requested({ gate: approval() }));
    assert.deepEqual(statuses(state), { gate: 'waiting_approval' });
    assert.deepEqual(effects, [notify('run_started'), { type: 'RequestApproval', runId: RUN, job: 'gate' }, notify('approval_needed', 'gate')]);
  });
});

describe('a queued run', () => {
  it('starts running and starts its ready jobs when dequeued', () => {
    const { state, effects } = play(undefined, ev.requested({ a: build(), b: build(['a']) }, { admission: 'queue' }), ev.dequeued());
    assert.equal(state.status, 'running');
    assert.ok(state.startedAt);
    assert.deepEqual(statuses(state), { a: 'queued', b: 'pending' });
    assert.deepEqual(effects, [notify('run_started'), startBuild('a')]);
  });

  it('ignores a second dequeue', () => {
    const running = play(undefined, ev.requested({ a: build() }, { admission: 'queue' }), ev.dequeued()).state;
    const again = decide(running, ev.dequeued());
    assert.equal(again.state, running);
    assert.deepEqual(again.effects, []);
  });
});

// ---- builds --------------------------------------------------------------------------

describe('build events', () => {
  const plan = () => ({ a: build([], 1), b: build(['a']), c: build(['b']), other: build() });
  const started = () => play(undefined, ev.requested(plan()), ev.jobStarted('a'));

  it('records the build id and marks the job running on JobStarted', () => {
    const { state, effects } = started();
    assert.equal(state.jobs.a.status, 'running');
    assert.equal(state.jobs.a.buildId, 'a-b1');
    assert.deepEqual(effects, []);
  });

  describe('a build that is not the one recorded for its attempt (an orphan duplicate)', () => {
    const orphan = (state: BuildState): EngineEvent => ({ ...(ev.build('a', state) as Extract<EngineEvent, { type: 'BuildStateChanged' }>), buildId: 'a-orphan' });

    it("an orphan build's FAILED leaves the job to the recorded build", () => {
      const { state: before } = started();
      const { state, effects } = play(before, orphan('FAILED'));
      assert.equal(state, before, 'nothing changed');
      assert.deepEqual(effects, []);
      const after = play(state, ev.build('a', 'SUCCEEDED'));
      assert.equal(after.state.jobs.a.status, 'succeeded');
      assert.equal(after.state.jobs.a.attempt, 1, 'no retry was spent on the orphan');
      assert.deepEqual(after.effects, [startBuild('b')]);
    });

    it('an orphan that reports it is running is stopped, once, and the job keeps its build', () => {
      const { state: before } = started();
      const { state, effects } = play(before, orphan('IN_PROGRESS'));
      assert.deepEqual(effects, [{ type: 'StopBuild', runId: RUN, job: 'a', buildId: 'a-orphan' }]);
      assert.deepEqual(state.jobs, before.jobs);
      assert.equal(state.jobs.a.buildId, 'a-b1');
      const again = decide(state, orphan('STOPPED'));
      assert.equal(again.state, state, "the orphan's STOPPED changes nothing either");
    });

    it('a JobStarted naming another build than the recorded one stops that build', () => {
      const recorded = play(undefined, ev.requested(plan()), ev.build('a', 'IN_PROGRESS')).state;
      const { state, effects } = play(recorded, ev.jobStarted('a', 1, 'a-orphan'));
      assert.deepEqual(effects, [{ type: 'StopBuild', runId: RUN, job: 'a', buildId: 'a-orphan' }]);
      assert.equal(state.jobs.a.buildId, 'a-b1');
    });

    it('an orphan of a job that already succeeded is stopped and re-runs nothing', () => {
      const done = play(started().state, ev.build('a', 'SUCCEEDED')).state;
      const { state, effects } = play(done, orphan('IN_PROGRESS'));
      assert.deepEqual(effects, [{ type: 'StopBuild', runId: RUN, job: 'a', buildId: 'a-orphan' }]);
      assert.deepEqual(state.jobs, done.jobs);
      assert.equal(decide(state, orphan('FAILED')).state, state);
    });
  });

  const table: Array<{ name: string; events: (s: RunState) => EngineEvent[]; jobs: Record<string, string>; effects: Effect[]; run?: string; check?: (s: RunState) => void }> = [
    {
      name: 'IN_PROGRESS keeps the job running',
      events: () => [ev.build('a', 'IN_PROGRESS')],
      jobs: { a: 'running', b: 'pending', c: 'pending', other: 'queued' },
      effects: [],
    },
    {
      name: 'SUCCEEDED records outputs and starts the jobs that became ready',
      events: () => [ev.build('a', 'SUCCEEDED', 1, { outputs: { digest: 'sha256:1' } })],
      jobs: { a: 'succeeded', b: 'queued', c: 'pending', other: 'queued' },
      effects: [startBuild('b')],
      check: (s) => { assert.deepEqual(s.jobs.a.outputs, { digest: 'sha256:1' }); assert.ok(s.jobs.a.finishedAt); },
    },
    {
      name: 'FAILED with a retry left starts the next attempt with a new token',
      events: () => [ev.build('a', 'FAILED', 1, { reason: 'exit 1' })],
      jobs: { a: 'queued', b: 'pending', c: 'pending', other: 'queued' },
      effects: [startBuild('a', 2)],
      check: (s) => {
        assert.equal(s.jobs.a.attempt, 2);
        assert.equal(s.jobs.a.buildId, undefined);
        assert.match(s.jobs.a.reason!, /attempt 1 of 2: build failed: exit 1; retrying/);
        // The first attempt's build stays known, so its log can still be read.
        assert.deepEqual(s.jobs.a.earlierBuilds?.map((b) => b.attempt), [1]);
        assert.ok(s.jobs.a.earlierBuilds?.[0].buildId);
      },
    },
    {
      name: 'FAILED on the last attempt fails the job and skips its dependents transitively',
      events: () => [ev.build('a', 'FAILED', 1), ev.jobStarted('a', 2), ev.build('a', 'FAILED', 2, { reason: 'exit 2' })],
      jobs: { a: 'failed', b: 'skipped', c: 'skipped', other: 'queued' },
      effects: [],
      run: 'running',
      check: (s) => {
        assert.equal(s.jobs.a.reason, 'build failed: exit 2 (attempt 2 of 2)');
        assert.equal(s.jobs.b.reason, 'skipped because "a" failed');
        assert.equal(s.jobs.c.reason, 'skipped because "a" failed');
      },
    },
    {
      name: 'TIMED_OUT counts as a failed attempt',
      events: () => [ev.build('a', 'TIMED_OUT')],
      jobs: { a: 'queued', b: 'pending', c: 'pending', other: 'queued' },
      effects: [startBuild('a', 2)],
    },
    {
      name: 'FAULT counts as a failed attempt',
      events: () => [ev.build('a', 'FAULT')],
      jobs: { a: 'queued', b: 'pending', c: 'pending', other: 'queued' },
      effects: [startBuild('a', 2)],
    },
    {
      name: 'STOPPED outside a cancel counts as a failed attempt',
      events: () => [ev.build('a', 'STOPPED')],
      jobs: { a: 'queued', b: 'pending', c: 'pending', other: 'queued' },
      effects: [startBuild('a', 2)],
      check: (s) => assert.match(s.jobs.a.reason!, /build was stopped/),
    },
    {
      name: 'an event for an earlier attempt changes nothing',
      events: () => [ev.build('a', 'FAILED', 1), ev.build('a', 'SUCCEEDED', 1)],
      jobs: { a: 'queued', b: 'pending', c: 'pending', other: 'queued' },
      effects: [],
    },
    {
      name: 'IN_PROGRESS after SUCCEEDED never moves the job back',
      events: () => [ev.build('a', 'SUCCEEDED'), ev.build('a', 'IN_PROGRESS')],
      jobs: { a: 'succeeded', b: 'queued', c: 'pending', other: 'queued' },
      effects: [],
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const start = started().state;
      const { state, effects } = play(start, ...row.events(start));
      assert.deepEqual(statuses(state), row.jobs);
      assert.deepEqual(effects, row.effects);
      assert.equal(state.status, row.run ?? 'running');
      row.check?.(state);
    });
  }

  it('ends right when SUCCEEDED arrives before JobStarted and IN_PROGRESS', () => {
    const { state } = play(undefined, ev.requested({ a: build() }), ev.build('a', 'SUCCEEDED'), ev.build('a', 'IN_PROGRESS'), ev.jobStarted('a'));
    assert.equal(state.jobs.a.status, 'succeeded');
    assert.equal(state.status, 'succeeded');
  });

  it('fails the run only after jobs on other branches of the DAG finish', () => {
    const plan = { a: build(), b: build(['a']), slow: build(), after: build(['slow']) };
    const failedA = play(undefined, ev.requested(plan), ev.build('a', 'FAILED'));
    assert.equal(failedA.state.status, 'running');
    assert.deepEqual(failedA.effects, []);
    const slowDone = play(failedA.state, ev.build('slow', 'SUCCEEDED'));
    assert.deepEqual(slowDone.effects, [startBuild('after')]);
    const end = play(slowDone.state, ev.build('after', 'SUCCEEDED'));
    assert.equal(end.state.status, 'failed');
    assert.deepEqual(statuses(end.state), { a: 'failed', b: 'skipped', slow: 'succeeded', after: 'succeeded' });
    assert.deepEqual(end.effects, [notify('run_failed')]);
    assert.equal(end.state.finishedAt, end.state.updatedAt);
    assert.equal(end.state.reason, 'job "a" failed: build failed');
  });

  it('succeeds when every job succeeded, and tells a queued pipeline to start the next run', () => {
    const { state, effects } = play(undefined, ev.requested({ a: build(), b: build(['a']) }, { concurrency: 'queued' }), ev.build('a', 'SUCCEEDED'), ev.build('b', 'SUCCEEDED'));
    assert.equal(state.status, 'succeeded');
    assert.deepEqual(effects, [notify('run_succeeded'), { type: 'StartQueuedRun', pipelineId: 'pipe', afterRunId: RUN }]);
  });

  it('starts a job with two needs once, when the second need succeeds', () => {
    const plan = { a: build(), b: build(), c: build(['a', 'b', 'a']) };
    const one = play(undefined, ev.requested(plan), ev.build('a', 'SUCCEEDED'));
    assert.deepEqual(one.effects, []);
    const two = play(one.state, ev.build('b', 'SUCCEEDED'));
    assert.deepEqual(two.effects, [startBuild('c')]);
  });
});

// ---- approvals and releases ---------------------------------------------------------

describe('approvals', () => {
  const plan = () => ({ gate: approval(), prod: deploy(['gate'], 'prod') });

  it('an approval succeeds the job and starts its dependents', () => {
    const { state, effects } = play(undefined, ev.requested(plan()), ev.approved('gate', 'ana'));
    assert.deepEqual(statuses(state), { gate: 'succeeded', prod: 'queued' });
    assert.equal(state.jobs.gate.approvedBy, 'ana');
    assert.deepEqual(effects, [{ type: 'StartRelease', runId: RUN, job: 'prod', attempt: 1, target: 'prod', token: `${RUN}:prod:1` }]);
  });

  it('a rejection fails the job, skips its dependents and fails the run', () => {
    const { state, effects } = play(undefined, ev.requested(plan()), ev.rejected('gate', 'ana', 'not on a Friday'));
    assert.deepEqual(statuses(state), { gate: 'failed', prod: 'skipped' });
    assert.equal(state.jobs.gate.reason, 'rejected by ana: not on a Friday');
    assert.equal(state.status, 'failed');
    assert.deepEqual(effects, [notify('run_failed')]);
  });

  it('an approval for a job that is not waiting changes nothing', () => {
    const s = play(undefined, ev.requested({ a: build(), gate: approval(['a']) })).state;
    const d = decide(s, ev.approved('gate'));
    assert.equal(d.state, s);
    assert.deepEqual(d.effects, []);
  });
});

describe('release progress', () => {
  const progressed = (job: string, detail: string, attempt = 1): EngineEvent => ({ ...base(), type: 'ReleaseProgressed', job, attempt, releaseId: `rel-${job}-${attempt}`, detail });
  const plan = () => ({ stg: deploy([], 'staging', 1), smoke: build(['stg']) });

  it('each step of a live release is recorded on its job, in order, without changing any status', () => {
    const { state, effects } = play(undefined, ev.requested(plan()), ev.releaseStarted('stg'), progressed('stg', 'green steady'), progressed('stg', '10% on green'));
    assert.deepEqual(state.jobs.stg.steps?.map((s) => s.detail), ['green steady', '10% on green']);
    assert.equal(state.jobs.stg.status, 'running');
    assert.deepEqual(effects.filter((e) => e.type !== 'StartRelease'), []);
  });

  it('steps of an old attempt, or after the job ended, are not recorded', () => {
    const { state } = play(undefined, ev.requested(plan()), ev.releaseStarted('stg'), ev.releaseFinished('stg', 'succeeded'), progressed('stg', 'late'), progressed('stg', 'attempt 2?', 2));
    assert.equal(state.jobs.stg.steps, undefined);
  });

  it('a job keeps its latest steps only', () => {
    const events = Array.from({ length: 60 }, (_, i) => progressed('stg', `step ${i}`));
    const { state } = play(undefined, ev.requested(plan()), ev.releaseStarted('stg'), ...events);
    assert.equal(state.jobs.stg.steps?.length, MAX_JOB_STEPS);
    assert.equal(state.jobs.stg.steps?.at(-1)?.detail, 'step 59');
  });
});

describe('releases', () => {
  const plan = () => ({ stg: deploy([], 'staging', 1), smoke: build(['stg']) });

  const table: Array<{ name: string; events: EngineEvent[]; jobs: Record<string, string>; effects: Effect[]; run: string; outputs?: Record<string, string>; reason?: RegExp }> = [
    {
      name: 'ReleaseStarted marks the deploy job running',
      events: [ev.releaseStarted('stg')],
      jobs: { stg: 'running', smoke: 'pending' }, effects: [], run: 'running', outputs: { releaseId: 'rel-stg-1' },
    },
    {
      name: 'a succeeded release succeeds the job and starts its dependents',
      events: [ev.releaseStarted('stg'), ev.releaseFinished('stg', 'succeeded')],
      jobs: { stg: 'succeeded', smoke: 'queued' }, effects: [notify('released', 'stg'), startBuild('smoke')], run: 'running',
      outputs: { releaseId: 'rel-stg-1', releaseOutcome: 'succeeded' },
    },
    {
      name: 'a rolled back release fails the job without a retry',
      events: [ev.releaseStarted('stg'), ev.releaseFinished('stg', 'rolled_back', 1, 'alarm 5xx')],
      jobs: { stg: 'failed', smoke: 'skipped' }, effects: [notify('rolled_back', 'stg'), notify('run_failed')], run: 'failed',
      outputs: { releaseId: 'rel-stg-1', releaseOutcome: 'rolled_back' }, reason: /release rolled back: alarm 5xx/,
    },
    {
      name: 'a failed release is retried while attempts remain',
      events: [ev.releaseStarted('stg'), ev.releaseFinished('stg', 'failed', 1, 'target locked')],
      jobs: { stg: 'queued', smoke: 'pending' },
      effects: [{ type: 'StartRelease', runId: RUN, job: 'stg', attempt: 2, target: 'staging', token: `${RUN}:stg:2` }], run: 'running',
    },
    {
      name: 'ReleaseFinished before ReleaseStarted still ends the job',
      events: [ev.releaseFinished('stg', 'succeeded'), ev.releaseStarted('stg')],
      jobs: { stg: 'succeeded', smoke: 'queued' }, effects: [], run: 'running',
    },
  ];
  for (const row of table) {
    it(row.name, () => {
      const { state, effects } = play(undefined, ev.requested(plan()), ...row.events);
      assert.deepEqual(statuses(state), row.jobs);
      assert.deepEqual(effects, row.effects);
      assert.equal(state.status, row.run);
      if (row.outputs) assert.deepEqual(state.jobs.stg.outputs, row.outputs);
      if (row.reason) assert.match(state.jobs.stg.reason!, row.reason);
    });
  }
});

// ---- cancel, supersede, failure to plan ---------------------------------------------

describe('cancelling a run', () => {
  const plan = () => ({ a: build(), b: build(), gate: approval(), c: build(['a']) });

  it('cancels pending, queued and waiting jobs, stops running builds and ends cancelled', () => {
    const start = play(undefined, ev.requested(plan()), ev.jobStarted('a')).state;
    const { state, effects } = play(start, ev.cancel('bob'));
    assert.deepEqual(statuses(state), { a: 'cancelled', b: 'cancelled', gate: 'cancelled', c: 'cancelled' });
    assert.equal(state.status, 'cancelled');
    assert.equal(state.reason, 'cancelled by bob');
    assert.deepEqual(effects, [{ type: 'StopBuild', runId: RUN, job: 'a', buildId: 'a-b1' }, notify('run_cancelled')]);
  });

  it('asks the releaser to roll a running release back and ends cancelled when it has', () => {
    const start = play(undefined, ev.requested({ d: deploy(), after: build(['d']), side: build() }), ev.releaseStarted('d')).state;
    const cancelled = play(start, ev.cancel());
    assert.equal(cancelled.state.status, 'running');
    assert.equal(cancelled.state.stopping, 'cancelled');
    assert.deepEqual(statuses(cancelled.state), { d: 'running', after: 'cancelled', side: 'cancelled' });
    assert.deepEqual(cancelled.effects, [{ type: 'CancelRelease', runId: RUN, job: 'd', target: 'staging' }]);
    const end = play(cancelled.state, ev.releaseFinished('d', 'rolled_back'));
    assert.equal(end.state.status, 'cancelled');
    assert.equal(end.state.stopping, undefined);
    assert.equal(end.state.jobs.d.status, 'cancelled');
    assert.deepEqual(end.effects, [notify('rolled_back', 'd'), notify('run_cancelled')]);
  });

  it('a second cancel while the release rolls back asks for nothing twice', () => {
    const stopping = play(undefined, ev.requested({ d: deploy() }), ev.releaseStarted('d'), ev.cancel('bob')).state;
    const again = decide(stopping, ev.cancel('eve'));
    assert.equal(again.state, stopping);
    assert.deepEqual(again.effects, []);
  });

  it('stops a build that reports its start after the cancel, once', () => {
    const cancelled = play(undefined, ev.requested({ a: build() }), ev.cancel()).state;
    const late = play(cancelled, ev.jobStarted('a'));
    assert.deepEqual(late.effects, [{ type: 'StopBuild', runId: RUN, job: 'a', buildId: 'a-b1' }]);
    assert.equal(late.state.status, 'cancelled');
    const again = play(late.state, ev.build('a', 'IN_PROGRESS'));
    assert.deepEqual(again.effects, []);
    assert.equal(again.state, late.state);
  });

  it('stops nothing when a cancelled job\'s build reports that it already finished', () => {
    const cancelled = play(undefined, ev.requested({ a: build() }), ev.cancel()).state;
    const late = decide(cancelled, ev.build('a', 'SUCCEEDED'));
    assert.equal(late.state, cancelled);
    assert.deepEqual(late.effects, []);
  });

  it('ends a queued run at once, without starting the next queued run', () => {
    const { state, effects } = play(undefined, ev.requested({ a: build() }, { admission: 'queue', concurrency: 'queued' }), ev.cancel());
    assert.equal(state.status, 'cancelled');
    assert.deepEqual(statuses(state), { a: 'cancelled' });
    assert.deepEqual(effects, [notify('run_cancelled')]);
  });
});

describe('superseding a run', () => {
  it('cancels pending jobs naming the newer run and stops builds', () => {
    const start = play(undefined, ev.requested({ a: build(), b: build(['a']) }), ev.jobStarted('a')).state;
    const { state, effects } = play(start, ev.superseded('run-9'));
    assert.equal(state.status, 'superseded');
    assert.deepEqual(statuses(state), { a: 'cancelled', b: 'cancelled' });
    assert.equal(state.jobs.b.reason, 'superseded by run run-9');
    assert.deepEqual(effects, [{ type: 'StopBuild', runId: RUN, job: 'a', buildId: 'a-b1' }, notify('run_superseded')]);
  });

  it('never cuts a running release in half and starts nothing after it', () => {
    const start = play(undefined, ev.requested({ d: deploy(), smoke: build(['d']), lint: build() }), ev.releaseStarted('d')).state;
    const sup = play(start, ev.superseded('run-9'));
    assert.equal(sup.state.status, 'running');
    assert.equal(sup.state.stopping, 'superseded');
    assert.deepEqual(statuses(sup.state), { d: 'running', smoke: 'cancelled', lint: 'cancelled' });
    assert.deepEqual(sup.effects, []);
    const end = play(sup.state, ev.releaseFinished('d', 'succeeded'));
    assert.equal(end.state.status, 'superseded');
    assert.equal(end.state.jobs.d.status, 'succeeded');
    assert.deepEqual(end.effects, [notify('released', 'd'), notify('run_superseded')]);
  });

  it('does not retry a release that failed after the run was superseded', () => {
    const start = play(undefined, ev.requested({ d: deploy([], 'staging', 2) }), ev.releaseStarted('d'), ev.superseded()).state;
    const { state, effects } = play(start, ev.releaseFinished('d', 'failed', 1, 'tasks never healthy'));
    assert.equal(state.jobs.d.status, 'failed');
    assert.equal(state.status, 'superseded');
    assert.deepEqual(effects, [notify('run_superseded')]);
  });

  it('lets a cancel that follows a supersede roll the release back', () => {
    const start = play(undefined, ev.requested({ d: deploy() }), ev.releaseStarted('d'), ev.superseded()).state;
    const { state, effects } = play(start, ev.cancel());
    assert.equal(state.stopping, 'cancelled');
    assert.deepEqual(effects, [{ type: 'CancelRelease', runId: RUN, job: 'd', target: 'staging' }]);
  });
});

describe('a run that fails to plan', () => {
  it('fails with the reason and cancels every job', () => {
    const start = play(undefined, ev.requested({ a: build(), b: build(['a']) }, { concurrency: 'queued' }), ev.jobStarted('a')).state;
    const { state, effects } = play(start, ev.failedToPlan('pipeline.yml: jobs.x.kind: unknown kind'));
    assert.equal(state.status, 'failed');
    assert.equal(state.reason, 'pipeline.yml: jobs.x.kind: unknown kind');
    assert.deepEqual(statuses(state), { a: 'cancelled', b: 'cancelled' });
    assert.deepEqual(effects, [
      { type: 'StopBuild', runId: RUN, job: 'a', buildId: 'a-b1' },
      notify('run_failed'),
      { type: 'StartQueuedRun', pipelineId: 'pipe', afterRunId: RUN },
    ]);
  });
});

// ---- idempotency and stickiness ---------------------------------------------------------

describe('idempotency', () => {
  it('a redelivered build event starts nothing twice', () => {
    const s = play(undefined, ev.requested({ a: build(), b: build(['a']) })).state;
    const succeeded = ev.build('a', 'SUCCEEDED');
    const first = decide(s, succeeded);
    assert.deepEqual(first.effects, [startBuild('b')]);
    const second = decide(first.state, succeeded);
    assert.equal(second.state, first.state);
    assert.deepEqual(second.effects, []);
  });

  it('the same event under a new id starts nothing twice either', () => {
    const s = play(undefined, ev.requested({ a: build(), b: build(['a']) }), ev.build('a', 'SUCCEEDED')).state;
    const d = decide(s, ev.build('a', 'SUCCEEDED'));
    assert.equal(d.state, s);
    assert.deepEqual(d.effects, []);
  });

  it('records applied event ids, keeping only the latest ones', () => {
    const created = play(undefined, ev.requested({ a: build() })).state;
    const full = { ...created, appliedEventIds: Array.from({ length: APPLIED_EVENT_IDS_LIMIT }, (_, i) => `old-${i}`) };
    const e = ev.jobStarted('a');
    const { state } = play(full, e);
    assert.equal(state.appliedEventIds.length, APPLIED_EVENT_IDS_LIMIT);
    assert.equal(state.appliedEventIds.at(-1), e.id);
    assert.equal(state.appliedEventIds[0], 'old-1');
  });

  it('sets updatedAt from the event on every accepted event', () => {
    const s = play(undefined, ev.requested({ a: build() })).state;
    const e = ev.jobStarted('a');
    assert.equal(decide(s, e).state.updatedAt, e.at);
  });

  it('ignores events naming an unknown job', () => {
    const s = play(undefined, ev.requested({ a: build() })).state;
    for (const e of [ev.jobStarted('ghost'), ev.build('ghost', 'SUCCEEDED'), ev.approved('ghost'), ev.releaseFinished('ghost', 'succeeded')]) {
      const d = decide(s, e);
      assert.equal(d.state, s);
      assert.deepEqual(d.effects, []);
    }
  });

  it('changes nothing once the run has ended', () => {
    const done = play(undefined, ev.requested({ a: build(), gate: approval() }), ev.approved('gate'), ev.build('a', 'SUCCEEDED')).state;
    assert.equal(done.status, 'succeeded');
    for (const e of [ev.cancel(), ev.superseded(), ev.failedToPlan('x'), ev.dequeued(), ev.build('a', 'FAILED'), ev.rejected('gate')]) {
      const d = decide(done, e);
      assert.equal(d.state, done, e.type);
      assert.deepEqual(d.effects, []);
    }
  });

  it('never mutates the state it is given', () => {
    const s = play(undefined, ev.requested({ a: build(), b: build(['a']) })).state;
    const snapshot = structuredClone(s);
    decide(s, ev.build('a', 'SUCCEEDED'));
    decide(s, ev.cancel());
    assert.deepEqual(s, snapshot);
  });
});
