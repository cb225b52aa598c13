/** How a git host's webhooks are authenticated and read; shared/git implements it for GitHub, GitLab and Bitbucket. */
import type { Provider } from '../domain/pipeline.ts';
import type { SourceEvent } from '../domain/source-event.ts';

/** Header names are case-insensitive; API Gateway v2 lowercases them, other callers may not. */
export type Headers = Readonly<Record<string, string | undefined>>;

/** What the request presented: a digest to check against the body, or a token to compare. */
export type WebhookCredential =
  | { kind: 'hmac-sha256'; digest: Buffer }
  | { kind: 'token'; value: string };

export interface WebhookProtocol {
  /** The header that carries the provider's credential. */
  signatureHeader(provider: Provider): string;
  /** Undefined when the credential is missing or not in the provider's format. */
  readCredential(provider: Provider, headers: Headers): WebhookCredential | undefined;
  /** Constant-time check of the credential against the secret and the exact body. */
  verifyCredential(credential: WebhookCredential, secret: string, body: Uint8Array): boolean;
  /** The repository a payload names (read before it is verified, to find the secret). */
  repositoryOf(provider: Provider, payload: unknown): string | undefined;
  deliveryHeader(provider: Provider): string;
  deliveryIdOf(provider: Provider, headers: Headers): string | undefined;
  /** The events a verified delivery carries; throws ValidationError for what Slipway does not handle. */
  normalise(provider: Provider, headers: Headers, payload: unknown, deliveryId: string): SourceEvent[];
}
