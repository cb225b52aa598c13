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
}

export interface ApplyResult {
  state: RunState;
  /**
   * Effects to carry out. When `applied` is false because the event had been
   * applied before, these are the effects that event produced (if it was the
   * last one applied): a redelivery after a crash between "saved" and "effects
   * done" repeats them, and their deterministic tokens make that safe.
   */
  effects: Effect[];
  /** False when nothing was written: the event had been applied already, or it changed nothing. */
  applied: boolean;
}

/**
 * What the run item keeps besides `RunState`: the effects of the last applied
 * event. Stores persist the whole state object, so this rides along in it.
 */
export type RunStateWithOutbox = RunState & { lastApplied?: { eventId: string; effects: Effect[] } };

export async function applyEvent(deps: ApplyEventDeps, event: EngineEvent): Promise<ApplyResult> {
  const maxAttempts = deps.maxAttempts ?? 5;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
  const backoff = deps.backoffMs ?? defaultBackoff;

  for (let attempt = 1; ; attempt++) {
    if (attempt > 1) await sleep(backoff(attempt));
    const current = (await load(deps.runs, event)) as RunStateWithOutbox | undefined;

    if (current?.appliedEventIds.includes(event.id)) {
      const replay = current.lastApplied?.eventId === event.id ? current.lastApplied.effects : [];
      return { state: current, effects: replay, applied: false };
    }

    const decision = deps.decide(current, event);
    const next = decision.state as RunStateWithOutbox;
    // decide hands back the very same object when an event changes nothing (stale attempt, ended run...).
    if (current && decision.effects.length === 0 && (next === current || sameState(current, next))) {
      return { state: current, effects: [], applied: false };
    }
    next.lastApplied = { eventId: event.id, effects: decision.effects };

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

/** Ignores the outbox, which only says what the previous event did. */
function sameState(a: RunStateWithOutbox, b: RunStateWithOutbox): boolean {
  const { lastApplied: _a, ...restA } = a;
  const { lastApplied: _b, ...restB } = b;
  return isDeepStrictEqual(restA, restB);
}

function defaultBackoff(attempt: number): number {
  return Math.random() * Math.min(200, 10 * 2 ** attempt);
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}
