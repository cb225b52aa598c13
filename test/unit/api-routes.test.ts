import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ApiService, type ApiServiceDeps } from '../../shared/services/api-service.ts';
import { apiRoutes } from '../../shared/http/api-routes.ts';
import { createRouter } from '../../shared/http/router.ts';
import { NotFoundError, RetryableError } from '../../shared/domain/errors.ts';
import { httpEvent, RUN_ID, runState, SHA, VALID_YAML } from '../support/api-fixtures.ts';
import { MemoryEventQueue, MemoryPipelineStore, MemoryRunStore } from '../support/memory-stores.ts';

const ALICE = 'arn:aws:iam::123456789012:user/alice';

function setup(extra: Partial<ApiServiceDeps> = {}) {
  const pipelines = new MemoryPipelineStore();
  const runs = new MemoryRunStore();
  const queue = new MemoryEventQueue();
  const internal: unknown[] = [];
  const api = new ApiService({ pipelines, runs, queue, newRunId: () => '01JZ00000000000000000000RN', now: () => new Date('2026-02-02T00:00:00Z'), ...extra });
  const route = createRouter(apiRoutes(api), { onInternalError: (err) => internal.push(err) });
  const call = async (input: Parameters<typeof httpEvent>[0]) => {
    const res = await route(httpEvent(input));
    return { status: res.statusCode, body: JSON.parse(res.body), headers: res.headers ?? {} };
  };
  return { pipelines, runs, queue, call, internal };
}

async function registered(extra: Partial<ApiServiceDeps> = {}) {
  const ctx = setup(extra);
  const res = await ctx.call({ method: 'PUT', path: '/pipelines/shop', body: VALID_YAML, headers: { 'content-type': 'application/yaml' } });
  assert.equal(res.status, 201);
  return ctx;
}

describe('registering pipelines', () => {
  test('a YAML definition is stored as version 1 with 201, then version 2 with 200', async () => {
    const { call } = setup();
    const first = await call({ method: 'PUT', path: '/pipelines/shop', body: VALID_YAML, headers: { 'content-type': 'application/yaml' } });
    assert.equal(first.status, 201);
    assert.equal(first.body.version, 1);
    assert.equal(first.body.spec.jobs.build.kind, 'build');
    assert.deepEqual(first.body.definitionSource, { kind: 'registered' });
    assert.equal(first.headers.location, '/pipelines/shop?version=1');
    const second = await call({ method: 'PUT', path: '/pipelines/shop', body: VALID_YAML, headers: { 'content-type': 'text/yaml; charset=utf-8' } });
    assert.equal(second.status, 200);
    assert.equal(second.body.version, 2);
  });

  test('a JSON definition is recognised by its content type or by sniffing', async () => {
    const { call } = setup();
    const def = { name: 'shop', source: { provider: 'gitlab', repository: 'acme/group/shop' }, jobs: { test: { template: 'go' } } };
    const byType = await call({ method: 'PUT', path: '/pipelines/a', body: JSON.stringify(def), headers: { 'content-type': 'application/json' } });
    assert.equal(byType.status, 201);
    const sniffed = await call({ method: 'PUT', path: '/pipelines/b', body: JSON.stringify(def), base64: true });
    assert.equal(sniffed.status, 201);
    assert.equal(sniffed.body.spec.source.provider, 'gitlab');
  });

  test('an invalid definition is refused with every problem listed and nothing stored', async () => {
    const { call, pipelines } = setup();
    const body = 'name: "bad name!"\nsource:\n  provider: svn\njobs:\n  build:\n    kind: compile\n  deploy:\n    needs: [nowhere]\nextra: 1\n';
    const res = await call({ method: 'PUT', path: '/pipelines/shop', body, headers: { 'content-type': 'application/yaml' }, requestId: 'req-bad' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'ValidationError');
    assert.equal(res.body.requestId, 'req-bad');
    const paths = res.body.problems.map((p: { path: string }) => p.path);
    for (const p of ['name', 'source.provider', 'source.repository', 'jobs.build.kind', 'extra']) assert.ok(paths.includes(p), `expected a problem at ${p}, got ${paths.join(', ')}`);
    assert.ok(res.body.problems.length >= 5);
    assert.equal(pipelines.puts, 0);
  });

  test('malformed JSON is a 400 that says so', async () => {
    const { call, pipelines } = setup();
    const res = await call({ method: 'PUT', path: '/pipelines/shop', body: '{"name": ', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 400);
    assert.match(res.body.message, /not valid JSON/);
    assert.equal(pipelines.puts, 0);
  });

  test('a YAML syntax error is reported as a problem', async () => {
    const { call } = setup();
    const res = await call({ method: 'PUT', path: '/pipelines/shop', body: 'name: [unclosed\n', headers: { 'content-type': 'application/yaml' } });
    assert.equal(res.status, 400);
    assert.ok(res.body.problems.length >= 1);
  });

  test('problems inside an envelope are reported under "definition."', async () => {
    const { call } = setup();
    const res = await call({ method: 'PUT', path: '/pipelines/shop', body: JSON.stringify({ definition: { name: 'shop', source: { provider: 'github' }, jobs: { b: {} } } }), headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 400);
    assert.ok(res.body.problems.some((p: { path: string }) => p.path === 'definition.source.repository'));
  });

  test('an envelope carries secret names, which later bare definitions keep and null removes', async () => {
    const { call } = setup();
    const env = { definition: VALID_YAML, webhookSecretName: 'slipway/shop/webhook', tokenSecretName: 'slipway/shop/token' };
    const first = await call({ method: 'PUT', path: '/pipelines/shop', body: JSON.stringify(env), headers: { 'content-type': 'application/json' } });
    assert.equal(first.status, 201);
    assert.equal(first.body.webhookSecretName, 'slipway/shop/webhook');
    const second = await call({ method: 'PUT', path: '/pipelines/shop', body: VALID_YAML, headers: { 'content-type': 'application/yaml' } });
    assert.equal(second.body.tokenSecretName, 'slipway/shop/token');
    const third = await call({ method: 'PUT', path: '/pipelines/shop', body: JSON.stringify({ definition: VALID_YAML, tokenSecretName: null }) });
    assert.equal(third.status, 200);
    assert.equal(third.body.tokenSecretName, undefined);
    assert.equal(third.body.webhookSecretName, 'slipway/shop/webhook');
  });

  test('a repository-defined pipeline stores its source and path, and no jobs', async () => {
    const { call } = setup();
    const body = {
      definitionSource: { kind: 'repository' },
      source: { provider: 'bitbucket', repository: 'acme/shop', triggers: { branches: ['main'] } },
      concurrency: 'queued',
      tokenSecretName: 'slipway/shop/bb-token',
    };
    const res = await call({ method: 'PUT', path: '/pipelines/shop', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.definitionSource, { kind: 'repository', path: '.slipway.yml' });
    assert.deepEqual(res.body.spec.jobs, {});
    assert.equal(res.body.spec.name, 'shop');
    assert.equal(res.body.spec.concurrency, 'queued');
    assert.deepEqual(res.body.spec.source.triggers.branches, ['main']);
  });

  test('a repository registration with a bad source, path and extra key lists each problem', async () => {
    const { call, pipelines } = setup();
    const body = { definitionSource: { kind: 'repository', path: '../x.yml' }, source: { provider: 'svn' }, colour: 'red' };
    const res = await call({ method: 'PUT', path: '/pipelines/shop', body: JSON.stringify(body) });
    assert.equal(res.status, 400);
    const paths = res.body.problems.map((p: { path: string }) => p.path);
    assert.ok(paths.includes('definitionSource.path'), paths.join());
    assert.ok(paths.includes('colour'), paths.join());
    assert.equal(pipelines.puts, 0);
  });

  test('an invalid pipeline id is a 400 naming the field', async () => {
    const { call } = setup();
    const res = await call({ method: 'PUT', path: '/pipelines/-bad%20id', body: VALID_YAML });
    assert.equal(res.status, 400);
    assert.equal(res.body.problems[0].path, 'id');
  });

  test('an oversized body is a 413 and an unsupported content type a 415', async () => {
    const { call } = setup();
    const big = await call({ method: 'PUT', path: '/pipelines/shop', body: 'x'.repeat(300 * 1024) });
    assert.equal(big.status, 413);
    assert.equal(big.body.error, 'PayloadTooLarge');
    const xml = await call({ method: 'PUT', path: '/pipelines/shop', body: '<p/>', headers: { 'content-type': 'application/xml' } });
    assert.equal(xml.status, 415);
  });
});

describe('reading pipelines', () => {
  test('the latest or a pinned version, and 404 for unknown ones', async () => {
    const { call } = await registered();
    await call({ method: 'PUT', path: '/pipelines/shop', body: VALID_YAML.replace('template: node', 'template: go') });
    assert.equal((await call({ method: 'GET', path: '/pipelines/shop' })).body.version, 2);
    const v1 = await call({ method: 'GET', path: '/pipelines/shop', query: { version: '1' } });
    assert.equal(v1.body.spec.jobs.build.template, 'node');
    assert.equal((await call({ method: 'GET', path: '/pipelines/shop', query: { version: '9' } })).status, 404);
    assert.equal((await call({ method: 'GET', path: '/pipelines/nope' })).status, 404);
    const bad = await call({ method: 'GET', path: '/pipelines/shop', query: { version: 'x' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.problems[0].path, 'version');
  });

  test('listing pages through every pipeline with a cursor', async () => {
    const { call } = setup();
    for (const id of ['a', 'b', 'c']) await call({ method: 'PUT', path: `/pipelines/${id}`, body: VALID_YAML });
    const first = await call({ method: 'GET', path: '/pipelines', query: { limit: '2' } });
    assert.deepEqual(first.body.items.map((p: { id: string }) => p.id), ['a', 'b']);
    assert.equal(first.body.items[0].repository, 'acme/shop');
    const second = await call({ method: 'GET', path: '/pipelines', query: { limit: '2', cursor: first.body.cursor } });
    assert.deepEqual(second.body.items.map((p: { id: string }) => p.id), ['c']);
    assert.equal(second.body.cursor, undefined);
    assert.equal((await call({ method: 'GET', path: '/pipelines', query: { limit: '0' } })).status, 400);
  });
});

describe('manual runs', () => {
  test('a run for a commit puts a RunRequest on the engine queue and answers 202 with the run id', async () => {
    const { call, queue } = await registered();
    const res = await call({ method: 'POST', path: '/pipelines/shop/runs', body: JSON.stringify({ commit: SHA.toUpperCase(), parameters: { ENV: 'prod' } }), userArn: ALICE, requestId: 'r-9' });
    assert.equal(res.status, 202);
    assert.equal(res.body.runId, '01JZ00000000000000000000RN');
    assert.equal(res.headers.location, '/runs/01JZ00000000000000000000RN');
    assert.equal(queue.sent.length, 1);
    const msg = queue.sent[0];
    assert.equal(msg.type, 'RunRequest');
    assert.ok(msg.type === 'RunRequest');
    assert.equal(msg.id, 'req:api:r-9');
    assert.equal(msg.pipelineVersion, 1);
    assert.deepEqual(msg.trigger, { event: 'manual', provider: 'github', repository: 'acme/shop', commit: SHA, author: ALICE, parameters: { ENV: 'prod' } });
  });

  test('a run for a branch resolves the branch to its head commit first', async () => {
    const asked: string[] = [];
    const { call, queue } = await registered({ git: { resolveBranch: async (_p, repo, branch) => (asked.push(`${repo}@${branch}`), 'b'.repeat(40)) } });
    const res = await call({ method: 'POST', path: '/pipelines/shop/runs', body: JSON.stringify({ branch: 'feature/x' }) });
    assert.equal(res.status, 202);
    assert.equal(res.body.commit, 'b'.repeat(40));
    assert.deepEqual(asked, ['acme/shop@feature/x']);
    assert.ok(queue.sent[0].type === 'RunRequest' && queue.sent[0].trigger.branch === 'feature/x');
  });

  test('a run given neither branch nor commit runs the repository\'s default branch', async () => {
    const { call, queue } = await registered({ git: { defaultBranch: async () => 'trunk', resolveBranch: async (_p, _r, branch) => (branch === 'trunk' ? 'c'.repeat(40) : 'd'.repeat(40)) } });
    const res = await call({ method: 'POST', path: '/pipelines/shop/runs', body: '{}' });
    assert.equal(res.status, 202);
    assert.equal(res.body.branch, 'trunk');
    assert.equal(res.body.commit, 'c'.repeat(40));
    assert.ok(queue.sent[0].type === 'RunRequest' && queue.sent[0].trigger.branch === 'trunk');
  });

  test('an unknown branch is a 400 on the branch field', async () => {
    const { call, queue } = await registered({ git: { resolveBranch: async () => { throw new NotFoundError('nope'); } } });
    const res = await call({ method: 'POST', path: '/pipelines/shop/runs', body: JSON.stringify({ branch: 'gone' }) });
    assert.equal(res.status, 400);
    assert.equal(res.body.problems[0].path, 'branch');
    assert.equal(queue.sent.length, 0);
  });

  test('neither or both of branch and commit, bad fields and bad JSON are 400s that enqueue nothing', async () => {
    const { call, queue } = await registered();
    for (const body of ['{}', JSON.stringify({ branch: 'main', commit: SHA }), JSON.stringify({ commit: 'abc' }), JSON.stringify({ branch: 'a..b' }), JSON.stringify({ commit: SHA, parameters: { '1x': 'y' } }), JSON.stringify({ commit: SHA, extra: 1 }), '{oops', '']) {
      const res = await call({ method: 'POST', path: '/pipelines/shop/runs', body });
      assert.equal(res.status, 400, body);
      assert.equal(res.body.error, 'ValidationError');
    }
    assert.equal(queue.sent.length, 0);
  });

  test('parameters over 8 KB in all are a 400 naming the bound, and enqueue nothing', async () => {
    const { call, queue } = await registered();
    const parameters = Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`P${i}`, 'v'.repeat(3000)]));
    const res = await call({ method: 'POST', path: '/pipelines/shop/runs', body: JSON.stringify({ commit: SHA, parameters }) });
    assert.equal(res.status, 400);
    assert.equal(res.body.problems[0].path, 'parameters');
    assert.match(res.body.problems[0].message, /at most 8 KB in all/);
    assert.equal(queue.sent.length, 0);
  });

  test('a run of an unknown pipeline is a 404', async () => {
    const { call, queue } = setup();
    const res = await call({ method: 'POST', path: '/pipelines/ghost/runs', body: JSON.stringify({ commit: SHA }) });
    assert.equal(res.status, 404);
    assert.equal(res.body.error, 'NotFound');
    assert.equal(queue.sent.length, 0);
  });

  test('a queue outage is a 503 that hides the details', async () => {
    const { call, queue, internal } = await registered();
    queue.failWith = new RetryableError('could not enqueue: sqs.internal.host ThrottlingException');
    const res = await call({ method: 'POST', path: '/pipelines/shop/runs', body: JSON.stringify({ commit: SHA }) });
    assert.equal(res.status, 503);
    assert.doesNotMatch(JSON.stringify(res.body), /sqs|Throttling/);
    assert.equal(internal.length, 1);
  });
});

describe('runs', () => {
  test('a run is shown without its internal bookkeeping; unknown runs are 404 and bad ids 400', async () => {
    const { call, runs } = setup();
    await runs.create(runState());
    const res = await call({ method: 'GET', path: `/runs/${RUN_ID.toLowerCase()}` });
    assert.equal(res.status, 200);
    assert.equal(res.body.runId, RUN_ID);
    assert.equal(res.body.appliedEventIds, undefined);
    assert.equal((await call({ method: 'GET', path: '/runs/01JZ0000000000000000000009' })).status, 404);
    const bad = await call({ method: 'GET', path: '/runs/not-a-run' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.problems[0].path, 'id');
  });

  test("a pipeline's runs are listed newest first in pages; an unknown pipeline is 404", async () => {
    const { call, runs } = await registered();
    for (const n of [1, 2, 3]) await runs.create(runState({ runId: `01JZ000000000000000000000${n}` }));
    const first = await call({ method: 'GET', path: '/pipelines/shop/runs', query: { limit: '2' } });
    assert.deepEqual(first.body.items.map((r: { runId: string }) => r.runId.at(-1)), ['3', '2']);
    const next = await call({ method: 'GET', path: '/pipelines/shop/runs', query: { limit: '2', cursor: first.body.cursor } });
    assert.deepEqual(next.body.items.map((r: { runId: string }) => r.runId.at(-1)), ['1']);
    assert.equal((await call({ method: 'GET', path: '/pipelines/ghost/runs' })).status, 404);
  });

  test('cancelling a running run sends one CancelRequested with the caller; a finished run is a 409', async () => {
    const { call, runs, queue } = setup();
    await runs.create(runState());
    const res = await call({ method: 'POST', path: `/runs/${RUN_ID}/cancel`, userArn: ALICE });
    assert.equal(res.status, 202);
    assert.deepEqual(queue.sent, [{ type: 'CancelRequested', id: `cancel:${RUN_ID}`, runId: RUN_ID, by: ALICE, at: '2026-02-02T00:00:00.000Z' }]);
    await runs.save(runState({ status: 'succeeded', version: 4 }), 3);
    const done = await call({ method: 'POST', path: `/runs/${RUN_ID}/cancel` });
    assert.equal(done.status, 409);
    assert.equal(done.body.error, 'Conflict');
    assert.equal(queue.sent.length, 1);
  });
});

describe('approvals', () => {
  test('an approver approves a waiting job: ApprovalGiven by the IAM caller', async () => {
    const { call, runs, queue } = await registered();
    await runs.create(runState());
    const res = await call({ method: 'POST', path: `/runs/${RUN_ID}/jobs/approve/approve`, userArn: ALICE });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual(queue.sent, [{ type: 'ApprovalGiven', id: `approval:${RUN_ID}:approve:1`, runId: RUN_ID, job: 'approve', by: ALICE, at: '2026-02-02T00:00:00.000Z' }]);
  });

  test('a rejection carries its comment and shares the approval event id, so the first answer wins', async () => {
    const { call, runs, queue } = await registered();
    await runs.create(runState());
    const res = await call({ method: 'POST', path: `/runs/${RUN_ID}/jobs/approve/reject`, userArn: 'arn:aws:sts::123456789012:assumed-role/Releasers/bob', body: JSON.stringify({ comment: 'not today' }) });
    assert.equal(res.status, 202, 'any session of a role named as an approver may answer');
    assert.ok(queue.sent[0].type === 'ApprovalRejected' && queue.sent[0].comment === 'not today');
    assert.equal(queue.sent[0].id, `approval:${RUN_ID}:approve:1`);
  });

  test("a caller whose role session is named after an approver is refused: the session name is the caller's choice", async () => {
    const { call, runs, queue } = await registered();
    await runs.create(runState());
    // `aws sts assume-role --role-session-name alice` on any role the attacker may assume.
    for (const arn of ['arn:aws:sts::123456789012:assumed-role/Deployer/alice', 'arn:aws:sts::123456789012:assumed-role/Deployer/arn:aws:iam::123456789012:user/alice']) {
      const res = await call({ method: 'POST', path: `/runs/${RUN_ID}/jobs/approve/approve`, userArn: arn });
      assert.equal(res.status, 403, arn);
    }
    // The same user name in another account is someone else.
    assert.equal((await call({ method: 'POST', path: `/runs/${RUN_ID}/jobs/approve/approve`, userArn: 'arn:aws:iam::999999999999:user/alice' })).status, 403);
    // No identity at all (a request API Gateway did not sign for) approves nothing.
    const anonymous = await call({ method: 'POST', path: `/runs/${RUN_ID}/jobs/approve/approve` });
    assert.equal(anonymous.status, 403);
    assert.equal(queue.sent.length, 0);
  });

  test('the named IAM user approves, and the run records the full principal', async () => {
    const { call, runs, queue } = await registered();
    await runs.create(runState());
    const res = await call({ method: 'POST', path: `/runs/${RUN_ID}/jobs/approve/approve`, userArn: 'arn:aws:iam::123456789012:user/Alice' });
    assert.equal(res.status, 202, 'IAM user names are case-insensitive');
    assert.equal((queue.sent[0] as { by: string }).by, 'arn:aws:iam::123456789012:user/Alice');
  });

  test('someone not among the approvers is refused with 403', async () => {
    const { call, runs, queue } = await registered();
    await runs.create(runState());
    const res = await call({ method: 'POST', path: `/runs/${RUN_ID}/jobs/approve/approve`, userArn: 'arn:aws:iam::1:user/mallory' });
    assert.equal(res.status, 403);
    assert.equal(queue.sent.length, 0);
  });

  test('an unknown job is 404; a job not waiting, a non-approval job or a finished run is 409', async () => {
    const { call, runs, queue } = await registered();
    await runs.create(runState());
    assert.equal((await call({ method: 'POST', path: `/runs/${RUN_ID}/jobs/nope/approve`, userArn: ALICE })).status, 404);
    const build = await call({ method: 'POST', path: `/runs/${RUN_ID}/jobs/build/approve`, userArn: ALICE });
    assert.equal(build.status, 409);
    await runs.save(runState({ version: 4 }, { approve: { status: 'succeeded', approvedBy: ALICE } }), 3);
    const again = await call({ method: 'POST', path: `/runs/${RUN_ID}/jobs/approve/reject`, userArn: ALICE });
    assert.equal(again.status, 409);
    assert.match(again.body.message, /succeeded, not waiting for approval/);
    await runs.save(runState({ version: 5, status: 'cancelled' }), 4);
    assert.equal((await call({ method: 'POST', path: `/runs/${RUN_ID}/jobs/approve/approve`, userArn: ALICE })).status, 409);
    assert.equal(queue.sent.length, 0);
  });
});

describe('logs, artifacts and targets', () => {
  test('logs page through the build log; an approval job has none', async () => {
    const reads: unknown[] = [];
    const { call, runs } = setup({
      logs: { read: async (buildId, opts) => (reads.push({ buildId, ...opts }), { events: [{ timestamp: '2026-01-01T00:00:00.000Z', message: 'npm ci' }], cursor: 'f/2' }) },
    });
    await runs.create(runState());
    const res = await call({ method: 'GET', path: `/runs/${RUN_ID}/jobs/build/logs`, query: { cursor: 'f/1', limit: '50' } });
    assert.equal(res.status, 200);
    assert.equal(res.body.cursor, 'f/2');
    assert.equal(res.body.events[0].message, 'npm ci');
    assert.equal(res.body.complete, false);
    assert.deepEqual(reads, [{ buildId: 'slipway-small:11111111-2222-3333-4444-555555555555', cursor: 'f/1', limit: 50 }]);
    assert.equal((await call({ method: 'GET', path: `/runs/${RUN_ID}/jobs/approve/logs` })).status, 404);
  });

  test('each attempt\'s log stays readable: ?attempt=N reads that attempt\'s build, and says which attempt it is', async () => {
    const reads: string[] = [];
    const { call, runs } = setup({ logs: { read: async (buildId) => (reads.push(buildId), { events: [{ timestamp: '2026-01-01T00:00:00.000Z', message: `log of ${buildId}` }], cursor: '1' }) } });
    await runs.create(runState({}, { build: { status: 'running', attempt: 2, buildId: 'b-2', earlierBuilds: [{ attempt: 1, buildId: 'b-1' }] } }));
    const first = await call({ method: 'GET', path: `/runs/${RUN_ID}/jobs/build/logs`, query: { attempt: '1' } });
    assert.equal(first.status, 200);
    assert.deepEqual([first.body.attempt, first.body.attempts, first.body.events[0].message], [1, 2, 'log of b-1']);
    const last = await call({ method: 'GET', path: `/runs/${RUN_ID}/jobs/build/logs` });
    assert.deepEqual([last.body.attempt, last.body.attempts, last.body.events[0].message], [2, 2, 'log of b-2']);
    assert.equal((await call({ method: 'GET', path: `/runs/${RUN_ID}/jobs/build/logs`, query: { attempt: '3' } })).status, 404);
    assert.equal((await call({ method: 'GET', path: `/runs/${RUN_ID}/jobs/build/logs`, query: { attempt: 'x' } })).status, 400);
    assert.deepEqual(reads, ['b-1', 'b-2']);
  });

  test('a job that has not started yet has an empty log', async () => {
    const { call, runs } = setup({ logs: { read: async () => assert.fail('no build to read') } });
    await runs.create(runState({}, { build: { status: 'pending', attempt: 0, buildId: undefined } }));
    const res = await call({ method: 'GET', path: `/runs/${RUN_ID}/jobs/build/logs` });
    assert.deepEqual([res.status, res.body.events, res.body.complete], [200, [], false]);
  });

  test('artifacts come back with their download links, and one artifact redirects to its link', async () => {
    const { call, runs } = setup({
      artifacts: {
        list: async (runId, job) => [{ path: 'dist/app.zip', size: 3, url: `https://s3/${runId}/${job}/dist/app.zip?sig` }],
        presignArtifact: async (runId, job, path) => `https://s3/${runId}/${job}/${path}?sig`,
      },
    });
    await runs.create(runState());
    const res = await call({ method: 'GET', path: `/runs/${RUN_ID}/jobs/build/artifacts` });
    assert.equal(res.status, 200);
    assert.equal(res.body.artifacts[0].url, `https://s3/${RUN_ID}/build/dist/app.zip?sig`);
    const one = await call({ method: 'GET', path: `/runs/${RUN_ID}/jobs/build/artifacts/dist/my%20app.zip` });
    assert.equal(one.status, 302);
    assert.equal(one.headers.location, `https://s3/${RUN_ID}/build/dist/my app.zip?sig`);
    assert.equal((await call({ method: 'GET', path: `/runs/${RUN_ID}/jobs/build/artifacts/dist/../../x` })).status, 400);
    assert.equal((await call({ method: 'GET', path: `/runs/${RUN_ID}/jobs/ghost/artifacts` })).status, 404);
  });

  test('targets answer 501 when no releaser is wired, and pass the caller to a rollback when one is', async () => {
    const none = setup();
    const res = await none.call({ method: 'GET', path: '/targets/prod' });
    assert.equal(res.status, 501);
    assert.equal(res.body.error, 'NotImplemented');
    const calls: string[] = [];
    const wired = setup({ targets: { get: async (n) => ({ name: n }), rollback: async (n, by) => (calls.push(`${n}:${by}`), { name: n, live: 'blue' }) } });
    assert.deepEqual((await wired.call({ method: 'GET', path: '/targets/prod' })).body, { name: 'prod' });
    const rb = await wired.call({ method: 'POST', path: '/targets/prod/rollback', userArn: ALICE });
    assert.equal(rb.status, 202);
    assert.deepEqual(calls, [`prod:${ALICE}`]);
  });

  test('a target is registered with PUT, listed, and a malformed one is refused with every problem', async () => {
    const { MemoryTargetStore } = await import('../support/memory-stores.ts');
    const { TargetAdmin } = await import('../../shared/services/targets.ts');
    // Every resource is taken as tagged here; the tag check itself: test/unit/target-ownership.test.ts.
    const { call } = setup({ targets: new TargetAdmin({ targets: new MemoryTargetStore(), ownership: { verify: async () => [] }, releaseQueue: { send: async () => {} } }) });
    const config = { cluster: 'prod', services: { blue: 'web-blue', green: 'web-green' }, targetGroups: { blue: 'tg-b', green: 'tg-g' }, listenerRuleArn: 'rule', desiredCount: 2 };
    const created = await call({ method: 'PUT', path: '/targets/web', body: JSON.stringify(config) });
    assert.equal(created.status, 201);
    assert.equal(created.body.liveColour, 'blue');
    const updated = await call({ method: 'PUT', path: '/targets/web', body: JSON.stringify({ ...config, desiredCount: 3 }) });
    assert.equal(updated.status, 200);
    const list = await call({ method: 'GET', path: '/targets' });
    assert.deepEqual(list.body.items.map((t: { name: string }) => t.name), ['web']);
    const checker = 'arn:aws:lambda:eu-west-1:123456789012:function:web-health-checker';
    const withChecker = await call({ method: 'PUT', path: '/targets/web', body: JSON.stringify({ ...config, healthCheckFunction: checker }) });
    assert.equal(withChecker.body.healthCheckFunction, checker, 'the health checker is registered and shown');
    const notArn = await call({ method: 'PUT', path: '/targets/web', body: JSON.stringify({ ...config, healthCheckFunction: 'http://checker' }) });
    assert.equal(notArn.status, 400);
    assert.deepEqual(notArn.body.problems.map((p: { path: string }) => p.path), ['healthCheckFunction']);
    const bad = await call({ method: 'PUT', path: '/targets/api', body: JSON.stringify({ cluster: '', services: { blue: 'x' }, desiredCount: 0, extra: 1 }) });
    assert.equal(bad.status, 400);
    const paths = bad.body.problems.map((p: { path: string }) => p.path);
    for (const p of ['cluster', 'services.green', 'targetGroups', 'listenerRuleArn', 'desiredCount']) assert.ok(paths.some((x: string) => x.startsWith(p)), `${p} in ${paths.join(', ')}`);
    assert.equal((await call({ method: 'GET', path: '/targets' })).body.items.length, 1, 'nothing written for the bad one');
  });
});

describe('the router', () => {
  test("API Gateway's route key and path parameters are used when the stack declares the route", async () => {
    const { runs } = setup();
    await runs.create(runState());
    const api = new ApiService({ pipelines: new MemoryPipelineStore(), runs, queue: new MemoryEventQueue() });
    const route = createRouter(apiRoutes(api));
    const event = { ...httpEvent({ method: 'GET', path: '/prod/runs/whatever' }), routeKey: 'GET /runs/{id}', pathParameters: { id: RUN_ID } };
    const res = await route(event);
    assert.equal(res.statusCode, 200);
    assert.equal(JSON.parse(res.body).runId, RUN_ID);
  });

  test('unknown paths are 404 and wrong methods 405 with Allow', async () => {
    const { call } = setup();
    assert.equal((await call({ method: 'GET', path: '/nope' })).status, 404);
    // DELETE /pipelines/{id} exists (issue 17); PATCH does not.
    const res = await call({ method: 'PATCH', path: '/pipelines/shop' });
    assert.equal(res.status, 405);
    assert.match(String(res.headers.allow), /PUT/);
    assert.match(String(res.headers.allow), /DELETE/);
  });

  test('an unexpected failure is a plain 500 with the request id and nothing internal', async () => {
    const { call, internal } = setup({ runs: { get: async () => { throw new Error('dynamodb table arn:aws:dynamodb:secret exploded'); } } as never });
    const res = await call({ method: 'GET', path: `/runs/${RUN_ID}`, requestId: 'req-500' });
    assert.equal(res.status, 500);
    assert.deepEqual(res.body, { error: 'InternalError', message: 'internal error', requestId: 'req-500' });
    assert.equal(internal.length, 1);
  });
});
