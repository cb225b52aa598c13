import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createDocumentClient } from '../../shared/aws/clients.ts';
import { DynamoPipelineStore } from '../../shared/aws/pipeline-store.ts';
import { ensureTable } from '../../shared/aws/table.ts';
import { ConflictError } from '../../shared/domain/errors.ts';
import type { PipelineSpec, Provider } from '../../shared/domain/pipeline.ts';
import type { PipelineRecord } from '../../shared/ports/index.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';
import { pipelineStoreContract } from '../support/contracts/pipeline-store.contract.ts';

const cfg = emulatorConfig();
const client = createDocumentClient(cfg);
const table = uniqueName('pipelines');
const store = new DynamoPipelineStore(client, table);

before(async () => {
  await ensureTable(client, table);
});

pipelineStoreContract('DynamoPipelineStore', async (opts = {}) => {
  if (!opts.isolated) return store;
  const own = uniqueName('pipeline-list');
  await ensureTable(client, own);
  return new DynamoPipelineStore(client, own);
});

// ---- what only DynamoDB shows: registrations racing through several clients ------------------

function aSpec(opts: { name?: string; provider?: Provider; repository?: string; command?: string } = {}): PipelineSpec {
  return {
    name: opts.name ?? 'shop',
    source: {
      provider: opts.provider ?? 'github',
      repository: opts.repository ?? 'acme/shop',
      triggers: { events: ['push'], branches: ['main'], tags: [], paths: { include: [], exclude: [] } },
    },
    concurrency: 'superseded',
    jobs: {
      test: {
        name: 'test', kind: 'build', needs: [], when: { branches: [], tags: [], events: [] }, template: 'node',
        install: ['npm ci'], commands: [opts.command ?? 'npm test'], cache: ['node_modules'], env: {}, outputs: [], inputs: [],
        timeoutMinutes: 30, retries: 0, compute: 'small',
      },
    },
    notifications: [],
  };
}

function aRegistration(id: string, spec = aSpec()): Omit<PipelineRecord, 'version' | 'createdAt'> {
  return { id, spec, definitionSource: { kind: 'registered' }, webhookSecretName: `slipway/${id}/webhook` };
}

test('concurrent registrations of one pipeline get distinct consecutive versions', async () => {
  const id = uniqueName('race');
  const writers = Array.from({ length: 6 }, (_, i) => new DynamoPipelineStore(createDocumentClient(cfg), table, { maxAttempts: 12 }).put(aRegistration(id, aSpec({ command: `echo ${i}` }))));
  const records = await Promise.all(writers);
  assert.deepEqual(records.map((r) => r.version).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
  for (const r of records) assert.deepEqual(await store.get(id, r.version), r, 'every version holds the definition its writer registered');
  assert.equal((await store.get(id)).version, 6);
});

test('a registration that keeps losing the race is a conflict, not a duplicate version', async () => {
  const id = uniqueName('give-up');
  const impatient = new DynamoPipelineStore(createDocumentClient(cfg), table, { maxAttempts: 1 });
  const results = await Promise.allSettled(Array.from({ length: 6 }, () => impatient.put(aRegistration(id))));
  const versions = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.version] : []));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  assert.ok(failures.length > 0, 'six simultaneous single-attempt registrations should not all win');
  assert.equal(new Set(versions).size, versions.length, 'no version is handed out twice');
  for (const f of failures) assert.ok(f instanceof ConflictError, String(f));
  assert.equal((await store.get(id)).version, versions.length);
});


test('a disable that lands between a registration\'s read and its write is kept: the write loses the race, reads again, and the new version is disabled', async () => {
  const id = uniqueName('disable-race');
  await store.put(aRegistration(id));
  // A client whose first read of LATEST is followed, before the write, by a disable through another client.
  const racing = createDocumentClient(cfg);
  let raced = false;
  racing.middlewareStack.add((next, context) => async (args) => {
    const out = await next(args);
    if (!raced && /^Get(Item)?Command$/.test(context.commandName ?? '')) {
      raced = true;
      await store.setDisabled(id, { by: 'alice', at: '2026-02-02T00:00:00.000Z' });
    }
    return out;
  }, { step: 'initialize', name: 'disableInBetween' });
  const written = await new DynamoPipelineStore(racing, table).put(aRegistration(id, aSpec({ command: 'make check' })));
  assert.ok(raced, 'the disable ran between the read and the write');
  assert.equal(written.version, 2);
  assert.deepEqual(written.disabled, { by: 'alice', at: '2026-02-02T00:00:00.000Z' });
  assert.deepEqual((await store.get(id)).disabled, { by: 'alice', at: '2026-02-02T00:00:00.000Z' }, 'the pipeline was not enabled behind the disabler\'s back');
});
