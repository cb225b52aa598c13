/**
 * Shapes of the messages on Slipway's queues, shared by producers and consumers.
 *
 * - engine-events.fifo: one `EngineEvent` (shared/domain/run.ts) as JSON per message.
 *   MessageGroupId = `run#<runId>`, except RunRequested which goes in `pipeline#<pipelineId>`
 *   so admission decisions for one pipeline are serialized.
 *   MessageDeduplicationId = `dedupeId(event.id)`.
 * - release-steps (standard queue, DelaySeconds for polling): `ReleaseMessage`.
 * - notifications (standard queue, DelaySeconds for retries): `NotificationMessage`.
 */
import { createHash } from 'node:crypto';
import type { NotificationEvent, Provider } from '../domain/pipeline.ts';
import type { ReleaseRequest } from '../domain/release.ts';
import type { EngineEvent } from '../domain/run-events.ts';
import type { NotifyKind } from '../domain/run-effects.ts';
import type { RunStatus, Trigger } from '../domain/run.ts';

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

/**
 * Where one notification goes. Names of secrets and topics only, never their values.
 * - status: the commit status on the git host, with the pipeline's token.
 * - slack/teams/dingtalk: a chat webhook whose URL is in the secret.
 * - email: an SNS topic.
 * `event` is what the pipeline subscribed to (`run_fixed` when a success follows a failure).
 */
export type NotificationChannel =
  | { kind: 'status'; provider: Provider; repository: string; tokenSecretName: string }
  | { kind: 'slack' | 'teams' | 'dingtalk'; secret: string; event: NotificationEvent }
  | { kind: 'email'; topicArn: string; event: NotificationEvent };

/**
 * Sent by the engine for every `Notify` effect, without `channel`: the notifier
 * expands it into the commit status and the pipeline's subscribed channels and
 * delivers each. A channel that failed in a way worth retrying comes back as a
 * message of its own, with `channel` and `attempt`, after a growing delay, so one
 * dead webhook never repeats the deliveries that worked.
 */
export interface NotificationMessage {
  type: 'Notification';
  /** Deterministic: `<runId>:<kind>[:<job>]`; a replayed effect sends the same id. */
  id: string;
  kind: NotifyKind;
  runId: string;
  pipelineId: string;
  pipelineVersion: number;
  job?: string;
  status: RunStatus;
  trigger: Trigger;
  /** Why the run ended as it did (failed runs name their failed job). */
  reason?: string;
  startedAt?: string;
  finishedAt?: string;
  /** When the engine decided to notify. */
  at: string;
  channel?: NotificationChannel;
  /** Deliveries of `channel` tried so far (each with quick in-process retries). @default 0 */
  attempt?: number;
}
