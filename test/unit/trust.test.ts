/**
 * Who a run is trusted as, what that lets it run, and who may approve: the pure
 * rules of the trust issue (plan.ts, principals.ts, run.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planRun } from '../../shared/domain/plan.ts';
import { isApprover, parseApprover } from '../../shared/domain/principals.ts';
import { buildLaneOf, definitionCommitOf, trustOf, type Trigger } from '../../shared/domain/run.ts';
import { deployJob, imageJob, jobSpec, pipelineSpec } from '../support/engine-fixtures.ts';

const push: Trigger = { event: 'push', provider: 'github', repository: 'acme/web', branch: 'main', commit: 'c1', trust: 'trusted' };
const samePr: Trigger = { event: 'pull_request', provider: 'github', repository: 'acme/web', branch: 'main', commit: 'c2', pullRequest: 3, trust: 'trusted', fork: false, baseCommit: 'b1' };
const forkPr: Trigger = { ...samePr, trust: 'untrusted', fork: true, headRepository: 'mallory/web' };

test('trust and lanes: push, tag and manual are release runs; a same-repository pull request is trusted in its own lane; a fork is untrusted', () => {
  assert.deepEqual([push, samePr, forkPr].map((t) => [trustOf(t), buildLaneOf(t)]), [['trusted', 'release'], ['trusted', 'pull-request'], ['untrusted', 'fork']]);
  assert.equal(trustOf({ fork: true, trust: 'trusted' }), 'untrusted', 'a fork is untrusted whatever a record says');
  assert.equal(trustOf({}), 'trusted');
});

test("the definition of a fork's run comes from the target branch: the base commit, else the branch, never the fork's commit", () => {
  assert.equal(definitionCommitOf(push), 'c1');
  assert.equal(definitionCommitOf(samePr), 'c2');
  assert.equal(definitionCommitOf(forkPr), 'b1');
  const { baseCommit: _omit, ...gitlabFork } = forkPr;
  assert.equal(definitionCommitOf(gitlabFork), 'main');
});

test('pull-request runs skip image, deploy and approval jobs unless a job opts in for same-repository pull requests; forks never', () => {
  const spec = pipelineSpec([
    jobSpec('test'),
    imageJob('image', { needs: ['test'] }),
    imageJob('preview-image', { needs: ['test'], pullRequests: 'same-repository' }),
    deployJob('preview', { needs: ['preview-image'], pullRequests: 'same-repository' }),
    jobSpec('approve', { kind: 'approval', needs: ['test'], approval: { approvers: [], timeoutMinutes: 60 } }),
  ]);
  const skipped = (t: Trigger) => planRun(spec, t, { forks: 'build' }).skippedByWhen;
  assert.deepEqual(skipped(push), []);
  assert.deepEqual(skipped(samePr), ['image', 'approve']);
  assert.deepEqual(skipped(forkPr), ['image', 'preview-image', 'preview', 'approve']);
  const reasons = planRun(spec, forkPr, { forks: 'build' }).skipReasons;
  assert.match(reasons.preview, /a pull request from a fork never runs deploy jobs/);
});

test("when.branches means pushes to those branches: a pull request into main does not run a 'main only' job unless when.events lists pull_request", () => {
  const spec = pipelineSpec([
    jobSpec('everywhere'),
    jobSpec('main-only', { when: { branches: ['main'], tags: [], events: [] } }),
    jobSpec('main-and-prs', { when: { branches: ['main'], tags: [], events: ['push', 'pull_request'] } }),
  ]);
  assert.deepEqual(planRun(spec, push).skippedByWhen, []);
  const pr = planRun(spec, samePr);
  assert.deepEqual(pr.skippedByWhen, ['main-only']);
  assert.match(pr.skipReasons['main-only'], /names pushes to those branches, not pull requests into them; add pull_request to when.events/);
});

test('approve-first puts one approval in front of every job of a fork run that may run; other runs get none', () => {
  const spec = pipelineSpec([jobSpec('lint'), jobSpec('test'), jobSpec('pack', { needs: ['lint', 'test'] })]);
  const gated = planRun(spec, forkPr, { forks: 'approve-first' });
  assert.deepEqual(Object.keys(gated.plan), ['fork-approval', 'lint', 'test', 'pack']);
  assert.deepEqual(gated.plan['fork-approval'], { kind: 'approval', needs: [], maxAttempts: 1 });
  assert.deepEqual([gated.plan.lint.needs, gated.plan.test.needs, gated.plan.pack.needs], [['fork-approval'], ['fork-approval'], ['lint', 'test']]);
  assert.equal(planRun(spec, samePr, { forks: 'approve-first' }).plan['fork-approval'], undefined);
  assert.equal(planRun(spec, forkPr, { forks: 'build' }).plan['fork-approval'], undefined);
  assert.deepEqual(planRun(spec, forkPr, { forks: 'skip' }).skippedByWhen, ['lint', 'test', 'pack']);
  assert.deepEqual(Object.keys(planRun(spec, forkPr).plan)[0], 'fork-approval', 'approve-first is the default');
});

test('approvers: IAM users, any session of a named role, Identity Center users; never a session name the caller picked', () => {
  const approvers = [
    'arn:aws:iam::123456789012:user/alice',
    'arn:aws:iam::123456789012:role/teams/Releasers',
    'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Deployers_0a1b2c3d4e5f6a7b/carol@acme.example',
  ];
  const cases: Array<[string, boolean]> = [
    ['arn:aws:iam::123456789012:user/alice', true],
    ['arn:aws:iam::123456789012:user/ALICE', true],
    ['arn:aws:iam::123456789012:user/ops/alice', true],
    ['arn:aws:iam::999999999999:user/alice', false],
    ['arn:aws:sts::123456789012:assumed-role/Releasers/anyone', true],
    ['arn:aws:sts::123456789012:assumed-role/Deployer/alice', false],
    ['arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Deployers_0a1b2c3d4e5f6a7b/carol@acme.example', true],
    ['arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Deployers_0a1b2c3d4e5f6a7b/Carol@acme.example', false],
    ['arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admins_ffffffffffffffff/carol@acme.example', false],
    ['alice', false],
    ['unknown', false],
  ];
  for (const [caller, expected] of cases) assert.equal(isApprover(approvers, caller), expected, caller);
  assert.equal(parseApprover('arn:aws:sts::123456789012:assumed-role/Deployer/alice').ok, false);
  assert.equal(isApprover(['alice@acme.example'], 'arn:aws:sts::123456789012:assumed-role/Deployer/alice@acme.example'), false, 'a plain name never grants');
});

test('provenance reads as one line: where the code comes from, who caused it, and the trust level', async () => {
  const { describeProvenance } = await import('../../shared/domain/run.ts');
  assert.equal(describeProvenance({ ...forkPr, sourceBranch: 'feature', author: 'mallory' }), 'pull request #3 from fork mallory/web (feature) into main by mallory: untrusted');
  assert.equal(describeProvenance({ ...samePr, sourceBranch: 'fix' }), 'pull request #3 from this repository (fix) into main: trusted');
  assert.equal(describeProvenance({ ...push, author: 'octocat' }), 'push to main by octocat: trusted');
  const { runView } = await import('../../cli/format.ts');
  const view = runView({ runId: 'R1', pipelineId: 'web', pipelineVersion: 1, concurrency: 'superseded', trigger: { ...forkPr, author: 'mallory' }, status: 'running', jobs: {}, plan: {}, createdAt: '2026-11-30T00:00:00Z', updatedAt: '2026-11-30T00:00:00Z', version: 1, appliedEventIds: [] });
  assert.match(view, /pull request #3 from fork mallory\/web into main by mallory: untrusted/, 'slipway status shows it');
});

test("a repository-defined pipeline enforces the approvers of the file the run uses; without a way to read it, nobody approves", async () => {
  const { ApiService } = await import('../../shared/services/api-service.ts');
  const { MemoryEventQueue, MemoryPipelineStore, MemoryRunStore } = await import('../support/memory-stores.ts');
  const pipelines = new MemoryPipelineStore();
  const runs = new MemoryRunStore();
  const queue = new MemoryEventQueue();
  const record = pipelines.register('web', pipelineSpec([jobSpec('registered')]));
  record.definitionSource = { kind: 'repository', path: '.slipway.yml' };
  pipelines.records.set('web', [record]);
  const file = pipelineSpec([jobSpec('approve', { kind: 'approval', approval: { approvers: ['arn:aws:iam::123456789012:user/alice'], timeoutMinutes: 60 } })]);
  await runs.create({
    runId: 'R1', pipelineId: 'web', pipelineVersion: 1, concurrency: 'superseded', trigger: push, status: 'running',
    jobs: { approve: { status: 'waiting_approval', attempt: 1 } }, plan: { approve: { kind: 'approval', needs: [], maxAttempts: 1 } },
    createdAt: '2026-11-30T00:00:00Z', updatedAt: '2026-11-30T00:00:00Z', version: 1, appliedEventIds: [],
  });
  const reads: string[] = [];
  const api = new ApiService({ pipelines, runs, queue, resolveDefinition: async (_r, t) => { reads.push(t.commit); return file; } });
  const as = (by: string) => api.answerApproval('R1', 'approve', 'approve', { by, requestId: 'q' });
  await assert.rejects(as('arn:aws:iam::123456789012:user/bob'), (e: Error) => e.name === 'ForbiddenError' && /may be approved or rejected only by: arn:aws:iam::123456789012:user\/alice/.test(e.message));
  await as('arn:aws:iam::123456789012:user/alice');
  assert.deepEqual(reads, ['c1', 'c1'], "read at the run's commit");
  assert.equal((queue.sent[0] as { by: string }).by, 'arn:aws:iam::123456789012:user/alice');
  const blind = new ApiService({ pipelines, runs, queue: new MemoryEventQueue() });
  await assert.rejects(blind.answerApproval('R1', 'approve', 'approve', { by: 'arn:aws:iam::123456789012:user/alice', requestId: 'q' }), (e: Error) => e.name === 'RetryableError');
});
