/**
 * Consumer of engine-events.fifo. Each record is one engine message; records of
 * one message group (one run, or one pipeline's run requests) are handled in
 * order, groups concurrently. A failed record fails the rest of its group too, so
 * a run never sees its events out of order, and is reported in
 * `batchItemFailures` for redelivery.
 *
 * Permanent failures (a malformed message, a ValidationError) are not dropped:
 * they are logged as errors with the message id and reported like any other
 * failure, so the queue's redrive policy moves them to the DLQ after
 * maxReceiveCount and its alarm calls a person. Dropping them would lose a run's
 * event for good and let later events apply past it; the price is that the group
 * waits a few visibility timeouts, which is why maxReceiveCount should stay small.
 */
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { CodeBuildClient } from '@aws-sdk/client-codebuild';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { awsConfigFromEnv, createDocumentClient, createSqsClient } from '../shared/aws/clients.ts';
import { CodeBuildRunner, parseBuildProjects, parseBuildFleets, parseBuildRoles, parseSourceConnections } from '../shared/aws/codebuild-runner.ts';
import { SqsEventQueue } from '../shared/aws/event-queue.ts';
import { createMetrics, flushMetrics, PowertoolsMetricsSink } from '../shared/aws/metrics.ts';
import { SqsNotificationQueue } from '../shared/aws/notification-queue.ts';
import { DynamoPipelineStore } from '../shared/aws/pipeline-store.ts';
import { SqsReleaseQueue } from '../shared/aws/release-queue.ts';
import { DynamoRunStore } from '../shared/aws/run-store.ts';
import { createSecretsManagerClient, SecretsManagerSecretSource } from '../shared/aws/secrets.ts';
import { gitBaseUrlsFromEnv, repositoryDefinitionResolver } from '../shared/git/contents.ts';
import { ENV, readEnv } from '../shared/config.ts';
import { decide } from '../shared/domain/decide.ts';
import { handleEngineMessage, processRecords, retrySooner, type EngineDeps } from '../shared/services/run-engine.ts';
import { RecentRuns } from '../shared/services/apply-event.ts';
import { QueueNotifier } from '../shared/notify/queue-notifier.ts';
import { portsFromEnv } from './wiring.ts';

const logger = new Logger({ serviceName: 'slipway-engine' });
const metrics = createMetrics();
// What this warm instance read or wrote last: the next event of the same run is decided without a read
// (the write is still conditional on the version, so another instance's newer state is never lost).
const recent = new RecentRuns();

const fromEnv = portsFromEnv((): EngineDeps => {
  const env = readEnv(['tableName', 'engineQueueUrl', 'releaseQueueUrl', 'artifactBucket', 'buildProjects', 'buildRoles', 'notificationQueueUrl']);
  const aws = awsConfigFromEnv();
  const ddb = createDocumentClient(aws);
  const sqs = createSqsClient(aws);
  const ecrRepositoryPrefix = process.env[ENV.ecrRepositoryPrefix] || undefined;
  const git = { secrets: new SecretsManagerSecretSource(createSecretsManagerClient(aws)), baseUrls: gitBaseUrlsFromEnv(), ...(ecrRepositoryPrefix ? { ecrRepositoryPrefix } : {}) };
  const retentionDays = Number(process.env[ENV.runRetentionDays] ?? '') || undefined;
  return {
    runs: new DynamoRunStore(ddb, env.tableName, retentionDays ? { retentionDays } : {}),
    pipelines: new DynamoPipelineStore(ddb, env.tableName),
    events: new SqsEventQueue(sqs, env.engineQueueUrl),
    releases: new SqsReleaseQueue(sqs, env.releaseQueueUrl),
    builds: new CodeBuildRunner(new CodeBuildClient({ region: aws.region }), {
      projects: parseBuildProjects(env.buildProjects),
      fleets: parseBuildFleets(process.env[ENV.buildFleets]),
      roles: parseBuildRoles(env.buildRoles),
      artifactBucket: env.artifactBucket,
      ecrRegistry: process.env[ENV.ecrRegistry] || undefined,
      ecrRepositoryPrefix,
      sourceConnections: parseSourceConnections(process.env[ENV.sourceConnections]),
    }),
    // A definition kept in the repository is read at the run's commit (cached per warm instance).
    resolveDefinition: repositoryDefinitionResolver(git),
    // Notifications are only enqueued here; functions/notifier.ts delivers them, so no endpoint can fail a run.
    notifier: new QueueNotifier(new SqsNotificationQueue(sqs, env.notificationQueueUrl)),
    decide,
    logger,
    metrics: new PowertoolsMetricsSink(metrics),
    recent,
  };
});

const consume = async (deps: EngineDeps, event: SQSEvent): Promise<SQSBatchResponse> => {
  const outcome = await processRecords(event.Records, async (message, hold) => {
    const result = await handleEngineMessage(deps, message, hold);
    // Groups of a batch run concurrently, so run id and job go in each record rather than appendKeys.
    logger.info('engine message handled', { type: message.type, eventId: message.id, ...('job' in message ? { job: message.job } : {}), ...result });
  }, logger);
  // A failed run request holds its pipeline's group: have it come back in seconds, not minutes.
  await retrySooner(deps.events, event.Records, outcome, logger);
  return outcome;
};

/** The handler over the given ports (the local mode runs builds on this machine instead of CodeBuild). */
export function createHandler(ports: () => EngineDeps = fromEnv) {
  return middy((event: SQSEvent) => consume(ports(), event)).use(injectLambdaContext(logger, { clearState: true })).use(flushMetrics(metrics));
}

export const handler = createHandler();
