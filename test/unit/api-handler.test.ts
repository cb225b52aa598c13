/** functions/api.ts in-process; loading it as Lambda does, in a fresh process: test/integration/handler-cold-start.test.ts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpEvent } from '../support/api-fixtures.ts';

const ENV = {
  SLIPWAY_TABLE: 'slipway-test',
  SLIPWAY_ENGINE_QUEUE_URL: 'http://127.0.0.1:1/000000000000/engine-events.fifo',
  SLIPWAY_RELEASE_QUEUE_URL: 'http://127.0.0.1:1/000000000000/release-steps',
  SLIPWAY_BUILD_LOG_GROUP: '/slipway/builds',
  SLIPWAY_ARTIFACT_BUCKET: 'slipway-artifacts',
  AWS_REGION: 'us-east-1',
};

test('the handler answers through middy with JSON errors, without touching AWS for bad input', async () => {
  Object.assign(process.env, ENV);
  const { handler } = await import('../../functions/api.ts');
  const context = { functionName: 'api', awsRequestId: 'aws-1', getRemainingTimeInMillis: () => 1000 } as never;
  const bad = (await handler(httpEvent({ method: 'GET', path: '/runs/nope', requestId: 'req-h' }), context)) as { statusCode: number; body: string };
  assert.equal(bad.statusCode, 400);
  assert.equal(JSON.parse(bad.body).requestId, 'req-h');
  const missing = (await handler(httpEvent({ method: 'GET', path: '/elsewhere' }), context)) as { statusCode: number };
  assert.equal(missing.statusCode, 404);
});
