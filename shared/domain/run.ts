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
  else if (t.event === 'schedule') what = `schedule ${t.schedule ?? ''} on ${t.branch ?? '?'}`;
  else what = `push to ${t.branch ?? '?'}`;
  const recovered = t.recovered ? ` (recovered: ${t.recovered.reason}${t.recovered.delaySeconds !== undefined ? `, ${t.recovered.delaySeconds} s after the commit` : ''})` : '';
  return `${what}${recovered}${by}: ${trust}`;
}

/** What started a run. `manual` covers API and CLI requests; `schedule` a pipeline's `schedules` entry. */
export interface Trigger {
  event: SourceEventKind | 'manual' | 'schedule';
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
  /**
   * Set when no webhook started the run: the reconciler found a watched head without a run
   * (shared/services/push-recovery.ts). `delaySeconds` counts from the commit's date (the push
   * came at or after it), so it is never less than the real delay.
   */
  recovered?: { reason: 'webhook missed'; delaySeconds?: number };
  /** Scheduled runs: the schedule's name. */
  schedule?: string;
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
  /**
   * The compute the current attempt's build runs on: `lambda`, `small`, `medium`, `large` or `fleet`
   * (its name is the pinned job's `fleet`). Kept short: 200 jobs carry it (run-bounds.ts).
   */
  compute?: string;
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

/** The longest compute a job keeps (`medium`); see JobState.compute. */
export const MAX_COMPUTE_LABEL_BYTES = 8;

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
  /** A re-run: the run it repeats (same commit, same pipeline version), and who asked. */
  rerun?: RunRerun;
}

/**
 * What a re-run carries from the run it repeats. A re-run of the failed jobs only keeps the
 * jobs that succeeded (their outputs too, and their artifacts, copied by the API) and runs the rest.
 */
export interface RunRerun {
  of: string;
  by: string;
  /** Jobs taken over as succeeded from the earlier run: name -> its outputs. */
  reused?: Record<string, { outputs?: Record<string, string> }>;
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

