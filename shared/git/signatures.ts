/**
 * Webhook authentication for the three git hosts, over the exact bytes that were
 * sent. Pure: no I/O; the caller fetches the secrets.
 *
 * - GitHub:    `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`
 * - Bitbucket: `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>` (Bitbucket Cloud)
 * - GitLab:    `X-Gitlab-Token: <secret>` (a shared token, no signature over the body)
 *
 * Every comparison is constant-time over equal-length buffers, so the time a wrong
 * guess takes says nothing about how much of it was right.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Provider } from '../domain/pipeline.ts';
import type { Headers, WebhookCredential } from '../ports/git-hosts.ts';

export type { Headers } from '../ports/git-hosts.ts';

export function header(headers: Headers, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === wanted && v !== undefined) return v;
  }
  return undefined;
}

/** The header that carries the provider's credential. */
export const SIGNATURE_HEADER: Readonly<Record<Provider, string>> = {
  github: 'x-hub-signature-256',
  bitbucket: 'x-hub-signature',
  gitlab: 'x-gitlab-token',
};

/** What the request presented: a digest to check against the body, or a token to compare. */
export type Credential = WebhookCredential;

const SHA256_SIGNATURE = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * Reads the credential from the headers; undefined when it is missing or not in the
 * provider's format (e.g. GitHub's legacy SHA-1 `X-Hub-Signature` alone is not accepted).
 */
export function readCredential(provider: Provider, headers: Headers): Credential | undefined {
  const raw = header(headers, SIGNATURE_HEADER[provider]);
  if (raw === undefined) return undefined;
  if (provider === 'gitlab') return raw.length > 0 ? { kind: 'token', value: raw } : undefined;
  const m = SHA256_SIGNATURE.exec(raw.trim());
  return m ? { kind: 'hmac-sha256', digest: Buffer.from(m[1], 'hex') } : undefined;
}

export function hmacSha256(secret: string, body: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

/** `sha256=<hex>` as GitHub and Bitbucket send it (used by tests, the bench and the local mode). */
export function signBody(secret: string, body: Uint8Array | string): string {
  return `sha256=${hmacSha256(secret, typeof body === 'string' ? Buffer.from(body, 'utf8') : body).toString('hex')}`;
}

/** True when `credential` was made with `secret` for exactly these bytes. */
export function verifyCredential(credential: Credential, secret: string, body: Uint8Array): boolean {
  if (secret.length === 0) return false;
  if (credential.kind === 'hmac-sha256') {
    const expected = hmacSha256(secret, body);
    return expected.length === credential.digest.length && timingSafeEqual(expected, credential.digest);
  }
  // Tokens have arbitrary lengths; hashing both sides gives equal-length buffers and
  // keeps the comparison constant-time without leaking the secret's length.
  const a = createHash('sha256').update(credential.value, 'utf8').digest();
  const b = createHash('sha256').update(secret, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** Convenience for one secret: reads the credential and verifies it. */
export function verifyWebhook(provider: Provider, headers: Headers, body: Uint8Array, secret: string): boolean {
  const credential = readCredential(provider, headers);
  return credential !== undefined && verifyCredential(credential, secret, body);
}
