/**
 * Webhook ingress: authenticate, normalise, deduplicate, match, enqueue. Takes
 * ports only, so the Lambda (functions/webhook.ts) and the local mode share it.
 *
 * Order, and why:
 *  1. size (413) and the presence of a credential header (401): nothing parsed yet;
 *  2. parse the JSON only to find the repository, load that repository's pipelines and
 *     verify the credential against each one's webhook secret. A delivery is accepted
 *     for the pipelines whose secret verifies; none -> 401. Nothing is written before;
 *  3. delivery id, event normalisation, ping (200); an event Slipway does not act on (an
 *     `issues` event, an organisation ping, a GitLab note) is answered 200 `{ ignored: reason }`,
 *     never 4xx, once the delivery is authenticated: hosts log 4xx as failed deliveries and
 *     GitLab counts them toward disabling the hook;
 *  4. trigger matching; nothing to start -> 202 with no runs, and no write at all; if what
 *     matched is disabled pipelines only, 200 `{ ignored: "pipeline X is disabled ..." }` (a
 *     delivery that starts some runs lists the disabled ones it skipped as `disabled`);
 *  5. claim the delivery id (conditional write with TTL), then, per pipeline, the signed
 *     body (below); enqueue every RunRequest in one batch. If enqueueing fails the claims
 *     are released and the error surfaces as a 5xx, so the provider's redelivery starts
 *     the runs: nothing is lost.
 *
 * Replay: the delivery id header is not signed (GitHub and Bitbucket sign the body only),
 * so a captured delivery re-sent with a fresh id passes step 5's first claim. The second
 * claim is on what *is* signed: the SHA-256 of the exact body, per pipeline, kept for
 * REPLAY_WINDOW_SECONDS (30 days; hosts redeliver within hours, and GitHub's manual
 * "Redeliver" within 3 days, reusing the delivery id). A body already accepted for a
 * pipeline starts nothing for it; if it starts nothing at all, the answer is a duplicate.
 * Two different events never have the same body (each carries its commits, `before`,
 * timestamps). Limits: a replay after the window is not recognised; and a GitLab token is
 * not a signature: whoever captured one delivery holds the token itself and can send any
 * body, which no server-side check can tell from GitLab's.
 *
 * Why claim-then-enqueue (and release on failure) rather than enqueue-then-claim: the
 * DeliveryStore port has only a conditional claim, no read. Enqueue-then-claim would
 * protect a redelivery only for the 5 minutes of SQS FIFO deduplication; a redelivery
 * an hour later would enqueue (and start) a second run before its claim failed. It
 * would also let two racing copies of one delivery answer with different run ids.
 * Claim-first makes the conditional write the single arbiter: of N concurrent copies
 * exactly one wins, and its answer names the run that really starts. Every failure we
 * can observe (the send throws) releases the claim. What no ordering covers without a
 * second write is the process dying between the claim and the end of the send (e.g.
 * the function timing out while SQS hangs): that delivery is then answered as a
 * duplicate for the TTL and needs a manual run. The deterministic RunRequest id
 * guards the other side: a send that did land, then failed to report and was
 * released, cannot queue the run twice when the redelivery comes within 5 minutes.
 */
import { createHash } from 'node:crypto';
import { ulid } from 'ulid';
import type { Provider } from '../domain/pipeline.ts';
import { PROVIDERS } from '../domain/pipeline.ts';
import { NotFoundError, PayloadTooLargeError, RetryableError, SlipwayError, UnauthorizedError, ValidationError } from '../domain/errors.ts';
import type { RunRequest } from '../ports/messages.ts';
import type { DeliveryStore, EventQueue, PipelineRecord, PipelineStore, SecretSource } from '../ports/index.ts';
import { matchesTriggers } from '../domain/trigger-match.ts';
import { isPipelineSecret, secretPrefix } from '../domain/secret-names.ts';
import type { Headers, WebhookCredential, WebhookProtocol } from '../ports/git-hosts.ts';
import { IgnoredEventError, triggerOf, type SourceEvent } from '../domain/source-event.ts';
import { HEAD_CLAIM_PREFIX, HEAD_CLAIM_TTL_SECONDS, RECOVERED_CLAIM_PREFIX, headClaimKey, recoveredClaimKey, watchedRefOf } from '../domain/recovery.ts';

/**
 * Larger bodies are refused with 413 before anything is parsed. The path in front of the
 * function binds first: API Gateway HTTP API carries payloads up to 10 MB
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html), but a
 * synchronous Lambda invocation carries at most 6 MB of event
 * (https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html), and the event holds the body
 * JSON-escaped (or base64-encoded, 4/3 the size, for a binary content type) beside the headers
 * and request context. So 6 MiB here only ever refuses what the local mode lets through; on AWS
 * a JSON push of about 5.5 MB is the practical ceiling (README, "When webhooks go missing"),
 * and what the path cannot carry is recovered by the reconciler (services/push-recovery.ts).
 */
export const MAX_WEBHOOK_BYTES = 6 * 1024 * 1024;
/** How long a delivery id is remembered: providers redeliver within hours, people within days. */
export const DELIVERY_TTL_SECONDS = 3 * 24 * 60 * 60;
/** How long an accepted signed body is remembered per pipeline (replay protection, see above). */
export const REPLAY_WINDOW_SECONDS = 30 * 24 * 60 * 60;

/**
 * The delivery-store key of a signed body accepted for a pipeline. It lives beside the
 * delivery ids (same item type, `DELIVERY#...` keys), so the webhook's write permission
 * stays "delivery records only". Delivery ids with this prefix are refused (no host sends
 * one: theirs are UUIDs), so a delivery id can never stand for a body.
 */
const BODY_CLAIM_PREFIX = 'body:';
export function bodyClaimKey(pipelineId: string, body: Uint8Array): string {
  return `${BODY_CLAIM_PREFIX}${pipelineId}:${createHash('sha256').update(body).digest('hex')}`;
}

/** The subset of Powertools' Logger this module uses. */
export interface WebhookLogger {
  info(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
}

export interface WebhookDeps {
  pipelines: Pick<PipelineStore, 'findByRepository'>;
  deliveries: DeliveryStore;
  queue: EventQueue;
  secrets: SecretSource;
  /** How the git hosts sign and shape their webhooks (shared/git's `gitWebhooks`). */
  protocol: WebhookProtocol;
  /** @default ulid */
  newRunId?: () => string;
  /** @default () => new Date() */
  now?: () => Date;
  logger?: WebhookLogger;
}

export interface WebhookRequest {
  /** The `{provider}` path segment, unchecked. */
  provider: string;
  headers: Headers;
  /** The exact bytes the provider sent (base64 already decoded). */
  body: Uint8Array;
}

export interface StartedRun {
  pipeline: string;
  runId: string;
}

export type WebhookResult =
  | { status: 200; body: { deliveryId?: string; ping: true } }
  | { status: 200; body: { deliveryId: string; ignored: string } }
  | { status: 202; body: { deliveryId: string; runs: StartedRun[]; alreadyRecovered?: string[]; disabled?: string[] } }
  | { status: 202; body: { deliveryId: string; duplicate: true } };

const silent: WebhookLogger = { info() {}, warn() {}, error() {} };

export async function ingestWebhook(deps: WebhookDeps, req: WebhookRequest): Promise<WebhookResult> {
  const log = deps.logger ?? silent;
  const provider = parseProvider(req.provider);
  if (req.body.length > MAX_WEBHOOK_BYTES) throw tooLarge(req.body.length);
  const credential = deps.protocol.readCredential(provider, req.headers);
  if (!credential) throw new UnauthorizedError(`missing or malformed ${deps.protocol.signatureHeader(provider)} header`);

  const payload = parsePayload(req.body, req.headers);
  const repository = deps.protocol.repositoryOf(provider, payload);
  if (!repository) throw new ValidationError('the payload names no repository this webhook can be verified for');

  const accepted = await verifiedPipelines(deps, provider, repository, credential, req.body, log);
  // One message whatever failed (no pipeline, no secret, wrong signature): a caller
  // without the secret learns nothing about which repositories are registered.
  if (accepted.length === 0) throw new UnauthorizedError('webhook signature could not be verified');

  const deliveryId = deps.protocol.deliveryIdOf(provider, req.headers);
  if (!deliveryId) throw new ValidationError(`missing ${deps.protocol.deliveryHeader(provider)} header`);
  for (const reserved of [BODY_CLAIM_PREFIX, HEAD_CLAIM_PREFIX, RECOVERED_CLAIM_PREFIX]) {
    if (deliveryId.startsWith(reserved)) throw new ValidationError(`invalid ${deps.protocol.deliveryHeader(provider)} header: must not start with "${reserved}"`);
  }
  let events: SourceEvent[];
  try {
    events = deps.protocol.normalise(provider, req.headers, payload, deliveryId);
  } catch (err) {
    if (!(err instanceof IgnoredEventError)) throw err;
    log.info('webhook ignored', { provider, repository, deliveryId, reason: err.reason });
    return { status: 200, body: { deliveryId, ignored: err.reason } };
  }
  if (events.length > 0 && events.every((e) => e.kind === 'ping')) {
    log.info('webhook ping', { provider, repository, deliveryId });
    return { status: 200, body: { deliveryId, ping: true } };
  }

  const at = (deps.now ?? (() => new Date()))().toISOString();
  const newRunId = deps.newRunId ?? ulid;
  const { requests, disabled } = runRequests(events, accepted, at, newRunId);
  // Heads the pipelines watch but this delivery starts nothing for (a path filter said no): the
  // reconciler must know the webhook came, or it would run them as missed pushes.
  const started = new Set(requests.map((r) => requestHeadKey(r)).filter((k): k is string => k !== undefined));
  for (const key of watchedHeadKeys(events, accepted)) {
    if (!started.has(key)) await deps.deliveries.claim(provider, key, HEAD_CLAIM_TTL_SECONDS);
  }
  if (disabled.length > 0) log.info('webhook starts nothing for disabled pipelines', { provider, repository, deliveryId, pipelines: disabled });
  if (requests.length === 0) {
    // Only disabled pipelines wanted it: said so, as other events Slipway does not act on (200 ignored, not 4xx).
    if (disabled.length > 0) return { status: 200, body: { deliveryId, ignored: disabledReason(disabled) } };
    log.info('webhook matched no pipeline', { provider, repository, deliveryId, kinds: events.map((e) => e.kind) });
    return { status: 202, body: { deliveryId, runs: [] } };
  }

  if (!(await deps.deliveries.claim(provider, deliveryId, DELIVERY_TTL_SECONDS))) {
    log.info('webhook redelivered; nothing started', { provider, repository, deliveryId });
    return { status: 202, body: { deliveryId, duplicate: true } };
  }
  const claims = [deliveryId];
  let fresh: RunRequest[];
  let recovered: RunRequest[];
  try {
    fresh = await claimSignedBodies(deps.deliveries, provider, requests, req.body, claims);
    if (fresh.length === 0) {
      log.warn('webhook body already accepted under another delivery id (a replay); nothing started', { provider, repository, deliveryId });
      return { status: 202, body: { deliveryId, duplicate: true } };
    }
    ({ fresh, recovered } = await claimHeads(deps.deliveries, provider, fresh, claims));
  } catch (err) {
    await releaseClaims(deps.deliveries, provider, claims, log);
    throw err;
  }
  const alreadyRecovered = recovered.map((r) => r.pipelineId);
  if (alreadyRecovered.length > 0) log.info('webhook arrived after the reconciler recovered its push; nothing started for those pipelines', { provider, repository, deliveryId, pipelines: alreadyRecovered });
  const disabledField = disabled.length > 0 ? { disabled } : {};
  if (fresh.length === 0) return { status: 202, body: { deliveryId, runs: [], alreadyRecovered, ...disabledField } };
  try {
    await deps.queue.send(fresh);
  } catch (err) {
    await releaseClaims(deps.deliveries, provider, claims, log);
    throw err instanceof SlipwayError ? err : new RetryableError('could not enqueue run requests', { cause: err });
  }
  const runs = fresh.map((r) => ({ pipeline: r.pipelineId, runId: r.runId }));
  log.info('webhook accepted', { provider, repository, deliveryId, runs });
  return { status: 202, body: { deliveryId, runs, ...(alreadyRecovered.length > 0 ? { alreadyRecovered } : {}), ...disabledField } };
}

function disabledReason(ids: string[]): string {
  return ids.length === 1
    ? `pipeline ${ids[0]} is disabled (slipway pipelines enable ${ids[0]})`
    : `pipelines ${ids.join(', ')} are disabled (slipway pipelines enable <id>)`;
}

function parseProvider(raw: string): Provider {
  const p = raw.toLowerCase();
  if ((PROVIDERS as readonly string[]).includes(p)) return p as Provider;
  throw new NotFoundError(`unknown webhook provider '${raw.slice(0, 40)}' (expected ${PROVIDERS.join(', ')})`);
}

function tooLarge(bytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(`webhook body is ${bytes} bytes; the limit is ${MAX_WEBHOOK_BYTES}`);
}

/**
 * The payload as JSON, or from the `payload` field of a form-encoded body: GitHub's default
 * content type for a new hook is `application/x-www-form-urlencoded`
 * (https://docs.github.com/en/webhooks/using-webhooks/creating-webhooks). The signature is
 * checked later over the raw bytes as sent, never over the decoded JSON.
 */
function parsePayload(body: Uint8Array, headers: Headers): unknown {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  const contentType = headerValue(headers, 'content-type')?.toLowerCase() ?? '';
  const formEncoded = contentType.startsWith('application/x-www-form-urlencoded') || (!contentType && text.startsWith('payload='));
  let json = text;
  if (formEncoded) {
    const field = new URLSearchParams(text).get('payload');
    if (field === null) throw new ValidationError('form-encoded webhook body without a payload field');
    json = field;
  }
  try {
    return JSON.parse(json);
  } catch {
    throw new ValidationError(formEncoded ? 'the payload field of the form-encoded webhook body is not valid JSON' : 'webhook body is not valid JSON (content type application/json, or GitHub\'s application/x-www-form-urlencoded)');
  }
}

function headerValue(headers: Headers, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/**
 * The repository's pipelines whose webhook secret verifies the credential. Each
 * distinct secret is fetched (cached by the SecretSource) and checked once. A secret
 * that does not exist only rules its pipelines out; any other failure to read a
 * secret fails the delivery (503, worth a retry) unless another pipeline verified.
 */
async function verifiedPipelines(
  deps: WebhookDeps,
  provider: Provider,
  repository: string,
  credential: WebhookCredential,
  body: Uint8Array,
  log: WebhookLogger,
): Promise<PipelineRecord[]> {
  // Repository names are case-insensitive on all three hosts (the store's index is lower-cased too).
  const wanted = repository.toLowerCase();
  const candidates = (await deps.pipelines.findByRepository(provider, repository)).filter(
    (p) => p.webhookSecretName && p.spec.source.provider === provider && p.spec.source.repository.toLowerCase() === wanted,
  ).filter((p) => {
    // A record written before secret names were bound to their pipeline: its secret is not trusted for it.
    if (isPipelineSecret(p.id, p.webhookSecretName as string)) return true;
    log.warn('webhook secret is not under the pipeline\'s own prefix; the pipeline cannot accept webhooks until re-registered', { provider, repository, pipelineId: p.id, expectedPrefix: secretPrefix(p.id) });
    return false;
  });
  const secretNames = [...new Set(candidates.map((p) => p.webhookSecretName as string))];
  const outcomes = await Promise.allSettled(secretNames.map(async (name) => deps.protocol.verifyCredential(credential, await deps.secrets.get(name), body)));
  const verifiedSecrets = new Set<string>();
  let failure: unknown;
  outcomes.forEach((o, i) => {
    if (o.status === 'fulfilled') {
      if (o.value) verifiedSecrets.add(secretNames[i]);
    } else if (o.reason instanceof NotFoundError) {
      log.warn('webhook secret missing; its pipelines cannot accept webhooks', { provider, repository, secretName: secretNames[i] });
    } else {
      failure ??= o.reason;
    }
  });
  if (verifiedSecrets.size === 0 && failure !== undefined) throw failure;
  return candidates.filter((p) => verifiedSecrets.has(p.webhookSecretName as string));
}

/**
 * One RunRequest per (event, matching pipeline). The id is deterministic, so the FIFO
 * queue drops a second copy sent within its 5-minute deduplication window. `disabled`: the
 * pipelines whose triggers matched but that are disabled, so start nothing.
 */
function runRequests(events: SourceEvent[], pipelines: PipelineRecord[], at: string, newRunId: () => string): { requests: RunRequest[]; disabled: string[] } {
  const out: RunRequest[] = [];
  const disabled = new Set<string>();
  events.forEach((event, i) => {
    for (const p of pipelines) {
      if (!matchesTriggers(p.spec.source.triggers, event)) continue;
      // A disabled pipeline starts no runs (`slipway pipelines enable` turns it back on).
      if (p.disabled) { disabled.add(p.id); continue; }
      // A fork's pull request on a pipeline registered with `pullRequests.forks: skip` starts
      // nothing at all (no run, no commit status). Pipelines defined in the repository without
      // registered pull-request settings are decided when the run is planned, from the target
      // branch's file.
      if (event.pullRequest?.fork && p.spec.pullRequests?.forks === 'skip') continue;
      const suffix = events.length > 1 ? `:${i}` : '';
      out.push({
        type: 'RunRequest',
        id: `req:${event.provider}:${event.deliveryId}:${p.id}${suffix}`,
        runId: newRunId(),
        pipelineId: p.id,
        // The triggers just matched are this version's; the run uses the same version.
        pipelineVersion: p.version,
        trigger: triggerOf(event),
        at,
      });
    }
  });
  return { requests: out, disabled: [...disabled] };
}

/**
 * Claims the body for each pipeline with requests; returns the requests of the pipelines
 * that had not accepted this body before. Every claim won is pushed onto `claims`, so the
 * caller can release them all if what follows fails.
 */
async function claimSignedBodies(deliveries: DeliveryStore, provider: Provider, requests: RunRequest[], body: Uint8Array, claims: string[]): Promise<RunRequest[]> {
  const pipelineIds = [...new Set(requests.map((r) => r.pipelineId))];
  const won = new Set<string>();
  for (const id of pipelineIds) {
    const key = bodyClaimKey(id, body);
    if (await deliveries.claim(provider, key, REPLAY_WINDOW_SECONDS)) {
      claims.push(key);
      won.add(id);
    }
  }
  return requests.filter((r) => won.has(r.pipelineId));
}

/** The head claim of a push or tag run request (pull requests have none: the reconciler watches refs only). */
function requestHeadKey(r: RunRequest): string | undefined {
  const t = r.trigger;
  if (t.event === 'push' && t.branch) return headClaimKey(r.pipelineId, `refs/heads/${t.branch}`, t.commit);
  if (t.event === 'tag' && t.tag) return headClaimKey(r.pipelineId, `refs/tags/${t.tag}`, t.commit);
  return undefined;
}

function watchedHeadKeys(events: SourceEvent[], pipelines: PipelineRecord[]): string[] {
  const keys = new Set<string>();
  for (const e of events) {
    for (const p of pipelines) {
      const ref = watchedRefOf(p.spec.source.triggers, e);
      if (ref) keys.add(headClaimKey(p.id, ref, e.commit!));
    }
  }
  return [...keys];
}

/**
 * Claims each request's head (services/push-recovery.ts claims the same key before it
 * recovers a push). A head already claimed was either recovered by the reconciler, whose
 * run exists (the request is dropped), or claimed by an earlier webhook for the same
 * commit on the same ref, a rewind back to it or a re-push, which runs again as it always
 * did. The recovered marker tells the two apart; winning it only to look is undone at once.
 */
async function claimHeads(deliveries: DeliveryStore, provider: Provider, requests: RunRequest[], claims: string[]): Promise<{ fresh: RunRequest[]; recovered: RunRequest[] }> {
  const fresh: RunRequest[] = [];
  const recovered: RunRequest[] = [];
  for (const r of requests) {
    const key = requestHeadKey(r);
    if (key === undefined) { fresh.push(r); continue; }
    if (await deliveries.claim(provider, key, HEAD_CLAIM_TTL_SECONDS)) {
      claims.push(key);
      fresh.push(r);
      continue;
    }
    const ref = r.trigger.event === 'tag' ? `refs/tags/${r.trigger.tag}` : `refs/heads/${r.trigger.branch}`;
    const marker = recoveredClaimKey(r.pipelineId, ref, r.trigger.commit);
    if (await deliveries.claim(provider, marker, 60)) {
      await deliveries.release?.(provider, marker);
      fresh.push(r);
    } else {
      recovered.push(r);
    }
  }
  return { fresh, recovered };
}

async function releaseClaims(deliveries: DeliveryStore, provider: Provider, keys: string[], log: WebhookLogger): Promise<void> {
  const deliveryId = keys[0];
  if (!deliveries.release) {
    log.error('enqueue failed and the delivery store cannot release claims; this delivery will be treated as a duplicate', { provider, deliveryId });
    return;
  }
  for (const key of keys) {
    try {
      await deliveries.release(provider, key);
    } catch (err) {
      log.error('enqueue failed and releasing the delivery claim failed too', { provider, deliveryId, error: (err as Error).name });
    }
  }
}

// ---- HTTP (API Gateway HTTP API payload v2) --------------------------------

export interface HttpRequestV2 {
  body?: string | null;
  isBase64Encoded?: boolean;
  headers?: Record<string, string | undefined> | null;
  pathParameters?: Record<string, string | undefined> | null;
  rawPath?: string;
}

export interface HttpResult {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The whole HTTP exchange: never throws. Known errors keep their status and message;
 * a dependency failure is a 503 (the provider may retry); anything else is a 500 that
 * reveals nothing.
 */
export async function respondToWebhook(deps: WebhookDeps, event: HttpRequestV2, requestId: string): Promise<HttpResult> {
  try {
    const body = rawBody(event);
    const provider = event.pathParameters?.provider ?? /\/webhooks\/([^/]+)\/?$/.exec(event.rawPath ?? '')?.[1] ?? '';
    const result = await ingestWebhook(deps, { provider, headers: event.headers ?? {}, body });
    return json(result.status, result.body);
  } catch (err) {
    if (err instanceof SlipwayError && err.status < 500) {
      const message = err.message.split('\n', 1)[0];
      return json(err.status, { error: err.code, message, requestId });
    }
    (deps.logger ?? silent).error('webhook failed', { requestId, error: errorName(err) });
    if (err instanceof RetryableError) {
      return json(503, { error: 'ServiceUnavailable', message: 'a dependency is temporarily unavailable; retry later', requestId });
    }
    return json(500, { error: 'InternalError', message: 'internal error', requestId });
  }
}

/** The exact bytes sent. The size is checked on the encoded text first, so a huge body is never decoded. */
export function rawBody(event: Pick<HttpRequestV2, 'body' | 'isBase64Encoded'>): Buffer {
  const text = event.body ?? '';
  if (event.isBase64Encoded) {
    if (Math.floor((text.length * 3) / 4) > MAX_WEBHOOK_BYTES + 3) throw tooLarge(Math.floor((text.length * 3) / 4));
    const bytes = Buffer.from(text, 'base64');
    if (bytes.length > MAX_WEBHOOK_BYTES) throw tooLarge(bytes.length);
    return bytes;
  }
  if (text.length > MAX_WEBHOOK_BYTES) throw tooLarge(Buffer.byteLength(text, 'utf8'));
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > MAX_WEBHOOK_BYTES) throw tooLarge(bytes.length);
  return bytes;
}

function json(statusCode: number, body: unknown): HttpResult {
  return { statusCode, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }, body: JSON.stringify(body) };
}

function errorName(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : typeof err;
}
