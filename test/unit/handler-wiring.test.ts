// Every function under functions/ is built one way (functions/wiring.ts): ports from the
// environment at cold start in Lambda (test/integration/handler-cold-start.test.ts starts
// each as Lambda would), ports given by the caller anywhere else.
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
  assert.ok('pipelines' in report, 'an empty event is a reconcile pass');
  assert.deepEqual(listed, ['pipelines']);
  assert.equal(report.pipelines, 0);
  assert.deepEqual(report.errors, []);
});
