import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../shared/aws/clients.ts';
import { DynamoDeliveryStore } from '../../shared/aws/delivery-store.ts';
import { ensureTable, keys } from '../../shared/aws/table.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';
import { deliveryStoreContract } from '../support/contracts/delivery-store.contract.ts';

const cfg = emulatorConfig();
const client = createDocumentClient(cfg);
const table = uniqueName('deliveries');
const store = new DynamoDeliveryStore(client, table);

before(async () => {
  await ensureTable(client, table);
});

deliveryStoreContract('DynamoDeliveryStore', (opts = {}) => new DynamoDeliveryStore(client, table, opts));

// ---- what only DynamoDB shows ------------------------------------------------------------

test('claims from many clients at once: exactly one wins', async () => {
  const id = crypto.randomUUID();
  const claimers = Array.from({ length: 10 }, () => new DynamoDeliveryStore(createDocumentClient(cfg), table));
  const results = await Promise.all(claimers.map((c) => c.claim('bitbucket', id, 3600)));
  assert.equal(results.filter(Boolean).length, 1);
});

test('a claim\'s record carries its expiry for DynamoDB\'s TTL, and an expired one is claimed over', async () => {
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

