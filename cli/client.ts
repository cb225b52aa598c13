/**
 * The CLI's HTTP client for Slipway's management API: the local mode's URL, or
 * a deployed stack's (requests signed with SigV4 from the default AWS
 * credential chain, as the API's IAM authorisation requires).
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';
import { defaultProvider } from '@aws-sdk/credential-provider-node';

export interface ApiTarget {
  url: string;
  /** Sign requests with SigV4 (a deployed stack); the local mode takes a token instead. */
  sign: boolean;
  /** The local mode's API token (`apiToken` in .slipway/dev.json), sent as a bearer token. */
  token?: string;
  region?: string;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly body?: unknown) {
    super(message);
  }
}

export class ApiClient {
  private readonly signer?: SignatureV4;

  constructor(private readonly target: ApiTarget) {
    if (target.sign) {
      this.signer = new SignatureV4({
        service: 'execute-api',
        // The API's own host names its region (<id>.execute-api.<region>.amazonaws.com).
        region: target.region ?? /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com/.exec(new URL(target.url).hostname)?.[1] ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        credentials: defaultProvider(),
        sha256: Hash.bind(null, 'sha256'),
      });
    }
  }

  /** The local mode's API (requests unsigned): nothing of it lives in AWS. */
  get isLocal(): boolean {
    return !this.target.sign;
  }

  /** The AWS region of a deployed stack's API (from its host name), else the environment's. */
  get region(): string {
    return this.target.region ?? /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com/.exec(new URL(this.target.url).hostname)?.[1] ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  }

  async request<T = unknown>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const url = new URL(path, this.target.url.endsWith('/') ? this.target.url : `${this.target.url}/`);
    // Keep the API's path prefix (a stage) when the base URL has one.
    url.pathname = `${new URL(this.target.url).pathname.replace(/\/$/, '')}${path.split('?')[0]}`;
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    let headers: Record<string, string> = { accept: 'application/json', host: url.host };
    if (payload !== undefined) headers['content-type'] = contentType;
    if (this.target.token && !this.signer) headers.authorization = `Bearer ${this.target.token}`;
    if (this.signer) {
      const signed = await this.signer.sign({
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port ? Number(url.port) : undefined,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        body: payload,
      });
      headers = signed.headers as Record<string, string>;
    }
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      throw new ApiError(0, 'Unreachable', `cannot reach the Slipway API at ${this.target.url} (${(e as Error).message}). Is \`npm start\` running, or is SLIPWAY_API_URL right?`);
    }
    const text = await res.text();
    let parsed: unknown = undefined;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { parsed = text; }
    if (!res.ok) {
      const b = (parsed ?? {}) as { error?: string; message?: string };
      if (res.status === 401 && !this.signer) {
        throw new ApiError(res.status, 'Unauthorized', `the local API refused the request: ${b.message ?? 'no valid token'}. Is .slipway/dev.json from the local mode running now (tokens change at every start)?`, parsed);
      }
      if ((res.status === 401 || res.status === 403) && this.signer) {
        throw new ApiError(res.status, 'Forbidden', `the API refused the request (${res.status}): check your AWS credentials and that they allow execute-api:Invoke on this API`, parsed);
      }
      throw new ApiError(res.status, b.error ?? `HTTP${res.status}`, b.message ?? (typeof parsed === 'string' ? parsed : res.statusText), parsed);
    }
    return parsed as T;
  }
}
