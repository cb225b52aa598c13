/**
 * Shapes of the messages on Slipway's queues, shared by producers and consumers.
 *
 * - engine-events.fifo: one `EngineEvent` (shared/domain/run.ts) as JSON per message.
 *   MessageGroupId = `run#<runId>`, except RunRequested which goes in `pipeline#<pipelineId>`
 *   so admission decisions for one pipeline are serialized.
 *   MessageDeduplicationId = `dedupeId(event.id)`.
 * - release-steps (standard queue, DelaySeconds for polling): `ReleaseMessage`.
 */
import { createHash } from 'node:crypto';
import type { DeploySpec } from './domain/pipeline.ts';
import type { EngineEvent } from './domain/run.ts';

export function engineMessageGroup(event: EngineEvent): string {
  return event.type === 'RunRequested' ? `pipeline#${event.pipelineId}` : `run#${event.runId}`;
}

/** SQS allows at most 128 characters of [A-Za-z0-9!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~]. */
export function dedupeId(eventId: string): string {
  return /^[\x21-\x7e]{1,128}$/.test(eventId) ? eventId : createHash('sha256').update(eventId).digest('hex');
}

/** Sent by the engine when a deploy job starts; the releaser owns everything after it. */
export interface StartReleaseMessage {
  type: 'StartRelease';
  runId: string;
  pipelineId: string;
  job: string;
  attempt: number;
  /** Deterministic: `attemptToken(runId, job, attempt)`. */
  token: string;
  target: string;
  /** Image to release (URI with digest or tag), taken from the image job's outputs. */
  image: string;
  deploy: DeploySpec;
  /** The run was superseded while this release waited for the target: drop it with a reason. */
  supersededBy?: string;
}

/** A poll/step of a release in progress; the target record is the lock and holds the saved step. */
export interface ReleaseStepMessage {
  type: 'ReleaseStep';
  target: string;
  releaseId: string;
  /** Step counter the message was scheduled for; a message whose step is already past is ignored. */
  step: number;
}

export interface CancelReleaseMessage {
  type: 'CancelRelease';
  runId: string;
  job: string;
  target: string;
}

export interface RollbackMessage {
  type: 'Rollback';
  target: string;
  requestedBy: string;
}

export type ReleaseMessage = StartReleaseMessage | ReleaseStepMessage | CancelReleaseMessage | RollbackMessage;
