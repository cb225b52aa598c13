/**
 * Scheduled (EventBridge, every few minutes): repairs runs whose build events
 * were lost, by asking CodeBuild (shared/services/reconciler.ts), then recovers
 * pushes whose webhook never arrived (shared/services/push-recovery.ts). A pass
 * that could not read some pipeline's runs throws after finishing the others, so
 * the function's Errors metric (and its alarm) shows it; the next pass tries again.
 * A git host that cannot be read (no token for a private repository, an outage) is
 * logged and counted, not thrown: it is the pipeline's configuration, not the engine.
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
import { gitBaseUrlsFromEnv } from '../shared/git/contents.ts';
import { GitHostHeads } from '../shared/git/heads.ts';
import { RECOVERY_GRACE_ENV, newRecoveryMemory, recoverMissedPushes, type PushRecoveryDeps, type RecoveryReport } from '../shared/services/push-recovery.ts';
import { RECONCILE_MARGIN_ENV, reconcile, type ReconcileReport, type ReconcilerDeps } from '../shared/services/reconciler.ts';
import { portsFromEnv } from './wiring.ts';

const logger = new Logger({ serviceName: 'slipway-reconciler' });
const metrics = createMetrics();

/** The reconciler's ports, and those of missed-push recovery (absent: no recovery pass). */
export type ReconcilerPorts = ReconcilerDeps & { recovery?: PushRecoveryDeps };

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
      heads: new GitHostHeads({ secrets: new SecretsManagerSecretSource(createSecretsManagerClient(aws)), baseUrls: gitBaseUrlsFromEnv() }),
      // Built once per container: first-seen times and ETags outlive one pass while it stays warm.
      memory: newRecoveryMemory(),
      ...(Number.isFinite(grace) && grace > 0 ? { graceSeconds: grace } : {}),
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

/** The handler over the given ports (tests give their own stores and build lookup). */
export function createHandler(ports: () => ReconcilerPorts = fromEnv) {
  return middy(() => pass(ports())).use(injectLambdaContext(logger, { clearState: true })).use(flushMetrics(metrics));
}

export const handler = createHandler();
