/**
 * Scheduled (EventBridge, every few minutes): repairs runs whose build events
 * were lost, by asking CodeBuild (shared/services/reconciler.ts), then recovers
 * pushes whose webhook never arrived (shared/services/push-recovery.ts). A pass
 * that could not read some pipeline's runs throws after finishing the others, so
 * the function's Errors metric (and its alarm) shows it; the next pass tries again.
 * A git host that cannot be read (no token for a private repository, an outage) is
 * logged and counted, not thrown: it is the pipeline's configuration, not the engine.
 *
 * Every minute (a second EventBridge rule, input `{ kind: 'schedules', time }`) it is
 * instead the clock of scheduled runs (shared/services/schedules.ts): it fires what came
 * due in the three minutes up to the rule's minute, overlapping the last two calls, so a
 * late or lost invocation is covered; a run fired twice has the same request id and the
 * engine queue (FIFO, deduplication within 5 minutes) keeps one. Any other event is
 * refused: an EventBridge scheduled event, or an empty one (a manual `aws lambda invoke`),
 * is a reconcile pass.
 */
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { awsConfigFromEnv, createDocumentClient, createSqsClient } from '../shared/aws/clients.ts';
import { describeBuilds } from '../shared/aws/codebuild-runner.ts';
import { DynamoDeliveryStore } from '../shared/aws/delivery-store.ts';
import { SqsEventQueue } from '../shared/aws/event-queue.ts';
import { createMetrics, flushMetrics, PowertoolsMetricsSink } from '../shared/aws/metrics.ts';
import { DynamoPipelineStore } from '../shared/aws/pipeline-store.ts';
import { DynamoRunStore } from '../shared/aws/run-store.ts';
import { createSecretsManagerClient, SecretsManagerSecretSource } from '../shared/aws/secrets.ts';
import { readEnv } from '../shared/config.ts';
import { gitBaseUrlsFromEnv, resolveBranch } from '../shared/git/contents.ts';
import { GitHostHeads } from '../shared/git/heads.ts';
import { RECOVERY_GRACE_ENV, newRecoveryMemory, recoverMissedPushes, type PushRecoveryDeps, type RecoveryReport } from '../shared/services/push-recovery.ts';
import { RECONCILE_MARGIN_ENV, reconcile, type ReconcileReport, type ReconcilerDeps } from '../shared/services/reconciler.ts';
import { fireDueSchedules, type ScheduleDeps } from '../shared/services/schedules.ts';
import { portsFromEnv } from './wiring.ts';

const logger = new Logger({ serviceName: 'slipway-reconciler' });
const metrics = createMetrics();

/**
 * The reconciler's ports, those of missed-push recovery (absent: no recovery pass) and those
 * of scheduled runs (absent: a schedules event is refused).
 */
export type ReconcilerPorts = ReconcilerDeps & { recovery?: PushRecoveryDeps; schedules?: ScheduleDeps };

/** The minute rule's input (infra/constructs/reconciler.ts): `time` is the rule's ISO time. */
export interface SchedulesEvent { kind: 'schedules'; time: string }

const fromEnv = portsFromEnv((): ReconcilerPorts => {
  const env = readEnv(['tableName', 'engineQueueUrl']);
  const aws = awsConfigFromEnv();
  const documents = createDocumentClient(aws);
  const codebuild = new CodeBuildClient({ region: aws.region });
  const margin = Number(process.env[RECONCILE_MARGIN_ENV] ?? '');
  const grace = Number(process.env[RECOVERY_GRACE_ENV] ?? '');
  const log = { info: (m: string, e?: Record<string, unknown>) => logger.info(m, e ?? {}), warn: (m: string, e?: Record<string, unknown>) => logger.warn(m, e ?? {}), error: (m: string, e?: Record<string, unknown>) => logger.error(m, e ?? {}) };
  const pipelines = new DynamoPipelineStore(documents, env.tableName);
  const runs = new DynamoRunStore(documents, env.tableName);
  const events = new SqsEventQueue(createSqsClient(aws), env.engineQueueUrl);
  const sink = new PowertoolsMetricsSink(metrics);
  const gitHosts = { secrets: new SecretsManagerSecretSource(createSecretsManagerClient(aws)), baseUrls: gitBaseUrlsFromEnv() };
  return {
    pipelines,
    runs,
    builds: (ids) => describeBuilds(codebuild, ids),
    events,
    metrics: sink,
    logger: log,
    ...(Number.isFinite(margin) && margin > 0 ? { marginMinutes: margin } : {}),
    recovery: {
      pipelines, runs, queue: events, metrics: sink, logger: log,
      deliveries: new DynamoDeliveryStore(documents, env.tableName),
      heads: new GitHostHeads(gitHosts),
      // Built once per container: first-seen times and ETags outlive one pass while it stays warm.
      memory: newRecoveryMemory(),
      ...(Number.isFinite(grace) && grace > 0 ? { graceSeconds: grace } : {}),
    },
    schedules: {
      pipelines, runs, queue: events, logger: log,
      resolveBranch: (provider, repository, branch, tokenSecretName) => resolveBranch(provider, repository, branch, tokenSecretName, gitHosts),
    },
  };
});

async function pass(deps: ReconcilerPorts): Promise<ReconcileReport & { recovery?: RecoveryReport }> {
  const report = await reconcile(deps);
  const recovery = deps.recovery ? await recoverMissedPushes(deps.recovery) : undefined;
  const { sent, stuckReleases, errors, ...counts } = report;
  logger.info('reconciliation pass done', {
    ...counts, sent: sent.length, stuckReleases: stuckReleases.length, errors: errors.length,
    ...(recovery ? { recovered: recovery.recovered.length, gitHostRequests: recovery.requests, notModified: recovery.notModified, webhookNotices: recovery.notices.length, recoveryErrors: recovery.errors } : {}),
  });
  if (errors.length > 0) throw new Error(`reconciler: ${errors.length} pipeline(s) could not be checked: ${errors.map((e) => `${e.where}: ${e.error}`).join('; ')}`);
  return { ...report, ...(recovery ? { recovery } : {}) };
}

const MINUTE = 60_000;

/**
 * What an invocation is: a reconcile pass (the EventBridge scheduled event of the reconcile
 * rule, or an empty event), or the schedules clock; anything else is refused by name.
 */
export function classifyEvent(event: unknown): { kind: 'reconcile' } | { kind: 'schedules'; minute: number } {
  if (event === undefined || event === null) return { kind: 'reconcile' };
  if (typeof event === 'object' && !Array.isArray(event)) {
    const e = event as Record<string, unknown>;
    if (Object.keys(e).length === 0) return { kind: 'reconcile' };
    if (e.source === 'aws.events' && e['detail-type'] === 'Scheduled Event' && !('kind' in e)) return { kind: 'reconcile' };
    if (e.kind === 'schedules') {
      const time = typeof e.time === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(e.time) ? Date.parse(e.time) : NaN;
      if (!Number.isFinite(time)) throw new Error(`reconciler: a schedules event needs an ISO time, got ${JSON.stringify(e.time)}`);
      return { kind: 'schedules', minute: Math.floor(time / MINUTE) * MINUTE };
    }
  }
  throw new Error(`reconciler: not a reconcile pass (an EventBridge scheduled event or {}) nor a schedules event ({ kind: 'schedules', time }): ${JSON.stringify(event)?.slice(0, 200)}`);
}

type ScheduleFiring = Awaited<ReturnType<typeof fireDueSchedules>>;

/**
 * Fires what came due in the minutes [minute - 2, minute] (fireDueSchedules takes (from, to]):
 * the last three calls of the minute rule overlap, and their run requests have one id each.
 */
async function schedulesPass(deps: ScheduleDeps | undefined, minute: number): Promise<{ schedules: ScheduleFiring }> {
  if (!deps) throw new Error('reconciler: a schedules event arrived but no schedule ports are wired');
  const fired = await fireDueSchedules(deps, minute - 3 * MINUTE, minute);
  const failed = fired.filter((f) => 'error' in f.outcome);
  logger.info('schedules pass done', { minute: new Date(minute).toISOString(), fired: fired.length, failed: failed.length });
  return { schedules: fired };
}

/** The handler over the given ports (tests give their own stores and build lookup). */
export function createHandler(ports: () => ReconcilerPorts = fromEnv) {
  return middy(async (event: unknown) => {
    const what = classifyEvent(event);
    if (what.kind === 'schedules') return schedulesPass(ports().schedules, what.minute);
    return pass(ports());
  }).use(injectLambdaContext(logger, { clearState: true })).use(flushMetrics(metrics));
}

export const handler = createHandler();
