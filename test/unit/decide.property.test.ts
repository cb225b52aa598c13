/**
 * Property tests for `decide`: a simulated engine performs the effects, and the
 * events they cause are delivered in a shuffled order, some more than once.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decide } from '../../shared/domain/decide.ts';
import type { ConcurrencyMode, JobKind } from '../../shared/domain/pipeline.ts';
import { TERMINAL_JOB_STATUSES, TERMINAL_RUN_STATUSES, type JobPlan, type RunState } from '../../shared/domain/run.ts';
import { type BuildState, type EngineEvent } from '../../shared/domain/run-events.ts';
import { type Effect } from '../../shared/domain/run-effects.ts';

const RUNS = 250;
const RUN = 'run-p';

// ---- scenario generation ---------------------------------------------------------

interface Scenario {
  plan: Record<string, JobPlan>;
  skippedByWhen: string[];
  concurrency: ConcurrencyMode;
  admission: 'start' | 'queue';
  /** Decides every attempt's outcome, whatever order events arrive in. */
  outcomeSeed: number;
  /** Drives delivery order and duplicates. */
  deliverySeed: number;
  interrupt: 'none' | 'cancel' | 'supersede' | 'failToPlan';
}

const jobArb = fc.record({
  kind: fc.constantFrom<JobKind>('build', 'build', 'image', 'deploy', 'approval'),
  needMask: fc.array(fc.boolean(), { maxLength: 12 }),
  retries: fc.integer({ min: 0, max: 2 }),
  skipByWhen: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
});

const scenarioArb = (interrupts: Scenario['interrupt'][]): fc.Arbitrary<Scenario> =>
  fc.record({
    jobs: fc.array(jobArb, { minLength: 1, maxLength: 12 }),
    concurrency: fc.constantFrom<ConcurrencyMode>('superseded', 'queued', 'parallel'),
    admission: fc.constantFrom<'start' | 'queue'>('start', 'start', 'queue'),
    outcomeSeed: fc.integer(),
    deliverySeed: fc.integer(),
    interrupt: fc.constantFrom(...interrupts),
  }).map(({ jobs, ...rest }) => {
    const plan: Record<string, JobPlan> = {};
    const skippedByWhen: string[] = [];
    jobs.forEach((j, i) => {
      const name = `j${i}`;
      // Needs only on earlier jobs: the graph is a DAG by construction.
      const needs = j.needMask.slice(0, i).flatMap((on, k) => (on ? [`j${k}`] : []));
      plan[name] = { kind: j.kind, needs, maxAttempts: j.retries + 1, ...(j.kind === 'deploy' ? { target: `t${i % 2}` } : {}) };
      if (j.skipByWhen) skippedByWhen.push(name);
    });
    return { plan, skippedByWhen, ...rest };
  });

// ---- deterministic randomness ------------------------------------------------------

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h >>> 0) / 4294967296;
}

function pick<T>(options: readonly T[], r: number): T {
  return options[Math.floor(r * options.length)];
}

// ---- the simulated engine ----------------------------------------------------------------

interface Outcome {
  final: RunState;
  effects: Array<{ effect: Effect; after: RunState; before: RunState }>;
  delivered: EngineEvent[];
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function simulate(s: Scenario): Outcome {
  const random = prng(s.deliverySeed);
  let tick = 0;
  const at = () => new Date(Date.UTC(2026, 0, 1) + ++tick * 1000).toISOString();
  const outcome = (job: string, attempt: number) => hash(`${s.outcomeSeed}:${job}:${attempt}`);

  const pool: EngineEvent[] = [];
  const delivered: EngineEvent[] = [];
  const effects: Outcome['effects'] = [];
  let fresh = 0;
  /** Ids of events that repeat something already delivered. */
  const resent = new Set<string>();

  const perform = (effect: Effect) => {
    const base = { runId: RUN, at: at() };
    switch (effect.type) {
      case 'StartBuild': {
        const { job, attempt } = effect;
        const buildId = `${job}:${attempt}`;
        const state = pick<BuildState>(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'FAULT', 'STOPPED'], outcome(job, attempt));
        pool.push(
          { ...base, id: `started:${buildId}`, type: 'JobStarted', job, attempt, buildId },
          { ...base, id: `progress:${buildId}`, type: 'BuildStateChanged', job, attempt, buildId, state: 'IN_PROGRESS' },
          { ...base, id: `end:${buildId}`, type: 'BuildStateChanged', job, attempt, buildId, state, ...(state === 'SUCCEEDED' ? { outputs: { out: buildId } } : {}) },
        );
        return;
      }
      case 'StopBuild': {
        const attempt = Number(effect.buildId.split(':')[1]);
        pool.push({ ...base, id: `stopped:${effect.buildId}`, type: 'BuildStateChanged', job: effect.job, attempt, buildId: effect.buildId, state: 'STOPPED' });
        return;
      }
      case 'StartRelease': {
        const { job, attempt } = effect;
        const releaseId = `${job}:${attempt}`;
        const result = pick(['succeeded', 'succeeded', 'rolled_back', 'failed'] as const, outcome(job, attempt));
        pool.push(
          { ...base, id: `rel-start:${releaseId}`, type: 'ReleaseStarted', job, attempt, releaseId },
          { ...base, id: `rel-end:${releaseId}`, type: 'ReleaseFinished', job, attempt, releaseId, outcome: result },
        );
        return;
      }
      case 'CancelRelease': {
        // Whichever ReleaseFinished for the attempt arrives first wins, like a releaser racing the cancel.
        const attempt = current.jobs[effect.job].attempt;
        const releaseId = `${effect.job}:${attempt}`;
        pool.push({ ...base, id: `rel-cancel:${releaseId}`, type: 'ReleaseFinished', job: effect.job, attempt, releaseId, outcome: 'rolled_back' });
        return;
      }
      case 'RequestApproval':
        pool.push(outcome(effect.job, 1) < 0.75
          ? { ...base, id: `approve:${effect.job}`, type: 'ApprovalGiven', job: effect.job, by: 'ana' }
          : { ...base, id: `reject:${effect.job}`, type: 'ApprovalRejected', job: effect.job, by: 'ana' });
        return;
      case 'Notify':
      case 'StartQueuedRun':
        return;
      default:
        effect satisfies never;
    }
  };

  const requested: EngineEvent = {
    id: 'requested', runId: RUN, at: at(), type: 'RunRequested', pipelineId: 'pipe', pipelineVersion: 1,
    concurrency: s.concurrency, trigger: { event: 'push', branch: 'main', commit: 'abc' },
    plan: s.plan, skippedByWhen: s.skippedByWhen, admission: s.admission,
  };
  if (s.admission === 'queue') pool.push({ id: 'dequeued', runId: RUN, at: at(), type: 'RunDequeued' });
  if (s.interrupt === 'cancel') pool.push({ id: 'cancel', runId: RUN, at: at(), type: 'CancelRequested', by: 'bob' });
  if (s.interrupt === 'supersede') pool.push({ id: 'supersede', runId: RUN, at: at(), type: 'RunSuperseded', byRunId: 'run-q' });
  if (s.interrupt === 'failToPlan') pool.push({ id: 'fail-plan', runId: RUN, at: at(), type: 'RunFailedToPlan', reason: 'bad yaml' });

  let current: RunState;
  const apply = (event: EngineEvent, decision: { state: RunState; effects: Effect[] }, before: RunState) => {
    delivered.push(event);
    for (const effect of decision.effects) effects.push({ effect, after: decision.state, before });
    current = deepFreeze(decision.state);
    for (const effect of decision.effects) perform(effect);
  };
  {
    const first = decide(undefined, requested);
    current = deepFreeze(first.state);
    delivered.push(requested);
    for (const effect of first.effects) effects.push({ effect, after: first.state, before: first.state });
    for (const effect of first.effects) perform(effect);
  }

  for (let steps = 0; pool.length > 0; steps++) {
    assert.ok(steps < 10_000, 'the simulation does not converge');
    const index = Math.floor(random() * pool.length);
    const event = pool[index];
    // Redelivery: sometimes the message stays in the queue and comes again later.
    if (random() >= 0.2) pool.splice(index, 1);
    // ...and sometimes an old one comes back, as itself or under a fresh id (a second message about the
    // same fact, or one older than the dedupe window): state guards alone must then keep it harmless.
    if (delivered.length > 0 && random() < 0.1) {
      const old = delivered[Math.floor(random() * delivered.length)];
      const again = random() < 0.5 ? old : { ...old, id: `${old.id}#${++fresh}` };
      resent.add(again.id);
      pool.push(again);
    }

    // Sometimes the state comes back from storage, as a fresh object graph.
    if (random() < 0.3) current = deepFreeze(JSON.parse(JSON.stringify(current)) as RunState);
    const before = current;
    const decision = decide(before, event);
    if (resent.has(event.id) || delivered.some((e) => e.id === event.id)) {
      assert.equal(decision.state, before, `repeated ${event.id} changed the state`);
      assert.deepEqual(decision.effects, [], `repeated ${event.id} had effects`);
    }
    const again = decide(deepFreeze(decision.state), event);
    assert.equal(again.state, decision.state, `applying ${event.id} twice changes the state`);
    assert.deepEqual(again.effects, [], `applying ${event.id} twice has effects`);
    apply(event, decision, before);
  }
  return { final: current, effects, delivered };
}

// ---- properties ---------------------------------------------------------------------------

const STARTS = new Set(['StartBuild', 'StartRelease', 'RequestApproval']);

function checkRun(s: Scenario, { final, effects, delivered }: Outcome): void {
  assert.ok(TERMINAL_RUN_STATUSES.has(final.status), `run ended ${final.status}`);
  assert.deepEqual(JSON.parse(JSON.stringify(final)), final, 'the state survives storage unchanged (no undefined fields)');
  assert.equal(final.stopping, undefined);
  for (const [name, job] of Object.entries(final.jobs)) {
    assert.ok(TERMINAL_JOB_STATUSES.has(job.status), `job ${name} ended ${job.status}`);
  }

  const tokens = new Set<string>();
  for (const { effect, after, before } of effects) {
    if (!STARTS.has(effect.type)) continue;
    const job = (effect as { job: string }).job;
    const token = effect.type === 'RequestApproval' ? `approval:${job}` : (effect as { token: string }).token;
    assert.ok(!tokens.has(token), `attempt ${token} started twice`);
    tokens.add(token);
    for (const need of after.plan[job].needs) {
      assert.equal(after.jobs[need].status, 'succeeded', `${job} started before its need ${need} succeeded`);
    }
    assert.ok(!TERMINAL_RUN_STATUSES.has(before.status) && before.stopping === undefined, `${job} started in a ${before.status} run`);
    assert.ok(!s.skippedByWhen.includes(job), `${job} started although its when filter excludes it`);
  }

  const ends = effects.filter(({ effect }) => effect.type === 'Notify' && effect.kind.startsWith('run_') && effect.kind !== 'run_started');
  assert.deepEqual(ends.map(({ effect }) => (effect as { kind: string }).kind), [`run_${final.status}`]);
  const nextRun = effects.filter(({ effect }) => effect.type === 'StartQueuedRun' && effect.afterRunId !== undefined).length;
  assert.equal(nextRun, s.concurrency === 'queued' && final.startedAt !== undefined ? 1 : 0);

  const statuses = Object.values(final.jobs).map((j) => j.status);
  const interrupted = delivered.some((e) => e.type === 'CancelRequested' || e.type === 'RunSuperseded' || e.type === 'RunFailedToPlan');
  switch (final.status) {
    case 'succeeded':
      assert.ok(statuses.every((st) => st === 'succeeded' || st === 'skipped'));
      for (const [name, job] of Object.entries(final.jobs)) {
        if (job.status === 'skipped') assert.match(job.reason!, /when filter|was skipped/, name);
      }
      break;
    case 'failed':
      assert.ok(statuses.includes('failed') || delivered.some((e) => e.type === 'RunFailedToPlan'));
      break;
    case 'cancelled':
      assert.ok(delivered.some((e) => e.type === 'CancelRequested'));
      break;
    case 'superseded':
      assert.ok(delivered.some((e) => e.type === 'RunSuperseded'));
      break;
    default:
      assert.fail(final.status);
  }
  if (!interrupted) assert.ok(!statuses.includes('cancelled'), 'a job was cancelled though nobody cancelled');

  // Every skip has a cause a person can follow: the job's own when filter, a skipped need, or a failed ancestor.
  for (const [name, job] of Object.entries(final.jobs)) {
    if (job.status !== 'skipped') continue;
    const reason = job.reason ?? '';
    const skippedNeed = /^skipped because needed job "(.+)" was skipped$/.exec(reason)?.[1];
    const failedRoot = /^skipped because "(.+)" failed$/.exec(reason)?.[1];
    if (s.skippedByWhen.includes(name)) assert.match(reason, /when filter/);
    else if (skippedNeed !== undefined) assert.ok(s.plan[name].needs.includes(skippedNeed) && final.jobs[skippedNeed].status === 'skipped', `${name}: ${reason}`);
    else if (failedRoot !== undefined) assert.ok(ancestors(s.plan, name).has(failedRoot) && final.jobs[failedRoot].status === 'failed', `${name}: ${reason}`);
    else assert.fail(`${name} skipped for no traceable cause: ${reason}`);
  }
}

function ancestors(plan: Record<string, JobPlan>, name: string): Set<string> {
  const seen = new Set<string>();
  const stack = [...plan[name].needs];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (!seen.has(n)) { seen.add(n); stack.push(...plan[n].needs); }
  }
  return seen;
}

describe('decide under a shuffling, duplicating queue', () => {
  it('always ends terminal, starts nothing early or twice, and is idempotent per event', () => {
    fc.assert(
      fc.property(scenarioArb(['none', 'none', 'none', 'cancel', 'supersede', 'failToPlan']), (s) => {
        checkRun(s, simulate(s));
      }),
      { numRuns: RUNS },
    );
  });

  it('reaches the same job outcomes whatever order the events arrive in', () => {
    fc.assert(
      fc.property(scenarioArb(['none']), fc.integer(), (s, otherSeed) => {
        const one = simulate(s).final;
        const two = simulate({ ...s, deliverySeed: otherSeed }).final;
        assert.equal(two.status, one.status);
        const summary = (r: RunState) => Object.fromEntries(Object.entries(r.jobs).map(([k, j]) => [k, `${j.status}#${j.attempt}`]));
        assert.deepEqual(summary(two), summary(one));
      }),
      { numRuns: RUNS },
    );
  });

  it('never starts a job whose need was skipped by its when filter', () => {
    fc.assert(
      fc.property(scenarioArb(['none']), (s) => {
        const { final } = simulate(s);
        const skipped = new Set(s.skippedByWhen);
        for (const [name, plan] of Object.entries(s.plan)) {
          if (plan.needs.some((n) => skipped.has(n))) assert.equal(final.jobs[name].status, 'skipped', name);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
