/** What the management API reads besides the stores: build logs, artifacts, targets, branches. */
import type { Provider } from '../domain/pipeline.ts';
import type { TargetConfig } from '../domain/release.ts';

export interface LogEvent {
  /** ISO-8601 */
  timestamp: string;
  message: string;
}

export interface LogPage {
  events: LogEvent[];
  /** Where to continue; absent when the build has no log stream yet. Passing it back returns only newer lines. */
  cursor?: string;
}

/** Build logs (CloudWatch Logs in AWS), by CodeBuild build id. */
export interface LogReader {
  read(buildId: string, opts: { cursor?: string; limit?: number }): Promise<LogPage>;
}

export interface ArtifactLink {
  /** Path under the job's artifact prefix, e.g. `dist/app.zip`. */
  path: string;
  size?: number;
  /** Presigned GET URL. */
  url: string;
  /** When `url` stops working (ISO-8601). */
  expiresAt?: string;
  /** The build left the file executable (downloads should make it so again). */
  executable?: boolean;
}

/** A job's artifacts with presigned download links (S3 in AWS). */
export interface ArtifactReader {
  /** `root` is the run's artifact namespace (ARTIFACT_ROOTS of its build lane). */
  list(runId: string, job: string, root?: string): Promise<ArtifactLink[]>;
  /** A presigned GET URL for one artifact; NotFoundError if it does not exist. */
  presignArtifact(runId: string, job: string, path: string, root?: string): Promise<string>;
  /** Copies a job's artifacts to another run (a re-run keeping the job); returns how many. */
  copyJob?(fromRunId: string, toRunId: string, job: string, root?: string): Promise<number>;
}

/** Release targets (the releaser's service functions). */
export interface TargetService {
  get(name: string): Promise<unknown>;
  rollback(name: string, by: string): Promise<unknown>;
  /** Every registered target. */
  list?(): Promise<unknown[]>;
  /** Registers a target or changes an idle one; ConflictError while a release holds it. */
  put?(config: TargetConfig): Promise<{ target: unknown; created: boolean }>;
}

/** What manual runs given a branch need from the git host. */
export interface BranchResolver {
  resolveBranch(provider: Provider, repository: string, branch: string, tokenSecretName: string | undefined): Promise<string>;
  /** The repository's default branch, for a run given neither a branch nor a commit. */
  defaultBranch?(provider: Provider, repository: string, tokenSecretName: string | undefined): Promise<string>;
}
