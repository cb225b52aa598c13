/**
 * The handlers as Lambda starts them: each test loads a handler module in a
 * fresh Node process with only the environment given, and reads its exit code
 * and stderr. A process start costs seconds, which is why these live here and
 * not in the unit tier (test/unit/api-handler.test.ts and notify-handler.test.ts
 * test the same handlers in-process).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

test('the API handler: a missing setting fails at load, naming the variable', () => {
  const out = spawnSync(process.execPath, ['--import', 'tsx', '-e', "await import('./functions/api.ts')"], {
    env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', SLIPWAY_TABLE: 't', AWS_LAMBDA_FUNCTION_NAME: 'slipway-test' }, // as in Lambda, where config is read at load
    encoding: 'utf8',
  });
  assert.notEqual(out.status, 0);
  assert.match(out.stderr, /SLIPWAY_ENGINE_QUEUE_URL/);
  assert.match(out.stderr, /SLIPWAY_BUILD_LOG_GROUP/);
});

test('the API handler outside Lambda loads without settings (the local mode gives its own ports); first use names what is missing', () => {
  const script = "const m = await import('./functions/api.ts'); console.log('loaded'); try { await m.handler({ rawPath: '/pipelines', requestContext: { http: { method: 'GET' } } }, { awsRequestId: 'r1' }); } catch (e) { console.error(e.message); process.exit(3); }";
  const out = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1' }, encoding: 'utf8' });
  assert.match(out.stdout, /loaded/);
  assert.equal(out.status, 3);
  assert.match(out.stderr, /SLIPWAY_TABLE/);
});

test('the notifier handler: a missing setting fails at load, naming the variable', () => {
  const out = spawnSync(process.execPath, ['--import', 'tsx', '-e', "await import('./functions/notifier.ts')"], {
    env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', SLIPWAY_TABLE: 't', AWS_LAMBDA_FUNCTION_NAME: 'slipway-test' }, // as in Lambda, where config is read at load
    encoding: 'utf8',
  });
  assert.notEqual(out.status, 0);
  assert.match(out.stderr, /SLIPWAY_ENGINE_QUEUE_URL/);
  assert.match(out.stderr, /SLIPWAY_NOTIFICATION_QUEUE_URL/);
});
