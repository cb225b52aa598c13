/**
 * What every TargetStore does, as shared/ports documents it: run against the
 * in-memory fake (unit tier) and DynamoDB Local (integration tier). Tests use
 * fresh target names, except the listing, which asks for a store of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConflictError, NotFoundError, ValidationError } from '../../../shared/domain/errors.ts';
import type { TargetConfig } from '../../../shared/domain/release.ts';
import type { TargetStore } from '../../../shared/ports/index.ts';

let n = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++n}-${Math.random().toString(36).slice(2, 6)}`;

const config = (name: string, over: Partial<TargetConfig> = {}): TargetConfig => ({
  name, cluster: 'prod', services: { blue: `${name}-blue`, green: `${name}-green` }, targetGroups: { blue: `tg/${name}-b`, green: `tg/${name}-g` },
  listenerRuleArn: `rule/${name}`, desiredCount: 2, ...over,
});

const NOW = '2026-03-01T10:00:00.000Z';

export interface TargetStoreFactory {
  /** A store; `isolated` asks for one that holds no target yet (the listing test). */
  (opts?: { isolated?: boolean }): TargetStore | Promise<TargetStore>;
}

export function targetStoreContract(name: string, store: TargetStoreFactory): void {
  test(`${name}: a created target starts at version 1, blue live with all the traffic, and reads back as created`, async () => {
    const targets = await store();
    const t = unique('web');
    const created = await targets.create(config(t), NOW);
    assert.equal(created.version, 1);
    assert.equal(created.liveColour, 'blue');
    assert.deepEqual(created.weights, { blue: 100, green: 0 });
    assert.equal(created.createdAt, NOW);
    assert.deepEqual(await targets.get(t), created);
  });

  test(`${name}: creating a target whose name exists is a conflict and keeps the first one`, async () => {
    const targets = await store();
    const t = unique('dup');
    await targets.create(config(t), NOW);
    await assert.rejects(targets.create(config(t, { desiredCount: 7 }), NOW), ConflictError);
    assert.equal((await targets.get(t)).desiredCount, 2);
  });

  test(`${name}: reading a target that is not registered is NotFound`, async () => {
    await assert.rejects((await store()).get(unique('ghost')), NotFoundError);
  });

  test(`${name}: a save at the current version stores and returns version + 1; a stale one is a conflict`, async () => {
    const targets = await store();
    const t = unique('save');
    const v1 = await targets.create(config(t), NOW);
    const v2 = await targets.save({ ...v1, liveColour: 'green', weights: { blue: 0, green: 100 } }, v1.version);
    assert.equal(v2.version, 2);
    assert.deepEqual(await targets.get(t), v2);
    await assert.rejects(targets.save({ ...v1, desiredCount: 9 }, v1.version), ConflictError);
    const stored = await targets.get(t);
    assert.equal(stored.liveColour, 'green');
    assert.equal(stored.desiredCount, 2);
    assert.equal(stored.version, 2);
  });

  test(`${name}: saving a target that was never registered is a conflict and registers nothing`, async () => {
    const targets = await store();
    const t = unique('unregistered');
    const v1 = await targets.create(config(unique('other')), NOW);
    await assert.rejects(targets.save({ ...v1, name: t }, 1), ConflictError);
    await assert.rejects(targets.get(t), NotFoundError);
  });

  test(`${name}: registered targets are listed by name, sorted, each once`, async () => {
    const targets = await store({ isolated: true });
    assert.deepEqual(await targets.listNames(), []);
    for (const t of ['web', 'api', 'batch']) await targets.create(config(t), NOW);
    const api = await targets.get('api');
    await targets.save(api, api.version);
    assert.deepEqual(await targets.listNames(), ['api', 'batch', 'web']);
  });

  test(`${name}: an invalid target is refused with every problem and nothing is written`, async () => {
    const targets = await store();
    const t = unique('bad');
    await assert.rejects(targets.create(config(t, { cluster: '', desiredCount: 0 }), NOW), (e: unknown) => e instanceof ValidationError && e.problems.length === 2);
    await assert.rejects(targets.get(t), NotFoundError);
  });
}
