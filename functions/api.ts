/**
 * Management API (HTTP API, IAM-authorised): routes in shared/http/api-routes.ts,
 * operations in shared/services/api-service.ts. Config is read and clients are
 * created once, at module load.
 */
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { S3ArtifactStore } from '../shared/aws/artifact-store.ts';
import { awsConfigFromEnv, createDocumentClient, createS3Client, createSqsClient } from '../shared/aws/clients.ts';
import { SqsEventQueue } from '../shared/aws/event-queue.ts';
import { CloudWatchLogReader } from '../shared/aws/log-reader.ts';
import { DynamoPipelineStore } from '../shared/aws/pipeline-store.ts';
import { DynamoRunStore } from '../shared/aws/run-store.ts';
import { createSecretsManagerClient, SecretsManagerSecretSource } from '../shared/aws/secrets.ts';
import { ENV, readEnv } from '../shared/config.ts';
import { ApiService, type ApiServiceDeps } from '../shared/services/api-service.ts';
import { portsFromEnv } from './wiring.ts';
import { SqsReleaseQueue } from '../shared/aws/release-queue.ts';
import { DynamoTargetStore } from '../shared/aws/target-store.ts';
import { AwsTargetOwnership } from '../shared/aws/target-ownership.ts';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { TargetAdmin } from '../shared/services/targets.ts';
import { defaultBranch, gitBaseUrlsFromEnv, repositoryDefinitionResolver, resolveBranch } from '../shared/git/contents.ts';
import { apiRoutes } from '../shared/http/api-routes.ts';
import { createRouter } from '../shared/http/router.ts';

const logger = new Logger({ serviceName: 'slipway-api' });

const fromEnv = portsFromEnv((): ApiServiceDeps => {
  const env = readEnv(['tableName', 'engineQueueUrl', 'releaseQueueUrl', 'buildLogGroup', 'artifactBucket']);
  const aws = awsConfigFromEnv();
  const documents = createDocumentClient(aws);
  const secrets = new SecretsManagerSecretSource(createSecretsManagerClient(aws));
  const gitHosts = { secrets, baseUrls: gitBaseUrlsFromEnv() };
  return {
    pipelines: new DynamoPipelineStore(documents, env.tableName),
    runs: new DynamoRunStore(documents, env.tableName),
    queue: new SqsEventQueue(createSqsClient(aws), env.engineQueueUrl),
    git: {
      resolveBranch: (provider, repository, branch, tokenSecretName) => resolveBranch(provider, repository, branch, tokenSecretName, gitHosts),
      defaultBranch: (provider, repository, tokenSecretName) => defaultBranch(provider, repository, tokenSecretName, gitHosts),
    },
    // Approvers of a pipeline defined in its repository are read from the file the run uses.
    resolveDefinition: repositoryDefinitionResolver(gitHosts),
    logs: new CloudWatchLogReader(new CloudWatchLogsClient({ region: aws.region }), { logGroupName: env.buildLogGroup }),
    artifacts: new S3ArtifactStore(createS3Client(aws), env.artifactBucket),
    targets: targetService(documents, createSqsClient(aws), env),
    ...(process.env[ENV.ecrRepositoryPrefix] ? { ecrRepositoryPrefix: process.env[ENV.ecrRepositoryPrefix] } : {}),
  };
});

/**
 * Targets as the API sees them: read, registered, and a rollback checked then
 * queued for the releaser. The API never acts on ECS or the ALB (its role has no
 * such rights); it only reads tags, to check that what a PUT /targets names
 * carries `slipway:target=<name>` (AwsTargetOwnership).
 */
function targetService(documents: ReturnType<typeof createDocumentClient>, sqs: ReturnType<typeof createSqsClient>, env: { tableName: string; releaseQueueUrl: string }) {
  const region = awsConfigFromEnv().region;
  return new TargetAdmin({
    targets: new DynamoTargetStore(documents, env.tableName),
    ownership: new AwsTargetOwnership(new ECSClient({ region }), new ElasticLoadBalancingV2Client({ region })),
    releaseQueue: new SqsReleaseQueue(sqs, env.releaseQueueUrl),
  });
}

function router(ports: ApiServiceDeps) {
  return createRouter(apiRoutes(new ApiService(ports)), {
    onInternalError: (err, requestId) => logger.error('request failed', { requestId, error: err as Error }),
  });
}

/** The handler over the given ports (the local mode reads logs from files and branches from repositories on disk). */
export function createHandler(ports: () => ApiServiceDeps = fromEnv) {
  let route: ReturnType<typeof router> | undefined;
  return middy((event: APIGatewayProxyEventV2) => (route ??= router(ports()))(event)).use(injectLambdaContext(logger));
}

export const handler = createHandler();
