import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../shared/aws/clients.ts';
import { DynamoDeliveryStore } from '../../shared/aws/delivery-store.ts';
import { ensureTable, keys } from '../../shared/aws/table.ts';
import { ValidationError } from '../../shared/domain/errors.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';

const cfg = emulatorConfig();
const client = createDocumentClient(cfg);
const table = uniqueName('deliveries');
const store = new DynamoDeliveryStore(client, table);

before(async () => {
  await ensureTable(client, table);
});

test('the first claim of a delivery wins and a second is refused', async () => {
  const id = crypto.randomUUID();
  assert.equal(await store.claim('github', id, 3600), true);
  assert.equal(await store.claim('github', id, 3600), false);
});

test('the same delivery id from another provider is a different delivery', async () => {
  const id = crypto.randomUUID();
  assert.equal(await store.claim('github', id, 3600), true);
  assert.equal(await store.claim('gitlab', id, 3600), true);
});

test('of many concurrent claims of one delivery exactly one wins', async () => {
  const id = crypto.randomUUID();
  const claimers = Array.from({ length: 10 }, () => new DynamoDeliveryStore(createDocumentClient(cfg), table));
  const results = await Promise.all(claimers.map((c) => c.claim('bitbucket', id, 3600)));
  assert.equal(results.filter(Boolean).length, 1);
});

test('a delivery can be claimed again once its record has expired, even if TTL has not deleted it yet', async () => {
  let now = Date.parse('2026-05-01T10:00:00.000Z');
  const clocked = new DynamoDeliveryStore(client, table, { now: () => now });
  const id = crypto.randomUUID();
  assert.equal(await clocked.claim('github', id, 60), true);
  const { Item } = await client.send(new GetCommand({ TableName: table, Key: keys.delivery('github', id) }));
  assert.equal(Item?.expiresAt, now / 1000 + 60);
  now += 59_000;
  assert.equal(await clocked.claim('github', id, 60), false, 'still within the TTL');
  now += 2_000;
  assert.equal(await clocked.claim('github', id, 60), true, 'expired record left behind by TTL');
  assert.equal(await clocked.claim('github', id, 60), false);
});

test('a claim without a usable id or TTL is refused', async () => {
  await assert.rejects(store.claim('github', '', 60), ValidationError);
  await assert.rejects(store.claim('github', 'x', 0), ValidationError);
});

test('a released claim can be claimed again, so a redelivery after a failed enqueue starts the run', async () => {
  const id = uniqueName('released');
  assert.equal(await store.claim('github', id, 3600), true);
  await store.release('github', id);
  assert.equal(await store.claim('github', id, 3600), true);
  assert.equal(await store.claim('github', id, 3600), false);
});
