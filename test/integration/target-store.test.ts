import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createDocumentClient } from '../../shared/aws/clients.ts';
import { ensureTable } from '../../shared/aws/table.ts';
import { DynamoTargetStore } from '../../shared/aws/target-store.ts';
import type { TargetConfig } from '../../shared/domain/release.ts';
import { TargetAdmin } from '../../shared/services/targets.ts';
import { ConflictError, ValidationError } from '../../shared/domain/errors.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';
import { targetStoreContract } from '../support/contracts/target-store.contract.ts';

const client = createDocumentClient(emulatorConfig());
const table = uniqueName('targets');
const store = new DynamoTargetStore(client, table);
const releaser = new TargetAdmin({ targets: store, ownership: { verify: async () => [] }, releaseQueue: { send: async () => {} } });

const config = (name: string, over: Partial<TargetConfig> = {}): TargetConfig => ({
  name, cluster: 'prod', services: { blue: `${name}-blue`, green: `${name}-green` }, targetGroups: { blue: `tg/${name}-b`, green: `tg/${name}-g` },
  listenerRuleArn: `rule/${name}`, desiredCount: 2, ...over,
});

// The contract's targets live in a table of their own: the releaser's tests below list all of theirs.
const contractTable = uniqueName('target-contract');
const contractStore = new DynamoTargetStore(client, contractTable);

before(async () => { await Promise.all([ensureTable(client, table), ensureTable(client, contractTable)]); });

targetStoreContract('DynamoTargetStore', async (opts = {}) => {
  if (!opts.isolated) return contractStore;
  const own = uniqueName('target-list');
  await ensureTable(client, own);
  return new DynamoTargetStore(client, own);
});

// ---- target administration (the releaser) on the real table ----------------------------

test('registered targets are listed by name, without scanning the table', async () => {
  await releaser.putTarget(config('web'));
  await releaser.putTarget(config('api'));
  assert.deepEqual(await store.listNames(), ['api', 'web']);
  assert.deepEqual((await releaser.listTargets()).map((t) => t.name), ['api', 'web']);
});

test('changing an idle target keeps its live colour and history, and it is still listed once', async () => {
  await releaser.putTarget(config('svc', { liveColour: 'green' }));
  const { created, target } = await releaser.putTarget(config('svc', { desiredCount: 5, liveColour: 'blue' }));
  assert.equal(created, false);
  assert.equal(target.liveColour, 'green', 'the live colour is the target\'s state, not configuration');
  assert.equal((await store.get('svc')).desiredCount, 5);
  assert.equal((await store.listNames()).filter((n) => n === 'svc').length, 1);
});

test('a target with a release in progress is not changed under it', async () => {
  await releaser.putTarget(config('busy'));
  const s = await store.get('busy');
  await store.save({ ...s, current: { id: 'r1' } as never }, s.version);
  await assert.rejects(releaser.putTarget(config('busy', { desiredCount: 9 })), ConflictError);
  assert.equal((await store.get('busy')).desiredCount, 2);
});

test('an invalid target is refused with every problem and nothing is written', async () => {
  await assert.rejects(releaser.putTarget(config('bad', { cluster: '', desiredCount: 0 })), (e: unknown) => e instanceof ValidationError && e.problems.length === 2);
  assert.ok(!(await store.listNames()).includes('bad'));
});
