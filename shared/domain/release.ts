/**
 * The release state machine: `decideRelease(target, input)` returns the next
 * target state and the effects to carry out, like `decide` does for runs. Pure:
 * no I/O, no AWS SDK, no clock (every input carries `now`).
 *
 * The target record is the lock: it holds at most one `current` release, the
 * releases waiting their turn, the last finished release, and the colour kept
 * for an instant rollback (`retiring`). Every saved transition of a release
 * increments its `step`; a poll message carries the step it was scheduled for,
 * so a duplicate or late message finds the step moved on and changes nothing.
 *
 * Blue-green phases:
 *   registering -> deploying -> [verifying] -> shifting -> baking -> (finished)
 * Standard phases:
 *   registering -> updating -> (finished) | reverting -> (finished)
 * Any failed check, alarm, timeout or cancel in a blue-green release puts 100%
 * of the traffic back on the old colour and scales the new one to zero.
 */
import { DEFAULT_HEALTH_CHECK_WINDOW_SECONDS, type DeploySpec, type ReleaseStrategy } from './pipeline.ts';
import {
  DEFAULT_TIMING,
  addSeconds,
  clampDelay,
  otherColour,
  releaseSpecProblems,
  secondsBetween,
  weightsFor,
  type Colour,
  type ReleaseTiming,
  type Weights,
} from './traffic.ts';

/** Mirrors `StartReleaseMessage` (shared/ports/messages.ts) without importing the queue layer into the domain. */
export interface ReleaseRequest {
  runId: string;
  pipelineId: string;
  job: string;
  attempt: number;
  token: string;
  target: string;
  image: string;
  deploy: DeploySpec;
  supersededBy?: string;
}

/** The health checker's ARN in a target registration: an unqualified Lambda function ARN. */
export const HEALTH_CHECK_FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}$/;

/** What an operator registers: where the two colours live and how traffic reaches them. */
export interface TargetConfig {
  name: string;
  cluster: string;
  /** ECS service names per colour. A standard release updates the live colour's service in place. */
  services: Record<Colour, string>;
  /** Target group ARNs per colour. */
  targetGroups: Record<Colour, string>;
  /** The production listener rule whose forward action weights the two target groups. */
  listenerRuleArn: string;
  /** A test listener rule, pointed at the idle colour while it is verified. */
  testListenerRuleArn?: string;
  /** Base URL of the test listener (e.g. `http://alb.internal:8443`) for the HTTP check. */
  testUrl?: string;
  /**
   * The health checker function inside the target's VPC (`SlipwayReleaseTarget.healthChecker`):
   * when set, a deploy job's `healthCheck` is run by it against every task of the new colour,
   * which the releaser (a Lambda function outside any VPC) could not reach.
   */
  healthCheckFunction?: string;
  /** Container whose image a release swaps. @default the first container of the task definition */
  containerName?: string;
  /** Tasks the new colour runs. */
  desiredCount: number;
  /** Colour holding the traffic when the target is registered. @default "blue" */
  liveColour?: Colour;
  timing?: Partial<ReleaseTiming>;
}

export type ReleasePhase = 'registering' | 'deploying' | 'verifying' | 'shifting' | 'baking' | 'updating' | 'reverting' | 'finished';
export type ReleaseOutcome = 'succeeded' | 'rolled_back' | 'failed';

/** One line of a release's history, shown by `GET /targets/{name}`. */
export interface ReleaseHistoryEntry {
  at: string;
  phase: ReleasePhase;
  detail: string;
}

export interface Release {
  /** The StartRelease token (`runId:job:attempt`): deterministic, so a redelivered start is recognised. */
  id: string;
  runId: string;
  pipelineId: string;
  job: string;
  attempt: number;
  image: string;
  strategy: ReleaseStrategy;
  deploy: DeploySpec;
  phase: ReleasePhase;
  /** Saved-transition counter; poll messages carry it. */
  step: number;
  /** Colour serving before the release (standard: the colour updated in place). */
  fromColour: Colour;
  /** Colour the release deploys to (standard: same as fromColour). */
  toColour: Colour;
  /** Index into deploy.steps of the weight in force; -1 before the first shift. */
  shiftIndex: number;
  taskDefinition?: string;
  previousTaskDefinition?: string;
  startedAt: string;
  phaseStartedAt: string;
  /** When the last weight change happened (the interval counts from here). */
  shiftedAt?: string;
  finishedAt?: string;
  outcome?: ReleaseOutcome;
  reason?: string;
  /** A failure that has been acted on (standard: reverting) and will be the outcome's reason. */
  failure?: string;
  rolledBackBy?: string;
  /**
   * A cancel is recorded here and acted on by the release's own next step, so
   * only one chain of messages ever drives a release's AWS calls (no race with a
   * shift in flight).
   */
  cancelRequestedAt?: string;
  history: ReleaseHistoryEntry[];
}

/** The colour that served before the last release, kept running until `until` for an instant rollback. */
export interface Retiring {
  colour: Colour;
  releaseId: string;
  until: string;
  step: number;
}

export interface TargetState extends TargetConfig {
  liveColour: Colour;
  weights: Weights;
  current?: Release;
  last?: Release;
  /** Releases waiting for the lock, oldest first. */
  waiting: ReleaseRequest[];
  /** Ids of recently ended releases (bounded), so a very late duplicate StartRelease never releases an old image again. */
  endedIds?: string[];
  retiring?: Retiring;
  /**
   * The effects of the last saved transition and the message that caused it:
   * a redelivery of that message after a crash between "saved" and "effects
   * done" carries them out again.
   */
  outbox?: { key: string; effects: ReleaseEffect[] };
  createdAt: string;
  updatedAt: string;
  /** Optimistic-lock counter, managed by the store. */
  version: number;
}

// ---- observations ------------------------------------------------------------

export interface ServiceObservation {
  /** Task definition of the PRIMARY deployment. */
  taskDefinition?: string;
  /** rolloutState of the PRIMARY deployment: IN_PROGRESS | COMPLETED | FAILED. */
  rolloutState?: string;
  rolloutStateReason?: string;
  /** Deployments still listed (1 once steady). */
  deployments: number;
  running: number;
  desired: number;
  /** Task definitions of deployments ECS marked FAILED (circuit breaker). */
  failedTaskDefinitions: string[];
  missing?: boolean;
}

export interface TargetHealthObservation {
  healthy: number;
  /** Registered targets, not counting those draining. */
  total: number;
  unhealthyReasons: string[];
}

export interface AlarmObservation {
  inAlarm: string[];
  missing: string[];
}

export interface Observation {
  service?: ServiceObservation;
  targets?: TargetHealthObservation;
  alarms?: AlarmObservation;
}

// ---- inputs and effects ----------------------------------------------------------

export type ReleaseInput =
  | { type: 'Start'; request: ReleaseRequest; now: string }
  | { type: 'Tick'; releaseId: string; step: number; now: string }
  | { type: 'Observed'; releaseId: string; step: number; observation: Observation; now: string }
  | { type: 'TaskDefinitionRegistered'; releaseId: string; taskDefinition: string; previousTaskDefinition: string; now: string }
  | { type: 'TaskDefinitionFailed'; releaseId: string; reason: string; now: string }
  | { type: 'HttpChecked'; releaseId: string; step: number; status?: number; error?: string; now: string }
  /** AWS refused an action of the current release for good (missing service, access denied, bad ARN). */
  /** `step`: the step a refused look (Observe, HttpCheck) was made for; a release past it ignores the refusal. */
  | { type: 'ActionFailed'; releaseId: string; reason: string; now: string; step?: number }
  | { type: 'Cancel'; runId: string; job: string; now: string }
  | { type: 'Rollback'; by: string; now: string };

export interface ObserveSpec {
  cluster?: string;
  service?: string;
  targetGroupArn?: string;
  alarms?: string[];
}

export type ReleaseEffect =
  | { type: 'RegisterTaskDefinition'; releaseId: string; cluster: string; fromService: string; image: string; containerName?: string }
  | { type: 'UpdateService'; cluster: string; service: string; taskDefinition?: string; desiredCount?: number }
  | { type: 'ModifyRule'; ruleArn: string; targetGroups: Record<Colour, string>; weights: Weights }
  | { type: 'Observe'; releaseId: string; step: number; spec: ObserveSpec }
  | {
      type: 'HttpCheck';
      releaseId: string;
      step: number;
      /** The test listener URL, or (checked through `checker`) the path on each task. */
      url: string;
      expectedStatus: number;
      /** Run inside the target's VPC by this function, against the targets of this group. */
      checker?: { functionName: string; targetGroupArn: string; path: string };
    }
  | { type: 'ScheduleStep'; target: string; releaseId: string; step: number; delaySeconds: number }
  | { type: 'EmitReleaseStarted'; runId: string; job: string; attempt: number; releaseId: string }
  | {
      type: 'EmitReleaseFinished';
      runId: string;
      job: string;
      attempt: number;
      releaseId: string;
      outcome: ReleaseOutcome;
      reason: string;
    }
  /** Puts a waiting release (or one that found the waiting list full) back on the release queue. */
  | { type: 'SendStart'; request: ReleaseRequest; delaySeconds: number };

export interface ReleaseDecision {
  state: TargetState;
  effects: ReleaseEffect[];
  /** The state changed and must be saved (conditionally) before the effects run. */
  changed: boolean;
  /** Why nothing happened (stale or duplicate message), for the log. */
  ignored?: string;
  /** A request that cannot be honoured (manual rollback outside its window): the caller reports a conflict. */
  rejected?: string;
}

/** Most releases kept waiting on one target; more are re-queued with a delay instead of growing the item. */
export const MAX_WAITING = 50;
const MAX_HISTORY = 60;

export function timingOf(t: Pick<TargetConfig, 'timing'>): ReleaseTiming {
  return { ...DEFAULT_TIMING, ...(t.timing ?? {}) };
}

/** A new target record: all traffic on the live colour, no release. */
export function newTargetState(config: TargetConfig, now: string): TargetState {
  const live = config.liveColour ?? 'blue';
  return { ...config, liveColour: live, weights: weightsFor(live, 100), waiting: [], createdAt: now, updatedAt: now, version: 0 };
}

// ---- the state machine -------------------------------------------------------------

export function decideRelease(state: TargetState, input: ReleaseInput): ReleaseDecision {
  const s: TargetState = structuredClone(state);
  switch (input.type) {
    case 'Start':
      return onStart(s, input.request, input.now);
    case 'Tick':
      return onTick(s, input.releaseId, input.step, input.now);
    case 'Observed':
      return withCurrent(s, input.releaseId, input.step, input.now, (r) => onObserved(s, r, input.observation, input.now));
    case 'TaskDefinitionRegistered':
      return withCurrent(s, input.releaseId, undefined, input.now, (r) => onRegistered(s, r, input.taskDefinition, input.previousTaskDefinition, input.now));
    case 'TaskDefinitionFailed':
      return withCurrent(s, input.releaseId, undefined, input.now, (r) =>
        r.phase === 'registering' ? finish(s, r, 'failed', `could not register a task definition: ${input.reason}`, input.now, []) : ignore(state, `release ${r.id} is past registering`),
      );
    case 'HttpChecked':
      return withCurrent(s, input.releaseId, input.step, input.now, (r) => onHttpChecked(s, r, input.status, input.error, input.now));
    case 'ActionFailed':
      return withCurrent(s, input.releaseId, input.step, input.now, (r) => onActionFailed(s, r, input.reason, input.now));
    case 'Cancel':
      return onCancel(s, input.runId, input.job, input.now);
    case 'Rollback':
      return onRollback(s, input.by, input.now);
  }
}

function ignore(state: TargetState, reason: string): ReleaseDecision {
  return { state, effects: [], changed: false, ignored: reason };
}

function changed(s: TargetState, effects: ReleaseEffect[], now: string): ReleaseDecision {
  s.updatedAt = now;
  return { state: s, effects, changed: true };
}

function withCurrent(s: TargetState, releaseId: string, step: number | undefined, now: string, f: (r: Release) => ReleaseDecision): ReleaseDecision {
  const r = s.current;
  if (!r || r.id !== releaseId) return ignore(s, `release ${releaseId} is not in progress on target ${s.name}`);
  if (step !== undefined && step !== r.step) return ignore(s, `stale step ${step} for release ${releaseId} (now at step ${r.step})`);
  if (r.cancelRequestedAt) {
    const d = cancelNow(s, r, now);
    if (d) return d;
  }
  return f(r);
}

const MAX_ENDED_IDS = 50;

function remember(s: TargetState, releaseId: string): void {
  s.endedIds = [...(s.endedIds ?? []).filter((id) => id !== releaseId), releaseId].slice(-MAX_ENDED_IDS);
}

function note(r: Release, now: string, detail: string): void {
  r.history.push({ at: now, phase: r.phase, detail });
  if (r.history.length > MAX_HISTORY) r.history.splice(1, r.history.length - MAX_HISTORY);
}

function enter(r: Release, phase: ReleasePhase, now: string, detail: string): void {
  r.phase = phase;
  r.phaseStartedAt = now;
  note(r, now, detail);
}

function finishedEvent(req: Pick<ReleaseRequest, 'runId' | 'job' | 'attempt' | 'token'>, outcome: ReleaseOutcome, reason: string): ReleaseEffect {
  return { type: 'EmitReleaseFinished', runId: req.runId, job: req.job, attempt: req.attempt, releaseId: req.token, outcome, reason };
}

function schedule(s: TargetState, r: Release, delaySeconds: number): ReleaseEffect {
  r.step += 1;
  return { type: 'ScheduleStep', target: s.name, releaseId: r.id, step: r.step, delaySeconds: clampDelay(delaySeconds) };
}

function modifyRule(s: TargetState, weights: Weights): ReleaseEffect {
  s.weights = weights;
  return { type: 'ModifyRule', ruleArn: s.listenerRuleArn, targetGroups: { ...s.targetGroups }, weights };
}

function onStart(s: TargetState, req: ReleaseRequest, now: string): ReleaseDecision {
  if (s.current?.id === req.token) return ignore(s, `release ${req.token} is already in progress`);
  if (s.last?.id === req.token || s.endedIds?.includes(req.token)) return ignore(s, `release ${req.token} has already ended`);
  const waitingAt = s.waiting.findIndex((w) => w.token === req.token);
  if (req.supersededBy) {
    // A deploy job that has not started is dropped; one that holds the target is never cut in half.
    if (waitingAt >= 0) {
      s.waiting.splice(waitingAt, 1);
      remember(s, req.token);
    }
    const reason = `not released: run ${req.runId} was superseded by run ${req.supersededBy} while its release waited for target ${s.name}`;
    const d = waitingAt >= 0 ? changed(s, [], now) : { state: s, effects: [] as ReleaseEffect[], changed: false };
    d.effects.push(finishedEvent(req, 'failed', reason));
    return d;
  }
  if (waitingAt >= 0) return ignore(s, `release ${req.token} is already waiting for target ${s.name}`);
  const problems = req.target !== s.name ? [`target: the message names ${req.target}, not ${s.name}`] : releaseSpecProblems(req.deploy, s);
  if (problems.length > 0) {
    return { state: s, effects: [finishedEvent(req, 'failed', `release cannot run: ${problems.join('; ')}`)], changed: false };
  }
  if (s.current) {
    if (s.waiting.length >= MAX_WAITING) {
      return { state: s, effects: [{ type: 'SendStart', request: req, delaySeconds: 60 }], changed: false, ignored: `waiting list of ${s.name} is full; re-queued` };
    }
    s.waiting.push(req);
    return changed(s, [], now);
  }
  return begin(s, req, now);
}

function begin(s: TargetState, req: ReleaseRequest, now: string): ReleaseDecision {
  const blueGreen = req.deploy.strategy === 'blue-green';
  const from = s.liveColour;
  const to = blueGreen ? otherColour(from) : from;
  const r: Release = {
    id: req.token,
    runId: req.runId,
    pipelineId: req.pipelineId,
    job: req.job,
    attempt: req.attempt,
    image: req.image,
    strategy: req.deploy.strategy,
    deploy: req.deploy,
    phase: 'registering',
    step: 0,
    fromColour: from,
    toColour: to,
    shiftIndex: -1,
    startedAt: now,
    phaseStartedAt: now,
    history: [],
  };
  note(r, now, blueGreen ? `release ${req.image} to ${to} (live: ${from})` : `release ${req.image} in place on ${s.services[from]}`);
  s.current = r;
  // A new release ends the previous one's rollback window. Blue-green deploys to
  // that very colour; a standard release leaves it idle, so it is scaled down now.
  const effects: ReleaseEffect[] = [];
  if (s.retiring && !blueGreen) {
    effects.push({ type: 'UpdateService', cluster: s.cluster, service: s.services[s.retiring.colour], desiredCount: 0 });
    note(r, now, `rollback window of release ${s.retiring.releaseId} ended early: ${s.services[s.retiring.colour]} scaled to 0`);
  }
  s.retiring = undefined;
  return changed(s, [
    ...effects,
    { type: 'EmitReleaseStarted', runId: r.runId, job: r.job, attempt: r.attempt, releaseId: r.id },
    { type: 'RegisterTaskDefinition', releaseId: r.id, cluster: s.cluster, fromService: s.services[from], image: r.image, ...(s.containerName ? { containerName: s.containerName } : {}) },
  ], now);
}

function onRegistered(s: TargetState, r: Release, taskDefinition: string, previous: string, now: string): ReleaseDecision {
  if (r.phase !== 'registering') return ignore(s, `release ${r.id} already has task definition ${r.taskDefinition}`);
  r.taskDefinition = taskDefinition;
  r.previousTaskDefinition = previous;
  const t = timingOf(s);
  if (r.strategy === 'standard') {
    enter(r, 'updating', now, `updating ${s.services[r.toColour]} to ${taskDefinition}`);
    return changed(s, [{ type: 'UpdateService', cluster: s.cluster, service: s.services[r.toColour], taskDefinition }, schedule(s, r, t.pollSeconds)], now);
  }
  enter(r, 'deploying', now, `deploying ${taskDefinition} to ${s.services[r.toColour]} with ${s.desiredCount} task(s)`);
  const effects: ReleaseEffect[] = [{ type: 'UpdateService', cluster: s.cluster, service: s.services[r.toColour], taskDefinition, desiredCount: s.desiredCount }];
  if (s.testListenerRuleArn) {
    // The test listener follows the idle colour, so verification jobs reach the new version before users do.
    effects.push({ type: 'ModifyRule', ruleArn: s.testListenerRuleArn, targetGroups: { ...s.targetGroups }, weights: weightsFor(r.toColour, 100) });
  }
  effects.push(schedule(s, r, t.pollSeconds));
  return changed(s, effects, now);
}

function observeSpec(s: TargetState, r: Release): ObserveSpec {
  const alarms = r.deploy.alarms ?? [];
  switch (r.phase) {
    case 'deploying':
      // Alarms too: one already in ALARM stops the release before any user reaches the new colour.
      return { cluster: s.cluster, service: s.services[r.toColour], targetGroupArn: s.targetGroups[r.toColour], ...(alarms.length > 0 ? { alarms } : {}) };
    case 'shifting':
    case 'baking':
      return { targetGroupArn: s.targetGroups[r.toColour], ...(alarms.length > 0 ? { alarms } : {}) };
    default:
      return { cluster: s.cluster, service: s.services[r.toColour] };
  }
}

function onTick(s: TargetState, releaseId: string, step: number, now: string): ReleaseDecision {
  if (s.retiring && s.retiring.releaseId === releaseId && (!s.current || s.current.id !== releaseId)) {
    if (step !== s.retiring.step) return ignore(s, `stale scale-down step ${step} for release ${releaseId}`);
    return onRetireTick(s, s.retiring, now);
  }
  return withCurrent(s, releaseId, step, now, (r) => {
    if (r.phase === 'verifying') {
      return { state: s, effects: [httpCheck(s, r)], changed: false };
    }
    if (r.phase === 'registering' || r.phase === 'finished') return ignore(s, `release ${r.id} is ${r.phase}; nothing to poll`);
    return { state: s, effects: [{ type: 'Observe', releaseId: r.id, step: r.step, spec: observeSpec(s, r) }], changed: false };
  });
}

function httpCheck(s: TargetState, r: Release): ReleaseEffect {
  const hc = r.deploy.healthCheck!;
  if (s.healthCheckFunction) {
    return {
      type: 'HttpCheck', releaseId: r.id, step: r.step, url: hc.path, expectedStatus: hc.expectedStatus,
      checker: { functionName: s.healthCheckFunction, targetGroupArn: s.targetGroups[r.toColour], path: hc.path },
    };
  }
  return { type: 'HttpCheck', releaseId: r.id, step: r.step, url: joinUrl(s.testUrl!, hc.path), expectedStatus: hc.expectedStatus };
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

function onRetireTick(s: TargetState, ret: Retiring, now: string): ReleaseDecision {
  const left = secondsBetween(now, ret.until);
  if (left > 0) {
    ret.step += 1;
    return changed(s, [{ type: 'ScheduleStep', target: s.name, releaseId: ret.releaseId, step: ret.step, delaySeconds: clampDelay(left) }], now);
  }
  s.retiring = undefined;
  if (s.last && s.last.id === ret.releaseId) note(s.last, now, `rollback window over: ${s.services[ret.colour]} scaled to 0`);
  return changed(s, [{ type: 'UpdateService', cluster: s.cluster, service: s.services[ret.colour], desiredCount: 0 }], now);
}

function describeTargets(t?: TargetHealthObservation): string {
  if (!t) return 'no target health';
  const why = t.unhealthyReasons.length > 0 ? ` (${[...new Set(t.unhealthyReasons)].slice(0, 3).join(', ')})` : '';
  return `${t.healthy}/${t.total} targets healthy${why}`;
}

function allHealthy(s: TargetState, t?: TargetHealthObservation): boolean {
  return !!t && t.total > 0 && t.healthy === t.total && t.healthy >= s.desiredCount;
}

function alarmProblem(a?: AlarmObservation): string | undefined {
  if (!a) return undefined;
  if (a.inAlarm.length > 0) return `alarm ${a.inAlarm.join(', ')} in ALARM`;
  if (a.missing.length > 0) return `alarm ${a.missing.join(', ')} does not exist`;
  return undefined;
}

function onObserved(s: TargetState, r: Release, o: Observation, now: string): ReleaseDecision {
  const t = timingOf(s);
  switch (r.phase) {
    case 'deploying': {
      const svc = o.service;
      if (svc?.missing) return rollBack(s, r, `service ${s.services[r.toColour]} does not exist in cluster ${s.cluster}`, now);
      if (svc && (svc.rolloutState === 'FAILED' || (r.taskDefinition && svc.failedTaskDefinitions.includes(r.taskDefinition)) || (svc.taskDefinition && svc.taskDefinition !== r.taskDefinition))) {
        return rollBack(s, r, `the deployment of ${r.taskDefinition} to ${s.services[r.toColour]} failed${svc.rolloutStateReason ? `: ${svc.rolloutStateReason}` : ''}`, now);
      }
      const preAlarm = alarmProblem(o.alarms);
      if (preAlarm) return rollBack(s, r, `${preAlarm} before any traffic moved`, now);
      const steady = !!svc && svc.deployments === 1 && svc.rolloutState === 'COMPLETED' && svc.running === svc.desired && svc.running >= s.desiredCount;
      if (steady && allHealthy(s, o.targets)) {
        note(r, now, `${s.services[r.toColour]} steady, ${describeTargets(o.targets)}`);
        if (r.deploy.healthCheck) {
          enter(r, 'verifying', now, `checking ${checkTarget(s, r)}`);
          r.step += 1;
          return changed(s, [httpCheck(s, r)], now);
        }
        return shiftTo(s, r, 0, now);
      }
      const waited = secondsBetween(r.phaseStartedAt, now);
      if (waited >= t.healthyTimeoutSeconds) {
        return rollBack(s, r, `${s.services[r.toColour]} not ready after ${Math.round(waited)}s: ${svc ? `${svc.running}/${s.desiredCount} tasks running, rollout ${svc.rolloutState ?? 'unknown'}` : 'no service state'}, ${describeTargets(o.targets)}`, now);
      }
      return changed(s, [schedule(s, r, Math.min(t.pollSeconds, t.healthyTimeoutSeconds - waited))], now);
    }
    case 'shifting':
    case 'baking': {
      const percent = r.deploy.steps[r.shiftIndex];
      const alarm = alarmProblem(o.alarms);
      if (alarm) return rollBack(s, r, `${alarm} with ${percent}% of the traffic on ${r.toColour}`, now);
      if (!o.targets || o.targets.healthy === 0) return rollBack(s, r, `${r.toColour} has no healthy targets (${describeTargets(o.targets)})`, now);
      const healthy = allHealthy(s, o.targets);
      if (r.phase === 'baking') {
        const baked = secondsBetween(r.phaseStartedAt, now);
        if (baked >= r.deploy.bakeSeconds) return succeed(s, r, now);
        return changed(s, [schedule(s, r, Math.min(t.pollSeconds, r.deploy.bakeSeconds - baked))], now);
      }
      const since = secondsBetween(r.shiftedAt ?? r.phaseStartedAt, now);
      if (since >= r.deploy.intervalSeconds && healthy) return shiftTo(s, r, r.shiftIndex + 1, now);
      if (since >= r.deploy.intervalSeconds + t.healthyTimeoutSeconds) {
        return rollBack(s, r, `${r.toColour} did not recover full health at ${percent}% within ${t.healthyTimeoutSeconds}s (${describeTargets(o.targets)})`, now);
      }
      const toNext = r.deploy.intervalSeconds - since;
      return changed(s, [schedule(s, r, toNext > 0 ? Math.min(t.pollSeconds, toNext) : t.pollSeconds)], now);
    }
    case 'updating':
    case 'reverting':
      return onStandardObserved(s, r, o.service, now);
    default:
      return ignore(s, `release ${r.id} is ${r.phase}; observation not expected`);
  }
}

function shiftTo(s: TargetState, r: Release, index: number, now: string): ReleaseDecision {
  const steps = r.deploy.steps;
  const t = timingOf(s);
  r.shiftIndex = index;
  r.shiftedAt = now;
  const percent = steps[index];
  const effects: ReleaseEffect[] = [modifyRule(s, weightsFor(r.toColour, percent))];
  if (percent === 100) {
    enter(r, 'baking', now, `100% on ${r.toColour}; baking ${r.deploy.bakeSeconds}s`);
    if (r.deploy.bakeSeconds <= 0 && (r.deploy.alarms ?? []).length === 0) {
      // Nothing to watch: the release is done as soon as the traffic is moved.
      const d = succeed(s, r, now);
      return { ...d, effects: [...effects, ...d.effects] };
    }
    effects.push(schedule(s, r, Math.min(t.pollSeconds, Math.max(1, r.deploy.bakeSeconds))));
  } else {
    if (r.phase !== 'shifting') enter(r, 'shifting', now, `${percent}% on ${r.toColour}`);
    else note(r, now, `${percent}% on ${r.toColour}`);
    effects.push(schedule(s, r, Math.min(t.pollSeconds, Math.max(1, r.deploy.intervalSeconds))));
  }
  return changed(s, effects, now);
}

/** Seconds between two tries of a failing health check (within its window). */
export const HEALTH_CHECK_RETRY_SECONDS = 10;

/**
 * A passing check moves the first traffic step. A failing one is tried again every
 * HEALTH_CHECK_RETRY_SECONDS until the check's window (counted from the first try) is over: a task
 * that needs a few more seconds, or a target group still registering, is not a failed release.
 * Only a failure that lasts the whole window rolls back.
 */
function onHttpChecked(s: TargetState, r: Release, status: number | undefined, error: string | undefined, now: string): ReleaseDecision {
  if (r.phase !== 'verifying') return ignore(s, `release ${r.id} is not verifying`);
  const hc = r.deploy.healthCheck!;
  const what = checkTarget(s, r);
  if (status === hc.expectedStatus) {
    note(r, now, `GET ${what} returned ${status}`);
    return shiftTo(s, r, 0, now);
  }
  const failure = `GET ${what} ${error ? `failed: ${error}` : `returned ${status}, expected ${hc.expectedStatus}`}`;
  const window = hc.windowSeconds ?? DEFAULT_HEALTH_CHECK_WINDOW_SECONDS;
  const elapsed = secondsBetween(r.phaseStartedAt, now);
  if (elapsed < window) {
    note(r, now, `${failure}; trying again (${Math.round(elapsed)}s of ${window}s)`);
    return changed(s, [schedule(s, r, Math.min(HEALTH_CHECK_RETRY_SECONDS, Math.max(1, window - elapsed)))], now);
  }
  return rollBack(s, r, `health check ${failure} for ${Math.round(elapsed)}s (window ${window}s)`, now);
}

/** What the health check asks: each task of the new colour through the checker, or the test listener URL. */
function checkTarget(s: TargetState, r: Release): string {
  const path = r.deploy.healthCheck!.path;
  if (s.healthCheckFunction) return `${path} on every task of ${r.toColour} (from ${s.healthCheckFunction}, inside the target's VPC)`;
  return `${joinUrl(s.testUrl!, path)} through the test listener`;
}

function onStandardObserved(s: TargetState, r: Release, svc: ServiceObservation | undefined, now: string): ReleaseDecision {
  const t = timingOf(s);
  const service = s.services[r.toColour];
  const waited = secondsBetween(r.phaseStartedAt, now);
  const steadyOn = (td?: string) => !!svc && svc.taskDefinition === td && svc.deployments === 1 && svc.rolloutState === 'COMPLETED' && svc.running === svc.desired;
  if (svc?.missing) return finish(s, r, 'failed', `service ${service} does not exist in cluster ${s.cluster}`, now, []);
  if (r.phase === 'updating') {
    if (steadyOn(r.taskDefinition)) {
      note(r, now, `${service} steady on ${r.taskDefinition}`);
      return finish(s, r, 'succeeded', `released ${r.image} to ${service} (${r.taskDefinition})`, now, []);
    }
    const ecsRolledBack = !!svc && svc.taskDefinition === r.previousTaskDefinition && svc.taskDefinition !== r.taskDefinition;
    if (ecsRolledBack) {
      // The deployment circuit breaker (with rollback) already put the previous task definition back.
      r.failure = `the ECS deployment circuit breaker rolled ${service} back to ${r.previousTaskDefinition}${svc!.rolloutStateReason ? `: ${svc!.rolloutStateReason}` : ''}`;
      enter(r, 'reverting', now, r.failure);
      if (steadyOn(r.previousTaskDefinition)) return finish(s, r, 'rolled_back', r.failure, now, []);
      return changed(s, [schedule(s, r, t.pollSeconds)], now);
    }
    const failed = !!svc && (svc.rolloutState === 'FAILED' || (r.taskDefinition !== undefined && svc.failedTaskDefinitions.includes(r.taskDefinition)));
    if (failed || waited >= t.deploymentTimeoutSeconds) {
      r.failure = failed
        ? `the deployment of ${r.taskDefinition} to ${service} failed${svc!.rolloutStateReason ? `: ${svc!.rolloutStateReason}` : ''}`
        : `${service} did not reach a steady state on ${r.taskDefinition} within ${t.deploymentTimeoutSeconds}s`;
      return revert(s, r, now);
    }
    return changed(s, [schedule(s, r, t.pollSeconds)], now);
  }
  // reverting
  if (steadyOn(r.previousTaskDefinition)) return finish(s, r, 'rolled_back', `${r.failure}; ${service} is back on ${r.previousTaskDefinition}`, now, []);
  if ((svc && svc.rolloutState === 'FAILED' && svc.taskDefinition === r.previousTaskDefinition) || waited >= t.deploymentTimeoutSeconds) {
    return finish(s, r, 'failed', `${r.failure}; rolling back to ${r.previousTaskDefinition} did not stabilise either`, now, []);
  }
  return changed(s, [schedule(s, r, t.pollSeconds)], now);
}

function revert(s: TargetState, r: Release, now: string): ReleaseDecision {
  const service = s.services[r.toColour];
  enter(r, 'reverting', now, `${r.failure}; rolling ${service} back to ${r.previousTaskDefinition}`);
  return changed(s, [
    { type: 'UpdateService', cluster: s.cluster, service, taskDefinition: r.previousTaskDefinition },
    schedule(s, r, timingOf(s).pollSeconds),
  ], now);
}

/** Blue-green: everything back on the old colour, the new one scaled to zero. */
function rollBack(s: TargetState, r: Release, why: string, now: string): ReleaseDecision {
  const traffic: ReleaseEffect[] = [];
  if (s.weights[r.fromColour] !== 100) traffic.push(modifyRule(s, weightsFor(r.fromColour, 100)));
  const cleanup: ReleaseEffect[] = r.taskDefinition ? [{ type: 'UpdateService', cluster: s.cluster, service: s.services[r.toColour], desiredCount: 0 }] : [];
  return finish(s, r, 'rolled_back', `${why}; 100% back on ${r.fromColour}${timeline(r)}`, now, traffic, cleanup);
}

/** The traffic steps taken so far with their times, for the run's view of the release. */
function timeline(r: Release): string {
  const shifts = r.history.filter((e) => /^\d+% on (blue|green)/.test(e.detail)).map((e) => `${e.detail.split(' ')[0]} at ${e.at}`);
  return shifts.length > 0 ? ` (${shifts.join(', ')})` : '';
}

function succeed(s: TargetState, r: Release, now: string): ReleaseDecision {
  const cleanup: ReleaseEffect[] = [];
  s.liveColour = r.toColour;
  const windowSeconds = Math.max(0, (r.deploy.rollbackWindowMinutes ?? 0) * 60);
  const reason = `released ${r.image} to ${r.toColour}, baked ${r.deploy.bakeSeconds}s${timeline(r)}`;
  if (windowSeconds > 0) {
    s.retiring = { colour: r.fromColour, releaseId: r.id, until: addSeconds(now, windowSeconds), step: 1 };
    cleanup.push({ type: 'ScheduleStep', target: s.name, releaseId: r.id, step: 1, delaySeconds: clampDelay(windowSeconds) });
  } else {
    cleanup.push({ type: 'UpdateService', cluster: s.cluster, service: s.services[r.fromColour], desiredCount: 0 });
  }
  return finish(s, r, 'succeeded', reason, now, [], cleanup);
}

/**
 * Ends the current release and frees the target. Effects run in this order:
 * traffic first, then the engine hears the outcome and the next waiting
 * release is started, then clean-up (scaling down), so a failing clean-up
 * never keeps the outcome from the run.
 */
function finish(s: TargetState, r: Release, outcome: ReleaseOutcome, reason: string, now: string, traffic: ReleaseEffect[], cleanup: ReleaseEffect[] = []): ReleaseDecision {
  r.outcome = outcome;
  r.reason = reason;
  r.finishedAt = now;
  enter(r, 'finished', now, `${outcome}: ${reason}`);
  r.step += 1;
  s.current = undefined;
  s.last = r;
  remember(s, r.id);
  const out = [...traffic, finishedEvent({ runId: r.runId, job: r.job, attempt: r.attempt, token: r.id }, outcome, reason)];
  const next = s.waiting.shift();
  if (next) out.push({ type: 'SendStart', request: next, delaySeconds: 0 });
  return changed(s, [...out, ...cleanup], now);
}

function onActionFailed(s: TargetState, r: Release, reason: string, now: string): ReleaseDecision {
  if (r.strategy === 'blue-green') return rollBack(s, r, `AWS refused a release action: ${reason}`, now);
  // Standard: the service is either untouched or already being reverted; nothing more can be done safely.
  return finish(s, r, 'failed', `AWS refused a release action: ${reason}`, now, []);
}

/**
 * A second cancel this long after the first finds the release's step chain
 * stalled (its message on the DLQ) and acts directly, so the target is never
 * held for good. Longer than SQS's retry of a failed step (visibility timeout).
 */
export const CANCEL_STALL_SECONDS = 600;

function onCancel(s: TargetState, runId: string, job: string, now: string): ReleaseDecision {
  const waitingAt = s.waiting.findIndex((w) => w.runId === runId && w.job === job);
  if (waitingAt >= 0) {
    const [req] = s.waiting.splice(waitingAt, 1);
    remember(s, req.token);
    return changed(s, [finishedEvent(req, 'failed', `cancelled while waiting for target ${s.name}`)], now);
  }
  const r = s.current;
  if (!r || r.runId !== runId || r.job !== job) return ignore(s, `no release of ${runId}/${job} on target ${s.name}`);
  if (!r.cancelRequestedAt) {
    r.cancelRequestedAt = now;
    note(r, now, 'cancel requested; acted on at the next step');
    return changed(s, [], now);
  }
  if (secondsBetween(r.cancelRequestedAt, now) < CANCEL_STALL_SECONDS) return ignore(s, `cancel of release ${r.id} already requested at ${r.cancelRequestedAt}`);
  note(r, now, `no step since the cancel at ${r.cancelRequestedAt}: cancelling directly`);
  return cancelNow(s, r, now) ?? ignore(s, `release ${r.id} is already rolling back`);
}

function cancelNow(s: TargetState, r: Release, now: string): ReleaseDecision | undefined {
  if (r.strategy === 'blue-green') return rollBack(s, r, 'cancelled', now);
  if (r.phase === 'registering') return finish(s, r, 'rolled_back', 'cancelled before the service changed', now, []);
  if (r.phase === 'reverting') return undefined;
  r.failure = 'cancelled';
  return revert(s, r, now);
}

/** Why a target has nothing to roll back to, from its last release: the reason a person can act on. */
function noRollbackReason(s: TargetState): string {
  const last = s.last;
  if (!last) return 'it has never been released';
  if (last.rolledBackBy) return `release ${last.id} was already rolled back by ${last.rolledBackBy}; ${s.liveColour} is live again (release a newer image to move forward)`;
  if (last.outcome !== 'succeeded') return `release ${last.id} did not go live (${last.outcome ?? 'unfinished'}), so ${s.liveColour} is still live`;
  return `the previous colour of release ${last.id} is no longer kept (its rollback window has ended)`;
}

function onRollback(s: TargetState, by: string, now: string): ReleaseDecision {
  if (s.current) {
    return { state: s, effects: [], changed: false, rejected: `release ${s.current.id} is in progress on target ${s.name}; cancel it instead (it rolls back by itself)` };
  }
  const ret = s.retiring;
  const last = s.last;
  if (!ret || !last || last.id !== ret.releaseId || last.outcome !== 'succeeded') {
    return { state: s, effects: [], changed: false, rejected: `target ${s.name} has no previous colour to roll back to: ${noRollbackReason(s)}` };
  }
  if (secondsBetween(now, ret.until) <= 0) {
    return { state: s, effects: [], changed: false, rejected: `the rollback window of release ${last.id} on target ${s.name} ended at ${ret.until}; ${ret.colour} may already be scaled down — release the previous image instead` };
  }
  const bad = s.liveColour;
  const effects: ReleaseEffect[] = [modifyRule(s, weightsFor(ret.colour, 100)), { type: 'UpdateService', cluster: s.cluster, service: s.services[bad], desiredCount: 0 }];
  s.liveColour = ret.colour;
  s.retiring = undefined;
  last.rolledBackBy = by;
  last.outcome = 'rolled_back';
  note(last, now, `rolled back by ${by}: 100% on ${ret.colour}, ${s.services[bad]} scaled to 0`);
  return changed(s, effects, now);
}
