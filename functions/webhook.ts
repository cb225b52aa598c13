/**
 * Webhook ingress (`POST /webhooks/{github|gitlab|bitbucket}`), HTTP API payload v2.
 * The logic is in shared/engine/ingest-webhook.ts; this file reads config and
 * creates clients once, at module load, and adapts the Lambda event.
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
import { respondToWebhook, type WebhookDeps } from '../shared/engine/ingest-webhook.ts';

const logger = new Logger({ serviceName: 'slipway-webhook' });
const env = readEnv(['tableName', 'engineQueueUrl']);
const aws = awsConfigFromEnv();
const documents = createDocumentClient(aws);

const deps: WebhookDeps = {
  pipelines: new DynamoPipelineStore(documents, env.tableName),
  deliveries: new DynamoDeliveryStore(documents, env.tableName),
  queue: new SqsEventQueue(createSqsClient(aws), env.engineQueueUrl),
  secrets: new SecretsManagerSecretSource(createSecretsManagerClient(aws)),
  logger,
};

export async function inner(event: APIGatewayProxyEventV2, context: Pick<Context, 'awsRequestId'>): Promise<APIGatewayProxyStructuredResultV2> {
  return respondToWebhook(deps, event, event.requestContext?.requestId ?? context.awsRequestId);
}

export const handler = middy(inner).use(injectLambdaContext(logger));
