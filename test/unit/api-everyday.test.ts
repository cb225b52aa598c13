/**
 * The management API's everyday operations added for issue 17, through the routes:
 * re-runs, disabling and deleting pipelines, and who the local mode's caller is.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ApiService, type ApiServiceDeps } from '../../shared/services/api-service.ts';
import { apiRoutes } from '../../shared/http/api-routes.ts';
import { createRouter } from '../../shared/http/router.ts';
import { decide } from '../../shared/domain/decide.ts';
import type { RunRequest } from '../../shared/ports/messages.ts';
import { httpEvent, RUN_ID, runState, VALID_YAML } from '../support/api-fixtures.ts';
import { MemoryEventQueue, MemoryPipelineStore, MemoryRunStore } from '../support/memory-stores.ts';

const ALICE = 'arn:aws:iam::123456789012:user/alice';
const NEW_RUN = '01JZ00000000000000000000RN';

async function setup(extra: Partial<ApiServiceDeps> = {}) {
  const pipelines = new MemoryPipelineStore();
  const runs = new MemoryRunStore();
  const queue = new MemoryEventQueue();
  const copied: string[] = [];
  const api = new ApiService({
    pipelines, runs, queue, newRunId: () => NEW_RUN, now: () => new Date('2026-02-02T00:00:00Z'),
    artifacts: { list: async () => [], presignArtifact: async () => '', copyJob: async (from, to, job) => { copied.push(`${from}->${to}:${job}`); return 1; } },
    ...extra,
  });
  const route = createRouter(apiRoutes(api), { onInternalError: (err) => { throw err; } });
  const call = async (input: Parameters<typeof httpEvent>[0]) => {
    const res = await route(httpEvent(input));
    return { status: res.statusCode, body: JSON.parse(res.body) };
  };
  assert.equal((await call({ method: 'PUT', path: '/pipelines/shop', body: VALID_YAML, headers: { 'content-type': 'application/yaml' } })).status, 201);
  await pipelines.put({ ...(await pipelines.get('shop')), id: 'shop' }); // version 2: a re-run keeps the version its run pinned
  return { pipelines, runs, queue, call, copied };
}

const failedRun = () => runState({ status: 'failed', pipelineVersion: 1, finishedAt: '2026-01-01T00:10:00.000Z' }, {
  build: { status: 'succeeded', outputs: { imageUri: 'x@sha256:1' } },
  approve: { status: 'failed', reason: 'rejected' },
  deploy: { status: 'skipped' },
});

describe('re-runs', () => {
  test('a whole re-run repeats the commit, trigger and pinned version, linked to the old run', async () => {
    const { runs, queue, call } = await setup();
    await runs.create(failedRun());
    const res = await call({ method: 'POST', path: `/runs/${RUN_ID}/rerun`, userArn: ALICE });
    assert.equal(res.status, 202);
    assert.deepEqual(res.body, { runId: NEW_RUN, rerunOf: RUN_ID, pipelineId: 'shop', pipelineVersion: 1, commit: failedRun().trigger.commit, reused: [], status: 'requested' });
    const sent = queue.sent[0] as RunRequest;
    assert.equal(sent.type, 'RunRequest');
    assert.equal(sent.pipelineVersion, 1, 'the old run\'s version, not the latest (2)');
    assert.deepEqual(sent.trigger, failedRun().trigger);
    assert.deepEqual(sent.rerun, { of: RUN_ID, by: ALICE });
  });

  test('failed jobs only: the succeeded jobs are kept (outputs and artifacts) and start as succeeded in the new run', async () => {
    const { runs, queue, call, copied } = await setup();
    await runs.create(failedRun());
    const res = await call({ method: 'POST', path: `/runs/${RUN_ID}/rerun`, userArn: ALICE, body: JSON.stringify({ failedOnly: true }) });
    assert.equal(res.status, 202);
    assert.deepEqual(res.body.reused, ['build']);
    assert.deepEqual(copied, [`${RUN_ID}->${NEW_RUN}:build`]);
    const sent = queue.sent[0] as RunRequest;
    assert.deepEqual(sent.rerun?.reused, { build: { outputs: { imageUri: 'x@sha256:1' } } });
    // The engine plans it; decide starts it with the kept job succeeded and the rest to do.
    const old = failedRun();
    const { state } = decide(undefined, { type: 'RunRequested', id: 'r', runId: NEW_RUN, at: '2026-02-02T00:00:00.000Z', pipelineId: 'shop', pipelineVersion: 1, concurrency: 'superseded', trigger: old.trigger, plan: old.plan, skippedByWhen: [], admission: 'start', rerun: sent.rerun });
    assert.equal(state.jobs.build.status, 'succeeded');
    assert.deepEqual(state.jobs.build.outputs, { imageUri: 'x@sha256:1' });
    assert.match(state.jobs.build.reason!, new RegExp(`kept from run ${RUN_ID}`));
    assert.equal(state.jobs.approve.status, 'waiting_approval', 'the failed job runs again');
    assert.deepEqual(state.rerun, { of: RUN_ID, by: ALICE });
  });

  test('a run still going, a run where nothing failed (--failed), an unknown run, a bad body: 409, 409, 404, 400', async () => {
    const { runs, call } = await setup();
    await runs.create(runState());
    assert.equal((await call({ method: 'POST', path: `/runs/${RUN_ID}/rerun` })).status, 409);
    runs.items.set(RUN_ID, runState({ status: 'succeeded' }, { approve: { status: 'succeeded' }, deploy: { status: 'succeeded' } }));
    const none = await call({ method: 'POST', path: `/runs/${RUN_ID}/rerun`, body: '{"failedOnly":true}' });
    assert.equal(none.status, 409);
    assert.match(none.body.message, /nothing to re-run/);
    assert.equal((await call({ method: 'POST', path: '/runs/01JZ0000000000000000000009/rerun' })).status, 404);
    assert.equal((await call({ method: 'POST', path: `/runs/${RUN_ID}/rerun`, body: '{"failedOnly":"yes"}' })).status, 400);
  });
});

describe('disabling and deleting pipelines', () => {
  test('a disabled pipeline refuses runs and re-runs (409 naming how to enable it), stays disabled across registrations, and runs again once enabled', async () => {
    const { runs, call } = await setup();
    await runs.create(failedRun());
    const off = await call({ method: 'POST', path: '/pipelines/shop/disable', userArn: ALICE });
    assert.equal(off.status, 200);
    assert.deepEqual(off.body.disabled, { by: ALICE, at: '2026-02-02T00:00:00.000Z' });
    const refused = await call({ method: 'POST', path: '/pipelines/shop/runs', body: JSON.stringify({ commit: 'b'.repeat(40) }) });
    assert.equal(refused.status, 409);
    assert.match(refused.body.message, /disabled .* slipway pipelines enable shop/);
    assert.equal((await call({ method: 'POST', path: `/runs/${RUN_ID}/rerun` })).status, 409);
    await call({ method: 'PUT', path: '/pipelines/shop', body: VALID_YAML, headers: { 'content-type': 'application/yaml' } });
    assert.equal((await call({ method: 'POST', path: '/pipelines/shop/runs', body: JSON.stringify({ commit: 'b'.repeat(40) }) })).status, 409, 'a new version stays disabled');
    assert.equal((await call({ method: 'POST', path: '/pipelines/shop/enable' })).status, 200);
    assert.equal((await call({ method: 'POST', path: '/pipelines/shop/runs', body: JSON.stringify({ commit: 'b'.repeat(40) }) })).status, 202);
    assert.equal((await call({ method: 'POST', path: '/pipelines/ghost/disable' })).status, 404);
  });

  test('deleting with the history kept: gone from lists and runs, its runs still readable and listed', async () => {
    const { runs, call } = await setup();
    await runs.create(failedRun());
    const res = await call({ method: 'DELETE', path: '/pipelines/shop' });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { id: 'shop', deleted: true, history: 'keep', runsDeleted: 0 });
    assert.equal((await call({ method: 'GET', path: '/pipelines/shop' })).status, 404);
    assert.deepEqual((await call({ method: 'GET', path: '/pipelines' })).body.items, []);
    assert.equal((await call({ method: 'GET', path: `/runs/${RUN_ID}` })).status, 200);
    assert.equal((await call({ method: 'GET', path: '/pipelines/shop/runs' })).body.items.length, 1);
  });

  test('deleting with the history removed takes the runs too; an active run refuses the delete (409); a bad history is 400', async () => {
    const { runs, call } = await setup();
    await runs.create(runState());
    assert.equal((await call({ method: 'DELETE', path: '/pipelines/shop', query: { history: 'delete' } })).status, 409);
    runs.items.set(RUN_ID, failedRun());
    assert.equal((await call({ method: 'DELETE', path: '/pipelines/shop', query: { history: 'forever' } })).status, 400);
    const res = await call({ method: 'DELETE', path: '/pipelines/shop', query: { history: 'delete' } });
    assert.equal(res.status, 200);
    assert.equal(res.body.runsDeleted, 1);
    assert.equal((await call({ method: 'GET', path: `/runs/${RUN_ID}` })).status, 404);
    assert.equal((await call({ method: 'GET', path: '/pipelines/shop/runs' })).status, 404);
  });
});

describe('the local mode\'s caller (defect 2)', () => {
  test('approves a job that names approvers, cancels and re-runs as "local developer <name>", never "unknown"', async () => {
    const { runs, queue, call } = await setup({ localDeveloper: 'dana' });
    await runs.create(runState());
    const approved = await call({ method: 'POST', path: `/runs/${RUN_ID}/jobs/approve/approve` });
    assert.equal(approved.status, 202, JSON.stringify(approved.body));
    assert.equal((queue.sent.at(-1) as { by: string }).by, 'local developer dana');
    assert.equal((await call({ method: 'POST', path: `/runs/${RUN_ID}/cancel` })).status, 202);
    assert.equal((queue.sent.at(-1) as { by: string }).by, 'local developer dana');
    runs.items.set(RUN_ID, failedRun());
    await call({ method: 'POST', path: `/runs/${RUN_ID}/rerun` });
    assert.equal((queue.sent.at(-1) as RunRequest).rerun?.by, 'local developer dana');
    await call({ method: 'POST', path: '/pipelines/shop/runs', body: JSON.stringify({ commit: 'b'.repeat(40) }) });
    assert.equal((queue.sent.at(-1) as RunRequest).trigger.author, 'local developer dana');
  });

  test('in AWS an unsigned caller still cannot approve (403)', async () => {
    const { runs, call } = await setup();
    await runs.create(runState());
    assert.equal((await call({ method: 'POST', path: `/runs/${RUN_ID}/jobs/approve/approve` })).status, 403);
  });
});

test('logs of a deploy job point to status (defect 8)', async () => {
  const { runs, call } = await setup();
  await runs.create(failedRun());
  const res = await call({ method: 'GET', path: `/runs/${RUN_ID}/jobs/deploy/logs` });
  assert.equal(res.status, 404);
  assert.match(res.body.message, new RegExp(`release steps are in \`slipway status ${RUN_ID}\``));
});
