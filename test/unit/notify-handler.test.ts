/** functions/notifier.ts: the middy handler wired from its environment. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

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

test('a missing setting fails at load, naming the variable', () => {
  const out = spawnSync(process.execPath, ['--import', 'tsx', '-e', "await import('./functions/notifier.ts')"], {
    env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', SLIPWAY_TABLE: 't', AWS_LAMBDA_FUNCTION_NAME: 'slipway-test' }, // as in Lambda, where config is read at load
    encoding: 'utf8',
  });
  assert.notEqual(out.status, 0);
  assert.match(out.stderr, /SLIPWAY_ENGINE_QUEUE_URL/);
  assert.match(out.stderr, /SLIPWAY_NOTIFICATION_QUEUE_URL/);
});
