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
import type { ReleaseRequest } from './domain/release.ts';
import type { EngineEvent, Trigger } from './domain/run.ts';

/**
 * A request for a new run, sent by the webhook and the API. The engine turns it
 * into a `RunRequested` event: it loads the pipeline (the pinned version, or the
 * definition in the repository at the commit), plans the jobs (`planRun`),
 * decides admission (`admit`) and supersedes older runs, serialized per pipeline.
 */
export interface RunRequest {
  type: 'RunRequest';
  /** Deterministic, e.g. `req:github:<deliveryId>:<pipelineId>` or `req:api:<requestId>`. */
  id: string;
  /** ULID chosen by the producer, returned to the caller at once. */
  runId: string;
  pipelineId: string;
  /** Pin a version; default the latest at the time the engine plans the run. */
  pipelineVersion?: number;
  trigger: Trigger;
  at: string;
}

/** What travels on engine-events.fifo. */
export type EngineMessage = EngineEvent | RunRequest;

export function engineMessageGroup(message: EngineMessage): string {
  return message.type === 'RunRequested' || message.type === 'RunRequest' ? `pipeline#${message.pipelineId}` : `run#${message.runId}`;
}

/** SQS allows at most 128 characters of [A-Za-z0-9!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~]. */
export function dedupeId(eventId: string): string {
  return /^[\x21-\x7e]{1,128}$/.test(eventId) ? eventId : createHash('sha256').update(eventId).digest('hex');
}

/**
 * Sent by the engine when a deploy job starts; the releaser owns everything after it.
 * The fields are the domain's `ReleaseRequest`: token = `attemptToken(runId, job, attempt)`,
 * image = the image job's output (pinned by digest), supersededBy = drop it with that reason.
 */
export interface StartReleaseMessage extends ReleaseRequest {
  type: 'StartRelease';
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
