/**
 * Consumer of the notifications queue: each record is one NotificationMessage,
 * delivered to the commit status, chat webhooks and SNS topics it fans out to
 * (shared/notify/notifier.ts). Records are independent and handled concurrently;
 * a record whose delivery could not even be reported (a dependency down) or that
 * is malformed is reported in `batchItemFailures`, redelivered, and after the
 * receive limit lands in the DLQ, whose alarm calls a person.
 */
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { awsConfigFromEnv, createDocumentClient, createSnsClient, createSqsClient } from '../shared/aws/clients.ts';
import { SqsEventQueue } from '../shared/aws/event-queue.ts';
import { SqsNotificationQueue } from '../shared/aws/notification-queue.ts';
import { DynamoPipelineStore } from '../shared/aws/pipeline-store.ts';
import { DynamoRunStore } from '../shared/aws/run-store.ts';
import { createSecretsManagerClient, SecretsManagerSecretSource } from '../shared/aws/secrets.ts';
import { ENV, readEnv } from '../shared/config.ts';
import { gitBaseUrlsFromEnv, repositoryDefinitionResolver } from '../shared/git/contents.ts';
import { handleNotification, processNotificationRecords, type NotifierDeps } from '../shared/notify/notifier.ts';
import { portsFromEnv } from './wiring.ts';

const logger = new Logger({ serviceName: 'slipway-notifier' });

const fromEnv = portsFromEnv((): NotifierDeps => {
  const env = readEnv(['tableName', 'engineQueueUrl', 'notificationQueueUrl']);
  const aws = awsConfigFromEnv();
  const ddb = createDocumentClient(aws);
  const sqs = createSqsClient(aws);
  const secrets = new SecretsManagerSecretSource(createSecretsManagerClient(aws));
  const gitBaseUrls = gitBaseUrlsFromEnv();
  const publicApiUrl = process.env[ENV.publicApiUrl] || undefined;

  return {
    pipelines: new DynamoPipelineStore(ddb, env.tableName),
    runs: new DynamoRunStore(ddb, env.tableName),
    queue: new SqsNotificationQueue(sqs, env.notificationQueueUrl),
    events: new SqsEventQueue(sqs, env.engineQueueUrl),
    secrets,
    sns: createSnsClient(aws),
    gitBaseUrls,
    ...(publicApiUrl ? { publicApiUrl } : {}),
    // A definition kept in the repository says which channels to notify, at the run's commit.
    resolveDefinition: repositoryDefinitionResolver({ secrets, baseUrls: gitBaseUrls }),
    logger,
  };
});

const deliver = (deps: NotifierDeps, event: SQSEvent): Promise<SQSBatchResponse> =>
  processNotificationRecords(event.Records, async (message) => {
    const outcome = await handleNotification(deps, message);
    logger.info('notification handled', { notification: message.id, runId: message.runId, attempt: message.attempt ?? 0, ...outcome });
  }, logger);

/** The handler over the given ports (the local mode reads secrets from a file). */
export function createHandler(ports: () => NotifierDeps = fromEnv) {
  return middy((event: SQSEvent) => deliver(ports(), event)).use(injectLambdaContext(logger));
}

export const handler = createHandler();
