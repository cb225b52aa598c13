/**
 * Ports: what the engine needs from the outside world. Adapters for AWS live in
 * `shared/aws`, for the local mode in `shared/local`. Every adapter turns SDK
 * errors into the domain errors of `errors.ts` at the edge.
 */
import type { CacheScope } from '../domain/dependency-cache.ts';
import type { JobSpec, PipelineSpec, Provider } from '../domain/pipeline.ts';
import type { BuildLane, RunState, RunStatus } from '../domain/run.ts';
import type { TargetConfig, TargetState } from '../domain/release.ts';
import type { EngineMessage, NotificationMessage, ReleaseMessage } from './messages.ts';

export interface PipelineRecord {
  id: string;
  version: number;
  spec: PipelineSpec;
  /** Where the definition came from: registered through the API, or read from the repository at each run's commit. */
  definitionSource: { kind: 'registered' } | { kind: 'repository'; path: string };
  /** Secrets Manager secret names (never values) for the webhook secret and the git host token. */
  webhookSecretName?: string;
  tokenSecretName?: string;
  createdAt: string;
  /** Disabled pipelines start no runs (webhooks are ignored, manual runs refused) until enabled again. */
  disabled?: { by: string; at: string };
}

export interface PipelineStore {
  /** Stores a new version (previous + 1, or 1) and moves the LATEST pointer; both in one transaction. */
  put(input: Omit<PipelineRecord, 'version' | 'createdAt'>): Promise<PipelineRecord>;
  /** The latest version, or a pinned one. Throws NotFoundError. */
  get(id: string, version?: number): Promise<PipelineRecord>;
  list(opts?: { limit?: number; cursor?: string }): Promise<Page<PipelineRecord>>;
  /** Pipelines registered for a repository (webhook matching). */
  findByRepository(provider: Provider, repository: string): Promise<PipelineRecord[]>;
  // Pipeline administration (optional: stores without it make the API answer 501).
  /** Marks the latest version disabled (`disabled`) or enabled (undefined). Throws NotFoundError. */
  setDisabled?(id: string, disabled: { by: string; at: string } | undefined): Promise<PipelineRecord>;
  /**
   * Deletes the pipeline: it is no longer listed, matched or runnable, and `get(id)` throws
   * NotFoundError. `keepVersions`: its versions stay readable by number (kept runs pin them);
   * otherwise every version goes. Throws NotFoundError.
   */
  remove?(id: string, opts: { keepVersions: boolean }): Promise<void>;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Absent on the last page. */
  cursor?: string;
}

export type { RunSummary } from '../domain/run-summary.ts';
import type { RunSummary } from '../domain/run-summary.ts';

export interface RunStore {
  /** Creates the run; ConflictError if the id exists. */
  create(run: RunState): Promise<void>;
  /** Throws NotFoundError. */
  get(runId: string): Promise<RunState>;
  /** Writes `run` only if the stored version is still `expectedVersion`; ConflictError otherwise. */
  save(run: RunState, expectedVersion: number): Promise<void>;
  /** Newest first. */
  listByPipeline(pipelineId: string, opts?: { limit?: number; cursor?: string }): Promise<Page<RunSummary>>;
  /** Runs of the pipeline that are queued or running, oldest first (concurrency decisions). */
  listActive(pipelineId: string): Promise<RunSummary[]>;
  /** Deletes every run of the pipeline (a pipeline deleted with its history); returns how many. */
  removeByPipeline?(pipelineId: string): Promise<number>;
}

export interface DeliveryStore {
  /** Records a webhook delivery id; false if it was seen before (within the TTL). */
  claim(provider: Provider, deliveryId: string, ttlSeconds: number): Promise<boolean>;
  /**
   * Forgets a claim, so the provider's redelivery is accepted again. The webhook calls
   * it when enqueueing the runs failed after the claim; without it such a delivery
   * would be lost (every redelivery answered as a duplicate). Optional only so that
   * adapters written before it keep compiling; every adapter should implement it.
   */
  release?(provider: Provider, deliveryId: string): Promise<void>;
}

/** Counts the requests an adapter sends, for the benchmark's "requests per transition". */
export interface RequestCounter {
  count(operation: string): void;
}

/** engine-events.fifo: grouped and deduplicated as described in messages.ts. */
export interface EventQueue {
  send(messages: EngineMessage[]): Promise<void>;
  /**
   * Makes received messages visible again after `seconds` instead of the queue's
   * visibility timeout (a failed message holds its whole FIFO group until then).
   * Optional: consumers without receipt handles (tests) have nothing to shorten.
   */
  retryAfter?(messages: Array<{ receiptHandle: string; seconds: number }>): Promise<void>;
}

/** release-steps: a standard queue; delaySeconds (0..900) schedules the next poll. */
export interface ReleaseQueue {
  send(message: ReleaseMessage, delaySeconds?: number): Promise<void>;
}

/** notifications: a standard queue; delaySeconds (0..900) spaces out retries of one channel. */
export interface NotificationQueue {
  send(messages: NotificationMessage[], delaySeconds?: number): Promise<void>;
}

/** What a build of one job attempt needs; the adapter maps it to CodeBuild StartBuild overrides. */
export interface BuildRequest {
  runId: string;
  pipelineId: string;
  job: string;
  attempt: number;
  /** Deterministic idempotency token (attemptToken). */
  token: string;
  commit: string;
  branch?: string;
  repository: string;
  provider: Provider;
  /** The pipeline's `source.connection` (a CodeConnections connection ARN), if it names one. */
  connection?: string;
  /** The job as the run's pinned pipeline version defines it: buildspec, image, compute class, timeout. */
  spec: JobSpec;
  /** Parameters of a manual run; builds see each as `SLIPWAY_PARAM_<NAME>` (upper-cased, non-alphanumerics as `_`). */
  parameters?: Record<string, string>;
  /** The run's build lane (its trust): the service role and artifact namespace of the build. @default release */
  lane?: BuildLane;
  /** Where the build's dependency caches are read and written (dependency-cache.ts). @default none: no cache */
  cache?: CacheScope;
}

export interface BuildRunner {
  /** Starts (or, for a token seen before, finds) the build; returns its id and, if the runner knows, the compute it runs on. */
  start(request: BuildRequest): Promise<{ buildId: string; compute?: string }>;
  stop(buildId: string): Promise<void>;
  /**
   * The build already started for this request's job attempt since `since`, if
   * any. The engine asks it before repeating a StartBuild whose first try is
   * older than the builder's idempotency window (CodeBuild: 5 minutes), when the
   * token alone no longer prevents a second build. A runner whose tokens never
   * expire need not implement it.
   */
  find?(request: BuildRequest, since: Date): Promise<{ buildId: string } | undefined>;
}

/** Secret values by name (Secrets Manager in AWS), cached briefly; never logged. */
export interface SecretSource {
  get(name: string): Promise<string>;
}

/** Where the releaser keeps targets; `save` is conditional on `expectedVersion` (ConflictError otherwise). */
export interface TargetStore {
  /** Creates the target; ConflictError if one with this name exists. */
  create(config: TargetConfig, now: string): Promise<TargetState>;
  /** Strongly consistent; NotFoundError if the target is not registered. */
  get(name: string): Promise<TargetState>;
  /** Writes `state` with version `expectedVersion + 1`; returns the saved state. */
  save(state: TargetState, expectedVersion: number): Promise<TargetState>;
  /** Names of every registered target, sorted. */
  listNames(): Promise<string[]>;
}

export * from './reads.ts';
export * from './notify.ts';
export * from './metrics.ts';
export * from './releases.ts';
