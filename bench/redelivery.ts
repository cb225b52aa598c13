/**
 * One build per job attempt under redelivery, and the largest run item.
 *
 * Redelivery: runs go through the real engine (handleEngineMessage, decide,
 * applyEvent, the CodeBuild adapter) over in-memory stores and an SDK-level fake
 * of CodeBuild that forgets idempotency tokens after 5 minutes, on a simulated
 * clock. The queue behaves like engine-events.fifo with the engine's settings: a
 * failed message comes back after the 3-minute visibility timeout (a failed run
 * request after 15 s, doubling), at most 5 receives, and a group waits behind
 * its failed message. Faults: sends to the queue fail, StartBuild is throttled,
 * delivered messages come again later (SQS at-least-once, EventBridge retries,
 * a DLQ redrive an hour on). Prints StartBuild calls per build, builds per job
 * attempt and attempts with more than one build.
 *
 * Item size: the largest run the definition and run bounds allow
 * (shared/domain/run-bounds.ts), beside DynamoDB's 400 KB item limit.
 *
 * Alone: `node --import tsx bench/redelivery.ts`
 */
import { pathToFileURL } from 'node:url';
import { CodeBuildRunner } from '../shared/aws/codebuild-runner.ts';
import { MAX_ITEM_BYTES, estimateItemSize, keys } from '../shared/aws/table.ts';
import { decide } from '../shared/domain/decide.ts';
import { largestPlan, largestRun } from '../shared/domain/run-bounds.ts';
import type { BuildStateChanged } from '../shared/domain/run-events.ts';
import { handleEngineMessage, retryDelaySeconds, type EngineDeps } from '../shared/services/run-engine.ts';
import { RetryableError } from '../shared/domain/errors.ts';
import { engineMessageGroup, type EngineMessage } from '../shared/ports/messages.ts';
import type { EventQueue } from '../shared/ports/index.ts';
import { MemoryPipelineStore, MemoryReleaseQueue, MemoryRunStore } from '../test/support/memory-stores.ts';
import { jobSpec, pipelineSpec } from '../test/support/engine-fixtures.ts';
import { FakeCodeBuild } from '../test/support/fake-codebuild.ts';
import { RecordingNotifier } from '../test/support/recorders.ts';

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Pending { seq: number; message: EngineMessage; visibleAt: number; receives: number }

const VISIBILITY_MS = 180_000;
const MAX_RECEIVES = 5;

export interface RedeliveryFigures {
  runs: number;
  builds: number;
  attempts: number;
  startCalls: number;
  throttled: number;
  doubleBuilt: number;
  deliveries: number;
  failedDeliveries: number;
  dlq: number;
  ended: number;
}

/** Drives `runs` runs of a build -> (test, lint, image) -> package pipeline with retries through faults. */
export async function simulateRedelivery(opts: { runs?: number; seed?: number; sendFailRate?: number; throttleRate?: number; duplicateRate?: number } = {}): Promise<RedeliveryFigures> {
  const random = prng(opts.seed ?? 12);
  const sendFailRate = opts.sendFailRate ?? 0.15;
  const throttleRate = opts.throttleRate ?? 0.15;
  const duplicateRate = opts.duplicateRate ?? 0.1;
  let clock = Date.parse('2026-11-30T09:00:00.000Z');
  const codebuild = new FakeCodeBuild(() => clock);
  let throttled = 0;
  codebuild.refuse = () => {
    if (random() >= throttleRate) return undefined;
    throttled++;
    return Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
  };

  let seq = 0;
  const pending: Pending[] = [];
  const sentIds = new Map<string, number>(); // FIFO deduplication: 5 minutes per id
  const enqueue = (message: EngineMessage, at: number) => {
    const last = sentIds.get(message.id);
    if (last !== undefined && at - last < 5 * 60_000) return;
    sentIds.set(message.id, at);
    pending.push({ seq: seq++, message, visibleAt: at, receives: 0 });
  };
  const events: EventQueue = {
    async send(messages) {
      if (random() < sendFailRate) throw new RetryableError('could not enqueue engine message(s): ThrottlingException');
      for (const m of messages) enqueue(m, clock);
    },
  };
  const pipelines = new MemoryPipelineStore();
  pipelines.register('web', pipelineSpec([
    jobSpec('build'),
    jobSpec('test', { needs: ['build'], retries: 2 }),
    jobSpec('lint', { needs: ['build'] }),
    jobSpec('image', { needs: ['build'], kind: 'image', image: { dockerfile: 'Dockerfile', context: '.', repository: 'acme/web', tags: [] } }),
    jobSpec('package', { needs: ['test', 'lint', 'image'], retries: 1 }),
  ], { concurrency: 'parallel' }));
  const runs = new MemoryRunStore();
  const deps: EngineDeps = {
    pipelines, runs, events, releases: new MemoryReleaseQueue(), notifier: new RecordingNotifier(), decide,
    builds: new CodeBuildRunner(codebuild.client, { projects: { small: 'slipway-small' }, artifactBucket: 'artifacts' }),
    now: () => new Date(clock).toISOString(),
  };

  const count = opts.runs ?? 100;
  for (let i = 0; i < count; i++) {
    enqueue({ type: 'RunRequest', id: `req:${i}`, runId: `R${String(i).padStart(4, '0')}`, pipelineId: 'web', at: new Date(clock).toISOString(), trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch: `b${i}`, commit: 'c'.repeat(40) } }, clock + i * 1000);
  }

  // Builds report IN_PROGRESS at once and end 1-10 minutes later (1 in 5 attempts fail), through the queue.
  const reported = new Set<string>();
  const finishAt = new Map<string, number>();
  let deliveries = 0;
  let failedDeliveries = 0;
  let dlq = 0;
  for (let steps = 0; steps < 200_000; steps++) {
    for (const b of codebuild.builds) {
      if (!finishAt.has(b.id)) {
        finishAt.set(b.id, clock + 60_000 + Math.floor(random() * 9 * 60_000));
        enqueue(buildEvent(b, 'IN_PROGRESS', clock), clock + 2_000);
      }
      if (!reported.has(b.id) && finishAt.get(b.id)! <= clock) {
        reported.add(b.id);
        const state = b.status === 'STOPPED' ? 'STOPPED' : random() < 0.2 ? 'FAILED' : 'SUCCEEDED';
        b.status = state === 'STOPPED' ? 'STOPPED' : state;
        enqueue(buildEvent(b, state, clock), clock + 2_000);
      }
    }
    // The deliverable messages: the first pending one of each group.
    const heads = new Map<string, Pending>();
    for (const p of pending) {
      const g = engineMessageGroup(p.message);
      const head = heads.get(g);
      if (head === undefined || p.seq < head.seq) heads.set(g, p);
    }
    const ready = [...heads.values()].sort((a, b) => a.visibleAt - b.visibleAt || a.seq - b.seq)[0];
    const nextBuildEnd = Math.min(...[...finishAt].filter(([id]) => !reported.has(id)).map(([, t]) => t));
    if (ready === undefined && !Number.isFinite(nextBuildEnd)) break;
    if (ready === undefined || ready.visibleAt > nextBuildEnd) {
      clock = Math.max(clock, nextBuildEnd);
      continue;
    }
    clock = Math.max(clock, ready.visibleAt);
    ready.receives++;
    deliveries++;
    try {
      await handleEngineMessage(deps, ready.message);
      pending.splice(pending.indexOf(ready), 1);
      // At-least-once: now and then the same message comes again later (an hour later: a DLQ redrive).
      if (random() < duplicateRate) pending.push({ seq: seq++, message: ready.message, visibleAt: clock + (random() < 0.2 ? 3_600_000 : Math.floor(random() * 600_000)), receives: 0 });
    } catch {
      failedDeliveries++;
      if (ready.receives >= MAX_RECEIVES) {
        dlq++;
        pending.splice(pending.indexOf(ready), 1);
      } else {
        const record = { messageId: String(ready.seq), body: '', attributes: { MessageGroupId: engineMessageGroup(ready.message), ApproximateReceiveCount: String(ready.receives) } };
        const sooner = retryDelaySeconds(record);
        ready.visibleAt = clock + (sooner !== undefined ? sooner * 1000 : VISIBILITY_MS);
      }
    }
  }

  const perAttempt = new Map<string, number>();
  for (const b of codebuild.builds) {
    const key = `${b.env.SLIPWAY_RUN_ID}:${b.env.SLIPWAY_JOB}:${b.env.SLIPWAY_ATTEMPT}`;
    perAttempt.set(key, (perAttempt.get(key) ?? 0) + 1);
  }
  let ended = 0;
  for (const run of runs.items.values()) if (run.status !== 'running' && run.status !== 'queued') ended++;
  return {
    runs: count, builds: codebuild.builds.length, attempts: perAttempt.size, startCalls: codebuild.startCalls, throttled,
    doubleBuilt: [...perAttempt.values()].filter((n) => n > 1).length, deliveries, failedDeliveries, dlq, ended,
  };
}

function buildEvent(b: FakeCodeBuild['builds'][number], state: BuildStateChanged['state'], at: number): BuildStateChanged {
  return {
    type: 'BuildStateChanged', id: `build:${b.id}:${state}`, runId: b.env.SLIPWAY_RUN_ID, at: new Date(at).toISOString(),
    job: b.env.SLIPWAY_JOB, attempt: Number(b.env.SLIPWAY_ATTEMPT), buildId: b.id, state,
  };
}

export function largestRunItem(): { bytes: number; jobs: number; needs: number } {
  const plan = largestPlan();
  const run = largestRun(plan);
  return { bytes: estimateItemSize({ ...keys.run(run.runId), state: run }), jobs: Object.keys(plan).length, needs: Object.values(plan).reduce((n, p) => n + p.needs.length, 0) };
}

export async function benchRedelivery(): Promise<void> {
  const started = Date.now();
  const f = await simulateRedelivery();
  console.log('\nRedelivery (engine + CodeBuild adapter, fake CodeBuild forgetting tokens after 5 min, simulated clock):');
  console.log(`  ${f.runs} runs of 5 jobs; 15% of queue sends fail, 15% of StartBuild calls throttled, 10% of delivered messages come again (1 in 5 of those an hour later)`);
  console.log(`  ${f.deliveries} deliveries, ${f.failedDeliveries} failed and redelivered, ${f.dlq} to the DLQ; ${f.ended} of ${f.runs} runs ended`);
  console.log(`  StartBuild calls per build: ${(f.startCalls / f.builds).toFixed(2)} (${f.startCalls} calls for ${f.builds} builds; ${f.throttled} of them throttled, the rest started a build or got it back by its token); without the throttled: ${((f.startCalls - f.throttled) / f.builds).toFixed(2)}`);
  console.log(`  builds per job attempt: ${(f.builds / f.attempts).toFixed(3)} (${f.builds} builds for ${f.attempts} attempts); attempts with more than one build: ${f.doubleBuilt}`);
  console.log(`  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  const item = largestRunItem();
  console.log('\nRun item size, worst case (shared/domain/run-bounds.ts):');
  console.log(`  ${item.jobs} jobs with 64-character names, ${item.needs} needs, every field at its cap: ~${(item.bytes / 1024).toFixed(1)} KB of DynamoDB's ${MAX_ITEM_BYTES / 1024} KB item limit (${((item.bytes / MAX_ITEM_BYTES) * 100).toFixed(0)}%)`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await benchRedelivery();
