/**
 * SecretSource over AWS Secrets Manager with a short in-memory cache: a webhook
 * burst costs one GetSecretValue per secret per minute, and a rotated secret is
 * picked up within a minute. Values are never logged and never put in errors.
 *
 * Failures are cached too, briefly: a missing secret or one the role may not read for a
 * minute, any other failure (throttling, an outage) for 5 seconds. A flood of forged deliveries naming a pipeline
 * whose secret is missing (or a Secrets Manager that throttles) then costs one call per
 * minute (or per 5 s) per Lambda instance instead of one per request; a secret created
 * after it was found missing is picked up within a minute.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NotFoundError, PermissionError } from '../domain/errors.ts';
import { toDomainError } from './errors.ts';
import type { SecretSource } from '../ports/index.ts';
import type { AwsConfig } from './clients.ts';

export function createSecretsManagerClient(cfg: AwsConfig): SecretsManagerClient {
  return new SecretsManagerClient({
    region: cfg.region,
    ...(cfg.awsEndpoint ? { endpoint: cfg.awsEndpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
  });
}

export interface SecretCacheOptions {
  /** How long a value is served from memory. @default 60_000 */
  ttlMs?: number;
  /** How long "this secret does not exist" is remembered. @default 60_000 */
  missingTtlMs?: number;
  /** How long another failure to read a secret is remembered. @default 5_000 */
  failureTtlMs?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

export class SecretsManagerSecretSource implements SecretSource {
  private readonly cache = new Map<string, { value: string; expiresAt: number }>();
  private readonly failures = new Map<string, { error: Error; expiresAt: number }>();
  /** Concurrent requests for one secret share one call. */
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly ttlMs: number;
  private readonly missingTtlMs: number;
  private readonly failureTtlMs: number;
  private readonly now: () => number;

  constructor(private readonly client: SecretsManagerClient, opts: SecretCacheOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.missingTtlMs = opts.missingTtlMs ?? 60_000;
    this.failureTtlMs = opts.failureTtlMs ?? 5_000;
    this.now = opts.now ?? Date.now;
  }

  async get(name: string): Promise<string> {
    const hit = this.cache.get(name);
    if (hit && hit.expiresAt > this.now()) return hit.value;
    const failed = this.failures.get(name);
    if (failed && failed.expiresAt > this.now()) throw failed.error;
    // Bounded: a flood naming ever new secrets must not grow the map without end.
    if (this.failures.size > 1000) this.failures.clear();
    const pending = this.inFlight.get(name);
    if (pending) return pending;
    const p = this.fetch(name).finally(() => this.inFlight.delete(name));
    this.inFlight.set(name, p);
    return p;
  }

  private async fetch(name: string): Promise<string> {
    let value: string | undefined;
    try {
      const out = await this.client.send(new GetSecretValueCommand({ SecretId: name }));
      value = out.SecretString ?? (out.SecretBinary ? Buffer.from(out.SecretBinary).toString('utf8') : undefined);
    } catch (err) {
      // Permission errors (the role may not read the secret, or not decrypt it with its KMS key) are
      // permanent: they are remembered as long as a missing secret, and their message names the secret.
      const failure = toDomainError(err, `could not read secret '${name}'`, {
        notFound: `secret '${name}' does not exist`,
        as: { permission: (_message, cause) => new PermissionError(`could not read secret '${name}': access denied (${errorName(cause)}); the function's role needs secretsmanager:GetSecretValue on it (and kms:Decrypt on its key)`, { cause }) },
      });
      throw this.remember(name, failure, failure instanceof NotFoundError || failure instanceof PermissionError ? this.missingTtlMs : this.failureTtlMs);
    }
    if (value === undefined) throw this.remember(name, new NotFoundError(`secret '${name}' has no value`), this.missingTtlMs);
    this.failures.delete(name);
    this.cache.set(name, { value, expiresAt: this.now() + this.ttlMs });
    return value;
  }

  private remember(name: string, error: Error, ttlMs: number): Error {
    this.failures.set(name, { error, expiresAt: this.now() + ttlMs });
    return error;
  }
}

function errorName(err: unknown): string {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === 'string' && name !== '' ? name : 'error';
}
