/**
 * Issue 14, finding 7: whoever edits pipeline A must not make Slipway use pipeline B's
 * secrets (git token, chat webhook, webhook secret). Every secret a pipeline names is
 * `slipway/<pipelineId>/...`: refused otherwise at registration, in a definition read
 * from the repository, and where the notifier would use it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiService } from '../../shared/services/api-service.ts';
import { runDefinition } from '../../shared/services/effects.ts';
import { apiRoutes } from '../../shared/http/api-routes.ts';
import { createRouter } from '../../shared/http/router.ts';
import { isPipelineSecret, secretNameProblems } from '../../shared/domain/secret-names.ts';
import { ValidationError } from '../../shared/domain/errors.ts';
import { assertPipeline } from '../../shared/domain/definition.ts';
import { handleNotification } from '../../shared/notify/notifier.ts';
import { httpEvent, VALID_YAML } from '../support/api-fixtures.ts';
import { MemoryEventQueue, MemoryPipelineStore, MemoryRunStore } from '../support/memory-stores.ts';
import { notificationMessage, notifySetup } from '../support/notify-fixtures.ts';

function api() {
  const pipelines = new MemoryPipelineStore();
  const route = createRouter(apiRoutes(new ApiService({ pipelines, runs: new MemoryRunStore(), queue: new MemoryEventQueue() })), {});
  const call = async (body: unknown) => {
    const res = await route(httpEvent({ method: 'PUT', path: '/pipelines/shop', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }));
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
  return { pipelines, call };
}

const withSlack = (secret: string) => `${VALID_YAML}notifications:\n  - kind: slack\n    secret: ${secret}\n    on: [run_failed]\n`;

test('the rule: slipway/<pipelineId>/<name>, nothing above or beside it', () => {
  assert.ok(isPipelineSecret('shop', 'slipway/shop/webhook'));
  assert.ok(isPipelineSecret('shop', 'slipway/shop/chat/slack'));
  for (const name of ['slipway/billing/token', 'slipway/shop', 'slipway/shop/', 'slipway/shopping/token', 'slipway/shop/../billing/token', 'slipway/shop//x', 'prod/db', 'slipway/SHOP/token']) {
    assert.equal(isPipelineSecret('shop', name), false, name);
  }
});

test('registration naming another pipeline\'s token, webhook secret or chat webhook is a 400 naming the expected prefix, and stores nothing', async () => {
  const { call, pipelines } = api();
  const res = await call({ definition: withSlack('slipway/billing/slack'), webhookSecretName: 'slipway/billing/webhook', tokenSecretName: 'slipway/billing/token' });
  assert.equal(res.status, 400);
  const problems = res.body.problems as Array<{ path: string; message: string }>;
  assert.deepEqual(problems.map((p) => p.path).sort(), ['definition.notifications[0].secret', 'tokenSecretName', 'webhookSecretName']);
  for (const p of problems) assert.match(p.message, /must be named slipway\/shop\/<name>/);
  await assert.rejects(pipelines.get('shop'));
});

test('registration with the pipeline\'s own secrets is accepted', async () => {
  const { call } = api();
  const res = await call({ definition: withSlack('slipway/shop/slack'), webhookSecretName: 'slipway/shop/webhook', tokenSecretName: 'slipway/shop/token' });
  assert.equal(res.status, 201, JSON.stringify(res.body));
});

test('a repository definition naming another pipeline\'s chat secret fails the run, with the expected prefix', async () => {
  const { pipelines } = api();
  const record = await pipelines.put({ id: 'shop', spec: assertPipeline(VALID_YAML), definitionSource: { kind: 'repository', path: '.slipway.yml' } });
  const fromRepo = assertPipeline(withSlack('slipway/billing/slack'));
  await assert.rejects(
    runDefinition({ resolveDefinition: async () => fromRepo }, record, { event: 'push', commit: 'a'.repeat(40) } as never),
    (err: unknown) => err instanceof ValidationError && /notifications\[0\]\.secret: secret "slipway\/billing\/slack" must be named slipway\/shop\/<name>/.test(err.message),
  );
  const own = assertPipeline(withSlack('slipway/shop/slack'));
  assert.equal(await runDefinition({ resolveDefinition: async () => own }, record, { event: 'push', commit: 'a'.repeat(40) } as never), own);
});

test('the notifier never reads another pipeline\'s secret, even from a record written before the rule', async () => {
  const { deps, secrets, runs } = notifySetup({
    notifications: [{ kind: 'slack', secret: 'slipway/billing/slack', on: ['run_failed'] }],
    secrets: { 'slipway/billing/slack': 'https://hooks.example/billing' },
  });
  await handleNotification(deps, notificationMessage());
  assert.deepEqual(secrets.reads, [], 'the secret was not even read');
  void runs;
});

test('secretNameProblems ignores absent names', () => {
  assert.deepEqual(secretNameProblems('shop', [{ path: 'tokenSecretName', name: undefined }, { path: 'webhookSecretName', name: null }]), []);
});
