/**
 * Configuration of the Lambda handlers, read once at module load from the
 * environment the stack sets. A missing variable fails fast with its name.
 * Names here are the contract between infra/ and functions/.
 */
export const ENV = {
  /** DynamoDB table holding pipelines, runs, deliveries and targets. */
  tableName: 'SLIPWAY_TABLE',
  /** URL of engine-events.fifo. */
  engineQueueUrl: 'SLIPWAY_ENGINE_QUEUE_URL',
  /** URL of the release-steps standard queue. */
  releaseQueueUrl: 'SLIPWAY_RELEASE_QUEUE_URL',
  /** Private artifact bucket. */
  artifactBucket: 'SLIPWAY_ARTIFACT_BUCKET',
  /** JSON map compute class -> CodeBuild project name, e.g. {"small":"slipway-small",...}. */
  buildProjects: 'SLIPWAY_BUILD_PROJECTS',
  /** JSON map fleet name -> CodeBuild fleet ARN (jobs' `fleet:`); absent or `{}` when the stack has none. */
  buildFleets: 'SLIPWAY_BUILD_FLEETS',
  buildRoles: 'SLIPWAY_BUILD_ROLES',
  /** Name of the CloudWatch log group builds write to. */
  buildLogGroup: 'SLIPWAY_BUILD_LOG_GROUP',
  /** Days a run record is kept (DynamoDB TTL). */
  runRetentionDays: 'SLIPWAY_RUN_RETENTION_DAYS',
  /** ECR registry host (<account>.dkr.ecr.<region>.amazonaws.com) for image jobs. */
  ecrRegistry: 'SLIPWAY_ECR_REGISTRY',
  /** Prefix of every image repository (`docker.repository: web` -> `<prefix>/web`); the build role may push under it only. */
  ecrRepositoryPrefix: 'SLIPWAY_ECR_REPOSITORY_PREFIX',
  /**
   * JSON `{"default"?: "<connection arn>", "allowed": ["<connection arn>", ...]}`: the CodeConnections
   * connections builds may check out with (the build role may use exactly these).
   */
  sourceConnections: 'SLIPWAY_SOURCE_CONNECTIONS',
  /** URL of the notifications standard queue (commit statuses, chat, e-mail). */
  notificationQueueUrl: 'SLIPWAY_NOTIFICATION_QUEUE_URL',
  /**
   * Optional: root of the management API, for links to a run (`<url>/runs/<runId>`) in commit
   * statuses and notifications. Unset: no link. Set on the notifier only (see OPTIONAL_ENV).
   */
  publicApiUrl: 'SLIPWAY_PUBLIC_API_URL',
} as const;

/**
 * Variables not every handler gets. The API's URL cannot be handed to the functions the API
 * itself invokes (the template would be circular), so only the notifier has it.
 */
export const OPTIONAL_ENV: ReadonlySet<EnvKey> = new Set(['publicApiUrl']);

export type EnvKey = keyof typeof ENV;

/** Reads the named variables; throws one error naming every one that is missing. */
export function readEnv<K extends EnvKey>(keys: readonly K[], env: NodeJS.ProcessEnv = process.env): Record<K, string> {
  const missing: string[] = [];
  const out = {} as Record<K, string>;
  for (const k of keys) {
    const v = env[ENV[k]];
    if (v === undefined || v === '') missing.push(ENV[k]);
    else out[k] = v;
  }
  if (missing.length > 0) throw new Error(`missing environment variable(s): ${missing.join(', ')}`);
  return out;
}
