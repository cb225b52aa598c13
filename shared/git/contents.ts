/**
 * Reading from the git hosts' REST APIs at an exact commit: a pipeline whose
 * definition lives in its repository (`.slipway.yml` by default), and a branch's
 * head commit for manual runs.
 *
 * - GitHub: `GET /repos/{owner}/{repo}/contents/{path}?ref=` (raw media type; the
 *   base64 JSON form is decoded too), `GET /repos/{owner}/{repo}/commits/{branch}` (sha media type).
 * - GitLab: `GET /api/v4/projects/{urlencoded project}/repository/files/{urlencoded path}/raw?ref=`,
 *   `GET /api/v4/projects/{project}/repository/branches/{branch}`.
 * - Bitbucket Cloud: `GET /2.0/repositories/{workspace}/{repo}/src/{commit}/{path}`,
 *   `GET /2.0/repositories/{workspace}/{repo}/refs/branches/{branch}`.
 *
 * The token comes from a secret (SecretSource; Secrets Manager in AWS) named by the
 * pipeline's `tokenSecretName`. Its value is the token itself, or JSON `{ "token": "..." }`;
 * for Bitbucket a value `user:secret` (app password / API token) is sent as Basic auth,
 * anything else as a Bearer token. Without a secret name the request is anonymous
 * (public repositories).
 *
 * Failures: 404 -> NotFoundError; 401/403 -> GitHostAccessError naming the secret;
 * 429, 5xx, timeouts and network errors -> RetryableError; anything else -> ValidationError.
 */
import { parse as parseYaml } from 'yaml';
import { NotFoundError, RetryableError, SlipwayError, ValidationError } from '../domain/errors.ts';
import { DEFAULT_DEFINITION_PATH, type PipelineSpec, type Provider } from '../domain/pipeline.ts';
import type { Trigger } from '../domain/run.ts';
import type { PipelineRecord, SecretSource } from '../ports/index.ts';
import { parsePipeline, parsePipelineObject } from '../domain/definition.ts';


/** A definition file larger than this is refused (it must fit in one DynamoDB item with the run). */
export const MAX_DEFINITION_BYTES = 256 * 1024;

export const DEFAULT_BASE_URLS: Record<Provider, string> = {
  github: 'https://api.github.com',
  gitlab: 'https://gitlab.com',
  bitbucket: 'https://api.bitbucket.org',
};

/** Optional: API roots for self-hosted git hosts, as JSON, e.g. `{"github":"https://ghe.example.com/api/v3"}`. */
export const GIT_API_URLS_ENV = 'SLIPWAY_GIT_API_URLS';

/** Reads SLIPWAY_GIT_API_URLS (absent = the public hosts); a malformed value fails at load, naming the variable. */
export function gitBaseUrlsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<Record<Provider, string>> {
  const raw = env[GIT_API_URLS_ENV];
  if (!raw) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${GIT_API_URLS_ENV} must be a JSON object like {"github":"https://ghe.example.com/api/v3"}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${GIT_API_URLS_ENV} must be a JSON object of provider -> URL`);
  const out: Partial<Record<Provider, string>> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (!(k in DEFAULT_BASE_URLS)) throw new Error(`${GIT_API_URLS_ENV}: unknown provider "${k}" (github, gitlab, bitbucket)`);
    if (typeof v !== 'string' || !/^https?:\/\//.test(v)) throw new Error(`${GIT_API_URLS_ENV}: ${k} must be an http(s) URL`);
    out[k as Provider] = v;
  }
  return out;
}

export interface GitHostOptions {
  secrets: SecretSource;
  /** API roots per provider (GitHub Enterprise: `https://ghe.example.com/api/v3`; self-managed GitLab: its root URL). */
  baseUrls?: Partial<Record<Provider, string>>;
  /** Per request. @default 5000 */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Prefix the engine adds to image repositories (definition check). @default "slipway" */
  ecrRepositoryPrefix?: string;
}

/** The git host refused the pipeline's token (or demands one): a configuration problem, not worth retrying. */
export class GitHostAccessError extends SlipwayError {
  override readonly status = 400;
  override readonly code = 'GitHostAccessDenied';
  constructor(message: string) {
    super(message);
    this.name = 'GitHostAccessError';
  }
}

/** The text of `path` in `repository` at `commit`. */
export async function readFileAtCommit(
  provider: Provider,
  repository: string,
  path: string,
  commit: string,
  tokenSecretName: string | undefined,
  opts: GitHostOptions,
): Promise<string> {
  const file = path.replace(/^\/+/, '');
  if (file === '' || file.split('/').some((s) => s === '..' || s === '.' || s === '')) throw new ValidationError(`invalid file path "${path}"`);
  const base = baseUrl(provider, opts);
  let url: string;
  let accept: string;
  switch (provider) {
    case 'github': {
      const [owner, repo] = splitOwnerRepo(repository);
      url = `${base}/repos/${enc(owner)}/${enc(repo)}/contents/${encodePath(file)}?ref=${enc(commit)}`;
      accept = 'application/vnd.github.raw+json';
      break;
    }
    case 'gitlab':
      url = `${base}/api/v4/projects/${enc(repository)}/repository/files/${enc(file)}/raw?ref=${enc(commit)}`;
      accept = '*/*';
      break;
    case 'bitbucket': {
      const [ws, repo] = splitOwnerRepo(repository);
      url = `${base}/2.0/repositories/${enc(ws)}/${enc(repo)}/src/${enc(commit)}/${encodePath(file)}`;
      accept = '*/*';
      break;
    }
  }
  const what = `${file} in ${provider} repository ${repository} at ${commit}`;
  const res = await request(provider, url, accept, tokenSecretName, opts, what);
  const bytes = Buffer.from(await res.arrayBuffer());
  if (bytes.length > MAX_DEFINITION_BYTES) throw new ValidationError(`${what} is ${bytes.length} bytes; the limit is ${MAX_DEFINITION_BYTES}`);
  const type = res.headers.get('content-type') ?? '';
  if (provider === 'github' && type.includes('json') && !type.includes('raw')) {
    // Without the raw media type (or through a proxy that drops it) GitHub answers with the base64 JSON form.
    return decodeGithubContents(bytes.toString('utf8'), what);
  }
  return bytes.toString('utf8');
}

function decodeGithubContents(text: string, what: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return text;
  }
  if (Array.isArray(body)) throw new ValidationError(`${what} is a directory, not a file`);
  const b = body as { type?: string; encoding?: string; content?: string };
  if (b.type !== undefined && b.type !== 'file') throw new ValidationError(`${what} is a ${b.type}, not a file`);
  if (b.encoding === 'base64' && typeof b.content === 'string') return Buffer.from(b.content, 'base64').toString('utf8');
  return text;
}

/** The commit a branch points at now (manual runs given a branch). */
export async function resolveBranch(
  provider: Provider,
  repository: string,
  branch: string,
  tokenSecretName: string | undefined,
  opts: GitHostOptions,
): Promise<string> {
  const base = baseUrl(provider, opts);
  const what = `branch ${branch} of ${provider} repository ${repository}`;
  let sha: unknown;
  switch (provider) {
    case 'github': {
      const [owner, repo] = splitOwnerRepo(repository);
      const res = await request(provider, `${base}/repos/${enc(owner)}/${enc(repo)}/commits/${encodePath(branch)}`, 'application/vnd.github.sha', tokenSecretName, opts, what);
      sha = (await res.text()).trim();
      break;
    }
    case 'gitlab': {
      const res = await request(provider, `${base}/api/v4/projects/${enc(repository)}/repository/branches/${enc(branch)}`, 'application/json', tokenSecretName, opts, what);
      sha = ((await readJson(res, what)) as { commit?: { id?: unknown } }).commit?.id;
      break;
    }
    case 'bitbucket': {
      const [ws, repo] = splitOwnerRepo(repository);
      const res = await request(provider, `${base}/2.0/repositories/${enc(ws)}/${enc(repo)}/refs/branches/${enc(branch)}`, 'application/json', tokenSecretName, opts, what);
      sha = ((await readJson(res, what)) as { target?: { hash?: unknown } }).target?.hash;
      break;
    }
  }
  if (typeof sha !== 'string' || !/^[0-9a-f]{40}([0-9a-f]{24})?$/i.test(sha)) throw new RetryableError(`${provider} gave no commit for ${what}`);
  return sha.toLowerCase();
}

/** The repository's default branch (manual runs given neither a branch nor a commit). */
export async function defaultBranch(provider: Provider, repository: string, tokenSecretName: string | undefined, opts: GitHostOptions): Promise<string> {
  const base = baseUrl(provider, opts);
  const what = `${provider} repository ${repository}`;
  let name: unknown;
  switch (provider) {
    case 'github': {
      const [owner, repo] = splitOwnerRepo(repository);
      name = ((await readJson(await request(provider, `${base}/repos/${enc(owner)}/${enc(repo)}`, 'application/vnd.github+json', tokenSecretName, opts, what), what)) as { default_branch?: unknown }).default_branch;
      break;
    }
    case 'gitlab':
      name = ((await readJson(await request(provider, `${base}/api/v4/projects/${enc(repository)}`, 'application/json', tokenSecretName, opts, what), what)) as { default_branch?: unknown }).default_branch;
      break;
    case 'bitbucket': {
      const [ws, repo] = splitOwnerRepo(repository);
      name = ((await readJson(await request(provider, `${base}/2.0/repositories/${enc(ws)}/${enc(repo)}`, 'application/json', tokenSecretName, opts, what), what)) as { mainbranch?: { name?: unknown } }).mainbranch?.name;
      break;
    }
  }
  if (typeof name !== 'string' || name === '') throw new ValidationError(`${what} has no default branch (is it empty?); give a branch or a commit`);
  return name;
}

/**
 * The pipeline definition kept in the repository, read at `commit` and validated.
 * For the engine, when it plans a run of a pipeline registered with
 * `definitionSource: { kind: 'repository', path }`.
 *
 * The file may leave out `source`: it is then the repository the file was read
 * from. Throws ValidationError listing every problem of an invalid file (the run
 * fails with these messages), NotFoundError when the file does not exist at that
 * commit, GitHostAccessError when the token is refused, RetryableError for outages.
 */
export async function loadRepositoryDefinition(
  provider: Provider,
  repository: string,
  path: string,
  commit: string,
  tokenSecretName: string | undefined,
  opts: GitHostOptions,
): Promise<PipelineSpec> {
  const text = await readFileAtCommit(provider, repository, path, commit, tokenSecretName, opts);
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    // Let the definition parser describe the syntax error (with its line).
    doc = undefined;
  }
  const result =
    doc && typeof doc === 'object' && !Array.isArray(doc)
      ? parsePipelineObject('source' in doc ? doc : { ...(doc as Record<string, unknown>), source: { provider, repository } }, prefixOf(opts))
      : parsePipeline(text, { filename: path, ...prefixOf(opts) });
  if (!result.ok) {
    const count = result.problems.length;
    throw new ValidationError(`${path} at ${commit} is not a valid pipeline definition (${count} problem${count === 1 ? '' : 's'})`, result.problems);
  }
  return result.spec;
}

/**
 * `resolveDefinition` for the engine, the notifier and the API: the repository file of
 * a pipeline defined in its repository, at the commit it is given (callers pass the
 * run's definition commit, `definitionCommitOf`, so a fork's file is never read).
 */
export function repositoryDefinitionResolver(opts: GitHostOptions): (record: PipelineRecord, trigger: Trigger) => Promise<PipelineSpec> {
  return (record, trigger) => {
    const source = record.definitionSource;
    const path = source.kind === 'repository' ? source.path : DEFAULT_DEFINITION_PATH;
    return loadRepositoryDefinition(trigger.provider ?? record.spec.source.provider, trigger.repository ?? record.spec.source.repository, path, trigger.commit, record.tokenSecretName, opts);
  };
}

function prefixOf(opts: GitHostOptions): { ecrRepositoryPrefix?: string } {
  return opts.ecrRepositoryPrefix ? { ecrRepositoryPrefix: opts.ecrRepositoryPrefix } : {};
}

// ---- HTTP ------------------------------------------------------------------

async function request(provider: Provider, url: string, accept: string, tokenSecretName: string | undefined, opts: GitHostOptions, what: string): Promise<Response> {
  const headers: Record<string, string> = { accept, 'user-agent': 'slipway' };
  if (provider === 'github') headers['x-github-api-version'] = '2022-11-28';
  if (tokenSecretName) Object.assign(headers, authHeaders(provider, tokenFrom(await opts.secrets.get(tokenSecretName))));
  const doFetch = opts.fetch ?? fetch;
  let res: Response;
  let current = url;
  for (let hop = 0; ; hop++) {
    try {
      // Redirects are followed here, not by fetch: fetch drops only `Authorization` on a
      // cross-origin redirect, and GitLab's token travels in `PRIVATE-TOKEN`.
      res = await doFetch(current, { headers, signal: AbortSignal.timeout(opts.timeoutMs ?? 5000), redirect: 'manual' });
    } catch (err) {
      const name = (err as Error).name;
      const why = name === 'TimeoutError' || name === 'AbortError' ? `timed out after ${opts.timeoutMs ?? 5000} ms` : 'could not be reached';
      throw new RetryableError(`${provider} ${why} while reading ${what}`, { cause: err });
    }
    const next = redirectTarget(res, current);
    if (next === undefined) break;
    await res.body?.cancel().catch(() => undefined);
    if (next.origin !== new URL(current).origin) {
      // The answer could come from anywhere: neither the credential nor the request goes there.
      throw new ValidationError(`${provider} redirected the request for ${what} to another origin (${next.origin}); Slipway sends git host credentials to the configured API origin only (set ${GIT_API_URLS_ENV} to the host that answers)`);
    }
    if (hop >= MAX_REDIRECTS) throw new ValidationError(`${provider} redirected the request for ${what} more than ${MAX_REDIRECTS} times`);
    current = next.href;
  }
  if (res.ok) return res;
  await res.body?.cancel().catch(() => undefined);
  if (res.status === 404) throw new NotFoundError(`${what} was not found (or the token cannot see the repository)`);
  if (res.status === 401 || res.status === 403) {
    if (res.status === 403 && res.headers.get('x-ratelimit-remaining') === '0') throw new RetryableError(`${provider} rate limit reached while reading ${what}`);
    throw new GitHostAccessError(
      tokenSecretName
        ? `${provider} refused the token in secret "${tokenSecretName}" (HTTP ${res.status}) while reading ${what}; check that it is valid and can read the repository`
        : `${provider} refused anonymous access (HTTP ${res.status}) while reading ${what}; register the pipeline with a tokenSecretName`,
    );
  }
  if (res.status === 429 || res.status >= 500) throw new RetryableError(`${provider} answered HTTP ${res.status} while reading ${what}`);
  throw new ValidationError(`${provider} answered HTTP ${res.status} while reading ${what}`);
}

/** Same-origin redirects followed (a renamed GitHub repository answers 301 to its new API path). */
const MAX_REDIRECTS = 5;

/** Where a 3xx with a Location points, resolved against the request's URL; undefined for any other answer. */
function redirectTarget(res: Response, from: string): URL | undefined {
  if (res.status < 300 || res.status > 399 || res.status === 304) return undefined;
  const location = res.headers.get('location');
  if (!location) return undefined;
  try {
    return new URL(location, from);
  } catch {
    return undefined;
  }
}

/** The header each host expects for a token (shared with commit statuses). */
export function authHeaders(provider: Provider, token: string): Record<string, string> {
  switch (provider) {
    case 'github':
      return { authorization: `Bearer ${token}` };
    case 'gitlab':
      return { 'private-token': token };
    case 'bitbucket':
      return token.includes(':') ? { authorization: `Basic ${Buffer.from(token).toString('base64')}` } : { authorization: `Bearer ${token}` };
  }
}

/** The token in a secret's value: the value itself, or `token` of a JSON object. */
export function tokenFrom(secret: string): string {
  const trimmed = secret.trim();
  if (trimmed.startsWith('{')) {
    try {
      const v = JSON.parse(trimmed) as { token?: unknown };
      if (typeof v.token === 'string') return v.token;
    } catch {
      // not JSON: the whole value is the token
    }
  }
  return trimmed;
}

async function readJson(res: Response, what: string): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    throw new RetryableError(`the answer for ${what} was not JSON`);
  }
}

/** The API root for a provider, without a trailing slash. */
export function baseUrl(provider: Provider, opts: Pick<GitHostOptions, 'baseUrls'>): string {
  return (opts.baseUrls?.[provider] ?? DEFAULT_BASE_URLS[provider]).replace(/\/+$/, '');
}

export function splitOwnerRepo(repository: string): [string, string] {
  const parts = repository.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new ValidationError(`repository "${repository}" must be "owner/name"`);
  return [parts[0], parts[1]];
}

const enc = encodeURIComponent;

function encodePath(path: string): string {
  return path.split('/').map(enc).join('/');
}
