/**
 * Applies one engine event to its run: load, decide, write conditionally. A
 * conflicting write (someone saved in between) reloads and decides again on the
 * newer state; it never overwrites. `decide` is injected so the same loop runs
 * with the real state machine in Lambda and the local mode, and in tests.
 */
import { isDeepStrictEqual } from 'node:util';
import { ConflictError, NotFoundError } from '../errors.ts';
import type { Decision, Effect, EngineEvent, RunState } from '../domain/run.ts';
import type { RunStore } from '../ports.ts';

export interface ApplyEventDeps {
  runs: RunStore;
  decide: (state: RunState | undefined, event: EngineEvent) => Decision;
  /** Load-decide-write attempts before giving up with a ConflictError. @default 5 */
  maxAttempts?: number;
  /** Pause before attempt n (2, 3, ...) after a conflict. @default random jitter up to 10·2^n ms, capped at 200 ms */
  backoffMs?: (attempt: number) => number;
  /** ISO-8601 now: when an outbox entry was saved, i.e. when its effects were first tried. @default the system clock */
  now?: () => string;
}

export interface ApplyResult {
  state: RunState;
  /**
   * Effects to carry out. When `applied` is false because the event had been
   * applied before, these are the effects that event produced, from the run's
   * outbox: a redelivery after a crash between "saved" and "effects done"
   * repeats them (deterministic tokens make that safe), even if events of other
   * message groups were applied in between. `state` is then the current state,
   * so an effect that is no longer wanted can be recognised.
   */
  effects: Effect[];
  /** False when nothing was written: the event had been applied already, or it changed nothing. */
  applied: boolean;
  /**
   * Set when `effects` are a replay from the outbox: when they were first tried
   * (absent for entries written before the outbox kept the time). Effects whose
   * safety rests on a time window (CodeBuild's idempotency token) need it.
   */
  replay?: { firstTriedAt?: string };
}

/** One applied event's effects, kept so a redelivery can repeat them. */
export interface OutboxEntry {
  eventId: string;
  effects: Effect[];
  /** ISO-8601: when the event was saved, just before its effects were first tried. */
  at?: string;
}

/**
 * What the run item keeps besides `RunState`: the effects of the latest events
 * that had any, newest last. Stores persist the whole state object, so this
 * rides along in it.
 */
export type RunStateWithOutbox = RunState & { outbox?: OutboxEntry[] };

/**
 * How many effects the outbox keeps in all (the newest entry is always kept
 * whole). Bounds the item: a StartBuild effect is under 200 bytes, so the outbox
 * stays under ~50 KB next to a 200-job run.
 */
export const OUTBOX_EFFECTS_LIMIT = 256;

export async function applyEvent(deps: ApplyEventDeps, event: EngineEvent): Promise<ApplyResult> {
  const maxAttempts = deps.maxAttempts ?? 5;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
  const backoff = deps.backoffMs ?? defaultBackoff;

  for (let attempt = 1; ; attempt++) {
    if (attempt > 1) await sleep(backoff(attempt));
    const current = (await load(deps.runs, event)) as RunStateWithOutbox | undefined;

    if (current?.appliedEventIds.includes(event.id)) {
      const entry = current.outbox?.find((e) => e.eventId === event.id);
      if (entry === undefined || entry.effects.length === 0) return { state: current, effects: [], applied: false };
      return { state: current, effects: entry.effects, applied: false, replay: entry.at !== undefined ? { firstTriedAt: entry.at } : {} };
    }

    const decision = deps.decide(current, event);
    // decide hands back the very same object when an event changes nothing (stale attempt, ended run...).
    if (current && decision.effects.length === 0 && (decision.state === current || sameState(current, decision.state))) {
      return { state: current, effects: [], applied: false };
    }
    const at = (deps.now ?? (() => new Date().toISOString()))();
    const next: RunStateWithOutbox = { ...decision.state, outbox: appendOutbox(current?.outbox, { eventId: event.id, effects: decision.effects, at }) };

    try {
      if (current) await deps.runs.save(next, current.version);
      else await deps.runs.create(next);
      return { state: next, effects: decision.effects, applied: true };
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      if (attempt >= maxAttempts) {
        throw new ConflictError(`event ${event.id} for run ${event.runId} lost the race ${maxAttempts} times; redeliver it to try again`);
      }
    }
  }
}

async function load(runs: RunStore, event: EngineEvent): Promise<RunState | undefined> {
  try {
    return await runs.get(event.runId);
  } catch (err) {
    if (err instanceof NotFoundError && event.type === 'RunRequested') return undefined;
    throw err;
  }
}

/** Ignores the outbox, which only says what earlier events did. */
function sameState(a: RunStateWithOutbox, b: RunStateWithOutbox): boolean {
  const { outbox: _a, ...restA } = a;
  const { outbox: _b, ...restB } = b;
  return isDeepStrictEqual(restA, restB);
}

/** Newest last; drops the oldest entries beyond OUTBOX_EFFECTS_LIMIT effects, keeping the newest whole. */
export function appendOutbox(outbox: readonly OutboxEntry[] | undefined, entry: OutboxEntry): OutboxEntry[] {
  if (entry.effects.length === 0) return [...(outbox ?? [])];
  const kept: OutboxEntry[] = [entry];
  let total = entry.effects.length;
  for (let i = (outbox?.length ?? 0) - 1; i >= 0; i--) {
    const older = outbox![i]!;
    if (total + older.effects.length > OUTBOX_EFFECTS_LIMIT) break;
    kept.unshift(older);
    total += older.effects.length;
  }
  return kept;
}

function defaultBackoff(attempt: number): number {
  return Math.random() * Math.min(200, 10 * 2 ** attempt);
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}
