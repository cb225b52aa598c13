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
// A namespace import, not `{ z }`: esbuild can drop what a namespace import never reads (zod's ~260 KB of locales); see shared/http/request.ts.
import * as z from 'zod';
import { ValidationError } from '../domain/errors.ts';
import { PROVIDERS, type DeploySpec, type NotificationEvent } from '../domain/pipeline.ts';
import type { EngineEvent } from '../domain/run-events.ts';
import type { NotifyKind } from '../domain/run-effects.ts';
import { RUN_STATUSES, type Trigger } from '../domain/run.ts';

// ---- building blocks -----------------------------------------------------------

const required = z.string({ error: 'required' }).min(1, 'required');
const integer = z.number({ error: 'must be an integer' }).int('must be an integer');

/**
 * A trigger as the consumers read it: the commit is what every consumer needs; the rest is
 * the domain's `Trigger` (shared/domain/run.ts), written by Slipway's own producers.
 */
const trigger = z.looseObject({ commit: z.string({ error: 'required' }) }).transform((t) => t as unknown as Trigger);

/** Parses a JSON body with a schema; every problem is named `path: message`. */
function parseWith<S extends z.ZodType>(schema: S, body: string, what: string, fail: (message: string, value?: unknown) => Error): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw fail(`${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail(`${what} is not an object`);
  const out = schema.safeParse(value);
  if (!out.success) throw fail(`malformed ${what} (${out.error.issues.map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ')})`, value);
  return out.data;
}

/**
 * A request for a new run, sent by the webhook and the API. The engine turns it
 * into a `RunRequested` event: it loads the pipeline (the pinned version, or the
 * definition in the repository at the commit), plans the jobs (`planRun`),
 * decides admission (`admit`) and supersedes older runs, serialized per pipeline.
 *
 * - id: deterministic, e.g. `req:github:<deliveryId>:<pipelineId>` or `req:api:<requestId>`.
 * - runId: ULID chosen by the producer, returned to the caller at once.
 * - pipelineVersion: pin a version; default the latest at the time the engine plans the run.
 */
export const runRequestSchema = z.object({
  type: z.literal('RunRequest'),
  id: required,
  runId: required,
  pipelineId: required,
  pipelineVersion: integer.optional(),
  trigger,
  at: required,
  /** A re-run of an earlier run (`POST /runs/{id}/rerun`): linked to it, perhaps keeping its succeeded jobs (RunRerun). */
  rerun: z.object({
    of: required,
    by: required,
    reused: z.record(z.string(), z.object({ outputs: z.record(z.string(), z.string()).optional() })).optional(),
  }).optional(),
});
export type RunRequest = z.infer<typeof runRequestSchema>;

/** What travels on engine-events.fifo. */
export type EngineMessage = EngineEvent | RunRequest;

/**
 * The engine queue's messages. The queue is written only by Slipway's own producers, so
 * this checks the envelope (type, id, run id, time) and what the engine reads before
 * `decide` does; the events' own shapes are the domain's (shared/domain/run.ts) and pass
 * through whole. A Record, so a new message type that is not listed here fails the type check.
 */
const envelope = { id: required, runId: required, at: required };
const jobFields = { job: z.string({ error: 'required' }), attempt: integer };
const requestFields = { pipelineId: required, trigger };
const ENGINE_MESSAGE_FIELDS: Record<EngineMessage['type'], z.ZodRawShape> = {
  RunRequest: runRequestSchema.shape,
  RunRequested: requestFields,
  RunDequeued: {},
  JobStarted: jobFields,
  BuildStateChanged: jobFields,
  ApprovalGiven: {},
  ApprovalRejected: {},
  CancelRequested: {},
  RunSuperseded: {},
  ReleaseStarted: jobFields,
  ReleaseProgressed: {},
  ReleaseFinished: jobFields,
  RunFailedToPlan: {},
  NotificationFailed: {},
};
const engineMessageTypes = Object.keys(ENGINE_MESSAGE_FIELDS) as [EngineMessage['type'], ...Array<EngineMessage['type']>];

export const engineMessageSchema = z
  .looseObject({ type: z.enum(engineMessageTypes, { error: (issue) => `unknown message type ${JSON.stringify(issue.input)}` }) })
  // First the type alone, so an unknown type is named as such; then that type's fields.
  .pipe(z.discriminatedUnion('type', engineMessageTypes.map((type) => z.looseObject({ type: z.literal(type), ...envelope, ...ENGINE_MESSAGE_FIELDS[type] })) as unknown as [z.ZodObject, ...z.ZodObject[]]) as unknown as z.ZodType<unknown, { type: EngineMessage['type'] }>)
  .transform((m) => m as unknown as EngineMessage);

/** Parses an engine-events.fifo body; a body that fails is permanent (ValidationError), naming every problem. */
export function parseEngineMessage(body: string): EngineMessage {
  return parseWith(engineMessageSchema, body, 'engine message', (m) => new ValidationError(m));
}

export function engineMessageGroup(message: EngineMessage): string {
  return message.type === 'RunRequested' || message.type === 'RunRequest' ? `pipeline#${message.pipelineId}` : runMessageGroup(message.runId);
}

/** The message group of a run's own events. */
export function runMessageGroup(runId: string): string {
  return `run#${runId}`;
}

/** SQS allows at most 128 characters of [A-Za-z0-9!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~]. */
export function dedupeId(eventId: string): string {
  return /^[\x21-\x7e]{1,128}$/.test(eventId) ? eventId : createHash('sha256').update(eventId).digest('hex');
}

/**
 * Sent by the engine when a deploy job starts; the releaser owns everything after it.
 * The fields are the domain's `ReleaseRequest` (shared/domain/release.ts): token =
 * `attemptToken(runId, job, attempt)`, image = the image job's output (pinned by digest),
 * supersededBy = drop it with that reason.
 */
export const startReleaseMessageSchema = z.object({
  type: z.literal('StartRelease'),
  runId: required,
  pipelineId: required,
  job: required,
  attempt: integer,
  token: required,
  target: required,
  image: required,
  deploy: z.custom<DeploySpec>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'must be an object'),
  supersededBy: z.string().optional(),
});
export type StartReleaseMessage = z.infer<typeof startReleaseMessageSchema>;

/**
 * A poll/step of a release in progress; the target record is the lock and holds the saved step.
 * `step`: the step counter the message was scheduled for; a message whose step is already past is ignored.
 */
export const releaseStepMessageSchema = z.object({ type: z.literal('ReleaseStep'), target: required, releaseId: required, step: integer });
export type ReleaseStepMessage = z.infer<typeof releaseStepMessageSchema>;

export const cancelReleaseMessageSchema = z.object({ type: z.literal('CancelRelease'), runId: required, job: required, target: required });
export type CancelReleaseMessage = z.infer<typeof cancelReleaseMessageSchema>;

export const rollbackMessageSchema = z.object({ type: z.literal('Rollback'), target: required, requestedBy: required });
export type RollbackMessage = z.infer<typeof rollbackMessageSchema>;

/** What travels on the release-steps queue. */
export const releaseMessageSchema = z.discriminatedUnion('type', [
  startReleaseMessageSchema.loose(), releaseStepMessageSchema.loose(), cancelReleaseMessageSchema.loose(), rollbackMessageSchema.loose(),
]);
export type ReleaseMessage = StartReleaseMessage | ReleaseStepMessage | CancelReleaseMessage | RollbackMessage;

/**
 * Parses a release-steps body. A body that fails can never succeed: the releaser reports it
 * (it reaches the DLQ after the receive limit); `fail` builds the error it throws.
 */
export function parseReleaseMessage(body: string, fail: (message: string, value?: unknown) => Error = (m) => new ValidationError(m)): ReleaseMessage {
  return parseWith(releaseMessageSchema, body, 'release message', fail) as ReleaseMessage;
}

/** Every NotifyKind; a Record, so a kind added to the domain and not here fails the type check. */
const NOTIFY_KINDS: Record<NotifyKind, true> = {
  run_started: true, run_succeeded: true, run_failed: true, run_cancelled: true, run_superseded: true, approval_needed: true, released: true, rolled_back: true,
};
const NOTIFICATION_EVENTS: Record<NotificationEvent, true> = { run_failed: true, run_succeeded: true, run_fixed: true, approval_needed: true, released: true, rolled_back: true };
const notificationEvent = z.enum(Object.keys(NOTIFICATION_EVENTS) as [NotificationEvent, ...NotificationEvent[]]);

/**
 * Where one notification goes. Names of secrets and topics only, never their values.
 * - status: the commit status on the git host, with the pipeline's token.
 * - slack/teams/dingtalk: a chat webhook whose URL is in the secret.
 * - email: an SNS topic.
 * `event` is what the pipeline subscribed to (`run_fixed` when a success follows a failure).
 */
export const notificationChannelSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('status'), provider: z.enum(PROVIDERS), repository: required, tokenSecretName: required }),
  z.object({ kind: z.enum(['slack', 'teams', 'dingtalk']), secret: required, event: notificationEvent }),
  z.object({ kind: z.literal('email'), topicArn: required, event: notificationEvent }),
]);
export type NotificationChannel = z.infer<typeof notificationChannelSchema>;

/**
 * Sent by the engine for every `Notify` effect, without `channel`: the notifier
 * expands it into the commit status and the pipeline's subscribed channels and
 * delivers each. A channel that failed in a way worth retrying comes back as a
 * message of its own, with `channel` and `attempt`, after a growing delay, so one
 * dead webhook never repeats the deliveries that worked.
 *
 * - id: deterministic, `<runId>:<kind>[:<job>]`; a replayed effect sends the same id.
 * - reason: why the run ended as it did (failed runs name their failed job).
 * - at: when the engine decided to notify.
 * - attempt: deliveries of `channel` tried so far (each with quick in-process retries). @default 0
 */
export const notificationMessageSchema = z.object({
  type: z.literal('Notification'),
  id: required,
  kind: z.enum(Object.keys(NOTIFY_KINDS) as [NotifyKind, ...NotifyKind[]]),
  runId: required,
  pipelineId: required,
  pipelineVersion: integer,
  job: z.string().optional(),
  status: z.enum(RUN_STATUSES),
  trigger,
  reason: z.string().optional(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  at: required,
  channel: notificationChannelSchema.optional(),
  attempt: integer.optional(),
});
export type NotificationMessage = z.infer<typeof notificationMessageSchema>;

/** Parses a notifications body; a body that is not a notification is permanent (ValidationError). */
export function parseNotificationMessage(body: string): NotificationMessage {
  return parseWith(notificationMessageSchema.loose(), body, 'notification message', (m) => new ValidationError(m)) as NotificationMessage;
}
