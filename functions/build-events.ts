/**
 * EventBridge rule target for "CodeBuild Build State Change": forwards the state
 * of every build Slipway started to engine-events.fifo as a `BuildStateChanged`.
 * A failure is thrown, so EventBridge retries the invocation and, past its
 * retries, the stack's on-failure destination keeps the event.
 */
import middy from '@middy/core';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { awsConfigFromEnv, createSqsClient } from '../shared/aws/clients.ts';
import { readExportedVariables } from '../shared/aws/codebuild-runner.ts';
import { SqsEventQueue } from '../shared/aws/event-queue.ts';
import { readEnv } from '../shared/config.ts';
import { createMetrics, flushMetrics } from '../shared/aws/metrics.ts';
import { buildDurationSeconds, forwardBuildStateChange, type BuildStateChangeEvent, type ForwardDeps } from '../shared/services/build-events.ts';
import { portsFromEnv } from './wiring.ts';
import { METRIC } from '../shared/ports/metrics.ts';

const logger = new Logger({ serviceName: 'slipway-build-events' });
const metrics = createMetrics();

const fromEnv = portsFromEnv((): ForwardDeps => {
  const env = readEnv(['engineQueueUrl']);
  const aws = awsConfigFromEnv();
  const codebuild = new CodeBuildClient({ region: aws.region });
  return {
    queue: new SqsEventQueue(createSqsClient(aws), env.engineQueueUrl),
    readOutputs: (buildId: string) => readExportedVariables(codebuild, buildId),
    logger,
  };
});

async function forward(deps: ForwardDeps, event: BuildStateChangeEvent): Promise<void> {
  const forwarded = await forwardBuildStateChange(deps, event);
  if (forwarded === undefined || forwarded.state === 'IN_PROGRESS') return;
  // CodeBuild's own phase durations: the time the build took, whatever the event path's delays.
  const seconds = buildDurationSeconds(event.detail);
  if (seconds !== undefined) metrics.addMetric(METRIC.buildDuration, MetricUnit.Seconds, seconds);
}

/** The handler over the given ports (the local mode reads a local build's outputs instead of CodeBuild's). */
export function createHandler(ports: () => ForwardDeps = fromEnv) {
  return middy((event: BuildStateChangeEvent) => forward(ports(), event)).use(injectLambdaContext(logger, { clearState: true })).use(flushMetrics(metrics));
}

export const handler = createHandler();
