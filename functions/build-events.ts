/**
 * EventBridge rule target for "CodeBuild Build State Change": forwards the state
 * of every build Slipway started to engine-events.fifo as a `BuildStateChanged`.
 * A failure is thrown, so EventBridge retries the invocation and, past its
 * retries, the stack's on-failure destination keeps the event.
 */
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import { awsConfigFromEnv, createSqsClient } from '../shared/aws/clients.ts';
import { readExportedVariables } from '../shared/aws/codebuild-runner.ts';
import { SqsEventQueue } from '../shared/aws/event-queue.ts';
import { readEnv } from '../shared/config.ts';
import { forwardBuildStateChange, type BuildStateChangeEvent } from '../shared/engine/build-events.ts';

const env = readEnv(['engineQueueUrl']);
const aws = awsConfigFromEnv();
const logger = new Logger({ serviceName: 'slipway-build-events' });
const codebuild = new CodeBuildClient({ region: aws.region });
const deps = {
  queue: new SqsEventQueue(createSqsClient(aws), env.engineQueueUrl),
  readOutputs: (buildId: string) => readExportedVariables(codebuild, buildId),
  logger,
};

export const inner = (event: BuildStateChangeEvent): Promise<void> => forwardBuildStateChange(deps, event).then(() => undefined);

export const handler = middy(inner).use(injectLambdaContext(logger));
