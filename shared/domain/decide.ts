/**
 * The run state machine: `decide(state, event) -> { state, effects }`.
 *
 * Pure: no I/O, no clock (time comes from `event.at`), never mutates its input.
 * The new state shares unchanged parts (plan, trigger, untouched jobs) with the
 * old one; only the jobs an event touches are copied.
 *
 * Idempotency has two layers. An event whose id is in `appliedEventIds` changes
 * nothing. Beyond that bounded window every handler is guarded by state (job
 * status, attempt number, `stopping`), so a redelivered event still starts
 * nothing twice. An event that changes nothing (unknown job, stale attempt,
 * run already ended...) returns the very same `state` object with no effects and
 * is not recorded: callers can skip the write when `decision.state === state`.
 *
 * Semantics where the design left a choice:
 * - A job whose need was skipped (by its `when` filter or because something
 *   upstream failed) is skipped too, as GitHub Actions does.
 * - A failure does not stop independent branches of the DAG: they keep running
 *   and may start new jobs; the run fails once nothing else can run.
 * - Retries apply to build/image jobs and to a deploy whose release `failed`;
 *   a release that was `rolled_back` is never retried automatically (the new
 *   version was shown to be bad).
 * - Cancel stops builds at once, asks the releaser to roll a running release
 *   back, and ends `cancelled` when that release finishes. Supersede stops builds
 *   but lets a release finish. A build that reports its start after its job was
 *   cancelled is stopped then (its id is recorded so this happens once).
 * - The first build recorded for a job attempt is that attempt's build. Events
 *   of any other build for the same attempt (a duplicate CodeBuild started once
 *   it had forgotten the idempotency token) change nothing; while such a build
 *   runs it is stopped.
 */
import { NotFoundError } from './errors.ts';
import { attemptToken, type Decision, type Effect } from './run-effects.ts';
import { TERMINAL_JOB_STATUSES, TERMINAL_RUN_STATUSES, RUN_NOTICES_LIMIT, type JobPlan, type JobState, type JobStatus, MAX_EARLIER_BUILDS, MAX_COMPUTE_LABEL_BYTES, MAX_JOB_STEPS, type RunState, type RunStatus, type Trigger } from './run.ts';
import { type ApprovalGiven, type ApprovalRejected, type BuildState, type BuildStateChanged, type CancelRequested, type EngineEvent, type JobStarted, type NotificationFailed, type ReleaseFinished, type ReleaseStarted, type ReleaseProgressed, type RunFailedToPlan, type RunRequested, type RunSuperseded } from './run-events.ts';
import {
  APPLIED_EVENT_IDS_LIMIT,
  clip,
  MAX_IDENTITY_BYTES,
  MAX_IMAGE_URI_BYTES,
  MAX_NOTICE_BYTES,
  MAX_OUTPUT_BYTES,
  MAX_REASON_BYTES,
  MAX_STEP_DETAIL_BYTES,
  MAX_TRIGGER_AUTHOR_BYTES,
  MAX_TRIGGER_MESSAGE_BYTES,
} from './run-bounds.ts';

/** Build ids the engine makes up for attempts that never got a build (a refused StartBuild, the reconciler's "never started"). */
const NOT_STARTED_PREFIX = 'not-started:';

export { APPLIED_EVENT_IDS_LIMIT };

/**
 * Applies one event to a run.
 * @throws NotFoundError when `state` is undefined and the event is not `RunRequested`.
 * @throws Error for a `RunRequested` whose plan is inconsistent (unknown need,
 *   cycle, deploy without target): a programming error upstream.
 */
export function decide(state: RunState | undefined, event: EngineEvent): Decision {
  if (state === undefined) {
    if (event.type !== 'RunRequested') {
      throw new NotFoundError(`run ${event.runId} does not exist; cannot apply ${event.type} (${event.id})`);
    }
    return createRun(event);
  }
  if (state.appliedEventIds.includes(event.id)) return { state, effects: [] };

  const d = new Draft(state, event.at);
  switch (event.type) {
    case 'RunRequested':
      break; // the run exists already
    case 'RunDequeued':
      onDequeued(d);
      break;
    case 'JobStarted':
      onJobStarted(d, event);
      break;
    case 'BuildStateChanged':
      onBuildStateChanged(d, event);
      break;
    case 'ApprovalGiven':
      onApprovalGiven(d, event);
      break;
    case 'ApprovalRejected':
      onApprovalRejected(d, event);
      break;
    case 'ReleaseStarted':
      onReleaseStarted(d, event);
      break;
    case 'ReleaseFinished':
      onReleaseFinished(d, event);
      break;
    case 'ReleaseProgressed':
      onReleaseProgressed(d, event);
      break;
    case 'CancelRequested':
      onCancelRequested(d, event);
      break;
    case 'RunSuperseded':
      onSuperseded(d, event);
      break;
    case 'RunFailedToPlan':
      onFailedToPlan(d, event);
      break;
    case 'NotificationFailed':
      onNotificationFailed(d, event);
      break;
    default:
      event satisfies never;
  }
  settle(d);
  return d.finish(event.id);
}

// ---- the working copy ---------------------------------------------------------

/** Copy-on-write view of a run: the first write copies the run and its jobs map; each job is copied on its first write. */
class Draft {
  readonly effects: Effect[] = [];
  /** A job reached a terminal status, or jobs were (re)evaluated: the run may have ended. */
  mayHaveEnded = false;
  /** A job attempt started: the run is certainly not over. */
  startedJobs = false;
  private copy: RunState | undefined;
  private readonly copiedJobs = new Set<string>();

  constructor(readonly base: RunState, readonly at: string) {}

  /** The current state, for reading. */
  get view(): RunState {
    return this.copy ?? this.base;
  }

  /** The state, for writing. */
  run(): RunState {
    if (this.copy === undefined) this.copy = { ...this.base, jobs: { ...this.base.jobs } };
    return this.copy;
  }

  /** A job, for writing. */
  job(name: string): JobState {
    const run = this.run();
    if (!this.copiedJobs.has(name)) {
      run.jobs[name] = { ...run.jobs[name] };
      this.copiedJobs.add(name);
    }
    return run.jobs[name];
  }

  finish(eventId: string): Decision {
    if (this.copy === undefined && this.effects.length === 0) return { state: this.base, effects: [] };
    const run = this.run();
    run.updatedAt = this.at;
    // Free text comes from outside (CodeBuild, people, git hosts): cut to the run-bounds sizes, so the item stays bounded.
    for (const name of this.copiedJobs) boundJob(run.jobs[name]);
    if (run.reason !== undefined) run.reason = clip(run.reason, MAX_REASON_BYTES);
    const ids = this.base.appliedEventIds;
    run.appliedEventIds = ids.length >= APPLIED_EVENT_IDS_LIMIT
      ? [...ids.slice(ids.length - APPLIED_EVENT_IDS_LIMIT + 1), eventId]
      : [...ids, eventId];
    return { state: run, effects: this.effects };
  }
}

function boundJob(job: JobState): void {
  if (job.reason !== undefined) job.reason = clip(job.reason, MAX_REASON_BYTES);
  if (job.approvedBy !== undefined) job.approvedBy = clip(job.approvedBy, MAX_IDENTITY_BYTES);
  if (job.outputs !== undefined) {
    for (const [k, v] of Object.entries(job.outputs)) {
      const bounded = clip(v, k === 'imageUri' ? MAX_IMAGE_URI_BYTES : MAX_OUTPUT_BYTES);
      if (bounded !== v) job.outputs = { ...job.outputs, [k]: bounded };
    }
  }
}

function boundTrigger(trigger: Trigger): Trigger {
  const message = trigger.message !== undefined ? clip(trigger.message, MAX_TRIGGER_MESSAGE_BYTES) : undefined;
  const author = trigger.author !== undefined ? clip(trigger.author, MAX_TRIGGER_AUTHOR_BYTES) : undefined;
  if (message === trigger.message && author === trigger.author) return trigger;
  return { ...trigger, ...(message !== undefined ? { message } : {}), ...(author !== undefined ? { author } : {}) };
}

// ---- creating a run ---------------------------------------------------------------

function createRun(e: RunRequested): Decision {
  const order = checkPlan(e.plan, e.skippedByWhen);
  const skipped = new Set(e.skippedByWhen);
  const jobs: Record<string, JobState> = {};
  const reused = e.rerun?.reused ?? {};
  for (const name of order) {
    let reason: string | undefined;
    if (Object.hasOwn(reused, name) && !skipped.has(name)) {
      // Kept from the run this one repeats: succeeded there, at the same commit and pipeline version.
      const outputs = reused[name].outputs;
      jobs[name] = { status: 'succeeded', attempt: 0, reason: `kept from run ${e.rerun!.of}`, finishedAt: e.at, ...(outputs ? { outputs } : {}) };
      continue;
    }
    if (skipped.has(name)) reason = e.skipReasons?.[name] ?? `its when filter does not match this run (${describeTrigger(e.trigger)})`;
    else {
      const need = e.plan[name].needs.find((n) => jobs[n].status === 'skipped');
      if (need !== undefined) reason = `skipped because needed job "${need}" was skipped`;
    }
    jobs[name] = reason === undefined
      ? { status: 'pending', attempt: 0 }
      : { status: 'skipped', attempt: 0, reason, finishedAt: e.at };
  }
  // Keep the plan's key order for jobs (effects and listings follow it).
  const ordered: Record<string, JobState> = {};
  for (const name of Object.keys(e.plan)) ordered[name] = jobs[name];

  const start = e.admission === 'start' && e.supersededBy === undefined;
  const initial: RunState = {
    runId: e.runId,
    pipelineId: e.pipelineId,
    pipelineVersion: e.pipelineVersion,
    concurrency: e.concurrency,
    trigger: boundTrigger(e.trigger),
    status: start ? 'running' : 'queued',
    jobs: ordered,
    plan: e.plan,
    createdAt: e.at,
    updatedAt: e.at,
    ...(start ? { startedAt: e.at } : {}),
    version: 0,
    appliedEventIds: [],
    ...(e.rerun ? { rerun: { of: e.rerun.of, by: e.rerun.by } } : {}),
  };
  const d = new Draft(initial, e.at);
  d.run();
  if (e.supersededBy !== undefined) {
    const reason = `superseded by run ${e.supersededBy}, a newer run of the same branch`;
    cancelAll(d, reason, 'superseded');
    d.run().reason = reason;
    return d.finish(e.id);
  }
  if (start) beginRunning(d);
  // Admission saw a run running; it may have ended (and found nothing to dequeue) before this
  // run was saved. Asking once more after the save closes that race; the reconciler covers index lag.
  else if (e.concurrency === 'queued') d.effects.push({ type: 'StartQueuedRun', pipelineId: e.pipelineId });
  settle(d);
  return d.finish(e.id);
}

/** Validates a plan and returns its jobs in a topological order. */
function checkPlan(plan: Record<string, JobPlan>, skippedByWhen: readonly string[]): string[] {
  const names = Object.keys(plan);
  const indegree = new Map<string, number>();
  for (const name of names) {
    const job = plan[name];
    for (const need of job.needs) {
      if (!Object.hasOwn(plan, need)) throw new Error(`RunRequested: job "${name}" needs unknown job "${need}"`);
    }
    if (job.kind === 'deploy' && !job.target) throw new Error(`RunRequested: deploy job "${name}" has no target`);
    if (!(job.maxAttempts >= 1)) throw new Error(`RunRequested: job "${name}" has maxAttempts ${job.maxAttempts}`);
    indegree.set(name, new Set(job.needs).size);
  }
  for (const name of skippedByWhen) {
    if (!Object.hasOwn(plan, name)) throw new Error(`RunRequested: skippedByWhen names unknown job "${name}"`);
  }
  const dependents = dependentsOf(plan);
  const order: string[] = names.filter((n) => indegree.get(n) === 0);
  for (let i = 0; i < order.length; i++) {
    for (const dep of dependents.get(order[i]) ?? []) {
      const left = indegree.get(dep)! - 1;
      indegree.set(dep, left);
      if (left === 0) order.push(dep);
    }
  }
  if (order.length !== names.length) {
    const stuck = names.filter((n) => indegree.get(n)! > 0);
    throw new Error(`RunRequested: the plan has a dependency cycle among ${stuck.map((n) => `"${n}"`).join(', ')}`);
  }
  return order;
}

function describeTrigger(t: Trigger): string {
  const ref = t.tag !== undefined ? `tag "${t.tag}"` : t.branch !== undefined ? `branch "${t.branch}"` : 'no branch or tag';
  return `${t.event} on ${ref}`;
}

// The plan never changes during a run: its job names and dependents are derived once per plan object.
interface PlanIndex {
  names: string[];
  dependents: Map<string, string[]>;
}
const planIndexCache = new WeakMap<Record<string, JobPlan>, PlanIndex>();
function indexOf(plan: Record<string, JobPlan>): PlanIndex {
  let index = planIndexCache.get(plan);
  if (index === undefined) {
    const names = Object.keys(plan);
    const dependents = new Map<string, string[]>();
    for (const name of names) {
      for (const need of plan[name].needs) {
        let list = dependents.get(need);
        if (list === undefined) dependents.set(need, (list = []));
        // A job listing the same need twice must not be started twice.
        if (list[list.length - 1] !== name) list.push(name);
      }
    }
    index = { names, dependents };
    planIndexCache.set(plan, index);
  }
  return index;
}

function dependentsOf(plan: Record<string, JobPlan>): Map<string, string[]> {
  return indexOf(plan).dependents;
}

function jobNames(plan: Record<string, JobPlan>): readonly string[] {
  return indexOf(plan).names;
}

// ---- handlers ---------------------------------------------------------------------

function onDequeued(d: Draft): void {
  // A run without jobs is a placeholder of a run that could not be planned: it only ever fails.
  if (d.view.status !== 'queued' || jobNames(d.view.plan).length === 0) return;
  const run = d.run();
  run.status = 'running';
  run.startedAt = d.at;
  beginRunning(d);
}

function beginRunning(d: Draft): void {
  d.effects.push({ type: 'Notify', runId: d.view.runId, kind: 'run_started' });
  startReady(d, jobNames(d.view.plan));
  d.mayHaveEnded = true;
}

/** The compute an attempt runs on, bounded (run-bounds.ts counts it); an event without one leaves the last attempt's. */
function recordCompute(job: JobState, compute: string | undefined): void {
  if (compute !== undefined) job.compute = compute.slice(0, MAX_COMPUTE_LABEL_BYTES);
}

function onJobStarted(d: Draft, e: JobStarted): void {
  const job = currentBuildAttempt(d, e.job, e.attempt);
  if (job === undefined) return;
  if (job.buildId !== undefined && job.buildId !== e.buildId) {
    stopStrayBuild(d, e.job, e.buildId, 'IN_PROGRESS');
    return;
  }
  if (job.status === 'queued') {
    const w = d.job(e.job);
    w.status = 'running';
    w.buildId = e.buildId;
    recordCompute(w, e.compute);
  } else if (job.status === 'running' && job.buildId === undefined) {
    const w = d.job(e.job);
    w.buildId = e.buildId;
    recordCompute(w, e.compute);
  } else {
    stopLateBuild(d, e.job, job, e.buildId);
  }
}

/**
 * The first build recorded for an attempt is the attempt's build; a build event
 * of any other build for it (an orphan duplicate started after CodeBuild forgot
 * the idempotency token) changes nothing, and a stray build still running is
 * stopped.
 */
function onBuildStateChanged(d: Draft, e: BuildStateChanged): void {
  const job = currentBuildAttempt(d, e.job, e.attempt);
  if (job === undefined) return;
  if (job.buildId !== undefined && job.buildId !== e.buildId) {
    stopStrayBuild(d, e.job, e.buildId, e.state);
    return;
  }
  if (TERMINAL_JOB_STATUSES.has(job.status)) {
    if (e.state === 'IN_PROGRESS') stopLateBuild(d, e.job, job, e.buildId);
    return;
  }
  switch (e.state) {
    case 'IN_PROGRESS':
      if (job.status === 'queued') {
        const w = d.job(e.job);
        w.status = 'running';
        w.buildId = e.buildId;
      } else if (job.buildId === undefined) {
        d.job(e.job).buildId = e.buildId;
      }
      return;
    case 'SUCCEEDED': {
      const w = d.job(e.job);
      w.buildId = e.buildId;
      if (e.outputs !== undefined) w.outputs = { ...w.outputs, ...e.outputs };
      endJob(d, e.job, 'succeeded');
      startDependents(d, e.job);
      return;
    }
    case 'STOPPED':
      d.job(e.job).buildId = e.buildId;
      if (d.view.stopping !== undefined) {
        endJob(d, e.job, 'cancelled', `build stopped while the run was being ${d.view.stopping}`);
        return;
      }
      failAttempt(d, e.job, buildFailure(e.state, e.reason));
      return;
    case 'FAILED':
    case 'TIMED_OUT':
    case 'FAULT':
      d.job(e.job).buildId = e.buildId;
      failAttempt(d, e.job, buildFailure(e.state, e.reason));
      return;
    default:
      e.state satisfies never;
  }
}

function buildFailure(state: BuildState, reason: string | undefined): string {
  const what = state === 'TIMED_OUT' ? 'build timed out' : state === 'STOPPED' ? 'build was stopped' : state === 'FAULT' ? 'build faulted' : 'build failed';
  return reason ? `${what}: ${reason}` : what;
}

function onApprovalGiven(d: Draft, e: ApprovalGiven): void {
  if (!isKind(d, e.job, 'approval') || d.view.jobs[e.job]?.status !== 'waiting_approval') return;
  d.job(e.job).approvedBy = e.by;
  endJob(d, e.job, 'succeeded');
  startDependents(d, e.job);
}

function onApprovalRejected(d: Draft, e: ApprovalRejected): void {
  if (!isKind(d, e.job, 'approval') || d.view.jobs[e.job]?.status !== 'waiting_approval') return;
  endJob(d, e.job, 'failed', `rejected by ${e.by}${e.comment ? `: ${e.comment}` : ''}`);
  skipDependents(d, e.job);
}

function onReleaseStarted(d: Draft, e: ReleaseStarted): void {
  const job = currentDeployAttempt(d, e.job, e.attempt);
  if (job === undefined || job.status !== 'queued') return;
  const w = d.job(e.job);
  w.status = 'running';
  w.outputs = { ...w.outputs, releaseId: e.releaseId };
}

function onReleaseProgressed(d: Draft, e: ReleaseProgressed): void {
  const job = currentDeployAttempt(d, e.job, e.attempt);
  // Steps may arrive before ReleaseStarted (same group, but emitted first): record them while the job is live.
  if (job === undefined || TERMINAL_JOB_STATUSES.has(job.status)) return;
  const w = d.job(e.job);
  w.steps = [...(w.steps ?? []), { at: e.at, detail: clip(e.detail, MAX_STEP_DETAIL_BYTES) }].slice(-MAX_JOB_STEPS);
}

function onReleaseFinished(d: Draft, e: ReleaseFinished): void {
  const job = currentDeployAttempt(d, e.job, e.attempt);
  if (job === undefined || TERMINAL_JOB_STATUSES.has(job.status)) return;
  const w = d.job(e.job);
  w.outputs = { ...w.outputs, releaseId: e.releaseId, releaseOutcome: e.outcome };
  const runId = d.view.runId;
  if (e.outcome === 'succeeded') {
    d.effects.push({ type: 'Notify', runId, kind: 'released', job: e.job });
    endJob(d, e.job, 'succeeded');
    startDependents(d, e.job);
    return;
  }
  const why = `release ${e.outcome === 'rolled_back' ? 'rolled back' : 'failed'}${e.reason ? `: ${e.reason}` : ''}`;
  if (e.outcome === 'rolled_back') d.effects.push({ type: 'Notify', runId, kind: 'rolled_back', job: e.job });
  if (d.view.stopping === 'cancelled') {
    endJob(d, e.job, 'cancelled', `${why} (run cancelled)`);
  } else if (e.outcome === 'rolled_back') {
    endJob(d, e.job, 'failed', why);
    skipDependents(d, e.job);
  } else {
    failAttempt(d, e.job, why);
  }
}

function onCancelRequested(d: Draft, e: CancelRequested): void {
  const run = d.view;
  if (TERMINAL_RUN_STATUSES.has(run.status) || run.stopping === 'cancelled') return;
  const reason = `cancelled by ${e.by}`;
  if (run.status === 'queued') {
    cancelAll(d, reason, 'cancelled');
    d.run().reason = reason;
    return;
  }
  for (const name of jobNames(run.plan)) {
    const job = d.view.jobs[name];
    if (TERMINAL_JOB_STATUSES.has(job.status)) continue;
    if (run.plan[name].kind === 'deploy' && job.attempt > 0) {
      // The releaser rolls the release back and reports ReleaseFinished; the run ends then.
      d.effects.push({ type: 'CancelRelease', runId: run.runId, job: name, target: run.plan[name].target! });
      continue;
    }
    stopJob(d, name, reason);
  }
  const w = d.run();
  w.stopping = 'cancelled';
  w.reason = reason;
  d.mayHaveEnded = true;
}

function onSuperseded(d: Draft, e: RunSuperseded): void {
  const run = d.view;
  if (TERMINAL_RUN_STATUSES.has(run.status) || run.stopping !== undefined) return;
  const reason = `superseded by run ${e.byRunId}`;
  if (run.status === 'queued') {
    cancelAll(d, reason, 'superseded');
    d.run().reason = reason;
    return;
  }
  for (const name of jobNames(run.plan)) {
    const job = d.view.jobs[name];
    if (TERMINAL_JOB_STATUSES.has(job.status)) continue;
    // A release that has begun is never cut in half: it finishes, then the run ends.
    if (run.plan[name].kind === 'deploy' && job.attempt > 0) continue;
    stopJob(d, name, reason);
  }
  const w = d.run();
  w.stopping = 'superseded';
  w.reason = reason;
  d.mayHaveEnded = true;
}

function onFailedToPlan(d: Draft, e: RunFailedToPlan): void {
  if (TERMINAL_RUN_STATUSES.has(d.view.status)) return;
  failNow(d, `the pipeline could not be planned: ${e.reason}`, e.reason);
}

/** Ends the run failed at once: builds stopped, releases rolled back, every unfinished job cancelled with `jobReason`. */
function failNow(d: Draft, jobReason: string, runReason: string): void {
  const run = d.view;
  const reason = jobReason;
  for (const name of jobNames(run.plan)) {
    const job = d.view.jobs[name];
    if (TERMINAL_JOB_STATUSES.has(job.status)) continue;
    if (run.plan[name].kind === 'deploy' && job.attempt > 0) {
      d.effects.push({ type: 'CancelRelease', runId: run.runId, job: name, target: run.plan[name].target! });
      endJob(d, name, 'cancelled', reason);
      continue;
    }
    stopJob(d, name, reason);
  }
  d.run().reason = runReason;
  endRun(d, 'failed');
}

/**
 * Fails a run that can no longer be saved (its item would pass DynamoDB's 400 KB
 * limit): the engine's way out when a save can never succeed, instead of a
 * message that fails until it reaches the DLQ and holds its group meanwhile.
 * Pure, like `decide`; `eventId` is recorded as applied.
 */
export function abortRun(state: RunState, at: string, eventId: string, reason: string): Decision {
  if (TERMINAL_RUN_STATUSES.has(state.status)) return { state, effects: [] };
  const d = new Draft(state, at);
  failNow(d, `run aborted: ${reason}`, reason);
  return d.finish(eventId);
}

/**
 * Notifications are sent after the fact (often after the run ended), so any run
 * takes the notice; only `notices` changes, never the status or a job.
 */
function onNotificationFailed(d: Draft, e: NotificationFailed): void {
  const notices = d.view.notices ?? [];
  const notice = { at: e.at, kind: 'notification_failed' as const, message: clip(`${e.channel}: ${e.message}`, MAX_NOTICE_BYTES), ...(e.job !== undefined ? { job: e.job } : {}) };
  d.run().notices = [...notices.slice(Math.max(0, notices.length - RUN_NOTICES_LIMIT + 1)), notice];
}

// ---- job transitions ------------------------------------------------------------------

function canStartJobs(run: RunState): boolean {
  return run.status === 'running' && run.stopping === undefined;
}

/** Starts each listed job that is pending and whose needs all succeeded. */
function startReady(d: Draft, names: Iterable<string>): void {
  if (!canStartJobs(d.view)) return;
  const { plan } = d.view;
  for (const name of names) {
    const jobs = d.view.jobs;
    if (jobs[name].status !== 'pending') continue;
    if (plan[name].needs.every((need) => jobs[need].status === 'succeeded')) {
      startAttempt(d, name);
    }
  }
}

function startDependents(d: Draft, name: string): void {
  const dependents = dependentsOf(d.view.plan).get(name);
  if (dependents !== undefined) startReady(d, dependents);
}

/** Starts the job's next attempt. */
function startAttempt(d: Draft, name: string): void {
  const plan = d.view.plan[name];
  const runId = d.view.runId;
  const job = d.job(name);
  job.attempt += 1;
  job.startedAt ??= d.at;
  // Deleting only what is there keeps first attempts' objects in V8's fast mode.
  if (job.finishedAt !== undefined) delete job.finishedAt;
  if (job.buildId !== undefined) {
    job.earlierBuilds = [...(job.earlierBuilds ?? []), { attempt: job.attempt - 1, buildId: job.buildId }].slice(-MAX_EARLIER_BUILDS);
    delete job.buildId;
  }
  if (job.reason !== undefined) delete job.reason;
  const token = attemptToken(runId, name, job.attempt);
  d.startedJobs = true;
  switch (plan.kind) {
    case 'build':
    case 'image':
      job.status = 'queued';
      d.effects.push({ type: 'StartBuild', runId, job: name, attempt: job.attempt, token });
      return;
    case 'deploy':
      job.status = 'queued';
      d.effects.push({ type: 'StartRelease', runId, job: name, attempt: job.attempt, target: plan.target!, token });
      return;
    case 'approval':
      job.status = 'waiting_approval';
      d.effects.push({ type: 'RequestApproval', runId, job: name }, { type: 'Notify', runId, kind: 'approval_needed', job: name });
      return;
    default:
      plan.kind satisfies never;
  }
}

/** An attempt failed: retry while attempts remain and the run may start jobs, else the job fails and its dependents are skipped. */
function failAttempt(d: Draft, name: string, why: string): void {
  const attempt = d.view.jobs[name].attempt;
  const maxAttempts = d.view.plan[name].maxAttempts;
  if (attempt < maxAttempts && canStartJobs(d.view)) {
    startAttempt(d, name);
    d.job(name).reason = `attempt ${attempt} of ${maxAttempts}: ${why}; retrying`;
    return;
  }
  endJob(d, name, 'failed', maxAttempts > 1 ? `${why} (attempt ${attempt} of ${maxAttempts})` : why);
  skipDependents(d, name);
}

/** Skips every pending job downstream of a job that will not succeed. */
function skipDependents(d: Draft, root: string): void {
  const dependents = dependentsOf(d.view.plan);
  const reason = `skipped because "${root}" ${d.view.jobs[root].status === 'cancelled' ? 'was cancelled' : 'failed'}`;
  const stack = [...(dependents.get(root) ?? [])];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (d.view.jobs[name].status !== 'pending') continue;
    endJob(d, name, 'skipped', reason);
    const next = dependents.get(name);
    if (next !== undefined) stack.push(...next);
  }
}

/** Cancels a job that has not finished, stopping its build if one is known. */
function stopJob(d: Draft, name: string, reason: string): void {
  const job = d.view.jobs[name];
  const kind = d.view.plan[name].kind;
  if ((kind === 'build' || kind === 'image') && job.buildId !== undefined && (job.status === 'queued' || job.status === 'running')) {
    d.effects.push({ type: 'StopBuild', runId: d.view.runId, job: name, buildId: job.buildId });
  }
  endJob(d, name, 'cancelled', reason);
}

/**
 * A build reported its start after its job had been cancelled (StartBuild raced
 * the cancel): stop it, once. Recording the build id is what makes it once.
 */
function stopLateBuild(d: Draft, name: string, job: JobState, buildId: string): void {
  if (job.status !== 'cancelled' || job.buildId !== undefined) return;
  d.job(name).buildId = buildId;
  d.effects.push({ type: 'StopBuild', runId: d.view.runId, job: name, buildId });
}

/** A build that is not its attempt's recorded build: stopped while it runs (stopping an ended build is a no-op anyway, so only IN_PROGRESS asks). */
function stopStrayBuild(d: Draft, name: string, buildId: string, state: BuildState): void {
  if (state !== 'IN_PROGRESS' || buildId.startsWith(NOT_STARTED_PREFIX)) return;
  d.effects.push({ type: 'StopBuild', runId: d.view.runId, job: name, buildId });
}

function endJob(d: Draft, name: string, status: JobStatus, reason?: string): void {
  const job = d.job(name);
  job.status = status;
  job.finishedAt = d.at;
  if (reason !== undefined) job.reason = reason;
  else if (job.reason !== undefined) delete job.reason;
  d.mayHaveEnded = true;
}

function cancelAll(d: Draft, reason: string, status: 'cancelled' | 'superseded'): void {
  for (const name of jobNames(d.view.plan)) {
    if (!TERMINAL_JOB_STATUSES.has(d.view.jobs[name].status)) stopJob(d, name, reason);
  }
  endRun(d, status);
}

/** The job, if the event is about its current build/image attempt. */
function currentBuildAttempt(d: Draft, name: string, attempt: number): JobState | undefined {
  const kind = d.view.plan[name]?.kind;
  if (kind !== 'build' && kind !== 'image') return undefined;
  const job = d.view.jobs[name];
  return job !== undefined && job.attempt === attempt ? job : undefined;
}

function currentDeployAttempt(d: Draft, name: string, attempt: number): JobState | undefined {
  if (!isKind(d, name, 'deploy')) return undefined;
  const job = d.view.jobs[name];
  return job !== undefined && job.attempt === attempt ? job : undefined;
}

function isKind(d: Draft, name: string, kind: JobPlan['kind']): boolean {
  return Object.hasOwn(d.view.plan, name) && d.view.plan[name].kind === kind;
}

// ---- run transitions ---------------------------------------------------------------

/** Ends a running run once no job is active and none can start. */
function settle(d: Draft): void {
  if (!d.mayHaveEnded || d.startedJobs || d.view.status !== 'running') return;
  const { jobs, plan } = d.view;
  let failed: string | undefined;
  let cancelled = false;
  const stuck: string[] = [];
  for (const name of jobNames(plan)) {
    switch (jobs[name].status) {
      case 'queued':
      case 'running':
      case 'waiting_approval':
        return;
      case 'pending':
        stuck.push(name);
        break;
      case 'failed':
        failed ??= name;
        break;
      case 'cancelled':
        cancelled = true;
        break;
      default:
        break;
    }
  }
  // Unreachable with a checked plan (a blocked job is skipped when its need ends); kept so a run can never hang.
  for (const name of stuck) endJob(d, name, 'skipped', 'its needs can never all succeed');
  if (stuck.length > 0 && d.view.stopping === undefined) d.run().reason = `jobs that could never start: ${stuck.join(', ')}`;
  const status: RunStatus = d.view.stopping ?? (failed !== undefined || stuck.length > 0 ? 'failed' : cancelled ? 'cancelled' : 'succeeded');
  if (status === 'failed' && failed !== undefined && d.view.reason === undefined) {
    // The first failed job in plan order names the failure in notifications and listings.
    const why = d.view.jobs[failed].reason;
    d.run().reason = `job "${failed}" failed${why ? `: ${why}` : ''}`;
  }
  endRun(d, status);
}

const NOTIFY_KIND = {
  succeeded: 'run_succeeded',
  failed: 'run_failed',
  cancelled: 'run_cancelled',
  superseded: 'run_superseded',
} as const;

function endRun(d: Draft, status: 'succeeded' | 'failed' | 'cancelled' | 'superseded'): void {
  const heldSlot = d.view.status === 'running';
  const run = d.run();
  run.status = status;
  run.finishedAt = d.at;
  delete run.stopping;
  d.effects.push({ type: 'Notify', runId: run.runId, kind: NOTIFY_KIND[status] });
  // In queued mode only a run that was running frees the pipeline for the next one.
  if (heldSlot && run.concurrency === 'queued') {
    d.effects.push({ type: 'StartQueuedRun', pipelineId: run.pipelineId, afterRunId: run.runId });
  }
}
