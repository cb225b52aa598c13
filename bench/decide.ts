/**
 * decide() time per event (median, p99) for runs of 10, 100 and 500 jobs, and
 * planning time for a 500-job pipeline. Each run is a layered DAG driven to
 * success event by event, the way the engine would see it: per build
 * JobStarted, IN_PROGRESS, SUCCEEDED; per release ReleaseStarted, ReleaseFinished.
 *
 * Alone: `node --import tsx bench/decide.ts`
 */
import { pathToFileURL } from 'node:url';
import { decide } from '../shared/domain/decide.ts';
import { topoOrder } from '../shared/domain/dag.ts';
import { planRun } from '../shared/domain/plan.ts';
import type { JobSpec, PipelineSpec } from '../shared/domain/pipeline.ts';
import type { EngineEvent } from '../shared/domain/run-events.ts';
import type { JobPlan, RunState, Trigger } from '../shared/domain/run.ts';

const TRIGGER: Trigger = { event: 'push', branch: 'main', commit: '0123456789abcdef' };

/** Deterministic PRNG so every run of the bench measures the same graphs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A layered DAG: about sqrt(n) layers; each job needs 1-3 jobs of the layer
 * before. Builds mostly, an image job per layer, deploys in the last layer.
 */
function layeredPlan(n: number): Record<string, JobPlan> {
  const random = prng(n);
  const layerCount = Math.max(2, Math.round(Math.sqrt(n)));
  const width = Math.ceil(n / layerCount);
  const plan: Record<string, JobPlan> = {};
  let previous: string[] = [];
  for (let layer = 0, made = 0; made < n; layer++) {
    const current: string[] = [];
    for (let i = 0; i < width && made < n; i++, made++) {
      const name = `L${layer}-job${i}`;
      const needs = new Set<string>();
      const want = previous.length === 0 ? 0 : 1 + Math.floor(random() * 3);
      while (needs.size < Math.min(want, previous.length)) needs.add(previous[Math.floor(random() * previous.length)]);
      const last = made >= n - Math.min(3, width);
      plan[name] = last
        ? { kind: 'deploy', needs: [...needs], maxAttempts: 1, target: `target-${i}` }
        : { kind: i === 0 && layer > 0 ? 'image' : 'build', needs: [...needs], maxAttempts: 2 };
      current.push(name);
    }
    previous = current;
  }
  return plan;
}

interface RunTimes {
  perEventNs: bigint[];
  cloneNs: bigint[];
  loadedNs: bigint[];
  events: number;
  finalBytes: number;
  status: string;
}

/** Drives one run to its end, timing each decide() call. */
function driveRun(plan: Record<string, JobPlan>, runId: string): RunTimes {
  let tick = 0;
  const at = () => new Date(Date.UTC(2026, 0, 1) + ++tick * 1000).toISOString();
  const queue: EngineEvent[] = [];
  const perEventNs: bigint[] = [];
  const cloneNs: bigint[] = [];
  const samples: RunState[] = [];
  const loadedNs: bigint[] = [];
  /** [event index, state before it] */
  const sampledEvents: Array<[number, RunState]> = [];

  const follow = (effects: ReturnType<typeof decide>['effects']) => {
    for (const e of effects) {
      const base = { runId, at: at() };
      if (e.type === 'StartBuild') {
        const buildId = `build-${e.job}-${e.attempt}`;
        queue.push(
          { ...base, id: `js:${e.token}`, type: 'JobStarted', job: e.job, attempt: e.attempt, buildId },
          { ...base, id: `ip:${e.token}`, type: 'BuildStateChanged', job: e.job, attempt: e.attempt, buildId, state: 'IN_PROGRESS' },
          { ...base, id: `ok:${e.token}`, type: 'BuildStateChanged', job: e.job, attempt: e.attempt, buildId, state: 'SUCCEEDED', outputs: { imageUri: `repo:${e.job}` } },
        );
      } else if (e.type === 'StartRelease') {
        const releaseId = `rel-${e.job}-${e.attempt}`;
        queue.push(
          { ...base, id: `rs:${e.token}`, type: 'ReleaseStarted', job: e.job, attempt: e.attempt, releaseId },
          { ...base, id: `rf:${e.token}`, type: 'ReleaseFinished', job: e.job, attempt: e.attempt, releaseId, outcome: 'succeeded' },
        );
      }
    }
  };

  const requested: EngineEvent = {
    id: `req:${runId}`, runId, at: at(), type: 'RunRequested', pipelineId: 'bench', pipelineVersion: 1,
    concurrency: 'superseded', trigger: TRIGGER, plan, skippedByWhen: [], admission: 'start',
  };
  let t0 = process.hrtime.bigint();
  let decision = decide(undefined, requested);
  perEventNs.push(process.hrtime.bigint() - t0);
  let state: RunState = decision.state;
  follow(decision.effects);
  for (let i = 0; i < queue.length; i++) {
    if (i % 8 === 4) sampledEvents.push([i, state]);
    t0 = process.hrtime.bigint();
    decision = decide(state, queue[i]);
    perEventNs.push(process.hrtime.bigint() - t0);
    state = decision.state;
    follow(decision.effects);
    if (i % 8 === 0) samples.push(state);
  }
  // In Lambda the state arrives freshly unmarshalled, so V8 has never seen its shape: time decide on such copies too.
  for (const [index, sample] of sampledEvents) {
    const loaded = JSON.parse(JSON.stringify(sample)) as RunState;
    t0 = process.hrtime.bigint();
    decide(loaded, queue[index]);
    loadedNs.push(process.hrtime.bigint() - t0);
  }
  // What a naive deep copy per event would cost, for comparison with copy-on-write (timed apart, so its garbage stays out of decide's figures).
  for (const sample of samples) {
    t0 = process.hrtime.bigint();
    structuredClone(sample);
    cloneNs.push(process.hrtime.bigint() - t0);
  }
  return { perEventNs, cloneNs, loadedNs, events: perEventNs.length, finalBytes: Buffer.byteLength(JSON.stringify(state)), status: state.status };
}

function quantile(values: bigint[], q: number): number {
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
}

const us = (ns: number) => (ns / 1000).toFixed(1);

function pipelineSpec(plan: Record<string, JobPlan>): PipelineSpec {
  const jobs: Record<string, JobSpec> = {};
  for (const [name, p] of Object.entries(plan)) {
    jobs[name] = {
      name, kind: p.kind, needs: p.needs,
      when: name.endsWith('job1') ? { branches: ['main', 'release/**'], tags: ['v*'], events: ['push', 'tag'] } : { branches: [], tags: [], events: [] },
      install: [], commands: ['make test'], cache: [], env: {}, outputs: [], inputs: [],
      timeoutMinutes: 30, retries: p.maxAttempts - 1, compute: 'small',
      ...(p.kind === 'deploy' ? { deploy: { target: p.target!, strategy: 'blue-green', steps: [10, 50, 100], intervalSeconds: 60, bakeSeconds: 300, alarms: [], rollbackWindowMinutes: 60 } } : {}),
    };
  }
  return {
    name: 'bench',
    source: { provider: 'github', repository: 'acme/bench', triggers: { events: ['push'], branches: ['**'], tags: [], paths: { include: [], exclude: [] } } },
    concurrency: 'superseded',
    jobs,
    notifications: [],
  };
}

export async function benchDecide(): Promise<void> {
  const rows: Array<Record<string, string | number>> = [];
  for (const [size, repetitions] of [[10, 200], [100, 30], [500, 8]] as const) {
    const plan = layeredPlan(size);
    driveRun(plan, 'warmup'); // let the JIT settle before measuring
    const all: bigint[] = [];
    const clones: bigint[] = [];
    const loaded: bigint[] = [];
    let last: RunTimes | undefined;
    for (let r = 0; r < repetitions; r++) {
      last = driveRun(plan, `run-${size}-${r}`);
      if (last.status !== 'succeeded') throw new Error(`bench run of ${size} jobs ended ${last.status}`);
      all.push(...last.perEventNs);
      clones.push(...last.cloneNs);
      loaded.push(...last.loadedNs);
    }
    rows.push({
      jobs: size,
      'events/run': last!.events,
      'median µs': us(quantile(all, 0.5)),
      'p99 µs': us(quantile(all, 0.99)),
      'from JSON median µs': us(quantile(loaded, 0.5)),
      'structuredClone median µs': us(quantile(clones, 0.5)),
      'final state KB': (last!.finalBytes / 1024).toFixed(1),
    });
  }
  console.log('decide() per event: a layered DAG driven to success.');
  console.log('  "from JSON" = decide on a state parsed from JSON (as loaded from DynamoDB in Lambda); "structuredClone" = what one deep copy of the state would cost instead of copy-on-write');
  console.table(rows);

  const plan500 = layeredPlan(500);
  const spec = pipelineSpec(plan500);
  const times: bigint[] = [];
  for (let r = 0; r < 120; r++) {
    const t0 = process.hrtime.bigint();
    const planned = planRun(spec, TRIGGER);
    topoOrder(planned.plan);
    const elapsed = process.hrtime.bigint() - t0;
    if (r >= 20) times.push(elapsed); // first repetitions warm the JIT and the glob cache
  }
  console.log('planning a 500-job pipeline (planRun with when filters + topoOrder)');
  console.table([{ jobs: 500, 'median µs': us(quantile(times, 0.5)), 'p99 µs': us(quantile(times, 0.99)), repetitions: times.length }]);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href || import.meta.url === `file://${process.argv[1]}`) {
  await benchDecide();
}
