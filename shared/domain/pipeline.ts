/**
 * The normalised shape of a pipeline definition after parsing and validation
 * (see `definition.ts`). Every default is filled in, so the engine never has to
 * guess. Pure types: no I/O, no AWS SDK.
 */

import type { ScheduleSpec } from './schedule.ts';

export const PROVIDERS = ['github', 'gitlab', 'bitbucket'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const SOURCE_EVENTS = ['push', 'tag', 'pull_request'] as const;
export type SourceEventKind = (typeof SOURCE_EVENTS)[number];

export const CONCURRENCY_MODES = ['superseded', 'queued', 'parallel'] as const;
export type ConcurrencyMode = (typeof CONCURRENCY_MODES)[number];

export const JOB_KINDS = ['build', 'image', 'deploy', 'approval'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const TEMPLATE_NAMES = ['java', 'java-gradle', 'node', 'python', 'php', 'go', 'cpp'] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

export const COMPUTE_CLASSES = ['small', 'medium', 'large'] as const;
export type ComputeClass = (typeof COMPUTE_CLASSES)[number];
/** What a build runs on: CodeBuild's Lambda compute or an EC2 compute class (see compute.ts). */
export type BuildCompute = ComputeClass | 'lambda';

export const RELEASE_STRATEGIES = ['standard', 'blue-green'] as const;
export type ReleaseStrategy = (typeof RELEASE_STRATEGIES)[number];

/**
 * How a pipeline treats pull requests from forks (untrusted code):
 * - `skip`: no run;
 * - `build`: build jobs run at once, under the untrusted build role;
 * - `approve-first` (default): the run waits in the `fork-approval` job until a person
 *   allowed to approve lets it run, for that exact head commit.
 */
export const FORK_POLICIES = ['skip', 'approve-first', 'build'] as const;
export type ForkPolicy = (typeof FORK_POLICIES)[number];
export const DEFAULT_FORK_POLICY: ForkPolicy = 'approve-first';
/** The approval job Slipway adds in front of a fork's run under `approve-first`; no definition may use the name. */
export const FORK_APPROVAL_JOB = 'fork-approval';
/** How long a fork's run waits for its approval before it is rejected on its behalf. */
export const FORK_APPROVAL_TIMEOUT_MINUTES = 7 * 24 * 60;

/** The strictest of two fork policies: skip, then approve-first, then build. */
export function stricterForkPolicy(a: ForkPolicy, b: ForkPolicy): ForkPolicy {
  return FORK_POLICIES.indexOf(a) <= FORK_POLICIES.indexOf(b) ? a : b;
}

/**
 * Whether a job runs on pull-request runs: `all` (forks too, when the fork policy
 * lets the run start; build jobs only), `same-repository` (pull requests from a
 * branch of the pipeline's repository only) or `skip`. Image, deploy and approval
 * jobs default to `skip`: a pull request never publishes or releases unless a job
 * opts in, and never from a fork.
 */
export const JOB_PULL_REQUEST_POLICIES = ['all', 'same-repository', 'skip'] as const;
export type JobPullRequestPolicy = (typeof JOB_PULL_REQUEST_POLICIES)[number];

/** A job's pull-request policy, its kind's default when the stored spec predates the field. */
export function jobPullRequestPolicy(job: Pick<JobSpec, 'kind' | 'pullRequests'>): JobPullRequestPolicy {
  return job.pullRequests ?? (job.kind === 'build' ? 'all' : 'skip');
}

/** A pipeline's pull-request settings, with the defaults for a stored spec that predates them. */
export function pullRequestSettings(spec: Pick<PipelineSpec, 'pullRequests'>): PullRequestSettings {
  return { forks: spec.pullRequests?.forks ?? DEFAULT_FORK_POLICY, approvers: spec.pullRequests?.approvers ?? [] };
}

export interface PullRequestSettings {
  forks: ForkPolicy;
  /** Principals (see principals.ts) who may approve a fork's run; empty = anyone the API's IAM policy lets approve. */
  approvers: string[];
}

/**
 * Image jobs push to `<prefix>/<docker.repository>`: the prefix is added, never written in a
 * definition. The engine's build role may push under `<prefix>/*` only.
 */
export const DEFAULT_ECR_REPOSITORY_PREFIX = 'slipway';

/** The ECR repository an image job pushes to: the prefix is always added. */
export function ecrRepositoryName(prefix: string, repository: string): string {
  return `${prefix}/${repository}`;
}

/** The most jobs one pipeline may declare; a run and all its jobs live in one DynamoDB item. */
export const MAX_JOBS = 200;

export interface PathFilter {
  /** Globs; a run starts only if some changed file matches one (empty = any file). */
  include: string[];
  /** Globs; changed files matching these do not count. */
  exclude: string[];
}

export interface Triggers {
  events: SourceEventKind[];
  /** Branch globs for push and pull_request events (pull requests match on their target branch). */
  branches: string[];
  /** Tag globs for tag events. */
  tags: string[];
  paths: PathFilter;
}

export interface SourceSpec {
  provider: Provider;
  /** `owner/name` (GitHub, Bitbucket) or `group/subgroup/name` (GitLab). */
  repository: string;
  triggers: Triggers;
  /**
   * ARN of the AWS CodeConnections connection CodeBuild checks the repository out with.
   * @default the engine's default connection (SlipwayProps.sourceConnections), if any
   */
  connection?: string;
}

/** A job-level filter: the job is skipped (not failed) when the run does not match. Empty lists match everything. */
export interface WhenFilter {
  branches: string[];
  tags: string[];
  events: Array<SourceEventKind | 'manual' | 'schedule'>;
}

export interface ImageSpec {
  /** Path of the Dockerfile in the repository. @default "Dockerfile" */
  dockerfile: string;
  /** Build context directory. @default "." */
  context: string;
  /** ECR repository name the image is pushed to. */
  repository: string;
  /** Extra tags besides the commit sha. */
  tags: string[];
}

export interface HealthCheckSpec {
  path: string;
  expectedStatus: number;
  /**
   * Seconds the check keeps retrying before it calls the new colour unhealthy: a task that answers
   * a moment late is not a failed release. Absent in definitions stored before it existed.
   * @default DEFAULT_HEALTH_CHECK_WINDOW_SECONDS
   */
  windowSeconds?: number;
}

/** How long a failing health check is retried before the release rolls back. */
export const DEFAULT_HEALTH_CHECK_WINDOW_SECONDS = 120;

export interface DeploySpec {
  /** Name of a registered release target. */
  target: string;
  strategy: ReleaseStrategy;
  /** Cumulative percentages of traffic on the new colour, strictly increasing, ending at 100. */
  steps: number[];
  intervalSeconds: number;
  bakeSeconds: number;
  /** CloudWatch alarm names watched during the shift and bake. */
  alarms: string[];
  /** The job whose image is released. @default the nearest image job among `needs` */
  imageFrom?: string;
  /** Optional HTTP check against the test listener before any traffic moves. */
  healthCheck?: HealthCheckSpec;
  /** Minutes the old colour is kept for an instant rollback. */
  rollbackWindowMinutes: number;
}

export interface ApprovalSpec {
  /** Who may approve: principal ARNs (see principals.ts); empty = anyone allowed by the API's IAM policy. */
  approvers: string[];
  timeoutMinutes: number;
}

export interface JobSpec {
  name: string;
  kind: JobKind;
  needs: string[];
  when: WhenFilter;
  /**
   * Whether the job runs on pull-request runs (see JOB_PULL_REQUEST_POLICIES). Parsed
   * definitions always have it; versions stored before it existed read as the default.
   */
  pullRequests?: JobPullRequestPolicy;
  /** Language template (build jobs); undefined for jobs that bring their own image and commands. */
  template?: TemplateName;
  /** Container image the build runs in; from the template unless overridden. */
  buildImage?: string;
  /** Steps run before `commands` (dependency installation), from the template unless overridden. */
  install: string[];
  commands: string[];
  /** Paths cached between builds (CodeBuild local/S3 cache), from the template unless overridden. */
  cache: string[];
  env: Record<string, string>;
  /** Paths (globs) kept as artifacts under `runs/<runId>/<job>/`. */
  outputs: string[];
  /** Jobs whose outputs are downloaded into the workspace before the commands run. Each must be an ancestor. */
  inputs: string[];
  timeoutMinutes: number;
  /** Extra attempts after a failure: 0 means the job runs once. */
  retries: number;
  /** Build and image jobs: the wait before the first retry, doubling for each next one (see retryDelayFor). */
  retryDelaySeconds?: number;
  /** Chosen from the job's `compute` (default `auto`) when the definition is read: see compute.ts. */
  compute: BuildCompute;
  /**
   * Set when `auto` chose Lambda compute rather than the job asking for it: a stack without a
   * Lambda-compute project (`lambdaCompute: false`) then runs the job on EC2 `small` instead of
   * failing it, with the timeout it had before Lambda's 15 minutes capped it.
   */
  computeAuto?: { timeoutMinutes: number };
  /** A reserved-capacity fleet the job runs on (StartBuild `fleetOverride`), by name. */
  fleet?: string;
  image?: ImageSpec;
  deploy?: DeploySpec;
  approval?: ApprovalSpec;
}

export type NotificationEvent = 'run_failed' | 'run_succeeded' | 'run_fixed' | 'approval_needed' | 'released' | 'rolled_back';

export interface NotificationSpec {
  kind: 'slack' | 'teams' | 'dingtalk' | 'email';
  /**
   * Name of a Secrets Manager secret holding the webhook URL (chat) — never the URL itself. The
   * value is the URL, or JSON `{ "url": "...", "signingSecret": "..." }` (a signed DingTalk robot).
   */
  secret?: string;
  /** SNS topic ARN for e-mail. */
  topicArn?: string;
  on: NotificationEvent[];
}

export interface PipelineSpec {
  name: string;
  source: SourceSpec;
  concurrency: ConcurrencyMode;
  /** Parsed definitions always have it; versions stored before it existed read as the defaults. */
  pullRequests?: PullRequestSettings;
  jobs: Record<string, JobSpec>;
  notifications: NotificationSpec[];
  /** Scheduled runs (domain/schedule.ts); absent when the definition declares none. */
  schedules?: ScheduleSpec[];
}

/** Where a pipeline defined in its repository keeps its file, unless its registration names another path. */
export const DEFAULT_DEFINITION_PATH = '.slipway.yml';
