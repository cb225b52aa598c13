/**
 * Commit statuses: every run shows on its commit as pending (running) when it
 * starts and success, failure or cancelled when it ends, with a link to the run.
 *
 * - GitHub: `POST /repos/{owner}/{repo}/statuses/{sha}`, state pending|success|failure|error
 *   (a cancelled run is `error`: GitHub has no cancelled state), context `slipway/<pipelineId>`.
 * - GitLab: `POST /api/v4/projects/{url-encoded path}/statuses/{sha}`, state
 *   running|success|failed|canceled, name `slipway/<pipelineId>`. GitLab refuses to post
 *   the state a status already has (HTTP 400 "Cannot transition status"); a repeated
 *   delivery meets exactly that, so it counts as delivered.
 * - Bitbucket Cloud: `POST /2.0/repositories/{ws}/{repo}/commit/{sha}/statuses/build`,
 *   key `slipway-<pipelineId>`, state INPROGRESS|SUCCESSFUL|FAILED|STOPPED. Bitbucket requires
 *   a url: without SLIPWAY_PUBLIC_API_URL it is the commit's page on bitbucket.org.
 *
 * The token is the pipeline's `tokenSecretName` (the one that reads definitions; it needs
 * the status scope: GitHub `repo:status` / "Commit statuses: write", GitLab `api`,
 * Bitbucket `repository:write`), sent as shared/git/contents.ts sends it. A pipeline without
 * a token gets no statuses: no host accepts anonymous status writes.
 */
import { createHash } from 'node:crypto';
import type { Provider } from '../domain/pipeline.ts';
import type { NotifyKind } from '../domain/run-effects.ts';
import { authHeaders, baseUrl, splitOwnerRepo, tokenFrom } from '../git/contents.ts';
import type { SecretSource } from '../ports/index.ts';
import { postJson, readSecret, type HttpOptions } from './http.ts';

export type CommitState = 'pending' | 'success' | 'failure' | 'cancelled';

/** The state a run's notification puts on its commit; undefined for notifications about jobs. */
export function commitStateOf(kind: NotifyKind): CommitState | undefined {
  switch (kind) {
    case 'run_started': return 'pending';
    case 'run_succeeded': return 'success';
    case 'run_failed': return 'failure';
    case 'run_cancelled':
    case 'run_superseded': return 'cancelled';
    default: return undefined;
  }
}

export interface CommitStatus {
  provider: Provider;
  repository: string;
  commit: string;
  branch?: string;
  state: CommitState;
  pipelineId: string;
  /** One line; cut to what each host allows. */
  description: string;
  /** Link to the run. */
  url?: string;
}

export interface CommitStatusOptions extends HttpOptions {
  secrets: SecretSource;
  /** API roots per provider (self-hosted hosts, tests). @default the public hosts */
  baseUrls?: Partial<Record<Provider, string>>;
}

const GITHUB: Record<CommitState, string> = { pending: 'pending', success: 'success', failure: 'failure', cancelled: 'error' };
const GITLAB: Record<CommitState, string> = { pending: 'running', success: 'success', failure: 'failed', cancelled: 'canceled' };
const BITBUCKET: Record<CommitState, string> = { pending: 'INPROGRESS', success: 'SUCCESSFUL', failure: 'FAILED', cancelled: 'STOPPED' };

export async function postCommitStatus(status: CommitStatus, tokenSecretName: string, opts: CommitStatusOptions): Promise<void> {
  const token = tokenFrom(await readSecret(opts.secrets, tokenSecretName));
  const auth = authHeaders(status.provider, token);
  const base = baseUrl(status.provider, opts);
  const sha = encodeURIComponent(status.commit);
  const what = `${status.provider} (commit status on ${status.repository}@${status.commit.slice(0, 12)}, token in secret "${tokenSecretName}")`;
  const name = `slipway/${status.pipelineId}`;
  switch (status.provider) {
    case 'github': {
      const [owner, repo] = splitOwnerRepo(status.repository);
      await postJson(
        `${base}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/statuses/${sha}`,
        { state: GITHUB[status.state], context: name, description: cut(status.description, 140), ...(status.url ? { target_url: status.url } : {}) },
        { ...auth, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
        what,
        opts,
      );
      return;
    }
    case 'gitlab':
      await postJson(
        `${base}/api/v4/projects/${encodeURIComponent(status.repository)}/statuses/${sha}`,
        { state: GITLAB[status.state], name, description: cut(status.description, 255), ...(status.branch ? { ref: status.branch } : {}), ...(status.url ? { target_url: status.url } : {}) },
        { ...auth, accept: 'application/json' },
        what,
        opts,
        (code, text) => code === 400 && /cannot transition status/i.test(text),
      );
      return;
    case 'bitbucket': {
      const [ws, repo] = splitOwnerRepo(status.repository);
      await postJson(
        `${base}/2.0/repositories/${encodeURIComponent(ws)}/${encodeURIComponent(repo)}/commit/${sha}/statuses/build`,
        {
          key: bitbucketKey(status.pipelineId),
          state: BITBUCKET[status.state],
          name: cut(`Slipway ${status.pipelineId}`, 255),
          description: cut(status.description, 255),
          url: status.url ?? `https://bitbucket.org/${encodeURIComponent(ws)}/${encodeURIComponent(repo)}/commits/${sha}`,
        },
        { ...auth, accept: 'application/json' },
        what,
        opts,
      );
      return;
    }
  }
}

/** Bitbucket keys are at most 40 characters; a longer pipeline id is shortened by a hash. */
export function bitbucketKey(pipelineId: string): string {
  const key = `slipway-${pipelineId}`;
  return key.length <= 40 ? key : `slipway-${createHash('sha256').update(pipelineId).digest('hex').slice(0, 32)}`;
}

function cut(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}
