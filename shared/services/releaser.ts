/**
 * Runs releases: one release-steps message in, then load the target, decide
 * (`decideRelease`, pure), save conditionally on the target's version, carry
 * out the effects, and schedule the next poll or tell the engine how it ended.
 *
 * Crash safety: each save stores its effects and the key of the message that
 * caused them (the target's outbox). A message redelivered after a crash
 * between "saved" and "effects done" finds its key there and carries the
 * effects out again (they are idempotent: same weights, same task definition,
 * engine events deduplicated by id). A duplicate that was never redelivered
 * finds its step already past and changes nothing.
 */
import { isDeepStrictEqual } from 'node:util';
import { ConflictError,NotFoundError,RetryableError,ValidationError } from '../domain/errors.ts';
import {
decideRelease,type ReleaseDecision,
type ReleaseEffect,type ReleaseInput,
type ReleaseOutcome,type ReleaseRequest,type TargetState
} from '../domain/release.ts';
import type { ReleaseFinished, ReleaseProgressed, ReleaseStarted } from '../domain/run-events.ts';
import type { ReleaseMessage,StartReleaseMessage } from '../ports/messages.ts';
import type { EventQueue,ReleaseQueue } from '../ports/index.ts';
import { ReleaseActionError,type ReleaseActions } from '../ports/releases.ts';
import { METRIC, type MetricsSink } from '../ports/metrics.ts';
import { RecentStates } from './recent-states.ts';
import { toView,type TargetView } from './targets.ts';
import type { TargetStore } from '../ports/index.ts';
export { toView, type ReleaseView, type TargetView } from './targets.ts';

export interface ReleaserLog {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
}

export interface ReleaserDeps {
  targets: TargetStore;
  actions: ReleaseActions;
  releaseQueue: ReleaseQueue;
  events: EventQueue;
  /** @default () => new Date() */
  now?: () => Date;
  /** Load-decide-save attempts after write conflicts. @default 5 */
  maxAttempts?: number;
  log?: ReleaserLog;
  /** Called with every decision, for the benchmark. */
  onDecision?: (input: ReleaseInput, decision: ReleaseDecision, elapsedMs: number) => void;
  /** ReleaseDuration and Rollbacks. @default none */
  metrics?: MetricsSink;
}

export interface HandleOptions {
  /** SQS delivered this message before (ApproximateReceiveCount > 1): replay the outbox if it is ours. */
  redelivered?: boolean;
}

export interface HandleResult {
  outcome: 'applied' | 'ignored' | 'replayed' | 'rejected';
  reason?: string;
}

const noopLog: ReleaserLog = { info: () => undefined, warn: () => undefined };

export class Releaser {
  private readonly now: () => Date;
  private readonly maxAttempts: number;
  private readonly log: ReleaserLog;
  /**
   * The targets this instance read or wrote last (a warm Lambda's, the local mode's): a step is
   * decided on the remembered state instead of a read, which saves a consistent read per step of a
   * release. Safe because only the read is saved: a decision is written on the condition that the
   * stored version is still the remembered one, and one that writes nothing and does more than look
   * is decided again on a fresh read first (decideAndSave). Targets are never deleted
   * (TargetStore has no delete), so a name's versions only go up and a remembered version is never
   * a new target's.
   */
  private readonly recent = new RecentStates<TargetState>((t) => t.name, 32);

  constructor(private readonly deps: ReleaserDeps) {
    this.now = deps.now ?? (() => new Date());
    this.maxAttempts = deps.maxAttempts ?? 5;
    this.log = deps.log ?? noopLog;
  }

  async getTarget(name: string): Promise<TargetView> {
    return toView(await this.deps.targets.get(name));
  }

  /** Puts all traffic back on the previous colour while its rollback window is open; ConflictError otherwise. */
  async rollbackTarget(name: string, by: string): Promise<TargetView> {
    if (!by || typeof by !== 'string') throw new ValidationError('a rollback needs the name of who asked for it');
    const result = await this.rollback(name, by);
    if (result.outcome === 'rejected') throw new ConflictError(result.reason ?? `target ${name} cannot be rolled back`);
    return this.getTarget(name);
  }

  /**
   * A rollback repeated before anything else happened to the target carries the
   * first one's effects out again instead of being refused: a caller whose first
   * request failed half-way (recorded, traffic not moved) retries safely.
   */
  private async rollback(name: string, by: string): Promise<HandleResult> {
    const state = await this.load(name);
    if (!state.current && state.outbox?.key.startsWith('rollback:')) {
      await this.carryOut(name, state, state.outbox.effects);
      return { outcome: 'replayed' };
    }
    const result = await this.run(name, { type: 'Rollback', by, now: this.iso() }, `rollback:${by}:${this.iso()}`, false, state);
    if (result.outcome === 'applied') {
      this.deps.metrics?.add({ name: METRIC.rollbacks, unit: 'Count', value: 1 });
      await this.retagAfterRollback(name);
    }
    return result;
  }

  /** Handles one release-steps message. Throws RetryableError (or a conflict) when the message should come back. */
  async handle(message: ReleaseMessage, opts: HandleOptions = {}): Promise<HandleResult> {
    const now = this.iso();
    switch (message.type) {
      case 'StartRelease': {
        const request = toRequest(message);
        try {
          return await this.run(message.target, { type: 'Start', request, now }, `start:${message.token}${message.supersededBy ? ':superseded' : ''}`, !!opts.redelivered);
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
          // The run must not wait forever for a target nobody registered.
          await this.emit([finishedEvent(request, 'failed', `target ${message.target} is not registered`, now)]);
          return { outcome: 'rejected', reason: err.message };
        }
      }
      case 'ReleaseStep':
        return this.run(message.target, { type: 'Tick', releaseId: message.releaseId, step: message.step, now }, `step:${message.releaseId}:${message.step}`, !!opts.redelivered);
      case 'CancelRelease':
        return this.run(message.target, { type: 'Cancel', runId: message.runId, job: message.job, now }, `cancel:${message.runId}:${message.job}`, !!opts.redelivered);
      case 'Rollback': {
        const result = await this.rollback(message.target, message.requestedBy);
        if (result.outcome === 'rejected') this.log.warn('rollback refused', { target: message.target, reason: result.reason });
        return result;
      }
    }
  }

  private iso(): string {
    return this.now().toISOString();
  }

  /**
   * Decides and carries out one input and every input its effects produce
   * (a registered task definition, an observation, an HTTP check result).
   */
  private async run(name: string, first: ReleaseInput, key: string, redelivered: boolean, loaded?: TargetState): Promise<HandleResult> {
    // A redelivered message may find its own outbox, which only the store can tell. `loaded`: read just now.
    const remembered = redelivered || loaded ? undefined : this.recent.get(name);
    let state = loaded ?? remembered ?? await this.load(name);
    let proven = remembered === undefined;
    let input: ReleaseInput | undefined = first;
    let result: HandleResult | undefined;
    if (redelivered && state.outbox?.key === key) {
      this.log.info('replaying the effects of a redelivered message', { target: name, key });
      result = { outcome: 'replayed' };
      // The replayed effects may produce an input (a registered task definition...): carry on from there.
      input = await this.carryOut(name, state, state.outbox.effects);
    }
    let last: HandleResult | undefined;
    while (input) {
      const { decision, decidedOn, saved, fresh } = await this.decideAndSave(name, state, proven, input, key);
      proven = fresh;
      // Progress since the state the decision was made on (a memory that was behind was read again).
      const progress = progressEvents(decidedOn, saved, this.iso());
      state = saved;
      // The run shows each step as it happens; informational, so a crash before this send loses only the display.
      if (progress.length > 0) await this.deps.events.send(progress);
      last = decision.rejected
        ? { outcome: 'rejected', reason: decision.rejected }
        : decision.changed || decision.effects.length > 0
          ? { outcome: 'applied' }
          : { outcome: 'ignored', reason: decision.ignored };
      // A look on the memory says nothing yet: what it finds is decided on the store's state.
      if (fresh) result ??= last;
      if (decision.ignored) this.log.info('release input ignored', { target: name, input: input.type, reason: decision.ignored });
      input = await this.carryOut(name, state, decision.effects);
    }
    return result ?? last!;
  }

  /**
   * Decides `input` on `loaded` and saves the result on the condition that the stored version is
   * still `loaded`'s. `proven`: `loaded` was read or written just now. A remembered state is not:
   * - a decision on it that writes nothing is made again on a fresh read, unless all it does is
   *   look (Observe, HttpCheck: what they find comes back as an input, whose decision is written
   *   on the same condition, as when a state read just now moves on during a look);
   * - a lost race reads again at once (a memory that was behind is no contention).
   * `fresh` in the answer: `saved` was read or written by this call.
   */
  private async decideAndSave(name: string, loaded: TargetState, proven: boolean, input: ReleaseInput, key: string): Promise<{ decision: ReleaseDecision; decidedOn: TargetState; saved: TargetState; fresh: boolean }> {
    let state = loaded;
    let fresh = proven;
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now();
      const decision = decideRelease(state, input);
      this.deps.onDecision?.(input, decision, performance.now() - t0);
      if (!decision.changed) {
        if (fresh || (decision.effects.length > 0 && decision.effects.every(onlyLooks))) return { decision, decidedOn: state, saved: state, fresh };
        state = await this.load(name);
        fresh = true;
        attempt--;
        continue;
      }
      const next: TargetState = { ...decision.state, outbox: { key, effects: decision.effects } };
      try {
        const saved = await this.deps.targets.save(next, state.version);
        this.recent.remember(saved);
        return { decision, decidedOn: state, saved, fresh: true };
      } catch (err) {
        this.recent.forget(name);
        if (!(err instanceof ConflictError)) throw err;
        const stored = await this.load(name);
        // Our own write whose answer was lost: the SDK sent it again after a network error or a
        // 5xx, and the retry found the version it had written. It stands; its effects are ours to carry out.
        if (stored.version === state.version + 1 && isDeepStrictEqual(withoutVersion(stored), withoutVersion(next))) {
          return { decision, decidedOn: state, saved: stored, fresh: true };
        }
        if (!fresh) attempt--;
        else if (attempt >= this.maxAttempts) throw err;
        state = stored;
        fresh = true;
      }
    }
  }

  /** The stored target, remembered for the next step. */
  private async load(name: string): Promise<TargetState> {
    const state = await this.deps.targets.get(name);
    this.recent.remember(state);
    return state;
  }

  /** Carries out effects in order; returns the input the last of them produced, if any. */
  private async carryOut(name: string, state: TargetState, effects: ReleaseEffect[]): Promise<ReleaseInput | undefined> {
    let next: ReleaseInput | undefined;
    for (const e of effects) {
      const now = this.iso();
      try {
        next = (await this.carryOutOne(name, e, now)) ?? next;
        if (e.type === 'EmitReleaseFinished') await this.afterFinished(name, state, e);
      } catch (err) {
        // A permanent refusal while a release holds the target ends that release (rolled back where it can be)
        // rather than leaving the lock held by a message bound for the DLQ.
        if (err instanceof ReleaseActionError && state.current && e.type !== 'RegisterTaskDefinition') {
          this.log.warn('release action refused', { target: name, effect: e.type, error: err.message });
          // A refused look is about its step: a release that has moved on (a late duplicate) ignores it.
          return { type: 'ActionFailed', releaseId: state.current.id, reason: err.message, now, ...(onlyLooks(e) ? { step: e.step } : {}) };
        }
        throw err;
      }
    }
    return next;
  }

  /**
   * Metrics of a finished release, and for a successful one the ECR tags that keep its image (and
   * the one it replaced, for a rollback) from lifecycle expiry. Tagging is best effort: a release
   * that moved the traffic has succeeded whatever ECR says, so a failure is logged, not thrown.
   */
  private async afterFinished(name: string, state: TargetState, e: Extract<ReleaseEffect, { type: 'EmitReleaseFinished' }>): Promise<void> {
    const release = state.last?.id === e.releaseId ? state.last : undefined;
    const keys = { target: name, runId: e.runId, job: e.job, releaseId: e.releaseId };
    if (e.outcome === 'rolled_back') this.deps.metrics?.add({ name: METRIC.rollbacks, unit: 'Count', value: 1 });
    if (release?.finishedAt) {
      const seconds = (Date.parse(release.finishedAt) - Date.parse(release.startedAt)) / 1000;
      if (Number.isFinite(seconds) && seconds >= 0) this.deps.metrics?.add({ name: METRIC.releaseDuration, unit: 'Seconds', value: seconds });
    }
    if (e.outcome !== 'succeeded' || !release || !this.deps.actions.markLiveImage) return;
    try {
      const tagged = await this.deps.actions.markLiveImage(name, release.image);
      this.log.info('released image tagged for the ECR lifecycle rules', { ...keys, image: release.image, ...tagged });
    } catch (err) {
      this.log.warn('could not tag the released image; ECR lifecycle rules may expire it', { ...keys, image: release.image, error: (err as Error).message });
    }
  }

  /** Best effort, like markLiveImage: the rollback stands whatever ECR says. */
  private async retagAfterRollback(name: string): Promise<void> {
    if (!this.deps.actions.markRolledBack) return;
    try {
      const from = (await this.deps.targets.get(name)).last;
      if (!from) return;
      const tagged = await this.deps.actions.markRolledBack(name, from.image);
      this.log.info('image tags moved back after the rollback', { target: name, releaseId: from.id, ...tagged });
    } catch (err) {
      this.log.warn('could not move the image tags back after the rollback', { target: name, error: (err as Error).message });
    }
  }

  private async carryOutOne(name: string, e: ReleaseEffect, now: string): Promise<ReleaseInput | undefined> {
    const a = this.deps.actions;
    let next: ReleaseInput | undefined;
    {
      switch (e.type) {
        case 'RegisterTaskDefinition':
          try {
            const out = await a.registerTaskDefinition({ cluster: e.cluster, fromService: e.fromService, image: e.image, ...(e.containerName ? { containerName: e.containerName } : {}) });
            next = { type: 'TaskDefinitionRegistered', releaseId: e.releaseId, ...out, now };
          } catch (err) {
            if (err instanceof RetryableError) throw err;
            if (!(err instanceof ReleaseActionError || err instanceof ValidationError)) throw err;
            next = { type: 'TaskDefinitionFailed', releaseId: e.releaseId, reason: err.message, now };
          }
          break;
        case 'UpdateService':
          await a.updateService({ cluster: e.cluster, service: e.service, ...(e.taskDefinition ? { taskDefinition: e.taskDefinition } : {}), ...(e.desiredCount !== undefined ? { desiredCount: e.desiredCount } : {}) });
          break;
        case 'ModifyRule':
          await a.modifyRule({ ruleArn: e.ruleArn, targetGroups: e.targetGroups, weights: e.weights });
          break;
        case 'Observe':
          next = { type: 'Observed', releaseId: e.releaseId, step: e.step, observation: await a.observe(e.spec), now };
          break;
        case 'HttpCheck': {
          const r = e.checker ? await a.httpCheck(e.url, e.checker) : await a.httpCheck(e.url);
          next = { type: 'HttpChecked', releaseId: e.releaseId, step: e.step, ...r, now };
          break;
        }
        case 'ScheduleStep':
          await this.deps.releaseQueue.send({ type: 'ReleaseStep', target: e.target, releaseId: e.releaseId, step: e.step }, e.delaySeconds);
          break;
        case 'SendStart':
          await this.deps.releaseQueue.send({ type: 'StartRelease', ...e.request }, e.delaySeconds);
          break;
        case 'EmitReleaseStarted': {
          const ev: ReleaseStarted = { type: 'ReleaseStarted', id: `ReleaseStarted:${e.releaseId}`, runId: e.runId, at: now, job: e.job, attempt: e.attempt, releaseId: e.releaseId };
          await this.emit([ev]);
          break;
        }
        case 'EmitReleaseFinished':
          this.log.info('release finished', { target: name, releaseId: e.releaseId, outcome: e.outcome, reason: e.reason });
          await this.emit([finishedEvent({ runId: e.runId, job: e.job, attempt: e.attempt, token: e.releaseId }, e.outcome, e.reason, now)]);
          break;
      }
    }
    return next;
  }

  private async emit(events: Array<ReleaseStarted | ReleaseFinished>): Promise<void> {
    await this.deps.events.send(events);
  }
}

/** The release steps `after` recorded that `before` did not have, as engine events for the run. */
export function progressEvents(before: TargetState, after: TargetState, at: string): ReleaseProgressed[] {
  const r = after.current ?? after.last;
  if (!r) return [];
  const old = [before.current, before.last].find((x) => x?.id === r.id);
  // History is bounded (oldest dropped), so new entries are found by content, not by count.
  const seen = new Set((old?.history ?? []).map((h) => `${h.at}|${h.phase}|${h.detail}`));
  return r.history
    .filter((h) => !seen.has(`${h.at}|${h.phase}|${h.detail}`))
    .map((h) => ({
      type: 'ReleaseProgressed' as const, id: `ReleaseProgressed:${r.id}:${h.at}:${h.phase}:${h.detail.length}`, runId: r.runId, at: h.at ?? at,
      job: r.job, attempt: r.attempt, releaseId: r.id, detail: h.detail,
    }));
}

function finishedEvent(req: Pick<ReleaseRequest, 'runId' | 'job' | 'attempt' | 'token'>, outcome: ReleaseOutcome, reason: string, at: string): ReleaseFinished {
  return { type: 'ReleaseFinished', id: `ReleaseFinished:${req.token}`, runId: req.runId, at, job: req.job, attempt: req.attempt, releaseId: req.token, outcome, reason };
}

/** A StartReleaseMessage is a ReleaseRequest on the queue: drop the envelope. */
function toRequest(m: StartReleaseMessage): ReleaseRequest {
  const { type: _type, ...request } = m;
  return request;
}

/** A target's state apart from its version, as the store gives it back (no undefined fields). */
function withoutVersion(t: TargetState): Omit<TargetState, 'version'> {
  const { version: _v, ...rest } = t;
  return JSON.parse(JSON.stringify(rest)) as Omit<TargetState, 'version'>;
}

/** Effects that only look (AWS descriptions, an HTTP GET): carried out on a remembered state, they change nothing anywhere. */
function onlyLooks(e: ReleaseEffect): e is Extract<ReleaseEffect, { type: 'Observe' | 'HttpCheck' }> {
  return e.type === 'Observe' || e.type === 'HttpCheck';
}
