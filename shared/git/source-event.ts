/**
 * One shape for what the three git hosts send: a push, a tag, a deletion, a pull
 * (merge) request or a ping becomes a `SourceEvent`. The provider modules read
 * the documented payloads defensively (the JSON is untrusted until verified and
 * loosely typed after), and throw ValidationError for what Slipway does not handle.
 */
import type { Provider } from '../domain/pipeline.ts';
import type { Trigger } from '../domain/run.ts';
import { ValidationError } from '../domain/errors.ts';
import { header, type Headers } from './signatures.ts';
import { githubRepository, normaliseGithub } from './github.ts';
import { gitlabRepository, normaliseGitlab } from './gitlab.ts';
import { bitbucketRepository, normaliseBitbucket } from './bitbucket.ts';

export type { PullRequestAction, PullRequestInfo, SourceEvent, WebhookEventKind } from '../domain/source-event.ts';
export { triggerOf } from '../domain/source-event.ts';
import type { PullRequestInfo, SourceEvent } from '../domain/source-event.ts';

export const DELIVERY_HEADER: Readonly<Record<Provider, string>> = {
  github: 'x-github-delivery',
  gitlab: 'x-gitlab-event-uuid',
  bitbucket: 'x-request-uuid',
};

export const EVENT_HEADER: Readonly<Record<Provider, string>> = {
  github: 'x-github-event',
  gitlab: 'x-gitlab-event',
  bitbucket: 'x-event-key',
};

/**
 * The delivery id the provider sent, trimmed; undefined when absent or unusable.
 * GitLab 17.4+ also sends `Idempotency-Key`, documented to stay the same when a
 * delivery is retried or resent; it is preferred to `X-Gitlab-Event-UUID` when present.
 */
export function deliveryIdOf(provider: Provider, headers: Headers): string | undefined {
  const v = ((provider === 'gitlab' ? header(headers, 'idempotency-key')?.trim() : undefined) || header(headers, DELIVERY_HEADER[provider]))?.trim();
  return v && v.length <= 200 ? v : undefined;
}

/**
 * The repository a payload is about: the only thing read before the signature is
 * checked, to find whose secrets to check it with.
 */
export function repositoryOf(provider: Provider, payload: unknown): string | undefined {
  switch (provider) {
    case 'github': return githubRepository(payload);
    case 'gitlab': return gitlabRepository(payload);
    case 'bitbucket': return bitbucketRepository(payload);
  }
}

/**
 * Normalises a verified delivery. Usually one event; a Bitbucket push may update
 * several refs at once and yields one event per ref.
 */
export function normalise(provider: Provider, headers: Headers, payload: unknown, deliveryId: string): SourceEvent[] {
  const eventName = header(headers, EVENT_HEADER[provider])?.trim();
  if (!eventName) throw new ValidationError(`missing ${EVENT_HEADER[provider]} header`);
  switch (provider) {
    case 'github': return [normaliseGithub(eventName, payload, deliveryId)];
    case 'gitlab': return [normaliseGitlab(eventName, payload, deliveryId)];
    case 'bitbucket': return normaliseBitbucket(eventName, payload, deliveryId);
  }
}


