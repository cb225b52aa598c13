/**
 * What every DeliveryStore does, as shared/ports documents it: run against the
 * in-memory fake (unit tier) and DynamoDB Local (integration tier).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../../shared/domain/errors.ts';
import type { DeliveryStore } from '../../../shared/ports/index.ts';

export interface DeliveryStoreFactory {
  /** A store on the given clock (milliseconds since the epoch); the real clock without one. */
  (opts?: { now?: () => number }): DeliveryStore;
}

export function deliveryStoreContract(name: string, store: DeliveryStoreFactory): void {
  test(`${name}: the first claim of a delivery wins and a second is refused`, async () => {
    const deliveries = store();
    const id = crypto.randomUUID();
    assert.equal(await deliveries.claim('github', id, 3600), true);
    assert.equal(await deliveries.claim('github', id, 3600), false);
  });

  test(`${name}: the same delivery id from another provider is a different delivery`, async () => {
    const deliveries = store();
    const id = crypto.randomUUID();
    assert.equal(await deliveries.claim('github', id, 3600), true);
    assert.equal(await deliveries.claim('gitlab', id, 3600), true);
    assert.equal(await deliveries.claim('bitbucket', id, 3600), true);
    assert.equal(await deliveries.claim('gitlab', id, 3600), false);
  });

  test(`${name}: of many concurrent claims of one delivery exactly one wins`, async () => {
    const deliveries = store();
    const id = crypto.randomUUID();
    const results = await Promise.all(Array.from({ length: 10 }, () => deliveries.claim('bitbucket', id, 3600)));
    assert.equal(results.filter(Boolean).length, 1);
  });

  test(`${name}: a delivery can be claimed again once its record has expired, even if TTL has not deleted it yet`, async () => {
    let now = Date.parse('2026-05-01T10:00:00.000Z');
    const deliveries = store({ now: () => now });
    const id = crypto.randomUUID();
    assert.equal(await deliveries.claim('github', id, 60), true);
    now += 59_000;
    assert.equal(await deliveries.claim('github', id, 60), false, 'still within the TTL');
    now += 2_000;
    assert.equal(await deliveries.claim('github', id, 60), true, 'expired record left behind by TTL');
    now += 59_000;
    assert.equal(await deliveries.claim('github', id, 60), false, 'the new claim runs its own TTL');
  });

  test(`${name}: a claim without a usable id or TTL is refused`, async () => {
    const deliveries = store();
    await assert.rejects(deliveries.claim('github', '', 60), ValidationError);
    await assert.rejects(deliveries.claim('github', 'x'.repeat(257), 60), ValidationError);
    await assert.rejects(deliveries.claim('github', 'x', 0), ValidationError);
    await assert.rejects(deliveries.claim('github', 'x', 1.5), ValidationError);
  });

  test(`${name}: a released claim can be claimed again, so a redelivery after a failed enqueue starts the run`, async () => {
    const deliveries = store();
    assert.ok(deliveries.release, 'every adapter implements release');
    const id = crypto.randomUUID();
    assert.equal(await deliveries.claim('github', id, 3600), true);
    await deliveries.release('github', id);
    assert.equal(await deliveries.claim('github', id, 3600), true);
    assert.equal(await deliveries.claim('github', id, 3600), false);
    await deliveries.release('github', crypto.randomUUID()); // releasing what was never claimed is a no-op
  });
}
