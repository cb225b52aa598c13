/**
 * SecretSource over AWS Secrets Manager with a short in-memory cache: a webhook
 * burst costs one GetSecretValue per secret per minute, and a rotated secret is
 * picked up within a minute. Values are never logged and never put in errors.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { NotFoundError, RetryableError } from '../errors.ts';
import type { SecretSource } from '../ports.ts';
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
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

export class SecretsManagerSecretSource implements SecretSource {
  private readonly cache = new Map<string, { value: string; expiresAt: number }>();
  /** Concurrent requests for one secret share one call. */
  private readonly inFlight = new Map<string, Promise<string>>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(private readonly client: SecretsManagerClient, opts: SecretCacheOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.now = opts.now ?? Date.now;
  }

  async get(name: string): Promise<string> {
    const hit = this.cache.get(name);
    if (hit && hit.expiresAt > this.now()) return hit.value;
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
      // Failures are not cached: the next delivery asks again.
      const code = (err as { name?: string }).name;
      if (code === 'ResourceNotFoundException') throw new NotFoundError(`secret '${name}' does not exist`);
      throw new RetryableError(`could not read secret '${name}': ${code ?? 'error'}`, { cause: err });
    }
    if (value === undefined) throw new NotFoundError(`secret '${name}' has no value`);
    this.cache.set(name, { value, expiresAt: this.now() + this.ttlMs });
    return value;
  }
}
