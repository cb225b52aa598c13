/**
 * One POST to a provider, with a timeout, and what its failure means:
 * - permanent (retrying cannot help; reported on the run at once): 401/403 (a token
 *   or webhook refused), 404/410 (the endpoint is gone), any other 4xx, a redirect;
 * - retryable (quick retries, then later deliveries): timeouts, network errors,
 *   408, 429, 5xx, and a 403 that is a rate limit.
 * Errors name the channel, never a URL that may carry a secret (chat webhooks).
 */
import { NotFoundError, PermissionError, RetryableError } from '../domain/errors.ts';

export class DeliveryError extends Error {
  constructor(message: string, readonly permanent: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DeliveryError';
  }
}

export interface HttpOptions {
  /** Per request. @default 5000 */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface Posted {
  status: number;
  text: string;
}

/**
 * POSTs `body` as JSON. Resolves with the answer when it is a 2xx, or when
 * `accept(status, text)` says a non-2xx answer means success (GitLab's "already
 * in that state"); throws DeliveryError otherwise.
 */
export async function postJson(url: string, body: unknown, headers: Record<string, string>, what: string, opts: HttpOptions = {}, accept?: (status: number, text: string) => boolean): Promise<Posted> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  let res: Response;
  try {
    res = await (opts.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'slipway', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      // A redirect is answered as such (a moved repository, a retired webhook): never followed
      // with the token, and never mistaken for an unreachable host.
      redirect: 'manual',
    });
  } catch (err) {
    const name = (err as Error).name;
    const why = name === 'TimeoutError' || name === 'AbortError' ? `timed out after ${timeoutMs} ms` : 'could not be reached';
    throw new DeliveryError(`${what} ${why}`, false, { cause: err });
  }
  let text = '';
  try {
    text = await res.text();
  } catch (err) {
    if (res.ok) throw new DeliveryError(`${what}: the answer was cut off`, false, { cause: err });
  }
  if (res.ok || accept?.(res.status, text)) return { status: res.status, text };
  const said = excerpt(text);
  const answer = `answered HTTP ${res.status}${said ? ` (${said})` : ''}`;
  if (res.status === 403 && (res.headers.get('x-ratelimit-remaining') === '0' || res.headers.has('retry-after'))) {
    throw new DeliveryError(`${what}: rate limited, ${answer}`, false);
  }
  if (res.status === 401 || res.status === 403) throw new DeliveryError(`${what} refused the credentials: ${answer}`, true);
  if (res.status === 404 || res.status === 410) throw new DeliveryError(`${what} does not exist (any more): ${answer}`, true);
  if (res.status === 408 || res.status === 429 || res.status >= 500) throw new DeliveryError(`${what} ${answer}`, false);
  throw new DeliveryError(`${what} ${answer}`, true);
}

/** A secret's value, with a missing secret or one the role may not read as a permanent failure and an outage as a retryable one. */
export async function readSecret(secrets: { get(name: string): Promise<string> }, name: string): Promise<string> {
  try {
    return await secrets.get(name);
  } catch (err) {
    if (err instanceof NotFoundError) throw new DeliveryError(`secret "${name}" does not exist or has no value`, true, { cause: err });
    if (err instanceof PermissionError) throw new DeliveryError(err.message, true, { cause: err });
    if (err instanceof RetryableError) throw new DeliveryError(err.message, false, { cause: err });
    throw new DeliveryError(`could not read secret "${name}": ${(err as Error).message}`, false, { cause: err });
  }
}

/** The start of an answer, on one line, for an error a person reads. */
function excerpt(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}
