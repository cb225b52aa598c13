/**
 * Delivers the notifications queue: one NotificationMessage at a time.
 *
 * A message straight from the engine (no `channel`) is expanded here: the commit
 * status when the pipeline has a git host token and the notification is about the
 * run, plus every chat or e-mail channel of the pipeline subscribed to the event
 * (`run_fixed` when a success follows a failed run on the same branch). Each
 * channel is then delivered on its own:
 *
 * 1. a few quick tries in the process with exponential backoff, for timeouts,
 *    network errors, 429 and 5xx;
 * 2. still failing: the channel goes back on the queue as a message of its own
 *    (`channel`, `attempt` + 1) with a growing DelaySeconds, so a later delivery
 *    retries that channel and never repeats the ones that worked. The schedule
 *    lives in the message rather than in the receive count, so it is the same in
 *    Lambda, the local mode and the tests;
 * 3. a permanent failure (token refused, webhook gone, any other 4xx, a missing
 *    secret) or the last attempt is reported on the run: a `NotificationFailed`
 *    event on the engine queue, which `decide` keeps in the run's notices.
 *
 * A failure to report never fails the run: the engine only enqueued the message.
 * This function throws only when the reporting itself cannot be done (the pipeline
 * store, the queue or the engine queue down); the batch then reports the record,
 * SQS redelivers it and, after the queue's receive limit, the DLQ's alarm calls a
 * person. Delivery is at least once: such a redelivery may repeat a chat message.
 * Secret values are never logged nor put in errors.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { isPipelineSecret, secretPrefix } from '../domain/secret-names.ts';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { NotificationEvent, NotificationSpec, PipelineSpec, Provider } from '../domain/pipeline.ts';
import { definitionCommitOf, type Trigger } from '../domain/run.ts';
import { type NotificationFailed } from '../domain/run-events.ts';
import { NotFoundError, RetryableError, SlipwayError, ValidationError } from '../domain/errors.ts';
import { dedupeId, parseNotificationMessage, type NotificationChannel, type NotificationMessage } from '../ports/messages.ts';
import type { EventQueue, NotificationQueue, PipelineRecord, PipelineStore, RunStore, SecretSource } from '../ports/index.ts';
import { postChat } from './chat.ts';
import { commitStateOf, postCommitStatus } from './commit-status.ts';
import { publishEmail } from './email.ts';
import { DeliveryError } from './http.ts';
import { duration, notificationText, runUrl } from './text.ts';

export interface NotifierDeps {
  pipelines: Pick<PipelineStore, 'get'>;
  runs: Pick<RunStore, 'listByPipeline'>;
  /** The notifications queue, for later attempts of a channel. */
  queue: NotificationQueue;
  /** engine-events.fifo, for NotificationFailed. */
  events: EventQueue;
  secrets: SecretSource;
  sns: Pick<SNSClient, 'send'>;
  /** API roots of self-hosted git hosts (SLIPWAY_GIT_API_URLS). */
  gitBaseUrls?: Partial<Record<Provider, string>>;
  /** Root of the management API, for links to runs (SLIPWAY_PUBLIC_API_URL). @default no link */
  publicApiUrl?: string;
  /** The definition kept in the repository, for its notifications (as the engine reads it). */
  resolveDefinition?: (record: PipelineRecord, trigger: Trigger) => Promise<PipelineSpec>;
  /** Per HTTP request. @default 5000 */
  timeoutMs?: number;
  /** Tries of one delivery in the process. @default 3 */
  quickTries?: number;
  /** Pause before quick try n (2, 3...). @default 250·2^(n-2) ms, with jitter */
  quickBackoffMs?: (n: number) => number;
  /** Deliveries of one channel (each with its quick tries) before it is reported on the run. @default 5 */
  maxAttempts?: number;
  /** Delay before delivery `attempt` + 1 (attempt >= 1). @default 30·4^(attempt-1) s, at most 900 */
  retryDelaySeconds?: (attempt: number) => number;
  fetch?: typeof fetch;
  /** ISO-8601 now. @default the system clock */
  now?: () => string;
  /** Milliseconds since the epoch (DingTalk signatures). @default Date.now */
  clock?: () => number;
  logger?: Pick<Console, 'info' | 'warn'>;
}

export interface NotificationOutcome {
  delivered: string[];
  /** Channels put back on the queue for a later attempt. */
  retrying: string[];
  /** Channels reported on the run. */
  failed: string[];
}

export async function handleNotification(deps: NotifierDeps, message: NotificationMessage): Promise<NotificationOutcome> {
  const channels = message.channel ? [message.channel] : await expand(deps, message);
  const attempt = message.attempt ?? 0;
  const outcome: NotificationOutcome = { delivered: [], retrying: [], failed: [] };
  const results = await Promise.all(channels.map(async (channel) => ({ channel, error: await deliverWithRetries(deps, message, channel) })));
  const retries: NotificationMessage[] = [];
  const reports: NotificationFailed[] = [];
  const maxAttempts = deps.maxAttempts ?? 5;
  for (const { channel, error } of results) {
    const name = describeChannel(channel);
    if (error === undefined) {
      outcome.delivered.push(name);
    } else if (!error.permanent && attempt + 1 < maxAttempts) {
      retries.push({ ...message, channel, attempt: attempt + 1 });
      outcome.retrying.push(name);
      deps.logger?.warn('notification not delivered; it will be retried', { runId: message.runId, notification: message.id, channel: name, attempt: attempt + 1, error: error.message });
    } else {
      const text = error.permanent ? error.message : `${error.message}; gave up after ${attempt + 1} deliveries`;
      reports.push(failedEvent(deps, message, channel, text));
      outcome.failed.push(name);
      deps.logger?.warn('notification failed; reported on the run', { runId: message.runId, notification: message.id, channel: name, permanent: error.permanent, error: error.message });
    }
  }
  if (retries.length > 0) await deps.queue.send(retries, retryDelay(deps, attempt + 1));
  if (reports.length > 0) await deps.events.send(reports);
  return outcome;
}

/** The channels a notification fans out to. */
export async function expand(deps: NotifierDeps, m: NotificationMessage): Promise<NotificationChannel[]> {
  let record: PipelineRecord;
  try {
    // Version 0 is a run that could not be planned: the pipeline's latest settings apply.
    record = await deps.pipelines.get(m.pipelineId, m.pipelineVersion > 0 ? m.pipelineVersion : undefined);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    deps.logger?.warn('notification for a pipeline that does not exist; nothing to send', { runId: m.runId, pipelineId: m.pipelineId });
    return [];
  }
  const spec = await definitionOf(deps, record, m);
  const channels: NotificationChannel[] = [];

  const provider = m.trigger.provider ?? spec.source.provider;
  const repository = m.trigger.repository ?? spec.source.repository;
  // A run cancelled or superseded while it waited in the queue never showed on the commit: it leaves no mark there either.
  const neverShown = commitStateOf(m.kind) === 'cancelled' && m.startedAt === undefined;
  if (commitStateOf(m.kind) !== undefined && !neverShown && record.tokenSecretName && provider && repository && m.trigger.commit) {
    channels.push({ kind: 'status', provider, repository, tokenSecretName: record.tokenSecretName });
  }

  const event = eventOf(m.kind);
  if (event === undefined) return channels;
  const subscribed = spec.notifications.filter((n) => n.on.includes(event) || (event === 'run_succeeded' && n.on.includes('run_fixed')));
  if (subscribed.length === 0) return channels;
  const fixed = event === 'run_succeeded' && subscribed.some((n) => n.on.includes('run_fixed')) ? await followsFailure(deps, m) : false;
  for (const n of subscribed) {
    const chosen: NotificationEvent | undefined = event !== 'run_succeeded' ? event : fixed && n.on.includes('run_fixed') ? 'run_fixed' : n.on.includes('run_succeeded') ? 'run_succeeded' : undefined;
    if (chosen === undefined) continue;
    const channel = channelOf(n, chosen);
    if (channel) channels.push(channel);
  }
  return channels;
}

/** The run's definition; for one kept in the repository, the file at the commit, else the registered one. */
async function definitionOf(deps: NotifierDeps, record: PipelineRecord, m: NotificationMessage): Promise<PipelineSpec> {
  if (record.definitionSource.kind !== 'repository' || !deps.resolveDefinition) return record.spec;
  try {
    // The definition's commit, never a fork's own (a fork chooses no notification channels).
    return await deps.resolveDefinition(record, { ...m.trigger, commit: definitionCommitOf(m.trigger) });
  } catch (err) {
    // A definition that cannot be read failed the run already; its registered settings still get the word out.
    if (err instanceof RetryableError || !(err instanceof SlipwayError) || err.status >= 500) throw err;
    return record.spec;
  }
}

function eventOf(kind: NotificationMessage['kind']): NotificationEvent | undefined {
  switch (kind) {
    case 'run_failed':
    case 'run_succeeded':
    case 'approval_needed':
    case 'released':
    case 'rolled_back':
      return kind;
    default:
      return undefined;
  }
}

function channelOf(n: NotificationSpec, event: NotificationEvent): NotificationChannel | undefined {
  if (n.kind === 'email') return n.topicArn ? { kind: 'email', topicArn: n.topicArn, event } : undefined;
  return n.secret ? { kind: n.kind, secret: n.secret, event } : undefined;
}

/**
 * Whether the latest finished run before this one on the same branch failed.
 * Run ids are ULIDs, so "before" is a smaller id; cancelled and superseded runs
 * say nothing about the code and are passed over. Looks at most 3 pages back.
 */
export async function followsFailure(deps: Pick<NotifierDeps, 'runs'>, m: NotificationMessage): Promise<boolean> {
  let cursor: string | undefined;
  for (let page = 0; page < 3; page++) {
    const out = await deps.runs.listByPipeline(m.pipelineId, { limit: 50, ...(cursor ? { cursor } : {}) });
    for (const r of out.items) {
      if (r.runId >= m.runId || r.branch !== m.trigger.branch) continue;
      if (r.status === 'failed') return true;
      if (r.status === 'succeeded') return false;
    }
    if (!out.cursor) return false;
    cursor = out.cursor;
  }
  return false;
}

/** Quick tries of one channel; undefined when delivered, else the last error. */
async function deliverWithRetries(deps: NotifierDeps, m: NotificationMessage, channel: NotificationChannel): Promise<DeliveryError | undefined> {
  const tries = Math.max(1, deps.quickTries ?? 3);
  let last: DeliveryError | undefined;
  for (let n = 1; n <= tries; n++) {
    if (n > 1) await sleep((deps.quickBackoffMs ?? defaultQuickBackoff)(n));
    try {
      await deliver(deps, m, channel);
      return undefined;
    } catch (err) {
      last = asDeliveryError(err);
      if (last.permanent) return last;
    }
  }
  return last;
}

async function deliver(deps: NotifierDeps, m: NotificationMessage, channel: NotificationChannel): Promise<void> {
  // Registration and repository definitions are checked already; a record written before the
  // rule (or by hand) must not make this pipeline's messages use another pipeline's secret.
  const secret = channel.kind === 'status' ? channel.tokenSecretName : channel.kind === 'email' ? undefined : channel.secret;
  if (secret !== undefined && !isPipelineSecret(m.pipelineId, secret)) {
    throw new DeliveryError(`secret "${secret}" is not one of pipeline ${m.pipelineId}'s (${secretPrefix(m.pipelineId)}...); not used`, true);
  }
  const http = { timeoutMs: deps.timeoutMs ?? 5000, ...(deps.fetch ? { fetch: deps.fetch } : {}) };
  switch (channel.kind) {
    case 'status': {
      const state = commitStateOf(m.kind);
      if (state === undefined) return;
      const url = runUrl(deps.publicApiUrl, m.runId);
      await postCommitStatus(
        {
          provider: channel.provider,
          repository: channel.repository,
          commit: m.trigger.commit,
          ...(m.trigger.branch !== undefined ? { branch: m.trigger.branch } : {}),
          state,
          pipelineId: m.pipelineId,
          description: statusDescription(m),
          ...(url ? { url } : {}),
        },
        channel.tokenSecretName,
        { ...http, secrets: deps.secrets, ...(deps.gitBaseUrls ? { baseUrls: deps.gitBaseUrls } : {}) },
      );
      return;
    }
    case 'slack':
    case 'teams':
    case 'dingtalk':
      await postChat(channel.kind, channel.secret, notificationText(m, channel.event, deps.publicApiUrl), { ...http, secrets: deps.secrets, ...(deps.clock ? { clock: deps.clock } : {}) });
      return;
    case 'email':
      await publishEmail(deps.sns, channel.topicArn, notificationText(m, channel.event, deps.publicApiUrl));
      return;
  }
}

function statusDescription(m: NotificationMessage): string {
  const took = duration(m.startedAt, m.finishedAt);
  switch (m.kind) {
    case 'run_started': return `Running (run ${m.runId})`;
    case 'run_succeeded': return `Succeeded${took ? ` in ${took}` : ''}`;
    case 'run_failed': return m.reason ? `Failed: ${m.reason}` : 'Failed';
    case 'run_cancelled': return m.reason ? `Cancelled: ${m.reason}` : 'Cancelled';
    case 'run_superseded': return m.reason ? `Superseded: ${m.reason}` : 'Superseded by a newer run';
    default: return m.kind;
  }
}

/** Unknown errors (a bug, an SDK surprise) are retried, and reported on the run once the attempts run out. */
function asDeliveryError(err: unknown): DeliveryError {
  if (err instanceof DeliveryError) return err;
  if (err instanceof ValidationError) return new DeliveryError(err.message, true, { cause: err });
  return new DeliveryError(err instanceof Error ? err.message : String(err), false, { cause: err });
}

/** Without secrets: the secret's or the topic's name only. */
export function describeChannel(c: NotificationChannel): string {
  switch (c.kind) {
    case 'status': return `${c.provider} commit status (${c.repository})`;
    case 'email': return `email (SNS topic ${c.topicArn})`;
    default: return `${c.kind} (secret ${c.secret})`;
  }
}

function channelKey(c: NotificationChannel): string {
  switch (c.kind) {
    case 'status': return `status:${c.provider}:${c.repository}`;
    case 'email': return `email:${c.topicArn}`;
    default: return `${c.kind}:${c.secret}`;
  }
}

function failedEvent(deps: NotifierDeps, m: NotificationMessage, channel: NotificationChannel, text: string): NotificationFailed {
  return {
    type: 'NotificationFailed',
    // One report per notification and channel: a redelivery reports nothing twice.
    id: dedupeId(`notify-failed:${m.id}:${channelKey(channel)}`),
    runId: m.runId,
    at: (deps.now ?? (() => new Date().toISOString()))(),
    ...(m.job !== undefined ? { job: m.job } : {}),
    channel: describeChannel(channel),
    message: `${m.kind.replace(/_/g, ' ')} not delivered: ${text}`,
  };
}

function retryDelay(deps: NotifierDeps, attempt: number): number {
  return (deps.retryDelaySeconds ?? ((a) => Math.min(900, 30 * 4 ** (a - 1))))(attempt);
}

function defaultQuickBackoff(n: number): number {
  const base = 250 * 2 ** (n - 2);
  return base / 2 + Math.random() * (base / 2);
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

// ---- messages and batches --------------------------------------------------------

/** The notifications queue's parser is the message schema's (shared/ports/messages.ts). */
export { parseNotificationMessage };

export interface NotificationRecord {
  messageId: string;
  body: string;
}

/**
 * Handles a batch concurrently (messages are independent) with Powertools' BatchProcessor and
 * reports the records that failed, permanent or not: a malformed message goes to the DLQ after
 * the receive limit, where its alarm shows it; nothing is dropped. A batch that failed whole is
 * reported record by record too (`throwOnFullBatchFailure: false`), as any other.
 */
export async function processNotificationRecords(
  records: readonly NotificationRecord[],
  handle: (message: NotificationMessage) => Promise<unknown>,
  logger: { error(message: string, extra: Record<string, unknown>): void; warn(message: string, extra: Record<string, unknown>): void },
): Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }> {
  const handleRecord = async (record: NotificationRecord): Promise<void> => {
    try {
      await handle(parseNotificationMessage(record.body));
    } catch (err) {
      const permanent = err instanceof ValidationError;
      const extra = { messageId: record.messageId, permanent, error: err instanceof Error ? err.message : String(err) };
      if (permanent) logger.error('notification message failed permanently; it goes to the DLQ after the receive limit', extra);
      else logger.warn('notification message failed; it will be redelivered', extra);
      throw err;
    }
  };
  // A processor per batch: it holds the batch's records, and the local mode may run batches side by side.
  const out = await processPartialResponse({ Records: records as unknown as Array<Record<string, unknown>> }, handleRecord, new BatchProcessor(EventType.SQS), { throwOnFullBatchFailure: false });
  return { batchItemFailures: inBatchOrder(records, out.batchItemFailures) };
}

/** Powertools lists failures as they happen; the report keeps the batch's order, as SQS delivered it. */
function inBatchOrder(records: ReadonlyArray<{ messageId: string }>, failures: ReadonlyArray<{ itemIdentifier: string }>): Array<{ itemIdentifier: string }> {
  const failed = new Set(failures.map((f) => f.itemIdentifier));
  return records.filter((r) => failed.has(r.messageId)).map((r) => ({ itemIdentifier: r.messageId }));
}
