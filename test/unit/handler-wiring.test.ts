// Every function under functions/ is built one way (functions/wiring.ts): ports from the
// environment at cold start in Lambda, ports given by the caller anywhere else.
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HANDLER_ENTRIES } from '../../infra/constructs/handler.ts';

const entries = Object.values(HANDLER_ENTRIES);

test('there are seven handlers, and each exports createHandler and handler and loads without settings outside Lambda', async () => {
  assert.equal(entries.length, 7);
  for (const file of entries) {
    const mod = (await import(`../../functions/${file}`)) as Record<string, unknown>;
    assert.equal(typeof mod.createHandler, 'function', `${file} exports createHandler`);
    assert.equal(typeof mod.handler, 'function', `${file} exports handler`);
  }
});

test('in Lambda, every handler fails its cold start naming each setting it lacks', () => {
  // One process imports all seven, as seven cold starts with only the region set.
  const script = `for (const f of ${JSON.stringify(entries)}) { try { await import('./functions' + f); console.log(f + ' LOADED'); } catch (e) { console.log(f + ' FAILED ' + e.message); } }`;
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

test('a handler runs over the ports its caller gives (the reconciler, once wired eagerly at load)', async () => {
  const { createHandler } = await import('../../functions/reconciler.ts');
  const listed: string[] = [];
  const handler = createHandler(() => ({
    pipelines: { list: async () => { listed.push('pipelines'); return { items: [] }; }, get: async () => { throw new Error('no pipeline'); } },
    runs: { listActive: async () => [], get: async () => { throw new Error('no run'); } },
    builds: async () => new Map(),
    events: { send: async () => undefined },
  }));
  const report = await handler({}, { awsRequestId: 'r1', functionName: 'slipway-reconciler' } as never);
  assert.deepEqual(listed, ['pipelines']);
  assert.equal(report.pipelines, 0);
  assert.deepEqual(report.errors, []);
});
