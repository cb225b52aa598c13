/**
 * Consumer of the release-steps queue: each record is one `ReleaseMessage`
 * handed to the releaser. Failed records are reported one by one
 * (`batchItemFailures`) so SQS retries only those; a record that keeps failing
 * lands in the DLQ, whose alarm a person sees. Nothing is swallowed.
 */
import middy from '@middy/core';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { createMetrics, flushMetrics, PowertoolsMetricsSink } from '../shared/aws/metrics.ts';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { RetryableError, SlipwayError } from '../shared/domain/errors.ts';
import { parseReleaseMessage as parseMessage, type ReleaseMessage } from '../shared/ports/messages.ts';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { awsConfigFromEnv, createDocumentClient, createSqsClient } from '../shared/aws/clients.ts';
import { EcsTarget } from '../shared/aws/ecs-target.ts';
import { SqsEventQueue } from '../shared/aws/event-queue.ts';
import { EcrImageTagger } from '../shared/aws/image-tags.ts';
import { SqsReleaseQueue } from '../shared/aws/release-queue.ts';
import { DynamoTargetStore } from '../shared/aws/target-store.ts';
import { ENV, readEnv } from '../shared/config.ts';
import { Releaser, type ReleaserDeps } from '../shared/services/releaser.ts';
import { portsFromEnv } from './wiring.ts';

const logger = new Logger({ serviceName: 'slipway-releaser' });
const metrics = createMetrics();

/** Throws on a body that is not a release message (the schema in shared/ports/messages.ts), naming what is wrong. */
export function parseReleaseMessage(body: string): ReleaseMessage {
  return parseMessage(body, (problems, value) => {
    const m = value as { type?: unknown; target?: unknown } | undefined;
    return new SlipwayError(`not a release message: ${String(m?.type ?? 'no type')} for ${String(m?.target ?? 'no target')}: ${problems}`);
  });
}

export function makeInner(releaser: () => Releaser) {
  const handle = async (record: SQSRecord): Promise<void> => {
    try {
      await handleRecord(releaser(), record);
    } catch (err) {
      const retryable = err instanceof RetryableError || !(err instanceof SlipwayError);
      logger[retryable ? 'warn' : 'error']('release message failed', { messageId: record.messageId, retryable, error: err as Error });
      throw err;
    }
  };
  // One at a time (processInParallel: false): records of one batch often concern the same target, and the
  // target record is the lock. A batch that failed whole is reported record by record, as any other.
  // A processor per batch: it holds the batch's records, and the local mode may run batches side by side.
  return (event: SQSEvent): Promise<SQSBatchResponse> =>
    processPartialResponse(event, handle, new BatchProcessor(EventType.SQS), { processInParallel: false, throwOnFullBatchFailure: false });
}

async function handleRecord(releaser: Releaser, record: SQSRecord): Promise<void> {
  const message = parseReleaseMessage(record.body);
  // Records are handled one at a time, so the keys can ride on every log line of this record.
  logger.appendKeys({ target: message.target, ...('runId' in message ? { runId: message.runId, job: message.job } : {}) });
  try {
    const redelivered = Number(record.attributes?.ApproximateReceiveCount ?? '1') > 1;
    const result = await releaser.handle(message, { redelivered });
    logger.info('release message handled', { messageId: record.messageId, type: message.type, ...result });
  } finally {
    logger.removeKeys(['target', 'runId', 'job']);
  }
}

const fromEnv = portsFromEnv((): ReleaserDeps => {
  const { tableName, releaseQueueUrl, engineQueueUrl } = readEnv(['tableName', 'releaseQueueUrl', 'engineQueueUrl']);
  const cfg = awsConfigFromEnv();
  const sqs = createSqsClient(cfg);
  return {
    targets: new DynamoTargetStore(createDocumentClient(cfg), tableName),
    actions: new EcsTarget(new ECSClient({ region: cfg.region }), new ElasticLoadBalancingV2Client({ region: cfg.region }), new CloudWatchClient({ region: cfg.region }), {
      lambda: new LambdaClient({ region: cfg.region }),
      images: new EcrImageTagger(new ECRClient({ region: cfg.region }), { repositoryPrefix: process.env[ENV.ecrRepositoryPrefix] || undefined }),
    }),
    releaseQueue: new SqsReleaseQueue(sqs, releaseQueueUrl),
    events: new SqsEventQueue(sqs, engineQueueUrl),
    log: { info: (m, e) => logger.info(m, e ?? {}), warn: (m, e) => logger.warn(m, e ?? {}) },
    metrics: new PowertoolsMetricsSink(metrics),
  };
});

/** The handler over the given ports (the local mode's drive local processes instead of ECS and an ALB). */
export function createHandler(ports: () => ReleaserDeps = fromEnv) {
  let releaser: Releaser | undefined;
  let built: ReleaserDeps | undefined;
  const current = () => {
    const deps = ports();
    if (deps !== built) { built = deps; releaser = new Releaser(deps); }
    return releaser!;
  };
  return middy(makeInner(current)).use(injectLambdaContext(logger, { clearState: true })).use(flushMetrics(metrics));
}

export const handler = createHandler();
