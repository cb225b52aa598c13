/**
 * Engine events: everything that can happen to a run, each with a deterministic id so a redelivery is recognised.
 */
import type { ConcurrencyMode } from './pipeline.ts';
import type { JobPlan, RunRerun, Trigger } from './run.ts';

// ---- events ----------------------------------------------------------------

export interface EventBase {
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
  /** A re-run: the earlier run, and the jobs it keeps from it (they start as succeeded). */
  rerun?: RunRerun;
}

/** A queued run's turn has come. */
export interface RunDequeued extends EventBase { type: 'RunDequeued' }

/** The engine started a build for this attempt (StartBuild returned). */
export interface JobStarted extends EventBase {
  type: 'JobStarted'; job: string; attempt: number; buildId: string;
  /** The compute the build runs on (`lambda`, `small`, `medium`, `large`, `fleet`; see JobState.compute); absent in events sent before it existed. */
  compute?: string;
}

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
