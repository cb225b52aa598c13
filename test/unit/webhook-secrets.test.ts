import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SecretsManagerSecretSource } from '../../shared/aws/secrets.ts';
import { NotFoundError, RetryableError } from '../../shared/domain/errors.ts';

function setup() {
  const sm = mockClient(SecretsManagerClient);
  let clock = 1_000_000;
  const source = new SecretsManagerSecretSource(new SecretsManagerClient({ region: 'us-east-1' }), { now: () => clock });
  return { sm, source, advance: (ms: number) => { clock += ms; } };
}

test('a secret is read once and served from memory for a minute', async () => {
  const { sm, source, advance } = setup();
  sm.on(GetSecretValueCommand, { SecretId: 'slipway/web/webhook' }).resolves({ SecretString: 'v1' });
  assert.equal(await source.get('slipway/web/webhook'), 'v1');
  advance(59_000);
  assert.equal(await source.get('slipway/web/webhook'), 'v1');
  assert.equal(sm.commandCalls(GetSecretValueCommand).length, 1);
  sm.on(GetSecretValueCommand, { SecretId: 'slipway/web/webhook' }).resolves({ SecretString: 'v2' });
  advance(2_000);
  assert.equal(await source.get('slipway/web/webhook'), 'v2', 'a rotated secret is picked up after the cache expires');
  assert.equal(sm.commandCalls(GetSecretValueCommand).length, 2);
  sm.restore();
});

test('concurrent reads of one secret share one call', async () => {
  const { sm, source } = setup();
  sm.on(GetSecretValueCommand).resolves({ SecretString: 'v' });
  const values = await Promise.all(Array.from({ length: 5 }, () => source.get('s')));
  assert.deepEqual(values, ['v', 'v', 'v', 'v', 'v']);
  assert.equal(sm.commandCalls(GetSecretValueCommand).length, 1);
  sm.restore();
});

test('a missing secret is a NotFoundError; other failures are retryable, and asked again after 5 s', async () => {
  const { sm, source, advance } = setup();
  sm.on(GetSecretValueCommand, { SecretId: 'gone' }).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
  await assert.rejects(source.get('gone'), NotFoundError);
  sm.on(GetSecretValueCommand, { SecretId: 'flaky' }).rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })).resolves({ SecretString: 'ok' });
  await assert.rejects(source.get('flaky'), (e: unknown) => e instanceof RetryableError && !/ok/.test(e.message));
  await assert.rejects(source.get('flaky'), RetryableError, 'the failure is remembered for a moment');
  advance(5_001);
  assert.equal(await source.get('flaky'), 'ok');
  sm.restore();
});

test('a flood naming a missing secret costs one Secrets Manager call per minute (issue 14, finding 4)', async () => {
  const { sm, source, advance } = setup();
  sm.on(GetSecretValueCommand, { SecretId: 'slipway/gone/webhook' }).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
  for (let i = 0; i < 500; i++) await assert.rejects(source.get('slipway/gone/webhook'), NotFoundError);
  assert.equal(sm.commandCalls(GetSecretValueCommand).length, 1);
  advance(60_001);
  sm.on(GetSecretValueCommand, { SecretId: 'slipway/gone/webhook' }).resolves({ SecretString: 'created-later' });
  assert.equal(await source.get('slipway/gone/webhook'), 'created-later', 'a secret created later is found within a minute');
  assert.equal(sm.commandCalls(GetSecretValueCommand).length, 2);
  sm.restore();
});

test('a binary secret is read as UTF-8', async () => {
  const { sm, source } = setup();
  sm.on(GetSecretValueCommand).resolves({ SecretBinary: new TextEncoder().encode('bin-secret') });
  assert.equal(await source.get('b'), 'bin-secret');
  sm.restore();
});
