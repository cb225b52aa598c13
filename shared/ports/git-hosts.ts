/** How a git host's webhooks are authenticated and read; shared/git implements it for GitHub, GitLab and Bitbucket. */
import type { Provider } from '../domain/pipeline.ts';
import type { SourceEvent } from '../domain/source-event.ts';
import type { RefHead } from '../domain/recovery.ts';

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

/** Which heads of a repository the reconciler wants (services/push-recovery.ts). */
export interface HeadsQuery {
  /** The pipeline asking: conditional-request validators are kept per pipeline and URL. */
  pipelineId: string;
  provider: Provider;
  repository: string;
  /** Secret holding the git host token; absent = anonymous (public repositories). */
  tokenSecretName?: string;
  branches: boolean;
  tags: boolean;
  /**
   * Branches the triggers name exactly (no glob): one missing from a full first page of the
   * listing (a repository with more branches than a page holds) is read by name.
   */
  branchNames?: string[];
}

export interface HeadsAnswer {
  heads: RefHead[];
  /** Requests sent to the git host, and how many of them were answered 304 (no rate-limit cost on GitHub). */
  requests: number;
  notModified: number;
}

/** A problem the git host reports about the pipeline's hook, with what fixes it. */
export interface HookNotice {
  provider: Provider;
  repository: string;
  /** `deliveries-failing`, `hook-disabled`, `hook-temporarily-disabled`, `no-hook`. */
  kind: string;
  message: string;
  fix: string;
}

/**
 * Reads a repository's ref heads for missed-webhook recovery: the git host's API on AWS
 * (shared/git/heads.ts, conditional requests where the host offers them), the repository
 * on disk in the local mode (shared/local/local-heads.ts).
 */
export interface RepositoryHeads {
  heads(query: HeadsQuery): Promise<HeadsAnswer>;
  /** The committer date of a commit, when `heads` gave none (GitHub's branch listing has no dates). One request. */
  commitDate?(query: HeadsQuery, commit: string): Promise<string | undefined>;
  /** What the host says of the hook (failed deliveries, disabled), where the token may read hooks; else no notices. */
  hookHealth?(query: HeadsQuery, webhookUrl: string | undefined): Promise<{ notices: HookNotice[]; requests: number }>;
}
