/**
 * The console's client of the management API: the same routes the CLI uses, with the
 * person's credential (the local token, or a Cognito access token) and conditional GETs:
 * each GET sends the ETag of the last answer for that URL; a 304 costs a few bytes and
 * the view is not redrawn.
 */
export interface Problem { path: string; message: string }

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly problems: Problem[] = []) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface Fetched<T> { data: T; changed: boolean }

export class Api {
  private readonly cache = new Map<string, { etag: string; data: unknown }>();
  /** Requests made and how many answered 304, for the status line (and the e2e). */
  readonly stats = { requests: 0, notModified: 0 };

  constructor(private readonly base: string, private readonly credential: () => Promise<string | undefined>, private readonly onUnauthorized: () => void) {}

  private async headers(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const token = await this.credential();
    return { ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
  }

  async get<T>(path: string): Promise<Fetched<T>> {
    const cached = this.cache.get(path);
    const res = await this.fetch(path, { headers: await this.headers(cached ? { 'if-none-match': cached.etag } : {}) });
    if (res.status === 304 && cached) {
      this.stats.notModified += 1;
      return { data: cached.data as T, changed: false };
    }
    const data = await this.read(res);
    const etag = res.headers.get('etag');
    if (etag) {
      // Log pages have a URL per cursor: keep the most recent answers only.
      this.cache.delete(path);
      this.cache.set(path, { etag, data });
      if (this.cache.size > 200) this.cache.delete(this.cache.keys().next().value!);
    }
    return { data: data as T, changed: true };
  }

  async send<T>(method: 'POST' | 'PUT', path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const res = await this.fetch(path, {
      method,
      headers: await this.headers({ 'content-type': contentType }),
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return (await this.read(res)) as T;
  }

  private async fetch(path: string, init: RequestInit): Promise<Response> {
    this.stats.requests += 1;
    // Never a cookie or a cache: the credential is the header, and the ETag is ours.
    return fetch(`${this.base}${path}`, { ...init, credentials: 'omit', cache: 'no-store', redirect: 'error' });
  }

  private async read(res: Response): Promise<unknown> {
    const text = await res.text();
    let data: unknown;
    try { data = text ? JSON.parse(text) : undefined; } catch { data = undefined; }
    if (res.ok) return data;
    if (res.status === 401) this.onUnauthorized();
    const err = (data ?? {}) as { message?: string; problems?: Problem[] };
    throw new ApiError(res.status, err.message ?? `the API answered HTTP ${res.status}`, err.problems ?? []);
  }
}
