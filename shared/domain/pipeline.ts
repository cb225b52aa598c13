/**
 * The normalised shape of a pipeline definition after parsing and validation
 * (see `definition.ts`). Every default is filled in, so the engine never has to
 * guess. Pure types: no I/O, no AWS SDK.
 */

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

export const RELEASE_STRATEGIES = ['standard', 'blue-green'] as const;
export type ReleaseStrategy = (typeof RELEASE_STRATEGIES)[number];

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
}

/** A job-level filter: the job is skipped (not failed) when the run does not match. Empty lists match everything. */
export interface WhenFilter {
  branches: string[];
  tags: string[];
  events: Array<SourceEventKind | 'manual'>;
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
}

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
  /** Who may approve (user names or e-mail addresses); empty = anyone allowed by the API's IAM policy. */
  approvers: string[];
  timeoutMinutes: number;
}

export interface JobSpec {
  name: string;
  kind: JobKind;
  needs: string[];
  when: WhenFilter;
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
  compute: ComputeClass;
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
  jobs: Record<string, JobSpec>;
  notifications: NotificationSpec[];
}
