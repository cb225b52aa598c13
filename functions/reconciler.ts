/**
 * Scheduled (EventBridge, every few minutes): repairs runs whose build events
 * were lost, by asking CodeBuild (shared/services/reconciler.ts). A pass that
 * could not read some pipeline throws after finishing the others, so the
 * function's Errors metric (and its alarm) shows it; the next pass tries again.
 */
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { awsConfigFromEnv, createDocumentClient, createSqsClient } from '../shared/aws/clients.ts';
import { describeBuilds } from '../shared/aws/codebuild-runner.ts';
import { SqsEventQueue } from '../shared/aws/event-queue.ts';
import { createMetrics, flushMetrics, PowertoolsMetricsSink } from '../shared/aws/metrics.ts';
import { DynamoPipelineStore } from '../shared/aws/pipeline-store.ts';
import { DynamoRunStore } from '../shared/aws/run-store.ts';
import { readEnv } from '../shared/config.ts';
import { RECONCILE_MARGIN_ENV, reconcile, type ReconcileReport, type ReconcilerDeps } from '../shared/services/reconciler.ts';
import { portsFromEnv } from './wiring.ts';

const logger = new Logger({ serviceName: 'slipway-reconciler' });
const metrics = createMetrics();

const fromEnv = portsFromEnv((): ReconcilerDeps => {
  const env = readEnv(['tableName', 'engineQueueUrl']);
  const aws = awsConfigFromEnv();
  const documents = createDocumentClient(aws);
  const codebuild = new CodeBuildClient({ region: aws.region });
  const margin = Number(process.env[RECONCILE_MARGIN_ENV] ?? '');
  return {
    pipelines: new DynamoPipelineStore(documents, env.tableName),
    runs: new DynamoRunStore(documents, env.tableName),
    builds: (ids) => describeBuilds(codebuild, ids),
    events: new SqsEventQueue(createSqsClient(aws), env.engineQueueUrl),
    metrics: new PowertoolsMetricsSink(metrics),
    logger: { info: (m, e) => logger.info(m, e ?? {}), warn: (m, e) => logger.warn(m, e ?? {}), error: (m, e) => logger.error(m, e ?? {}) },
    ...(Number.isFinite(margin) && margin > 0 ? { marginMinutes: margin } : {}),
  };
});

async function pass(deps: ReconcilerDeps): Promise<ReconcileReport> {
  const report = await reconcile(deps);
  const { sent, stuckReleases, errors, ...counts } = report;
  logger.info('reconciliation pass done', { ...counts, sent: sent.length, stuckReleases: stuckReleases.length, errors: errors.length });
  if (errors.length > 0) throw new Error(`reconciler: ${errors.length} pipeline(s) could not be checked: ${errors.map((e) => `${e.where}: ${e.error}`).join('; ')}`);
  return report;
}

/** The handler over the given ports (tests give their own stores and build lookup). */
export function createHandler(ports: () => ReconcilerDeps = fromEnv) {
  return middy(() => pass(ports())).use(injectLambdaContext(logger, { clearState: true })).use(flushMetrics(metrics));
}

export const handler = createHandler();
