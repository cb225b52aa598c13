/**
 * The reconciler against a faked CodeBuild (aws-sdk-client-mock on BatchGetBuilds),
 * with runs made by the real engine over in-memory stores: each outcome CodeBuild can
 * report, a build it no longer knows, a build that never started, and a stuck release.
 */
import { beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { mockClient } from 'aws-sdk-client-mock';
import { AccountLimitExceededException, BatchGetBuildsCommand, CodeBuildClient, type Build } from '@aws-sdk/client-codebuild';
import { describeBuilds } from '../../shared/aws/codebuild-runner.ts';
import { decide } from '../../shared/domain/decide.ts';
import type { BuildStateChanged, EngineEvent } from '../../shared/domain/run-events.ts';
import type { RunState } from '../../shared/domain/run.ts';
import { handleEngineMessage, type EngineDeps } from '../../shared/services/run-engine.ts';
import { toBuildStateChanged } from '../../shared/services/build-events.ts';
import { asStateChangeEvent } from '../../shared/aws/codebuild-runner.ts';
import { METRIC } from '../../shared/ports/metrics.ts';
import { overdueJobs, reconcile, type ReconcilerDeps } from '../../shared/services/reconciler.ts';
import { RetryableError } from '../../shared/domain/errors.ts';
import type { EngineMessage, RunRequest } from '../../shared/ports/messages.ts';
import { FakeBuildRunner } from '../support/fake-build-runner.ts';
import { MemoryEventQueue, MemoryPipelineStore, MemoryReleaseQueue, MemoryRunStore } from '../support/memory-stores.ts';
import { deployJob, imageJob, jobSpec, pipelineSpec } from '../support/engine-fixtures.ts';
import { RecordingMetrics, RecordingNotifier } from '../support/recorders.ts';

const codebuild = mockClient(CodeBuildClient);
const client = new CodeBuildClient({ region: 'eu-west-1' });
beforeEach(() => codebuild.reset());

const T0 = Date.UTC(2026, 10, 27, 1, 0, 0);
const minutes = (n: number) => new Date(T0 + n * 60_000);

/** A pipeline whose only job is `job` (timeout 30 minutes), a run of it started by the engine, its build started. */
async function startedRun(job = jobSpec('build', { timeoutMinutes: 30 }), opts: { startBuilds?: boolean; trigger?: Partial<RunRequest['trigger']> } = {}) {
  const pipelines = new MemoryPipelineStore();
  const runs = new MemoryRunStore();
  const events = new MemoryEventQueue();
  const builds = new FakeBuildRunner();
  pipelines.register('web', pipelineSpec([job]));
  const engine: EngineDeps = { pipelines, runs, events, releases: new MemoryReleaseQueue(), builds, notifier: new RecordingNotifier(), decide, now: () => minutes(0).toISOString() };
  const request: RunRequest = {
    type: 'RunRequest', id: 'req:R1', runId: 'R1', pipelineId: 'web', at: minutes(0).toISOString(),
    trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch: 'main', commit: 'c0ffee', ...opts.trigger },
  };
  await handleEngineMessage(engine, request);
  if (opts.startBuilds !== false) {
    let m: EngineMessage | undefined;
    while ((m = events.take()) !== undefined) await handleEngineMessage(engine, m);
  } else {
    while (events.take() !== undefined); // the JobStarted (and so the build id) is lost
  }
  const sent = new MemoryEventQueue();
  const metrics = new RecordingMetrics();
  const deps = (now: Date): ReconcilerDeps => ({ pipelines, runs, events: sent, builds: (ids) => describeBuilds(client, ids), metrics, now: () => now });
  const deliver = async () => {
    let m: EngineMessage | undefined;
    while ((m = sent.take()) !== undefined) await handleEngineMessage(engine, m);
    return runs.get('R1');
  };
  return { runs, builds, sent, metrics, deps, deliver, run: () => runs.get('R1') };
}

function build(run: RunState, job: string, fields: Partial<Build>): Build {
  const j = run.jobs[job]!;
  return {
    id: j.buildId!,
    arn: `arn:aws:codebuild:eu-west-1:123456789012:build/${j.buildId}`,
    projectName: 'slipway-small',
    environment: { type: 'LINUX_CONTAINER', image: 'std', computeType: 'BUILD_GENERAL1_SMALL', environmentVariables: [
      { name: 'SLIPWAY_RUN_ID', value: run.runId, type: 'PLAINTEXT' },
      { name: 'SLIPWAY_JOB', value: job, type: 'PLAINTEXT' },
      { name: 'SLIPWAY_ATTEMPT', value: String(j.attempt), type: 'PLAINTEXT' },
    ] },
    endTime: minutes(10),
    ...fields,
  };
}

const sentEvents = (q: MemoryEventQueue) => q.sent as EngineEvent[];

test('a build that succeeded while its event was lost is moved to succeeded, with the id the event path uses', async () => {
  const env = await startedRun();
  const run = await env.run();
  assert.equal(run.jobs.build!.status, 'running');
  codebuild.on(BatchGetBuildsCommand).resolves({ builds: [build(run, 'build', { buildStatus: 'SUCCEEDED', phases: [{ phaseType: 'BUILD', phaseStatus: 'SUCCEEDED' }] })] });

  const report = await reconcile(env.deps(minutes(51)));

  assert.equal(report.checked, 1);
  const [event] = sentEvents(env.sent) as BuildStateChanged[];
  assert.equal(event!.id, `build:${run.jobs.build!.buildId}:SUCCEEDED`);
  assert.deepEqual(codebuild.commandCalls(BatchGetBuildsCommand)[0]!.args[0].input, { ids: [run.jobs.build!.buildId] });
  const after = await env.deliver();
  assert.equal(after.jobs.build!.status, 'succeeded');
  assert.equal(after.status, 'succeeded');
  assert.equal(env.metrics.sum(METRIC.reconciledJobs), 1);
});

test('the event the reconciler sends equals the one build-events would have sent for the same build', async () => {
  const env = await startedRun();
  const run = await env.run();
  const b = build(run, 'build', { buildStatus: 'FAILED', phases: [{ phaseType: 'BUILD', phaseStatus: 'FAILED', contexts: [{ statusCode: 'COMMAND_EXECUTION_ERROR', message: 'exit status 1' }] }] });
  codebuild.on(BatchGetBuildsCommand).resolves({ builds: [b] });
  await reconcile(env.deps(minutes(51)));
  const fromEventPath = await toBuildStateChanged(asStateChangeEvent(b));
  assert.deepEqual(sentEvents(env.sent)[0], fromEventPath);
});

test('a failed build fails the job with CodeBuild\'s reason', async () => {
  const env = await startedRun();
  const run = await env.run();
  codebuild.on(BatchGetBuildsCommand).resolves({ builds: [build(run, 'build', { buildStatus: 'FAILED', phases: [{ phaseType: 'BUILD', phaseStatus: 'FAILED', contexts: [{ statusCode: 'COMMAND_EXECUTION_ERROR', message: 'npm test: exit status 1' }] }] })] });
  await reconcile(env.deps(minutes(51)));
  const after = await env.deliver();
  assert.equal(after.jobs.build!.status, 'failed');
  assert.match(after.jobs.build!.reason!, /BUILD phase failed: COMMAND_EXECUTION_ERROR: npm test: exit status 1/);
  assert.equal(after.status, 'failed');
});

test('a timed-out build is reported as TIMED_OUT', async () => {
  const env = await startedRun();
  const run = await env.run();
  codebuild.on(BatchGetBuildsCommand).resolves({ builds: [build(run, 'build', { buildStatus: 'TIMED_OUT' })] });
  await reconcile(env.deps(minutes(51)));
  assert.equal((sentEvents(env.sent)[0] as BuildStateChanged).state, 'TIMED_OUT');
  assert.match((await env.deliver()).jobs.build!.reason!, /timed out/);
});

test('a stopped build is reported as STOPPED', async () => {
  const env = await startedRun();
  const run = await env.run();
  codebuild.on(BatchGetBuildsCommand).resolves({ builds: [build(run, 'build', { buildStatus: 'STOPPED' })] });
  await reconcile(env.deps(minutes(51)));
  assert.equal((sentEvents(env.sent)[0] as BuildStateChanged).state, 'STOPPED');
  assert.equal((await env.deliver()).jobs.build!.status, 'failed');
});

test('a build still in progress is left alone: nothing is sent', async () => {
  const env = await startedRun();
  const run = await env.run();
  codebuild.on(BatchGetBuildsCommand).resolves({ builds: [build(run, 'build', { buildStatus: 'IN_PROGRESS', endTime: undefined })] });
  const report = await reconcile(env.deps(minutes(51)));
  assert.equal(report.checked, 1);
  assert.equal(report.stillRunning, 1);
  assert.equal(env.sent.sent.length, 0);
  assert.equal(env.metrics.sum(METRIC.reconciledJobs), 0);
});

test('a build CodeBuild no longer knows faults the job, saying so', async () => {
  const env = await startedRun();
  const run = await env.run();
  codebuild.on(BatchGetBuildsCommand).resolves({ builds: [], buildsNotFound: [run.jobs.build!.buildId!] });
  await reconcile(env.deps(minutes(51)));
  const [event] = sentEvents(env.sent) as BuildStateChanged[];
  assert.equal(event!.state, 'FAULT');
  assert.equal(event!.id, `build:${run.jobs.build!.buildId}:FAULT`);
  const after = await env.deliver();
  assert.equal(after.jobs.build!.status, 'failed');
  assert.match(after.jobs.build!.reason!, /CodeBuild no longer knows build/);
});

test('a job is not checked before its timeout plus the margin has passed', async () => {
  const env = await startedRun();
  // 30-minute timeout + 20-minute margin: at 49 minutes nothing is asked.
  const report = await reconcile(env.deps(minutes(49)));
  assert.equal(report.checked, 0);
  assert.equal(codebuild.commandCalls(BatchGetBuildsCommand).length, 0);
});

test('a late real event after the reconciler\'s collapses into it: the job ends once', async () => {
  const env = await startedRun(jobSpec('build', { timeoutMinutes: 30, retries: 1 }));
  const run = await env.run();
  const b = build(run, 'build', { buildStatus: 'FAILED' });
  codebuild.on(BatchGetBuildsCommand).resolves({ builds: [b] });
  await reconcile(env.deps(minutes(51)));
  const late = (await toBuildStateChanged(asStateChangeEvent(b)))!;
  await env.sent.send([late]); // the real event, arriving late
  const after = await env.deliver();
  // One failure, one retry: attempt 2 running, not a second failure on top.
  assert.equal(after.jobs.build!.attempt, 2);
  assert.equal(after.jobs.build!.status, 'queued');
});

test('a job queued with no build id past the margin faults: the build never started', async () => {
  const env = await startedRun(jobSpec('build', { timeoutMinutes: 30 }), { startBuilds: false });
  assert.equal((await env.run()).jobs.build!.status, 'queued');
  assert.equal((await reconcile(env.deps(minutes(19)))).sent.length, 0);

  const report = await reconcile(env.deps(minutes(21)));

  assert.deepEqual(report.sent.map((s) => s.why), ['never started']);
  assert.equal(codebuild.commandCalls(BatchGetBuildsCommand).length, 0);
  const after = await env.deliver();
  assert.equal(after.jobs.build!.status, 'failed');
  assert.match(after.jobs.build!.reason!, /the build never started/);
});

test('an image job\'s outputs come from the build\'s exported variables', async () => {
  const env = await startedRun(imageJob('image', { timeoutMinutes: 30 }));
  const run = await env.run();
  codebuild.on(BatchGetBuildsCommand).resolves({ builds: [build(run, 'image', {
    buildStatus: 'SUCCEEDED',
    exportedEnvironmentVariables: [{ name: 'imageUri', value: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/slipway/web:c0ffee' }, { name: 'imageDigest', value: 'sha256:abc' }],
  })] });
  await reconcile(env.deps(minutes(51)));
  const after = await env.deliver();
  assert.equal(after.jobs.image!.outputs?.imageDigest, 'sha256:abc');
});

test('a deploy job past its timeout is reported, never changed: the releaser owns it', async () => {
  // The release never reports back (its messages are dropped here): the deploy job stays queued.
  const env = await startedRun(deployJob('deploy', { timeoutMinutes: 30 }), { startBuilds: false });
  assert.equal((await env.run()).jobs.deploy!.status, 'queued');
  const report = await reconcile(env.deps(minutes(51)));
  assert.deepEqual(report.stuckReleases, [{ runId: 'R1', job: 'deploy', target: 'staging' }]);
  assert.equal(env.sent.sent.length, 0);
  assert.equal(env.metrics.sum(METRIC.stuckReleases), 1);
});

test('an approval nobody answered within its timeout is rejected on the run\'s behalf, once', async () => {
  const env = await startedRun(jobSpec('approve', { kind: 'approval', approval: { approvers: [], timeoutMinutes: 120 } }));
  assert.equal((await env.run()).jobs.approve!.status, 'waiting_approval');
  assert.deepEqual((await reconcile(env.deps(minutes(119)))).expiredApprovals, [], 'not before its own timeout (not a build timeout)');

  const report = await reconcile(env.deps(minutes(121)));

  assert.deepEqual(report.expiredApprovals, [{ runId: 'R1', job: 'approve' }]);
  const after = await env.deliver();
  assert.equal(after.jobs.approve!.status, 'failed');
  assert.match(after.jobs.approve!.reason!, /rejected by slipway \(timeout\): no answer within 120 minutes/);
  assert.equal(after.status, 'failed');
  const sentBefore = env.sent.sent.length;
  await reconcile(env.deps(minutes(200)));
  assert.equal(env.sent.sent.length, sentBefore, 'an ended run is not reconciled again');
});

test("the approval in front of a fork's run waits a week, not a build timeout, before it is rejected", async () => {
  const fork = { event: 'pull_request' as const, pullRequest: 9, trust: 'untrusted' as const, fork: true, baseCommit: 'base' };
  const env = await startedRun(jobSpec('test', { timeoutMinutes: 30 }), { trigger: fork });
  assert.equal((await env.run()).jobs['fork-approval']!.status, 'waiting_approval');
  assert.deepEqual((await reconcile(env.deps(minutes(24 * 60)))).expiredApprovals, [], 'a day later it still waits');
  const report = await reconcile(env.deps(minutes(7 * 24 * 60 + 1)));
  assert.deepEqual(report.expiredApprovals, [{ runId: 'R1', job: 'fork-approval' }]);
  const after = await env.deliver();
  assert.equal(after.jobs.test!.status, 'skipped');
});

test('BatchGetBuilds is asked at most 100 builds at a time', async () => {
  codebuild.on(BatchGetBuildsCommand).callsFake((input: { ids: string[] }) => ({ buildsNotFound: input.ids }));
  const ids = Array.from({ length: 250 }, (_, i) => `slipway-small:${i}`);
  const found = await describeBuilds(client, ids);
  assert.deepEqual(codebuild.commandCalls(BatchGetBuildsCommand).map((c) => c.args[0].input.ids!.length), [100, 100, 50]);
  assert.equal(found.size, 250);
  assert.equal(found.get('slipway-small:7'), null);
});

test('a throttled BatchGetBuilds fails the pass as retryable and sends nothing', async () => {
  const env = await startedRun();
  codebuild.on(BatchGetBuildsCommand).rejects(new AccountLimitExceededException({ message: 'slow down', $metadata: { httpStatusCode: 400 } }));
  await assert.rejects(reconcile(env.deps(minutes(51))), RetryableError);
  assert.equal(env.sent.sent.length, 0);
});

test('a pipeline whose runs cannot be read is reported and the others are still reconciled', async () => {
  const env = await startedRun();
  const run = await env.run();
  codebuild.on(BatchGetBuildsCommand).resolves({ builds: [build(run, 'build', { buildStatus: 'SUCCEEDED' })] });
  const base = env.deps(minutes(51));
  const pipelines = {
    get: base.pipelines.get.bind(base.pipelines),
    list: async () => ({ items: [{ ...(await base.pipelines.get('web')), id: 'broken' }, await base.pipelines.get('web')] }),
  };
  const runs = {
    get: base.runs.get.bind(base.runs),
    listActive: async (id: string) => { if (id === 'broken') throw new Error('boom'); return base.runs.listActive(id); },
  };
  const report = await reconcile({ ...base, pipelines, runs });
  assert.deepEqual(report.errors, [{ where: 'pipeline broken', error: 'boom' }]);
  assert.equal(report.sent.length, 1);
});

test('overdueJobs: only running runs, and "no news" counts from the run\'s last change', () => {
  const run = {
    runId: 'R', pipelineId: 'p', pipelineVersion: 1, concurrency: 'parallel', status: 'running',
    trigger: { event: 'push', commit: 'c' }, createdAt: minutes(0).toISOString(), updatedAt: minutes(40).toISOString(),
    plan: { a: { kind: 'build', needs: [], maxAttempts: 1 } },
    jobs: { a: { status: 'running', attempt: 1, buildId: 'p:1' } },
    version: 3, appliedEventIds: [],
  } as RunState;
  assert.equal(overdueJobs(run, () => 30, minutes(89)).length, 0);
  assert.equal(overdueJobs(run, () => 30, minutes(91)).length, 1);
  assert.equal(overdueJobs({ ...run, status: 'queued' }, () => 30, minutes(500)).length, 0);
});

test('a queued-mode pipeline with a queued run and nothing running gets its next run started', async () => {
  const pipelines = new MemoryPipelineStore();
  const runs = new MemoryRunStore();
  const events = new MemoryEventQueue();
  pipelines.register('web', pipelineSpec([jobSpec('a')], { concurrency: 'queued' }));
  const engine: EngineDeps = { pipelines, runs, events, releases: new MemoryReleaseQueue(), builds: new FakeBuildRunner(), notifier: new RecordingNotifier(), decide, now: () => minutes(0).toISOString() };
  const request = (runId: string, at: Date): RunRequest => ({
    type: 'RunRequest', id: `req:${runId}`, runId, pipelineId: 'web', at: at.toISOString(),
    trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch: 'main', commit: 'c0ffee' },
  });
  await handleEngineMessage(engine, request('R1', minutes(0)));
  await handleEngineMessage(engine, request('R2', minutes(1)));
  while (events.take() !== undefined); // R2's own dequeue check ran while R1 was running: nothing
  const sent = new MemoryEventQueue();
  const deps: ReconcilerDeps = { pipelines, runs, events: sent, builds: async () => new Map(), now: () => minutes(10) };

  const whileRunning = await reconcile(deps);
  assert.deepEqual(whileRunning.dequeued, [], 'nothing is started while R1 runs');

  // R1 ends, but its StartQueuedRun never saw R2 (index lag): R2 waits with nothing running.
  const r1 = runs.items.get('R1')!;
  runs.items.set('R1', { ...r1, status: 'succeeded', finishedAt: minutes(2).toISOString() });
  const report = await reconcile(deps);
  assert.deepEqual(report.dequeued, ['R2']);
  let m: EngineMessage | undefined;
  while ((m = sent.take()) !== undefined) await handleEngineMessage(engine, m);
  assert.equal((await runs.get('R2')).status, 'running');
  assert.deepEqual((await reconcile(deps)).dequeued, [], 'once R2 runs, nothing more');
});
