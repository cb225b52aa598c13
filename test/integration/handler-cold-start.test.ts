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
import { HANDLER_ENTRIES } from '../../infra/constructs/handler.ts';

const entries = Object.values(HANDLER_ENTRIES);

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

test('in Lambda, every handler fails its cold start naming each setting it lacks', () => {
  // One process imports all seven, as seven cold starts with only the region set.
  const script = `for (const f of ${JSON.stringify(entries)}) { try { await import('./functions/' + f); console.log(f + ' LOADED'); } catch (e) { console.log(f + ' FAILED ' + e.message); } }`;
  const out = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], {
    env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: 'slipway-test', POWERTOOLS_LOG_LEVEL: 'CRITICAL' },
    encoding: 'utf8',
  });
  assert.equal(out.status, 0, out.stderr);
  const lines = new Map(out.stdout.trim().split('\n').map((l) => [l.split(' ')[0], l] as const));
  // Each names the variables it needs (shared/config.ts ENV); all need the engine queue or the table.
  const expected: Record<string, RegExp[]> = {
    'webhook.ts': [/SLIPWAY_TABLE/, /SLIPWAY_ENGINE_QUEUE_URL/],
    'api.ts': [/SLIPWAY_TABLE/, /SLIPWAY_BUILD_LOG_GROUP/],
    'run-engine.ts': [/SLIPWAY_TABLE/, /SLIPWAY_BUILD_PROJECTS/],
    'build-events.ts': [/SLIPWAY_ENGINE_QUEUE_URL/],
    'releaser.ts': [/SLIPWAY_TABLE/, /SLIPWAY_RELEASE_QUEUE_URL/],
    'notifier.ts': [/SLIPWAY_NOTIFICATION_QUEUE_URL/],
    'reconciler.ts': [/SLIPWAY_TABLE/, /SLIPWAY_ENGINE_QUEUE_URL/],
  };
  for (const file of entries) {
    const line = lines.get(file) ?? '';
    assert.match(line, /FAILED/, `${file} must fail at load in Lambda: ${line}`);
    for (const re of expected[file] ?? []) assert.match(line, re, `${file}: ${line}`);
  }
});
