import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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

test('a missing setting fails at load, naming the variable', () => {
  const out = spawnSync(process.execPath, ['--import', 'tsx', '-e', "await import('./functions/api.ts')"], {
    env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', SLIPWAY_TABLE: 't', AWS_LAMBDA_FUNCTION_NAME: 'slipway-test' }, // as in Lambda, where config is read at load
    encoding: 'utf8',
  });
  assert.notEqual(out.status, 0);
  assert.match(out.stderr, /SLIPWAY_ENGINE_QUEUE_URL/);
  assert.match(out.stderr, /SLIPWAY_BUILD_LOG_GROUP/);
});

test('outside Lambda the module loads without settings (the local mode gives its own ports); first use names what is missing', () => {
  const script = "const m = await import('./functions/api.ts'); console.log('loaded'); try { await m.handler({ rawPath: '/pipelines', requestContext: { http: { method: 'GET' } } }, { awsRequestId: 'r1' }); } catch (e) { console.error(e.message); process.exit(3); }";
  const out = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1' }, encoding: 'utf8' });
  assert.match(out.stdout, /loaded/);
  assert.equal(out.status, 3);
  assert.match(out.stderr, /SLIPWAY_TABLE/);
});
