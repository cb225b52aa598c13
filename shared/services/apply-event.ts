/**
 * Applies one engine event to its run: load, decide, write conditionally. A
 * conflicting write (someone saved in between) reloads and decides again on the
 * newer state; it never overwrites. `decide` is injected so the same loop runs
 * with the real state machine in Lambda and the local mode, and in tests.
 */
import { isDeepStrictEqual } from 'node:util';
import { ConflictError, NotFoundError, PayloadTooLargeError, ValidationError } from '../domain/errors.ts';
import { abortRun } from '../domain/decide.ts';
import { attemptToken, type Decision, type Effect } from '../domain/run-effects.ts';
import { type EngineEvent } from '../domain/run-events.ts';
import { type RunState } from '../domain/run.ts';
import type { RunStore } from '../ports/index.ts';
import { runMessageGroup } from '../ports/messages.ts';
import { RecentStates } from './recent-states.ts';

export interface ApplyEventDeps {
  runs: RunStore;
  decide: (state: RunState | undefined, event: EngineEvent) => Decision;
  /** Load-decide-write attempts before giving up with a ConflictError. @default 5 */
  maxAttempts?: number;
  /** Pause before attempt n (2, 3, ...) after a conflict. @default random jitter up to 10·2^n ms, capped at 200 ms */
  backoffMs?: (attempt: number) => number;
  /** ISO-8601 now: when an outbox entry was saved, i.e. when its effects were first tried. @default the system clock */
  now?: () => string;
  /**
   * The runs this process read or wrote last (a warm Lambda's, the local engine's): an event for
   * one of them is decided on the remembered state instead of a read. @default none, every event reads
   */
  recent?: RecentRuns;
}

/**
 * The state of each run as this process last read or wrote it, newest kept, oldest dropped beyond
 * `limit`. Using it saves a consistent read per event (a round trip on every hop of a run),
 * and is safe because what it saves is only the read:
 * - a decision on a remembered state is written with the condition that the stored version is
 *   still the remembered one, so a state another instance moved on fails that condition and the
 *   event is decided again on a fresh read, as after any conflict;
 * - an event that would change nothing, or that the remembered state says was applied, is
 *   decided again on a fresh read before it is let go: only the store can say that a newer
 *   state would not have wanted it.
 */
export class RecentRuns extends RecentStates<RunStateWithOutbox> {
  constructor(limit = 64) {
    super((state) => state.runId, limit);
  }
}

/**
 * One FIFO message group as this instance holds it: from the batch's receive until its messages
 * are deleted or visible again. Meanwhile no other consumer gets a message of the group ("You must
 * delete the messages in the current message group ID before you can receive more messages within
 * the same message group ID", https://repost.aws/knowledge-center/sqs-fifo-messages-not-returned).
 * A run changes only through the engine: for the events of its own group, and before and beside
 * them in its pipeline's group (created by its run request; a placeholder failed to plan, which
 * only moves a run that has no events to failed), or goes (a pipeline deleted with its history,
 * the TTL), which a conditional write finds. So the version of a run this instance read or wrote
 * during the hold is the stored one until its next write, and an event that changes nothing on
 * it needs no fresh read to be let go. A Lambda invocation that outlives its timeout is ended (the
 * queue's visibility timeout is 6x the function's, infra/constructs/queues.ts), so no earlier
 * holder still writes.
 */
export class HeldGroup {
  /** Run id -> the version seen. */
  private readonly seen = new Map<string, number>();

  constructor(readonly groupId: string) {}

  /** Whether `version` of `runId` is the stored one: the group is the run's, and this version was read or written in this hold. */
  covers(runId: string, version: number): boolean {
    return this.seen.get(runId) === version;
  }

  /** This instance read or wrote `version` of `runId` just now; counted only for the run's own group. */
  saw(runId: string, version: number): void {
    if (this.groupId === runMessageGroup(runId)) this.seen.set(runId, version);
  }

  /** A write failed: what this instance keeps may be behind. */
  lost(runId: string): void {
    this.seen.delete(runId);
  }
}

/** What the caller of applyEvent already knows about the run. */
export interface KnownState {
  /** The run as the caller has just read it from the store (undefined: it does not exist). */
  state: RunState | undefined;
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

/**
 * An effect as the outbox keeps it: without its run id (the run's own) and, for
 * starts, without its token (`attemptToken` of the run, job and attempt). Both
 * come back on a replay; a 200-job run's outbox is half the size for it.
 */
type Compact<E> = E extends { type: 'StartBuild' | 'StartRelease' } ? Omit<E, 'runId' | 'token'> : E extends { runId: string } ? Omit<E, 'runId'> : E;
export type StoredEffect = Effect | Compact<Effect>;

/** One applied event's effects, kept so a redelivery can repeat them. */
export interface OutboxEntry {
  eventId: string;
  effects: StoredEffect[];
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
 * How many effects the outbox keeps besides the newest entry, which is always
 * kept whole (up to 2 per job: a run request starting 200 approvals). Bounds the
 * item (see shared/domain/run-bounds.ts): a stored StartBuild is about 110 bytes,
 * so the outbox stays under ~65 KB next to a 200-job run. A redelivery older than
 * what the outbox keeps repeats nothing; the reconciler repairs what it missed.
 */
export const OUTBOX_EFFECTS_LIMIT = 64;

/**
 * `known`: the run as the caller has just read it, decided on instead of a read of its own
 * (the first attempt only; a conflict reads again). `hold`: the event's message group as the
 * caller holds it; what this process read or wrote of the run during the hold counts as fresh.
 */
export async function applyEvent(deps: ApplyEventDeps, event: EngineEvent, known?: KnownState, hold?: HeldGroup): Promise<ApplyResult> {
  const maxAttempts = deps.maxAttempts ?? 5;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`maxAttempts must be a positive integer, got ${maxAttempts}`);
  const backoff = deps.backoffMs ?? defaultBackoff;
  const remembered = known === undefined ? deps.recent?.get(event.runId) : undefined;
  // The first state to decide on without a read: what the caller read, or what this process read or wrote last.
  let first: { state: RunStateWithOutbox | undefined; fresh: boolean } | undefined = known !== undefined
    ? { state: known.state, fresh: true }
    : remembered !== undefined ? { state: remembered, fresh: hold?.covers(event.runId, remembered.version) === true } : undefined;

  for (let attempt = 1; ; attempt++) {
    if (attempt > 1) await sleep(backoff(attempt));
    const given = first;
    first = undefined;
    let current: RunStateWithOutbox | undefined;
    if (given !== undefined) current = given.state;
    else {
      current = (await load(deps.runs, event)) as RunStateWithOutbox | undefined;
      // Read just now: the stored state, for the rest of the hold and as this process's memory.
      if (current !== undefined) {
        deps.recent?.remember(current);
        hold?.saw(event.runId, current.version);
      }
    }
    // A remembered state may be behind the store: whatever it cannot prove by a write is read again.
    const unproven = given !== undefined && !given.fresh;

    if (current?.appliedEventIds.includes(event.id)) {
      if (unproven) { attempt--; continue; }
      const entry = current.outbox?.find((e) => e.eventId === event.id);
      if (entry === undefined || entry.effects.length === 0) return { state: current, effects: [], applied: false };
      const effects = entry.effects.map((e) => restoreEffect(e, current.runId));
      return { state: current, effects, applied: false, replay: entry.at !== undefined ? { firstTriedAt: entry.at } : {} };
    }

    const decision = deps.decide(current, event);
    // decide hands back the very same object when an event changes nothing (stale attempt, ended run...).
    if (current && decision.effects.length === 0 && (decision.state === current || sameState(current, decision.state))) {
      if (unproven) { attempt--; continue; }
      return { state: current, effects: [], applied: false };
    }
    const at = (deps.now ?? (() => new Date().toISOString()))();
    const next: RunStateWithOutbox = { ...decision.state, outbox: appendOutbox(current?.outbox, { eventId: event.id, effects: decision.effects, at }, event.runId) };

    try {
      if (current) await deps.runs.save(next, current.version);
      else await deps.runs.create(next);
      deps.recent?.remember(next);
      hold?.saw(event.runId, next.version);
      return { state: next, effects: decision.effects, applied: true };
    } catch (err) {
      deps.recent?.forget(event.runId);
      hold?.lost(event.runId);
      // A remembered state that was behind is no contention (nor, it may be, too large): read and decide again at once.
      if (unproven && (err instanceof ConflictError || err instanceof PayloadTooLargeError)) { attempt--; continue; }
      if (err instanceof PayloadTooLargeError && current) return saveOversized(deps, current, event, next, at);
      if (!(err instanceof ConflictError)) throw err;
      if (attempt >= maxAttempts) {
        throw new ConflictError(`event ${event.id} for run ${event.runId} lost the race ${maxAttempts} times; redeliver it to try again`);
      }
    }
  }
}

/** Engine bookkeeping kept when a run outgrows its item: enough to recognise the latest redeliveries. */
const OVERSIZED_KEPT_EVENT_IDS = 16;

/**
 * The decided state is too large for one item (DynamoDB's 400 KB, see
 * shared/domain/run-bounds.ts for why a valid definition never gets here). First
 * the engine's own bookkeeping goes (older applied ids, the outbox but for this
 * event); if that is not enough, the run fails with the reason, shrunk to fit.
 * A run that cannot even be failed is a permanent error (DLQ and its alarm).
 */
async function saveOversized(deps: ApplyEventDeps, current: RunStateWithOutbox, event: EngineEvent, next: RunStateWithOutbox, at: string): Promise<ApplyResult> {
  const trimmed: RunStateWithOutbox = { ...next, appliedEventIds: next.appliedEventIds.slice(-OVERSIZED_KEPT_EVENT_IDS), outbox: next.outbox?.slice(-1) ?? [] };
  try {
    await deps.runs.save(trimmed, current.version);
    return { state: trimmed, effects: (trimmed.outbox ?? []).at(-1)?.eventId === event.id ? restoreAll(trimmed.outbox!.at(-1)!, current.runId) : [], applied: true };
  } catch (err) {
    if (!(err instanceof PayloadTooLargeError)) throw err;
  }
  const reason = `its record grew past DynamoDB's 400 KB item limit while applying ${event.type} (${event.id}); the run cannot go on`;
  const aborted = abortRun(current, event.at, event.id, reason);
  const shrunk: RunStateWithOutbox = {
    ...aborted.state,
    appliedEventIds: aborted.state.appliedEventIds.slice(-OVERSIZED_KEPT_EVENT_IDS),
    jobs: Object.fromEntries(Object.entries(aborted.state.jobs).map(([name, job]) => {
      const { steps: _steps, ...rest } = job;
      return [name, rest];
    })),
    ...(aborted.state.notices ? { notices: aborted.state.notices.slice(-1) } : {}),
    outbox: appendOutbox([], { eventId: event.id, effects: aborted.effects, at }, current.runId),
  };
  try {
    await deps.runs.save(shrunk, current.version);
  } catch (err) {
    if (err instanceof PayloadTooLargeError) throw new ValidationError(`run ${current.runId} is too large to save even failed (${err.message}); it needs a person`);
    throw err;
  }
  return { state: shrunk, effects: aborted.effects, applied: true };
}

function restoreAll(entry: OutboxEntry, runId: string): Effect[] {
  return entry.effects.map((e) => restoreEffect(e, runId));
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

function storeEffect(e: Effect, runId: string): StoredEffect {
  if (!('runId' in e) || e.runId !== runId) return e;
  if ((e.type === 'StartBuild' || e.type === 'StartRelease') && e.token === attemptToken(e.runId, e.job, e.attempt)) {
    const { runId: _runId, token: _token, ...rest } = e;
    return rest;
  }
  if (e.type === 'StartBuild' || e.type === 'StartRelease') return e;
  const { runId: _runId, ...rest } = e;
  return rest as StoredEffect;
}

function restoreEffect(e: StoredEffect, runId: string): Effect {
  if (e.type === 'StartQueuedRun' || 'runId' in e) return e as Effect;
  if ((e.type === 'StartBuild' || e.type === 'StartRelease') && !('token' in e)) return { ...e, runId, token: attemptToken(runId, e.job, e.attempt) } as Effect;
  return { ...e, runId } as Effect;
}

/** Newest last; drops the oldest entries beyond OUTBOX_EFFECTS_LIMIT effects, keeping the newest whole. */
export function appendOutbox(outbox: readonly OutboxEntry[] | undefined, added: { eventId: string; effects: readonly Effect[]; at?: string }, runId: string): OutboxEntry[] {
  if (added.effects.length === 0) return [...(outbox ?? [])];
  const entry: OutboxEntry = { eventId: added.eventId, effects: added.effects.map((e) => storeEffect(e, runId)), ...(added.at !== undefined ? { at: added.at } : {}) };
  const kept: OutboxEntry[] = [entry];
  let total = 0;
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
