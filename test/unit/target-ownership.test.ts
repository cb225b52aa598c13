/**
 * Issue 14, finding 3: `PUT /targets` accepted any listener rule and target groups, so the
 * right to register a target was the right to have the releaser redirect another team's
 * traffic. Now every rule, target group and service named must carry
 * `slipway:target=<name>`, checked against ELBv2 and ECS (the stateful fake in
 * test/support/fake-ecs.ts) before anything is saved. The releaser's IAM side is checked
 * with the policy simulator in test/infra/engine-stack.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AwsTargetOwnership } from '../../shared/aws/target-ownership.ts';
import { ApiService } from '../../shared/services/api-service.ts';
import { TargetAdmin } from '../../shared/services/targets.ts';
import { apiRoutes } from '../../shared/http/api-routes.ts';
import { createRouter } from '../../shared/http/router.ts';
import { LocalTarget } from '../../shared/local/local-target.ts';
import { httpEvent } from '../support/api-fixtures.ts';
import { MemoryEventQueue, MemoryPipelineStore, MemoryRunStore, MemoryTargetStore } from '../support/memory-stores.ts';
import { FakeAws, OTHER_RULE, OTHER_TG, RULE, TEST_RULE, TG, UNTAGGED_RULE } from '../support/fake-ecs.ts';

function setup() {
  const aws = new FakeAws();
  const store = new MemoryTargetStore();
  const admin = new TargetAdmin({ targets: store, ownership: new AwsTargetOwnership(aws.ecs, aws.elb), releaseQueue: { send: async () => {} } });
  const api = new ApiService({
    pipelines: new MemoryPipelineStore(), runs: new MemoryRunStore(), queue: new MemoryEventQueue(),
    targets: admin,
  });
  const route = createRouter(apiRoutes(api), {});
  const put = async (name: string, body: Record<string, unknown>) => {
    const res = await route(httpEvent({ method: 'PUT', path: `/targets/${name}`, body: JSON.stringify(body) }));
    return { status: res.statusCode, body: JSON.parse(res.body) as { message?: string; problems?: Array<{ path: string; message: string }> } };
  };
  return { aws, store, put };
}

const web = (overrides: Record<string, unknown> = {}) => ({
  cluster: 'prod', services: { blue: 'web-blue', green: 'web-green' }, targetGroups: { ...TG }, listenerRuleArn: RULE, testListenerRuleArn: TEST_RULE, desiredCount: 2, ...overrides,
});

test('the attack: a target naming another team\'s listener rule and target group is refused with 400, and nothing is saved', async () => {
  const { aws, store, put } = setup();
  const res = await put('web', web({ listenerRuleArn: OTHER_RULE, targetGroups: { blue: OTHER_TG, green: TG.green } }));
  assert.equal(res.status, 400);
  assert.match(res.body.message ?? '', /must carry the tag slipway:target=web/);
  const byPath = Object.fromEntries((res.body.problems ?? []).map((p) => [p.path, p.message]));
  assert.match(byPath.listenerRuleArn, /belongs to target "payments"/);
  assert.match(byPath['targetGroups.blue'], /belongs to target "payments"/);
  assert.deepEqual(Object.keys(byPath).sort(), ['listenerRuleArn', 'targetGroups.blue']);
  assert.deepEqual(await store.listNames(), []);
  assert.ok(!aws.calls.some((c) => c.op === 'elbv2:ModifyRule'), 'the releaser touched no rule');
});

test('registering a target under the other team\'s name does not help: the services are not theirs', async () => {
  const { store, put } = setup();
  const res = await put('payments', web({ listenerRuleArn: OTHER_RULE, targetGroups: { blue: OTHER_TG, green: TG.green } }));
  assert.equal(res.status, 400);
  const paths = (res.body.problems ?? []).map((p) => p.path).sort();
  assert.deepEqual(paths, ['services.blue', 'services.green', 'targetGroups.green', 'testListenerRuleArn']);
  assert.deepEqual(await store.listNames(), []);
});

test('an untagged rule, a rule that does not exist and an untagged service are each named, with what to do', async () => {
  const { aws, store, put } = setup();
  aws.tags.set('web-green', { team: 'web' });
  const res = await put('web', web({ listenerRuleArn: UNTAGGED_RULE, testListenerRuleArn: 'arn:aws:elasticloadbalancing:us-east-1:123:listener-rule/app/web/1/2/gone' }));
  assert.equal(res.status, 400);
  const byPath = Object.fromEntries((res.body.problems ?? []).map((p) => [p.path, p.message]));
  assert.match(byPath.listenerRuleArn, /carries no slipway:target tag; tag it slipway:target=web/);
  assert.match(byPath.testListenerRuleArn, /does not exist/);
  assert.match(byPath['services.green'], /carries no slipway:target tag/);
  assert.deepEqual(await store.listNames(), []);
});

test('a target whose rule, groups and services all carry slipway:target=<name> is saved (201)', async () => {
  const { store, put } = setup();
  const res = await put('web', web());
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.deepEqual(await store.listNames(), ['web']);
});

test('changing a registered target to point at another team\'s rule is refused, and the saved target is unchanged', async () => {
  const { store, put } = setup();
  assert.equal((await put('web', web())).status, 201);
  const res = await put('web', web({ listenerRuleArn: OTHER_RULE }));
  assert.equal(res.status, 400);
  assert.equal((await store.get('web')).listenerRuleArn, RULE);
});

test('target administration without an ownership check registers nothing', async () => {
  const admin = new TargetAdmin({ targets: new MemoryTargetStore(), releaseQueue: { send: async () => {} } });
  await assert.rejects(admin.putTarget({ name: 'web', ...web() } as never), /no way to check target ownership/);
});

test('the local mode\'s target vouches for its own processes only', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-own-'));
  try {
    const local = new LocalTarget({ name: 'staging', dataDir: dir });
    assert.deepEqual(await local.verify(local.config()), []);
    const foreign = await local.verify({ ...local.config(), listenerRuleArn: OTHER_RULE });
    assert.deepEqual(foreign.map((p) => p.path), ['listenerRuleArn']);
    const renamed = await local.verify({ ...local.config(), name: 'prod' });
    assert.ok(renamed.length > 0 && renamed.every((p) => /belongs to target "staging"/.test(p.message)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
