/**
 * What every PipelineStore does, as shared/ports documents it: run against the
 * in-memory fake (unit tier) and DynamoDB Local (integration tier). Tests use
 * fresh pipeline ids, except the listing, which asks for a store of its own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError, ValidationError } from '../../../shared/domain/errors.ts';
import type { PipelineSpec, Provider } from '../../../shared/domain/pipeline.ts';
import type { PipelineRecord, PipelineStore } from '../../../shared/ports/index.ts';

let n = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++n}-${Math.random().toString(36).slice(2, 6)}`;

function aSpec(opts: { provider?: Provider; repository?: string; command?: string } = {}): PipelineSpec {
  return {
    name: 'shop',
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

export interface PipelineStoreFactory {
  /** A store; `isolated` asks for one that holds no pipeline yet (the listing test). */
  (opts?: { isolated?: boolean }): PipelineStore | Promise<PipelineStore>;
}

export function pipelineStoreContract(name: string, store: PipelineStoreFactory): void {
  test(`${name}: each registration of a pipeline gets the next version and becomes the latest`, async () => {
    const pipelines = await store();
    const id = unique('versions');
    const v1 = await pipelines.put(aRegistration(id, aSpec({ command: 'npm test -- --v1' })));
    const v2 = await pipelines.put(aRegistration(id, aSpec({ command: 'npm test -- --v2' })));
    const v3 = await pipelines.put(aRegistration(id, aSpec({ command: 'npm test -- --v3' })));
    assert.deepEqual([v1.version, v2.version, v3.version], [1, 2, 3]);
    assert.deepEqual(await pipelines.get(id), v3);
    assert.ok(!Number.isNaN(Date.parse(v3.createdAt)), 'createdAt is a timestamp');
  });

  test(`${name}: a registration keeps everything it was given: definition source and secret names`, async () => {
    const pipelines = await store();
    const id = unique('fields');
    const input: Omit<PipelineRecord, 'version' | 'createdAt'> = {
      id, spec: aSpec(), definitionSource: { kind: 'repository', path: '.slipway.yml' }, webhookSecretName: `slipway/${id}/webhook`, tokenSecretName: `slipway/${id}/token`,
    };
    const record = await pipelines.put(input);
    assert.deepEqual({ ...record, version: undefined, createdAt: undefined }, { ...input, version: undefined, createdAt: undefined });
    assert.deepEqual(await pipelines.get(id), record);
  });

  test(`${name}: a run can load the version it pinned after a newer one is registered`, async () => {
    const pipelines = await store();
    const id = unique('pinned');
    const pinned = await pipelines.put(aRegistration(id, aSpec({ command: 'make test' })));
    await pipelines.put(aRegistration(id, aSpec({ command: 'make check' })));
    const loaded = await pipelines.get(id, pinned.version);
    assert.deepEqual(loaded, pinned);
    assert.deepEqual(loaded.spec.jobs.test!.commands, ['make test']);
    assert.deepEqual((await pipelines.get(id)).spec.jobs.test!.commands, ['make check']);
  });

  test(`${name}: reading a pipeline or a version that does not exist is NotFound; version 0 is invalid`, async () => {
    const pipelines = await store();
    const id = unique('missing');
    await assert.rejects(pipelines.get(id), NotFoundError);
    await pipelines.put(aRegistration(id));
    await assert.rejects(pipelines.get(id, 2), NotFoundError);
    await assert.rejects(pipelines.get(id, 0), ValidationError);
  });

  test(`${name}: pipelines are found by their latest repository, whatever the letter case`, async () => {
    const pipelines = await store();
    const repo = `acme/${unique('Repo')}`;
    const a = unique('repo-a');
    const b = unique('repo-b');
    const moved = unique('repo-moved');
    await pipelines.put(aRegistration(a, aSpec({ repository: repo })));
    await pipelines.put(aRegistration(b, aSpec({ repository: repo })));
    await pipelines.put(aRegistration(moved, aSpec({ repository: repo })));
    await pipelines.put(aRegistration(moved, aSpec({ repository: `${repo}-elsewhere` })));
    await pipelines.put(aRegistration(unique('gitlab'), aSpec({ provider: 'gitlab', repository: repo })));

    const found = await pipelines.findByRepository('github', repo.toUpperCase());
    assert.deepEqual(found.map((p) => p.id).sort(), [a, b].sort());
    for (const p of found) assert.equal(p.version, 1);
    assert.deepEqual((await pipelines.findByRepository('github', `${repo}-elsewhere`)).map((p) => [p.id, p.version]), [[moved, 2]]);
    assert.deepEqual(await pipelines.findByRepository('bitbucket', repo), []);
  });

  test(`${name}: the pipeline list pages through the latest version of every pipeline, by id, with a cursor`, async () => {
    const pipelines = await store({ isolated: true });
    assert.deepEqual(await pipelines.list(), { items: [] });
    const ids = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
    for (const id of [...ids].reverse()) await pipelines.put(aRegistration(id));
    await pipelines.put(aRegistration('charlie', aSpec({ command: 'newer' })));

    const seen: PipelineRecord[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await pipelines.list({ limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.items);
      cursor = page.cursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 3);
    assert.deepEqual(seen.map((p) => p.id), ids);
    assert.deepEqual(seen.find((p) => p.id === 'charlie')?.version, 2);
    assert.equal((await pipelines.list({ limit: 5 })).cursor, undefined, 'a page that holds the rest has no cursor');
    await assert.rejects(pipelines.list({ cursor: 'garbage' }), ValidationError);
    await assert.rejects(pipelines.list({ limit: 101 }), ValidationError);
  });

  test(`${name}: a pipeline id that cannot be a key is refused`, async () => {
    const pipelines = await store();
    await assert.rejects(pipelines.put(aRegistration('has#hash')), ValidationError);
    await assert.rejects(pipelines.put(aRegistration('')), ValidationError);
    await assert.rejects(pipelines.put(aRegistration('-leading-dash')), ValidationError);
  });

  // ---- administration: disable, enable, delete (the API's POST /pipelines/{id}/disable|enable, DELETE) ----

  /** Every pipeline the listing holds, whatever the page size (the integration tier shares one table). */
  async function listed(pipelines: PipelineStore): Promise<PipelineRecord[]> {
    const all: PipelineRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await pipelines.list({ limit: 100, ...(cursor ? { cursor } : {}) });
      all.push(...page.items);
      cursor = page.cursor;
    } while (cursor);
    return all;
  }
  const listedIds = async (pipelines: PipelineStore) => (await listed(pipelines)).map((p) => p.id);

  const ALICE = { by: 'arn:aws:iam::123456789012:user/alice', at: '2026-02-02T00:00:00.000Z' };

  test(`${name}: disabling marks the latest version where every reader sees it (get, list, webhook matching); enabling clears it`, async () => {
    const pipelines = await store();
    const id = unique('disable');
    const repo = `acme/${unique('disabled-repo')}`;
    const v1 = await pipelines.put(aRegistration(id, aSpec({ repository: repo })));
    const v2 = await pipelines.put(aRegistration(id, aSpec({ repository: repo, command: 'make test' })));

    const off = await pipelines.setDisabled!(id, ALICE);
    assert.deepEqual(off, { ...v2, disabled: ALICE });
    assert.deepEqual(await pipelines.get(id), off);
    assert.deepEqual((await pipelines.findByRepository('github', repo)).map((p) => [p.id, p.disabled]), [[id, ALICE]]);
    assert.deepEqual((await listed(pipelines)).find((p) => p.id === id), off);
    // The versions runs pinned read as they were registered: disabling is the pipeline's state, not a new definition.
    assert.deepEqual(await pipelines.get(id, v1.version), v1);
    assert.deepEqual(await pipelines.get(id, v2.version), v2);

    const on = await pipelines.setDisabled!(id, undefined);
    assert.deepEqual(on, v2);
    assert.equal('disabled' in (await pipelines.get(id)), false);
    assert.deepEqual(await pipelines.findByRepository('github', repo), [v2]);
    assert.deepEqual((await listed(pipelines)).find((p) => p.id === id), v2);
  });

  test(`${name}: a new version of a disabled pipeline stays disabled (the store carries the mark, whatever the input says); enabled, it stays enabled; after a delete it starts enabled`, async () => {
    const pipelines = await store();
    const id = unique('disable-put');
    await pipelines.put(aRegistration(id));
    await pipelines.setDisabled!(id, ALICE);
    const kept = await pipelines.put(aRegistration(id));
    assert.deepEqual(kept.disabled, ALICE);
    assert.deepEqual((await pipelines.get(id)).disabled, ALICE);
    assert.equal((await pipelines.get(id, kept.version)).disabled, undefined, 'the version reads as registered; the mark is the pipeline\'s');
    await pipelines.setDisabled!(id, undefined);
    const asked = await pipelines.put({ ...aRegistration(id), disabled: ALICE });
    assert.equal(asked.version, 3);
    assert.equal(asked.disabled, undefined, 'a registration cannot disable: setDisabled does');
    assert.equal((await pipelines.get(id)).disabled, undefined);
    await pipelines.setDisabled!(id, ALICE);
    await pipelines.remove!(id, { keepVersions: true });
    const again = await pipelines.put(aRegistration(id));
    assert.equal(again.disabled, undefined);
    assert.equal((await pipelines.get(id)).disabled, undefined);
  });

  test(`${name}: disabling or enabling a pipeline that does not exist is NotFound and creates nothing`, async () => {
    const pipelines = await store();
    const id = unique('disable-missing');
    await assert.rejects(pipelines.setDisabled!(id, ALICE), NotFoundError);
    await assert.rejects(pipelines.setDisabled!(id, undefined), NotFoundError);
    await assert.rejects(pipelines.get(id), NotFoundError);
    assert.ok(!(await listedIds(pipelines)).includes(id));
    // Nor does it hold the id: the first registration is version 1.
    assert.equal((await pipelines.put(aRegistration(id))).version, 1);
  });

  test(`${name}: deleting with its versions kept: gone from get, the list and webhook matching, its versions still readable by number`, async () => {
    const pipelines = await store();
    const id = unique('delete-keep');
    const repo = `acme/${unique('deleted-repo')}`;
    const v1 = await pipelines.put(aRegistration(id, aSpec({ repository: repo })));
    const v2 = await pipelines.put(aRegistration(id, aSpec({ repository: repo, command: 'make test' })));
    await pipelines.remove!(id, { keepVersions: true });

    await assert.rejects(pipelines.get(id), NotFoundError);
    assert.deepEqual(await pipelines.get(id, 1), v1);
    assert.deepEqual(await pipelines.get(id, 2), v2);
    assert.ok(!(await listedIds(pipelines)).includes(id));
    assert.deepEqual(await pipelines.findByRepository('github', repo), []);
    // A deleted pipeline can be neither disabled nor deleted again.
    await assert.rejects(pipelines.setDisabled!(id, ALICE), NotFoundError);
    await assert.rejects(pipelines.remove!(id, { keepVersions: true }), NotFoundError);
    await assert.rejects(pipelines.remove!(id, { keepVersions: false }), NotFoundError);
    await assert.rejects(pipelines.get(id), NotFoundError, 'a refused setDisabled does not bring it back');
  });

  test(`${name}: a pipeline deleted with its versions kept can be registered again, as the next version`, async () => {
    const pipelines = await store();
    const id = unique('delete-reuse');
    await pipelines.put(aRegistration(id));
    await pipelines.put(aRegistration(id));
    await pipelines.remove!(id, { keepVersions: true });
    const again = await pipelines.put(aRegistration(id, aSpec({ command: 'make check' })));
    assert.equal(again.version, 3, 'the kept runs pin versions 1 and 2: a new registration must not reuse them');
    assert.deepEqual(await pipelines.get(id), again);
    assert.ok((await listedIds(pipelines)).includes(id));
    assert.deepEqual((await pipelines.findByRepository('github', 'acme/shop')).filter((p) => p.id === id).map((p) => p.version), [3]);
  });

  test(`${name}: deleting with its versions removes every version; the id starts again from version 1`, async () => {
    const pipelines = await store();
    const id = unique('delete-all');
    await pipelines.put(aRegistration(id));
    await pipelines.put(aRegistration(id));
    await pipelines.setDisabled!(id, ALICE);
    await pipelines.remove!(id, { keepVersions: false });
    await assert.rejects(pipelines.get(id), NotFoundError);
    await assert.rejects(pipelines.get(id, 1), NotFoundError);
    await assert.rejects(pipelines.get(id, 2), NotFoundError);
    assert.ok(!(await listedIds(pipelines)).includes(id));
    assert.deepEqual((await pipelines.findByRepository('github', 'acme/shop')).filter((p) => p.id === id), []);
    const fresh = await pipelines.put(aRegistration(id));
    assert.equal(fresh.version, 1);
    assert.equal(fresh.disabled, undefined);
  });

  test(`${name}: deleting a pipeline that does not exist is NotFound`, async () => {
    const pipelines = await store();
    const id = unique('delete-missing');
    await assert.rejects(pipelines.remove!(id, { keepVersions: true }), NotFoundError);
    await assert.rejects(pipelines.remove!(id, { keepVersions: false }), NotFoundError);
    assert.equal((await pipelines.put(aRegistration(id))).version, 1, 'a refused delete leaves no tombstone');
  });
}
