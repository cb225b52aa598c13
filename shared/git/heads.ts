/**
 * The heads of a repository's branches and tags from the git hosts' REST APIs, for
 * missed-webhook recovery (services/push-recovery.ts), and what the hosts say of the hook.
 *
 * - GitHub: `GET /repos/{o}/{r}/branches?per_page=100` and `/tags?per_page=100` (name + commit sha,
 *   no dates: https://docs.github.com/en/rest/branches/branches#list-branches,
 *   https://docs.github.com/en/rest/repos/repos#list-repository-tags); a head's date from
 *   `GET /repos/{o}/{r}/commits/{sha}` (`commit.committer.date`). Listings are conditional
 *   requests: the ETag of the last answer goes back as If-None-Match, and a 304 costs no rate
 *   limit ("Making a conditional request does not count against your primary rate limit if a 304
 *   response is returned and the request was made while correctly authorized",
 *   https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate).
 *   Hook health: `GET /repos/{o}/{r}/hooks` (needs a token that may read hooks: fine-grained
 *   "Webhooks: read", classic `admin:repo_hook`/`read:repo_hook`), then the hook's
 *   `GET /repos/{o}/{r}/hooks/{id}/deliveries?per_page=30`
 *   (https://docs.github.com/en/rest/repos/webhooks#list-deliveries-for-a-repository-webhook):
 *   deliveries whose `status_code` is not 2xx are failed ones.
 * - GitLab: `GET /api/v4/projects/{id}/repository/branches?per_page=100` and `/tags` (with
 *   `commit.committed_date`: https://docs.gitlab.com/api/branches/, https://docs.gitlab.com/api/tags/);
 *   hooks from `GET /api/v4/projects/{id}/hooks` (Maintainer role), whose `alert_status`
 *   (`executable`, `temporarily_disabled`, `disabled`) and `disabled_until` say whether GitLab
 *   stopped calling it (https://docs.gitlab.com/api/project_webhooks/,
 *   https://docs.gitlab.com/user/project/integrations/webhooks/#auto-disabled-webhooks).
 *   If-None-Match is sent too; GitLab answers 304 only on some endpoints.
 * - Bitbucket Cloud: `GET /2.0/repositories/{ws}/{r}/refs/branches?pagelen=100` and `/refs/tags`
 *   (`target.hash`, `target.date`).
 *
 * One page per listing: a repository with more than 100 branches (or tags) is read for its
 * first 100 (GitHub and GitLab list alphabetically, so `main` comes after `dependabot/...` and
 * `feature/...`). A branch the triggers name exactly that is not on a full first page is read by
 * name: GitHub `GET /repos/{o}/{r}/branches/{branch}` (with its commit's committer date,
 * https://docs.github.com/en/rest/branches/branches#get-a-branch), GitLab
 * `GET /api/v4/projects/{id}/repository/branches/{branch}`
 * (https://docs.gitlab.com/api/branches/#get-single-repository-branch), 404 being no such branch;
 * Bitbucket's listing filtered by those names, one request. Branches matched
 * by a glob only are still read from the first page. Validators and bodies are kept in memory,
 * per pipeline and URL, for the life of the process (a warm Lambda container).
 */
import type { Provider } from '../domain/pipeline.ts';
import { RetryableError } from '../domain/errors.ts';
import type { RefHead } from '../domain/recovery.ts';
import type { HeadsAnswer, HeadsQuery, HookNotice, RepositoryHeads } from '../ports/git-hosts.ts';
import { authHeaders, baseUrl, GitHostAccessError, splitOwnerRepo, tokenFrom, type GitHostOptions } from './contents.ts';

interface Cached { etag: string; body: unknown }

type Json = any;

export class GitHostHeads implements RepositoryHeads {
  private readonly cache = new Map<string, Cached>();

  constructor(private readonly opts: GitHostOptions) {}

  async heads(q: HeadsQuery): Promise<HeadsAnswer> {
    const answer: HeadsAnswer = { heads: [], requests: 0, notModified: 0 };
    const base = baseUrl(q.provider, this.opts);
    const kinds: Array<['heads' | 'tags', boolean]> = [['heads', q.branches], ['tags', q.tags]];
    for (const [kind, wanted] of kinds) {
      if (!wanted) continue;
      const url = listingUrl(q.provider, base, q.repository, kind);
      const { body, notModified } = await this.get(q, url);
      answer.requests += 1;
      if (notModified) answer.notModified += 1;
      const listed = readListing(q.provider, kind, body);
      answer.heads.push(...listed);
      if (kind !== 'heads' || listingSize(q.provider, body) < PAGE_SIZE) continue;
      // A full page may have left a watched branch out: those named exactly are read by name.
      const seen = new Set(listed.map((h) => h.ref));
      const missing = (q.branchNames ?? []).filter((name) => !seen.has(`refs/heads/${name}`));
      // Bitbucket answers a name with an encoded slash in a path with 404: its listing is filtered by name instead, all at once.
      const provider = q.provider;
      // (A name with a double quote, which git allows, is left out of Bitbucket's filter rather than escaped.)
      const quotable = missing.filter((n) => !n.includes('"'));
      const lookups = provider === 'bitbucket' ? (quotable.length > 0 ? [bitbucketNamedUrl(base, q.repository, quotable)] : []) : missing.map((name) => branchUrl(provider, base, q.repository, name));
      for (const url of lookups) {
        // A renamed branch answers 301 (to its new name, which the triggers do not name): not followed, no head.
        const one = await this.get(q, url, { quietOnDenied: true, movedIsAbsent: true });
        answer.requests += 1;
        if (one.notModified) answer.notModified += 1;
        if (one.denied) continue;
        answer.heads.push(...readListing(q.provider, 'heads', q.provider === 'bitbucket' ? one.body : [one.body]).filter((h) => missing.includes(h.ref.slice('refs/heads/'.length))));
      }
    }
    return answer;
  }

  async commitDate(q: HeadsQuery, commit: string): Promise<string | undefined> {
    if (q.provider !== 'github') return undefined;
    const [owner, repo] = splitOwnerRepo(q.repository);
    const { body } = await this.get(q, `${baseUrl('github', this.opts)}/repos/${enc(owner)}/${enc(repo)}/commits/${enc(commit)}`);
    const date = (body as Json)?.commit?.committer?.date;
    return typeof date === 'string' ? date : undefined;
  }

  async hookHealth(q: HeadsQuery, webhookUrl: string | undefined): Promise<{ notices: HookNotice[]; requests: number }> {
    const base = baseUrl(q.provider, this.opts);
    const notice = (kind: string, message: string, fix: string): HookNotice => ({ provider: q.provider, repository: q.repository, kind, message, fix });
    const ours = (url: unknown) => typeof url === 'string' && (webhookUrl ? url.replace(/\/+$/, '') === `${webhookUrl.replace(/\/+$/, '')}/${q.provider}` : /\/webhooks\/(github|gitlab|bitbucket)\/?$/.test(url));
    if (q.provider === 'github') {
      const [owner, repo] = splitOwnerRepo(q.repository);
      const hooksUrl = `${base}/repos/${enc(owner)}/${enc(repo)}/hooks?per_page=100`;
      const hooks = await this.get(q, hooksUrl, { quietOnDenied: true });
      if (hooks.denied) return { notices: [], requests: 1 };
      const hook = (Array.isArray(hooks.body) ? hooks.body : []).find((h: Json) => ours(h?.config?.url));
      if (!hook) return { notices: webhookUrl ? [notice('no-hook', `${q.repository} has no webhook posting to ${webhookUrl}/github`, `add one: Settings -> Webhooks -> Add webhook, payload URL ${webhookUrl}/github, the pipeline's webhook secret, events "Pushes" and "Pull requests"`)] : [], requests: 1 };
      if (hook.active === false) return { notices: [notice('hook-disabled', `the webhook of ${q.repository} is not active`, 'Settings -> Webhooks -> the Slipway hook -> tick "Active"')], requests: 1 };
      const deliveries = await this.get(q, `${base}/repos/${enc(owner)}/${enc(repo)}/hooks/${enc(String(hook.id))}/deliveries?per_page=30`, { quietOnDenied: true, conditional: false });
      const failed = (Array.isArray(deliveries.body) ? deliveries.body : []).filter((d: Json) => typeof d?.status_code === 'number' && (d.status_code < 200 || d.status_code > 299));
      if (failed.length === 0) return { notices: [], requests: 2 };
      const latest = failed[0];
      return {
        notices: [notice('deliveries-failing', `${failed.length} of the last 30 deliveries of the ${q.repository} webhook failed (latest: ${latest.event ?? 'event'} at ${latest.delivered_at ?? '?'}, ${latest.status_code === 0 ? 'no answer' : `HTTP ${latest.status_code}`}); missed pushes were recovered`, `check the hook's payload URL (${webhookUrl ?? '<WebhookUrl>'}/github) and secret, then redeliver from Settings -> Webhooks -> Recent Deliveries`)],
        requests: 2,
      };
    }
    if (q.provider === 'gitlab') {
      const hooks = await this.get(q, `${base}/api/v4/projects/${enc(q.repository)}/hooks?per_page=100`, { quietOnDenied: true });
      if (hooks.denied) return { notices: [], requests: 1 };
      const hook = (Array.isArray(hooks.body) ? hooks.body : []).find((h: Json) => ours(h?.url));
      if (!hook) return { notices: webhookUrl ? [notice('no-hook', `${q.repository} has no webhook posting to ${webhookUrl}/gitlab`, `add one: Settings -> Webhooks, URL ${webhookUrl}/gitlab, the pipeline's webhook secret as secret token, triggers push, tag push, merge request`)] : [], requests: 1 };
      if (hook.alert_status === 'disabled') {
        return { notices: [notice('hook-disabled', `GitLab disabled the webhook of ${q.repository} after repeated failures; it sends nothing until re-enabled (missed pushes were recovered)`, 'Settings -> Webhooks -> the Slipway hook -> "Test" (a successful test re-enables it), or PUT /projects/:id/hooks/:hook_id; then fix what made it fail')], requests: 1 };
      }
      if (hook.alert_status === 'temporarily_disabled') {
        return { notices: [notice('hook-temporarily-disabled', `GitLab suspended the webhook of ${q.repository} until ${hook.disabled_until ?? 'later'} after consecutive failures`, 'it resumes by itself; a successful "Test" in Settings -> Webhooks re-enables it now. Check the URL and the secret token')], requests: 1 };
      }
      return { notices: [], requests: 1 };
    }
    return { notices: [], requests: 0 };
  }

  /** A GET with If-None-Match from the last answer; a 304 returns the body kept with that ETag. */
  private async get(q: HeadsQuery, url: string, o: { quietOnDenied?: boolean; conditional?: boolean; movedIsAbsent?: boolean } = {}): Promise<{ body: unknown; notModified: boolean; denied?: boolean }> {
    const key = `${q.pipelineId}\0${url}`;
    const cached = o.conditional === false ? undefined : this.cache.get(key);
    const headers: Record<string, string> = { accept: q.provider === 'github' ? 'application/vnd.github+json' : 'application/json', 'user-agent': 'slipway' };
    if (q.tokenSecretName) Object.assign(headers, authHeaders(q.provider, tokenFrom(await this.opts.secrets.get(q.tokenSecretName))));
    if (cached) headers['if-none-match'] = cached.etag;
    let res: Response;
    try {
      res = await (this.opts.fetch ?? fetch)(url, { headers, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 5000), redirect: o.movedIsAbsent ? 'manual' : 'error' });
    } catch (err) {
      throw new RetryableError(`${q.provider} did not answer ${redact(url)}`, { cause: err });
    }
    if (res.status === 304 && cached) return { body: cached.body, notModified: true };
    if ((res.status === 401 || res.status === 403 || res.status === 404) && o.quietOnDenied) return { body: undefined, notModified: false, denied: true };
    if ([301, 302, 307, 308].includes(res.status) && o.movedIsAbsent) return { body: undefined, notModified: false, denied: true };
    if (res.status === 401 || res.status === 403) throw new GitHostAccessError(`${q.provider} refused ${redact(url)} (${res.status})${q.tokenSecretName ? ` with the token in ${q.tokenSecretName}` : ' without a token (set tokenSecretName for a private repository)'}`);
    if (res.status === 429 || res.status >= 500) throw new RetryableError(`${q.provider} answered ${res.status} for ${redact(url)}`);
    if (res.status !== 200) throw new RetryableError(`${q.provider} answered ${res.status} for ${redact(url)}`);
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      throw new RetryableError(`${q.provider} answered ${redact(url)} with something other than JSON`);
    }
    const etag = res.headers.get('etag');
    if (etag && o.conditional !== false) this.cache.set(key, { etag, body });
    return { body, notModified: false };
  }
}

function listingUrl(provider: Provider, base: string, repository: string, kind: 'heads' | 'tags'): string {
  switch (provider) {
    case 'github': {
      const [owner, repo] = splitOwnerRepo(repository);
      return `${base}/repos/${enc(owner)}/${enc(repo)}/${kind === 'heads' ? 'branches' : 'tags'}?per_page=100`;
    }
    case 'gitlab':
      return `${base}/api/v4/projects/${enc(repository)}/repository/${kind === 'heads' ? 'branches' : 'tags'}?per_page=100`;
    case 'bitbucket': {
      const [ws, repo] = splitOwnerRepo(repository);
      return `${base}/2.0/repositories/${enc(ws)}/${enc(repo)}/refs/${kind === 'heads' ? 'branches' : 'tags'}?pagelen=100`;
    }
  }
}

/** Items per page of a listing (`per_page` / `pagelen` above). */
const PAGE_SIZE = 100;

/** How many items a listing's page holds. */
function listingSize(provider: Provider, body: unknown): number {
  const items = provider === 'bitbucket' ? (body as Json)?.values : body;
  return Array.isArray(items) ? items.length : 0;
}

function branchUrl(provider: 'github' | 'gitlab', base: string, repository: string, branch: string): string {
  if (provider === 'gitlab') return `${base}/api/v4/projects/${enc(repository)}/repository/branches/${enc(branch)}`;
  const [owner, repo] = splitOwnerRepo(repository);
  return `${base}/repos/${enc(owner)}/${enc(repo)}/branches/${enc(branch)}`;
}

/**
 * Bitbucket's branch listing filtered to the given names (`q=name="main" OR name="release/2"`,
 * https://developer.atlassian.com/cloud/bitbucket/rest/intro/#filtering); none may hold a `"`.
 */
function bitbucketNamedUrl(base: string, repository: string, names: string[]): string {
  const [ws, repo] = splitOwnerRepo(repository);
  const q = names.map((n) => `name="${n}"`).join(' OR ');
  return `${base}/2.0/repositories/${enc(ws)}/${enc(repo)}/refs/branches?q=${enc(q)}&pagelen=${PAGE_SIZE}`;
}

function readListing(provider: Provider, kind: 'heads' | 'tags', body: unknown): RefHead[] {
  const items: Json[] = provider === 'bitbucket' ? ((body as Json)?.values ?? []) : Array.isArray(body) ? body : [];
  const out: RefHead[] = [];
  for (const item of items) {
    const name = item?.name;
    const commit = provider === 'github' ? item?.commit?.sha : provider === 'gitlab' ? item?.commit?.id : item?.target?.hash;
    // GitHub's listing has no dates; its "Get a branch" has the whole commit.
    const date = provider === 'gitlab' ? item?.commit?.committed_date : provider === 'bitbucket' ? item?.target?.date : item?.commit?.commit?.committer?.date;
    if (typeof name !== 'string' || typeof commit !== 'string' || !/^[0-9a-f]{40}([0-9a-f]{24})?$/i.test(commit)) continue;
    out.push({ ref: `refs/${kind}/${name}`, commit: commit.toLowerCase(), ...(typeof date === 'string' ? { committedAt: date } : {}) });
  }
  return out;
}

const enc = encodeURIComponent;

function redact(url: string): string {
  return url.replace(/\?.*$/, '');
}
