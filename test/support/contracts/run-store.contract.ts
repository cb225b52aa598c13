/**
 * What every RunStore does, as shared/ports documents it: run against the
 * in-memory fake (unit tier) and DynamoDB Local (integration tier). Each test
 * uses fresh run and pipeline ids, so one store may serve them all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ulid } from 'ulid';
import { MAX_ITEM_BYTES } from '../../../shared/aws/table.ts';
import { ConflictError, NotFoundError, PayloadTooLargeError, ValidationError } from '../../../shared/domain/errors.ts';
import type { RunState, RunStatus } from '../../../shared/domain/run.ts';
import type { RunStore } from '../../../shared/ports/index.ts';

let clock = Date.parse('2026-01-01T00:00:00.000Z');
const nextTime = () => new Date((clock += 1000)).toISOString();
let n = 0;
const pipelineId = (prefix: string) => `${prefix}-${process.pid}-${++n}-${Math.random().toString(36).slice(2, 6)}`;

function aRun(overrides: Partial<RunState> = {}): RunState {
  const createdAt = overrides.createdAt ?? nextTime();
  return {
    runId: ulid(),
    pipelineId: pipelineId('runs'),
    pipelineVersion: 1,
    concurrency: 'superseded',
    trigger: { event: 'push', provider: 'github', repository: 'acme/shop', branch: 'main', commit: 'a'.repeat(40) },
    status: 'running',
    jobs: { test: { status: 'running', attempt: 1, buildId: 'slipway-small:1234' } },
    plan: { test: { kind: 'build', needs: [], maxAttempts: 1 } },
    createdAt,
    updatedAt: createdAt,
    startedAt: createdAt,
    version: 0,
    appliedEventIds: ['evt-1'],
    ...overrides,
  };
}

const terminal = (status: RunStatus) => !['queued', 'running'].includes(status);

export function runStoreContract(name: string, store: () => RunStore): void {
  test(`${name}: a created run reads back exactly as it was stored, version included`, async () => {
    const runs = store();
    const run = aRun({ version: 3 });
    await runs.create(run);
    assert.deepEqual(await runs.get(run.runId), run);
  });

  test(`${name}: the copy read is the reader's: changing it changes nothing stored`, async () => {
    const runs = store();
    const run = aRun();
    await runs.create(run);
    run.status = 'failed';
    const read = await runs.get(run.runId);
    read.jobs.test!.status = 'succeeded';
    const again = await runs.get(run.runId);
    assert.equal(again.status, 'running');
    assert.equal(again.jobs.test!.status, 'running');
  });

  test(`${name}: creating a run whose id exists is a conflict and keeps the first one`, async () => {
    const runs = store();
    const run = aRun();
    await runs.create(run);
    await assert.rejects(runs.create({ ...run, status: 'failed' }), ConflictError);
    assert.equal((await runs.get(run.runId)).status, 'running');
  });

  test(`${name}: reading a run that does not exist is NotFound`, async () => {
    await assert.rejects(store().get(ulid()), NotFoundError);
  });

  test(`${name}: a save at the current version stores version + 1 and updates the caller's object`, async () => {
    const runs = store();
    const run = aRun();
    await runs.create(run);
    const loaded = await runs.get(run.runId);
    loaded.jobs.test!.status = 'succeeded';
    await runs.save(loaded, loaded.version);
    assert.equal(loaded.version, 1);
    const again = await runs.get(run.runId);
    assert.equal(again.version, 1);
    assert.equal(again.jobs.test!.status, 'succeeded');
    await runs.save(again, again.version);
    assert.equal((await runs.get(run.runId)).version, 2);
  });

  test(`${name}: the stored version is expectedVersion + 1, whatever the saved object says`, async () => {
    const runs = store();
    const run = aRun({ version: 4 });
    await runs.create(run);
    await runs.save({ ...run, version: 9, status: 'queued' }, 4);
    const stored = await runs.get(run.runId);
    assert.equal(stored.version, 5);
    assert.equal(stored.status, 'queued');
  });

  test(`${name}: a save from a stale copy is a conflict and leaves the newer state in place`, async () => {
    const runs = store();
    const run = aRun();
    await runs.create(run);
    const first = await runs.get(run.runId);
    const second = await runs.get(run.runId);
    first.reason = 'first writer';
    await runs.save(first, 0);
    second.reason = 'second writer';
    await assert.rejects(runs.save(second, 0), ConflictError);
    assert.equal(second.version, 0, 'a failed save does not bump the caller version');
    const stored = await runs.get(run.runId);
    assert.equal(stored.reason, 'first writer');
    assert.equal(stored.version, 1);
  });

  test(`${name}: saving a run that was never created is a conflict and creates nothing`, async () => {
    const runs = store();
    const run = aRun();
    await assert.rejects(runs.save(run, 0), ConflictError);
    await assert.rejects(runs.get(run.runId), NotFoundError);
  });

  test(`${name}: a run item above DynamoDB's 400 KB limit is refused as too large, on create and on save`, async () => {
    const runs = store();
    await assert.rejects(runs.create(aRun({ reason: 'x'.repeat(MAX_ITEM_BYTES) })), PayloadTooLargeError);
    const run = aRun();
    await runs.create(run);
    await assert.rejects(runs.save({ ...run, reason: 'x'.repeat(MAX_ITEM_BYTES) }, 0), PayloadTooLargeError);
    assert.equal((await runs.get(run.runId)).version, 0);
  });

  test(`${name}: a pipeline's runs page newest first with a cursor until the last page, which has none`, async () => {
    const runs = store();
    const pid = pipelineId('paged');
    const created: RunState[] = [];
    for (let i = 0; i < 7; i++) {
      const run = aRun({ pipelineId: pid, status: i % 2 ? 'succeeded' : 'running', finishedAt: i % 2 ? nextTime() : undefined });
      await runs.create(run);
      created.push(run);
    }
    await runs.create(aRun()); // another pipeline's run never shows up
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await runs.listByPipeline(pid, { limit: 3, ...(cursor ? { cursor } : {}) });
      pageSizes.push(page.items.length);
      seen.push(...page.items.map((r) => r.runId));
      for (const s of page.items) assert.equal(s.pipelineId, pid);
      cursor = page.cursor;
    } while (cursor);
    assert.deepEqual(pageSizes, [3, 3, 1]);
    assert.deepEqual(seen, created.map((r) => r.runId).reverse());

    const all = await runs.listByPipeline(pid, { limit: 7 });
    assert.equal(all.cursor, undefined, 'a page that holds the rest has no cursor');
    const [newest, finished] = [created[6]!, created[5]!];
    assert.deepEqual(all.items[0], { runId: newest.runId, pipelineId: pid, status: newest.status, branch: 'main', commit: newest.trigger.commit, createdAt: newest.createdAt });
    assert.deepEqual(all.items[1], { runId: finished.runId, pipelineId: pid, status: 'succeeded', branch: 'main', commit: finished.trigger.commit, createdAt: finished.createdAt, finishedAt: finished.finishedAt });
    assert.equal((await runs.listByPipeline(pid)).items.length, 7, 'the default page holds 20');
  });

  test(`${name}: runs are listed by when they were created, not by id; a run without a branch lists none`, async () => {
    const runs = store();
    const pid = pipelineId('order');
    const older = aRun({ pipelineId: pid, runId: ulid(Date.parse('2026-06-01T00:00:00Z')), createdAt: '2026-01-01T00:00:00.000Z' });
    const newer = aRun({ pipelineId: pid, runId: ulid(Date.parse('2026-01-01T00:00:00Z')), createdAt: '2026-06-01T00:00:00.000Z', trigger: { event: 'manual', commit: 'b'.repeat(40) } });
    await runs.create(older);
    await runs.create(newer);
    const page = await runs.listByPipeline(pid);
    assert.deepEqual(page.items.map((r) => r.runId), [newer.runId, older.runId]);
    assert.equal('branch' in page.items[0]!, false);
  });

  test(`${name}: a cursor this listing did not hand out, or a page size outside 1-100, is refused as invalid`, async () => {
    const runs = store();
    const pid = pipelineId('cursor');
    const other = pipelineId('cursor-other');
    for (let i = 0; i < 3; i++) {
      await runs.create(aRun({ pipelineId: pid }));
      await runs.create(aRun({ pipelineId: other }));
    }
    const otherPage = await runs.listByPipeline(other, { limit: 1 });
    assert.ok(otherPage.cursor);
    await assert.rejects(runs.listByPipeline(pid, { cursor: otherPage.cursor }), ValidationError);
    await assert.rejects(runs.listByPipeline(pid, { cursor: 'not a cursor!' }), ValidationError);
    await assert.rejects(runs.listByPipeline(pid, { cursor: Buffer.from('{"PK":1}').toString('base64url') }), ValidationError);
    await assert.rejects(runs.listByPipeline(pid, { limit: 0 }), ValidationError);
    await assert.rejects(runs.listByPipeline(pid, { limit: 101 }), ValidationError);
    await assert.rejects(runs.listByPipeline(pid, { limit: 1.5 }), ValidationError);
  });

  test(`${name}: only queued and running runs are listed as active, oldest first, and a run leaves the list when it ends`, async () => {
    const runs = store();
    const pid = pipelineId('active');
    const statuses: RunStatus[] = ['queued', 'succeeded', 'running', 'failed', 'cancelled', 'superseded', 'queued'];
    const created: RunState[] = [];
    for (const status of statuses) {
      const run = aRun({ pipelineId: pid, status, ...(terminal(status) ? { finishedAt: nextTime() } : {}) });
      await runs.create(run);
      created.push(run);
    }
    await runs.create(aRun({ status: 'queued' })); // another pipeline's
    const active = await runs.listActive(pid);
    assert.deepEqual(active.map((r) => [r.runId, r.status]), [[created[0]!.runId, 'queued'], [created[2]!.runId, 'running'], [created[6]!.runId, 'queued']]);
    assert.deepEqual(active[1], { runId: created[2]!.runId, pipelineId: pid, status: 'running', branch: 'main', commit: 'a'.repeat(40), createdAt: created[2]!.createdAt });

    const running = await runs.get(created[2]!.runId);
    await runs.save({ ...running, status: 'succeeded', finishedAt: nextTime() }, running.version);
    assert.deepEqual((await runs.listActive(pid)).map((r) => r.runId), [created[0]!.runId, created[6]!.runId]);
    const queued = await runs.get(created[0]!.runId);
    await runs.save({ ...queued, status: 'running' }, queued.version);
    assert.deepEqual((await runs.listActive(pid)).map((r) => [r.runId, r.status]), [[created[0]!.runId, 'running'], [created[6]!.runId, 'queued']]);
    assert.deepEqual(await runs.listActive(pipelineId('none')), []);
  });

  // ---- a pipeline deleted with its history (DELETE /pipelines/{id}?history=delete) ----

  test(`${name}: removing a pipeline's runs deletes every one of them, past one page, and says how many; other pipelines' runs stay`, async () => {
    const runs = store();
    const pid = pipelineId('remove');
    // A pipeline whose id starts with this one's is another pipeline.
    const other = aRun({ pipelineId: `${pid}-2`, status: 'queued' });
    await runs.create(other);
    // More than the 100 a listing page holds, and than the 25 one batch of deletions takes.
    const created: RunState[] = [];
    for (let i = 0; i < 105; i += 15) {
      const batch = Array.from({ length: Math.min(15, 105 - i) }, (_, j) => aRun({ pipelineId: pid, status: (i + j) % 3 === 0 ? 'running' : 'succeeded', ...((i + j) % 3 === 0 ? {} : { finishedAt: nextTime() }) }));
      await Promise.all(batch.map((r) => runs.create(r)));
      created.push(...batch);
    }

    assert.equal(await runs.removeByPipeline!(pid), 105);
    assert.deepEqual(await runs.listByPipeline(pid), { items: [] });
    assert.deepEqual(await runs.listActive(pid), []);
    for (const r of [created[0]!, created[50]!, created[104]!]) await assert.rejects(runs.get(r.runId), NotFoundError);
    assert.deepEqual(await runs.get(other.runId), other);
    assert.deepEqual((await runs.listActive(other.pipelineId)).map((r) => r.runId), [other.runId]);
    // The ids are free again (nothing of the old runs is left to conflict with).
    await runs.create(created[0]!);
    assert.deepEqual(await runs.get(created[0]!.runId), created[0]);
  });

  test(`${name}: removing the runs of a pipeline that has none removes nothing and says 0`, async () => {
    const runs = store();
    const kept = aRun();
    await runs.create(kept);
    assert.equal(await runs.removeByPipeline!(pipelineId('remove-none')), 0);
    assert.deepEqual(await runs.get(kept.runId), kept);
  });
}
