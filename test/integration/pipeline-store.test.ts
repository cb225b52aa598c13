import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createDocumentClient } from '../../shared/aws/clients.ts';
import { DynamoPipelineStore } from '../../shared/aws/pipeline-store.ts';
import { ensureTable } from '../../shared/aws/table.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/domain/errors.ts';
import type { PipelineSpec, Provider } from '../../shared/domain/pipeline.ts';
import type { PipelineRecord } from '../../shared/ports/index.ts';
import { emulatorConfig, uniqueName } from '../support/emulators.ts';

const cfg = emulatorConfig();
const client = createDocumentClient(cfg);
const table = uniqueName('pipelines');
const store = new DynamoPipelineStore(client, table);

before(async () => {
  await ensureTable(client, table);
});

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

test('each registration of a pipeline gets the next version and becomes the latest', async () => {
  const id = uniqueName('versions');
  const v1 = await store.put(aRegistration(id, aSpec({ command: 'npm test -- --v1' })));
  const v2 = await store.put(aRegistration(id, aSpec({ command: 'npm test -- --v2' })));
  const v3 = await store.put(aRegistration(id, aSpec({ command: 'npm test -- --v3' })));
  assert.deepEqual([v1.version, v2.version, v3.version], [1, 2, 3]);
  assert.deepEqual(await store.get(id), v3);
});

test('a run can load the version it pinned after a newer one is registered', async () => {
  const id = uniqueName('pinned');
  const pinned = await store.put(aRegistration(id, aSpec({ command: 'make test' })));
  await store.put(aRegistration(id, aSpec({ command: 'make check' })));
  const loaded = await store.get(id, pinned.version);
  assert.deepEqual(loaded, pinned);
  assert.deepEqual(loaded.spec.jobs.test!.commands, ['make test']);
  assert.deepEqual((await store.get(id)).spec.jobs.test!.commands, ['make check']);
});

test('reading a pipeline or a version that does not exist is NotFound', async () => {
  const id = uniqueName('missing');
  await assert.rejects(store.get(id), NotFoundError);
  await store.put(aRegistration(id));
  await assert.rejects(store.get(id, 2), NotFoundError);
  await assert.rejects(store.get(id, 0), ValidationError);
});

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

test('pipelines are found by their latest repository, whatever the letter case', async () => {
  const repo = `acme/${uniqueName('Repo')}`;
  const a = uniqueName('repo-a');
  const b = uniqueName('repo-b');
  const moved = uniqueName('repo-moved');
  await store.put(aRegistration(a, aSpec({ repository: repo })));
  await store.put(aRegistration(b, aSpec({ repository: repo })));
  await store.put(aRegistration(moved, aSpec({ repository: repo })));
  await store.put(aRegistration(moved, aSpec({ repository: `${repo}-elsewhere` })));
  await store.put(aRegistration(uniqueName('gitlab'), aSpec({ provider: 'gitlab', repository: repo })));

  const found = await store.findByRepository('github', repo.toUpperCase());
  assert.deepEqual(found.map((p) => p.id).sort(), [a, b].sort());
  for (const p of found) assert.equal(p.version, 1);
  assert.deepEqual((await store.findByRepository('github', `${repo}-elsewhere`)).map((p) => [p.id, p.version]), [[moved, 2]]);
  assert.deepEqual(await store.findByRepository('bitbucket', repo), []);
});

test('the pipeline list pages through the latest version of every pipeline with a cursor', async () => {
  const listTable = uniqueName('pipeline-list');
  await ensureTable(client, listTable);
  const listStore = new DynamoPipelineStore(client, listTable);
  const ids = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
  for (const id of ids) await listStore.put(aRegistration(id));
  await listStore.put(aRegistration('charlie', aSpec({ command: 'newer' })));

  const seen: PipelineRecord[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await listStore.list({ limit: 2, ...(cursor ? { cursor } : {}) });
    seen.push(...page.items);
    cursor = page.cursor;
    pages++;
  } while (cursor);
  assert.equal(pages, 3);
  assert.deepEqual(seen.map((p) => p.id), ids);
  assert.deepEqual(seen.find((p) => p.id === 'charlie')?.version, 2);
  await assert.rejects(listStore.list({ cursor: 'garbage' }), ValidationError);
});

test('a pipeline id that cannot be a key is refused', async () => {
  await assert.rejects(store.put(aRegistration('has#hash')), ValidationError);
  await assert.rejects(store.put(aRegistration('')), ValidationError);
});
