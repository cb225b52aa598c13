/**
 * What deciding asks the outside world to do (effects), and the tokens and delays that make doing it again safe.
 */
import type { RunState } from './run.ts';

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
