/** functions/notifier.ts: the middy handler wired from its environment (loading it as Lambda does: test/integration/handler-cold-start.test.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';

test('the handler reports a malformed record as a batch item failure without touching AWS', async () => {
  Object.assign(process.env, {
    SLIPWAY_TABLE: 'slipway-test',
    SLIPWAY_ENGINE_QUEUE_URL: 'http://127.0.0.1:1/000000000000/engine-events.fifo',
    SLIPWAY_NOTIFICATION_QUEUE_URL: 'http://127.0.0.1:1/000000000000/notifications',
    AWS_REGION: 'us-east-1',
    POWERTOOLS_LOG_LEVEL: 'CRITICAL',
  });
  const { handler } = await import('../../functions/notifier.ts');
  const context = { functionName: 'notifier', awsRequestId: 'aws-1', getRemainingTimeInMillis: () => 1000 } as never;
  const record = (messageId: string, body: string) => ({ messageId, body, receiptHandle: 'r', attributes: {}, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn', awsRegion: 'us-east-1' });
  const out = await handler({ Records: [record('m1', '{"type":"Notification"}'), record('m2', 'nope')] } as never, context);
  assert.deepEqual(out, { batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }] });
});
