/**
 * Run state, engine events and effects: the vocabulary of `decide`.
 * Pure types and tiny helpers; no I/O.
 */
import type { ConcurrencyMode, JobKind, Provider, SourceEventKind } from './pipeline.ts';

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'superseded'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_RUN_STATUSES: ReadonlySet<RunStatus> = new Set(['succeeded', 'failed', 'cancelled', 'superseded']);

export const JOB_STATUSES = ['pending', 'waiting_approval', 'queued', 'running', 'succeeded', 'failed', 'skipped', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_JOB_STATUSES: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);

export const TRUST_LEVELS = ['trusted', 'untrusted'] as const;
export type TrustLevel = (typeof TRUST_LEVELS)[number];

/** A run's trust level; a pull request from a fork is untrusted whatever an older record says. */
export function trustOf(trigger: Pick<Trigger, 'trust' | 'fork'>): TrustLevel {
  if (trigger.fork === true || trigger.trust === 'untrusted') return 'untrusted';
  return 'trusted';
}

/**
 * The commit whose repository file defines the run, for a pipeline defined in the
 * repository: the run's own commit when it is trusted; for a fork's pull request the
 * target branch as the host reported it with the event (its base commit), or the
 * target branch's name when the host sent none (GitLab), never the fork's commit.
 */
export function definitionCommitOf(trigger: Pick<Trigger, 'trust' | 'fork' | 'event' | 'commit' | 'baseCommit' | 'branch'>): string {
  if (trustOf(trigger) === 'trusted') return trigger.commit;
  const ref = trigger.baseCommit ?? trigger.branch;
  if (ref === undefined) throw new Error("an untrusted run names no target branch to read its definition from");
  return ref;
}

/**
 * Which build lane a run's builds use, and with it which service role and which
 * artifact namespace (enforced by IAM outside the build, see infra/constructs/builds.ts):
 * - `release`: push, tag and manual/API runs: `runs/`;
 * - `pull-request`: pull requests from the pipeline's own repository: `pr-runs/`,
 *   so a pull request's build can never overwrite what a release run publishes;
 * - `fork`: a fork's pull request: `fork-runs/`, under a role that can touch nothing else.
 */
export type BuildLane = 'release' | 'pull-request' | 'fork';

export function buildLaneOf(trigger: Pick<Trigger, 'trust' | 'fork' | 'event'>): BuildLane {
  if (trustOf(trigger) === 'untrusted') return 'fork';
  return trigger.event === 'pull_request' ? 'pull-request' : 'release';
}

/** The artifact namespace of each lane: `<root>/<runId>/<job>/...` in the artifact bucket. */
export const ARTIFACT_ROOTS: Readonly<Record<BuildLane, string>> = { release: 'runs', 'pull-request': 'pr-runs', fork: 'fork-runs' };

/**
 * Who caused a run and where its code comes from, in one line for people:
 * `pull request #7 from fork mallory/web (feature) into main by mallory: untrusted`.
 * The names are the git host's (attacker-controlled for a fork): render them escaped.
 */
export function describeProvenance(t: Trigger): string {
  const by = t.author ? ` by ${t.author}` : '';
  const trust = trustOf(t);
  let what: string;
  if (t.event === 'pull_request') {
    const from = t.fork || trust === 'untrusted' ? `fork ${t.headRepository ?? '(deleted repository)'}` : 'this repository';
    what = `pull request${t.pullRequest !== undefined ? ` #${t.pullRequest}` : ''} from ${from}${t.sourceBranch ? ` (${t.sourceBranch})` : ''}${t.branch ? ` into ${t.branch}` : ''}`;
  } else if (t.event === 'tag') what = `tag ${t.tag ?? ''}`;
  else if (t.event === 'manual') what = `manual run${t.branch ? ` on ${t.branch}` : ''}`;
  else what = `push to ${t.branch ?? '?'}`;
  return `${what}${by}: ${trust}`;
}

/** What started a run. `manual` covers API and CLI requests. */
export interface Trigger {
  event: SourceEventKind | 'manual';
  provider?: Provider;
  repository?: string;
  /** Branch for push/manual; target branch for pull requests. */
  branch?: string;
  tag?: string;
  commit: string;
  /** Pull request number, when event is pull_request. */
  pullRequest?: number;
  /**
   * Whether the run's code comes from the team (push, tag, manual/API, a pull request
   * from a branch of the pipeline's own repository) or from anyone (a fork's pull
   * request). Untrusted runs never supply their definition or notification channels,
   * never build images, deploy or approve, and build under a role that can touch
   * nothing outside their own run. Runs recorded before this field existed read as
   * trusted unless `fork` says otherwise (see `trustOf`).
   */
  trust?: TrustLevel;
  /** Pull requests: whether the source branch lives in another repository (a fork). */
  fork?: boolean;
  /** Pull requests: the source branch (`branch` is the target branch). */
  sourceBranch?: string;
  /** Pull requests: the repository the change comes from, when the host still knows it. */
  headRepository?: string;
  /** Pull requests: the target branch's head commit when the host reported it with the event. */
  baseCommit?: string;
  /** Who caused the run: the git host's sender/author, or the caller of the API. */
  author?: string;
  message?: string;
  deliveryId?: string;
  parameters?: Record<string, string>;
}

/** What the run item keeps of each job: enough for `decide`; the full JobSpec stays in the pinned pipeline version. */
export interface JobPlan {
  kind: JobKind;
  needs: string[];
  /** retries + 1 */
  maxAttempts: number;
  /** Release target, for deploy jobs. */
  target?: string;
}

export interface JobState {
  status: JobStatus;
  /** 1-based attempt number of the current (or last) attempt; 0 before the first start. */
  attempt: number;
  buildId?: string;
  /** Build ids of the attempts before the current one, so each attempt's log stays readable. */
  earlierBuilds?: Array<{ attempt: number; buildId: string }>;
  startedAt?: string;
  finishedAt?: string;
  /** Why the job ended as it did, in words a person can act on. */
  reason?: string;
  /** Key/value outputs a job reports (image URI and digest, release outcome...). */
  outputs?: Record<string, string>;
  approvedBy?: string;
  /** A deploy job's release steps as they happen (deployed, verified, each traffic shift, bake, rollback). */
  steps?: JobStep[];
}

export interface JobStep {
  /** ISO-8601 */
  at: string;
  detail: string;
}

/**
 * How many release steps a job keeps (the oldest go first): a blue-green release in three
 * shifts takes about 8; the releaser's own record of the release keeps them all.
 */
export const MAX_JOB_STEPS = 12;

/**
 * How many earlier attempts' build ids a job keeps (the newest stay): one, the attempt
 * before the current one. With 200 jobs at 10 retries each, keeping them all would take
 * the run item past DynamoDB's 400 KB (see run-bounds.ts, whose worst case counts it).
 */
export const MAX_EARLIER_BUILDS = 1;

export interface RunState {
  runId: string;
  pipelineId: string;
  /** The pipeline version the run pinned when it started. */
  pipelineVersion: number;
  concurrency: ConcurrencyMode;
  trigger: Trigger;
  status: RunStatus;
  /** Set when cancel/supersede arrived while a release was running: the run ends as this once the release is done. */
  stopping?: 'cancelled' | 'superseded';
  jobs: Record<string, JobState>;
  plan: Record<string, JobPlan>;
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
  reason?: string;
  /** Optimistic-lock counter: every save is conditional on it. */
  version: number;
  /** Ids of the latest applied events (bounded), so a redelivered event changes nothing. */
  appliedEventIds: string[];
  /**
   * Things a person should know that do not change the run's outcome, newest last,
   * at most RUN_NOTICES_LIMIT: a commit status or a chat message that could not be
   * delivered. Absent until the first one.
   */
  notices?: RunNotice[];
}

/** How many notices a run keeps (the oldest go first). */
export const RUN_NOTICES_LIMIT = 20;

export interface RunNotice {
  at: string;
  kind: 'notification_failed';
  /** In words a person can act on, e.g. `slack (secret slipway/web/slack): the webhook answered HTTP 404 ...`. */
  message: string;
  job?: string;
}

// ---- events ----------------------------------------------------------------

interface EventBase {
  /** Deterministic id: the same input always yields the same id, so redeliveries are recognised. */
  id: string;
  runId: string;
  /** ISO-8601 time the event happened. */
  at: string;
}

export interface RunRequested extends EventBase {
  type: 'RunRequested';
  pipelineId: string;
  pipelineVersion: number;
  concurrency: ConcurrencyMode;
  trigger: Trigger;
  plan: Record<string, JobPlan>;
  /** Jobs skipped from the start: `when` does not match, or the run's trust rules them out (computed at request time from the spec). */
  skippedByWhen: string[];
  /** Why each of those jobs is skipped; a job without an entry shows the generic `when` reason. */
  skipReasons?: Record<string, string>;
  /** From `admit()` (computed by the engine, serialized per pipeline): start now, or wait in the pipeline's queue. */
  admission: 'start' | 'queue';
  /** From `admit()`: a newer run of the same branch is active, so this (late) run is superseded by it on arrival. */
  supersededBy?: string;
}

/** A queued run's turn has come. */
export interface RunDequeued extends EventBase { type: 'RunDequeued' }

/** The engine started a build for this attempt (StartBuild returned). */
export interface JobStarted extends EventBase { type: 'JobStarted'; job: string; attempt: number; buildId: string }

export const BUILD_STATES = ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'STOPPED', 'TIMED_OUT', 'FAULT'] as const;
export type BuildState = (typeof BUILD_STATES)[number];

export interface BuildStateChanged extends EventBase {
  type: 'BuildStateChanged';
  job: string;
  attempt: number;
  buildId: string;
  state: BuildState;
  outputs?: Record<string, string>;
  reason?: string;
}

export interface ApprovalGiven extends EventBase { type: 'ApprovalGiven'; job: string; by: string }
export interface ApprovalRejected extends EventBase { type: 'ApprovalRejected'; job: string; by: string; comment?: string }
export interface CancelRequested extends EventBase { type: 'CancelRequested'; by: string }
export interface RunSuperseded extends EventBase { type: 'RunSuperseded'; byRunId: string }

/** The releaser acquired the target and began (emitted once per job attempt). */
export interface ReleaseStarted extends EventBase { type: 'ReleaseStarted'; job: string; attempt: number; releaseId: string }
/** One step of a release in progress, for the run's record (changes no status). */
export interface ReleaseProgressed extends EventBase {
  type: 'ReleaseProgressed';
  job: string;
  attempt: number;
  releaseId: string;
  detail: string;
}

export interface ReleaseFinished extends EventBase {
  type: 'ReleaseFinished';
  job: string;
  attempt: number;
  releaseId: string;
  outcome: 'succeeded' | 'rolled_back' | 'failed';
  reason?: string;
}

/** The pipeline definition could not be read or was invalid at the run's commit (definition in the repository). */
export interface RunFailedToPlan extends EventBase { type: 'RunFailedToPlan'; reason: string }

/**
 * A commit status or a notification could not be delivered: the endpoint refused
 * it for good (token refused, webhook gone) or every retry failed. Recorded on the
 * run as a notice; it never changes the run's status, and ended runs take it too.
 */
export interface NotificationFailed extends EventBase {
  type: 'NotificationFailed';
  /** The job the notification was about (approval_needed, released, rolled_back). */
  job?: string;
  /** Where it was going, without secrets, e.g. `github commit status` or `slack (secret slipway/web/slack)`. */
  channel: string;
  message: string;
}

export type EngineEvent =
  | RunRequested
  | RunDequeued
  | JobStarted
  | BuildStateChanged
  | ApprovalGiven
  | ApprovalRejected
  | CancelRequested
  | RunSuperseded
  | ReleaseStarted
  | ReleaseFinished
  | RunFailedToPlan
  | NotificationFailed
  | ReleaseProgressed;

// ---- effects ---------------------------------------------------------------

/** Seconds a build attempt waits before it starts: none for the first, then the job's retry delay, doubling, at most 10 minutes. */
export function retryDelayFor(retryDelaySeconds: number | undefined, attempt: number): number {
  if (attempt <= 1 || !retryDelaySeconds) return 0;
  return Math.min(600, retryDelaySeconds * 2 ** (attempt - 2));
}

/** Deterministic token: the same job attempt always yields the same token (CodeBuild idempotencyToken). */
export function attemptToken(runId: string, job: string, attempt: number): string {
  return `${runId}:${job}:${attempt}`;
}

export type NotifyKind = 'run_started' | 'run_succeeded' | 'run_failed' | 'run_cancelled' | 'run_superseded' | 'approval_needed' | 'released' | 'rolled_back';

export type Effect =
  | { type: 'StartBuild'; runId: string; job: string; attempt: number; token: string }
  | { type: 'StopBuild'; runId: string; job: string; buildId: string }
  | { type: 'StartRelease'; runId: string; job: string; attempt: number; target: string; token: string }
  | { type: 'CancelRelease'; runId: string; job: string; target: string }
  | { type: 'RequestApproval'; runId: string; job: string }
  | { type: 'Notify'; runId: string; kind: NotifyKind; job?: string }
  /**
   * Dequeue the pipeline's oldest queued run if nothing else runs. `afterRunId`: the run that
   * just freed the slot (it may still be listed as running); absent when a run was just queued,
   * to close the race with the end of the run it queued behind.
   */
  | { type: 'StartQueuedRun'; pipelineId: string; afterRunId?: string };

export interface Decision {
  state: RunState;
  effects: Effect[];
}
