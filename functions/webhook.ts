/**
 * Webhook ingress (`POST /webhooks/{github|gitlab|bitbucket}`), HTTP API payload v2.
 * The logic is in shared/services/ingest-webhook.ts; this file builds the ports from
 * the environment (functions/wiring.ts) and adapts the Lambda event.
 * `createHandler` takes other ports: the local mode runs this handler with a
 * file-based secret source.
 */
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { awsConfigFromEnv, createDocumentClient, createSqsClient } from '../shared/aws/clients.ts';
import { DynamoDeliveryStore } from '../shared/aws/delivery-store.ts';
import { SqsEventQueue } from '../shared/aws/event-queue.ts';
import { DynamoPipelineStore } from '../shared/aws/pipeline-store.ts';
import { createSecretsManagerClient, SecretsManagerSecretSource } from '../shared/aws/secrets.ts';
import { readEnv } from '../shared/config.ts';
import { respondToWebhook, type WebhookDeps } from '../shared/services/ingest-webhook.ts';
import { portsFromEnv } from './wiring.ts';
import { gitWebhooks } from '../shared/git/protocol.ts';

const logger = new Logger({ serviceName: 'slipway-webhook' });

const fromEnv = portsFromEnv((): WebhookDeps => {
  const env = readEnv(['tableName', 'engineQueueUrl']);
  const aws = awsConfigFromEnv();
  const documents = createDocumentClient(aws);
  return {
    pipelines: new DynamoPipelineStore(documents, env.tableName),
    deliveries: new DynamoDeliveryStore(documents, env.tableName),
    protocol: gitWebhooks,
    queue: new SqsEventQueue(createSqsClient(aws), env.engineQueueUrl),
    secrets: new SecretsManagerSecretSource(createSecretsManagerClient(aws)),
    logger,
  };
});

/** The handler over the given ports (the Lambda's come from its environment). */
export function createHandler(ports: () => WebhookDeps = fromEnv) {
  return middy((event: APIGatewayProxyEventV2, context: Pick<Context, 'awsRequestId'>): Promise<APIGatewayProxyStructuredResultV2> =>
    respondToWebhook(ports(), event, event.requestContext?.requestId ?? context.awsRequestId),
  ).use(injectLambdaContext(logger));
}

export const handler = createHandler();
