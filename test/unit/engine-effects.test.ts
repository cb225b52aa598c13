import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attemptToken, type Effect } from '../../shared/domain/run-effects.ts';
import { type RunState } from '../../shared/domain/run.ts';
import { performEffects, releaseImage, type EffectDeps } from '../../shared/services/effects.ts';
import { RetryableError, ValidationError } from '../../shared/domain/errors.ts';
import type { StartReleaseMessage } from '../../shared/ports/messages.ts';
import { FakeBuildRunner } from '../support/fake-build-runner.ts';
import { MemoryEventQueue, MemoryPipelineStore, MemoryReleaseQueue, MemoryRunStore } from '../support/memory-stores.ts';
import { fourJobPipeline } from '../support/engine-fixtures.ts';
import { RecordingNotifier } from '../support/recorders.ts';

const NOW = '2026-11-27T01:00:00.000Z';

function setup() {
  const pipelines = new MemoryPipelineStore();
  const record = pipelines.register('web', fourJobPipeline());
  const runs = new MemoryRunStore();
  const events = new MemoryEventQueue();
  const releases = new MemoryReleaseQueue();
  const builds = new FakeBuildRunner();
  const notifier = new RecordingNotifier();
  const deps: EffectDeps = { pipelines, runs, events, releases, builds, notifier, now: () => NOW };
  return { deps, pipelines, record, runs, events, releases, builds, notifier };
}

function runState(overrides: Partial<RunState> = {}): RunState {
  return {
    runId: 'R1',
    pipelineId: 'web',
    pipelineVersion: 1,
    concurrency: 'superseded',
    trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch: 'main', commit: 'c0ffee' },
    status: 'running',
    jobs: {
      build: { status: 'succeeded', attempt: 1 },
      test: { status: 'succeeded', attempt: 1 },
      image: { status: 'succeeded', attempt: 1, outputs: { imageUri: 'reg.example:5000/acme/web:c0ffee', imageDigest: 'sha256:abc' } },
      deploy: { status: 'queued', attempt: 1 },
    },
    plan: {
      build: { kind: 'build', needs: [], maxAttempts: 1 },
      test: { kind: 'build', needs: ['build'], maxAttempts: 1 },
      image: { kind: 'image', needs: ['test'], maxAttempts: 1 },
      deploy: { kind: 'deploy', needs: ['image'], maxAttempts: 1, target: 'staging' },
    },
    createdAt: NOW,
    updatedAt: NOW,
    version: 3,
    appliedEventIds: [],
    ...overrides,
  };
}

const startBuild = (job: string, attempt = 1): Effect => ({ type: 'StartBuild', runId: 'R1', job, attempt, token: attemptToken('R1', job, attempt) });

test('StartBuild starts the job from the pinned pipeline version and reports JobStarted with a token-derived id', async () => {
  const { deps, builds, events } = setup();
  await performEffects(deps, runState(), [startBuild('build')]);

  assert.equal(builds.startCalls.length, 1);
  const req = builds.startCalls[0];
  assert.equal(req.token, 'R1:build:1');
  assert.equal(req.commit, 'c0ffee');
  assert.equal(req.branch, 'main');
  assert.equal(req.repository, 'acme/web');
  assert.equal(req.provider, 'github');
  assert.deepEqual(req.spec.outputs, ['dist/**', 'package.json']);
  assert.deepEqual(events.sent, [{ type: 'JobStarted', id: 'started:R1:build:1', runId: 'R1', at: NOW, job: 'build', attempt: 1, buildId: 'slipway-small:build-1', compute: 'small' }]);
});

test('repeating StartBuild for one attempt starts one build and reports the same JobStarted', async () => {
  const { deps, builds, events } = setup();
  await performEffects(deps, runState(), [startBuild('build')]);
  await performEffects(deps, runState(), [startBuild('build')]);
  assert.equal(builds.builds.size, 1);
  assert.equal(events.sent[0].id, events.sent[1].id);
  assert.equal(events.size, 1, 'the FIFO queue drops the repeat');
});

test('a retried attempt starts a new build with a new token', async () => {
  const { deps, builds } = setup();
  await performEffects(deps, runState(), [startBuild('build', 1)]);
  await performEffects(deps, runState(), [startBuild('build', 2)]);
  assert.deepEqual([...builds.builds.keys()], ['R1:build:1', 'R1:build:2']);
});

test('a build CodeBuild refuses fails the attempt with the reason instead of retrying forever', async () => {
  const { deps, builds, events } = setup();
  builds.failNextStart = new ValidationError('Invalid buildspec');
  await performEffects(deps, runState(), [startBuild('build')]);
  assert.equal(events.sent.length, 1);
  const e = events.sent[0];
  assert.equal(e.type, 'BuildStateChanged');
  assert.ok(e.type === 'BuildStateChanged' && e.state === 'FAILED' && e.attempt === 1 && /could not be started: Invalid buildspec/.test(e.reason ?? ''));
});

test('a retryable start failure is thrown so the message is redelivered, after the other effects ran', async () => {
  const { deps, builds, events } = setup();
  builds.failNextStart = new RetryableError('throttled');
  await assert.rejects(performEffects(deps, runState(), [startBuild('build'), { type: 'StopBuild', runId: 'R1', job: 'old', buildId: 'b-9' }]), RetryableError);
  assert.deepEqual(builds.stopped, ['b-9']);
  assert.equal(events.sent.length, 0);
});

test('the pinned pipeline version is read once for many effects', async () => {
  const { deps, pipelines } = setup();
  await performEffects(deps, runState(), [startBuild('build'), startBuild('test')]);
  await performEffects(deps, runState(), [startBuild('image')]);
  assert.equal(pipelines.gets, 1);
});

test('StartRelease sends the deploy spec and the image pinned by digest to the release queue', async () => {
  const { deps, releases } = setup();
  await performEffects(deps, runState(), [{ type: 'StartRelease', runId: 'R1', job: 'deploy', attempt: 1, target: 'staging', token: 'R1:deploy:1' }]);
  const m = releases.sent[0] as StartReleaseMessage;
  assert.equal(m.type, 'StartRelease');
  assert.equal(m.image, 'reg.example:5000/acme/web@sha256:abc');
  assert.equal(m.token, 'R1:deploy:1');
  assert.equal(m.pipelineId, 'web');
  assert.equal(m.deploy.target, 'staging');
  assert.equal(m.deploy.strategy, 'blue-green');
});

test('the released image comes from imageFrom, else the nearest image job upstream', () => {
  const state = runState({
    jobs: { ...runState().jobs, test: { status: 'succeeded', attempt: 1, outputs: { imageUri: 'reg/acme/tools:1' } } },
  });
  assert.equal(releaseImage(state, 'deploy'), 'reg.example:5000/acme/web@sha256:abc');
  assert.equal(releaseImage(state, 'deploy', 'test'), 'reg/acme/tools:1');
  assert.equal(releaseImage(state, 'build'), undefined);
});

test('a deploy with no image to release fails its attempt with the reason', async () => {
  const { deps, releases, events } = setup();
  const state = runState({ jobs: { ...runState().jobs, image: { status: 'succeeded', attempt: 1 } } });
  await performEffects(deps, state, [{ type: 'StartRelease', runId: 'R1', job: 'deploy', attempt: 1, target: 'staging', token: 'R1:deploy:1' }]);
  assert.equal(releases.sent.length, 0);
  const e = events.sent[0];
  assert.ok(e.type === 'ReleaseFinished' && e.outcome === 'failed' && /no image to release/.test(e.reason ?? ''));
});

test('StopBuild stops the build and CancelRelease asks the releaser', async () => {
  const { deps, builds, releases } = setup();
  await performEffects(deps, runState(), [
    { type: 'StopBuild', runId: 'R1', job: 'test', buildId: 'slipway-small:b-1' },
    { type: 'CancelRelease', runId: 'R1', job: 'deploy', target: 'staging' },
  ]);
  assert.deepEqual(builds.stopped, ['slipway-small:b-1']);
  assert.deepEqual(releases.sent, [{ type: 'CancelRelease', runId: 'R1', job: 'deploy', target: 'staging' }]);
});

test('approvals and notifications are recorded by the notifier', async () => {
  const { deps, notifier } = setup();
  await performEffects(deps, runState(), [{ type: 'RequestApproval', runId: 'R1', job: 'approve' }, { type: 'Notify', runId: 'R1', kind: 'run_succeeded' }]);
  assert.deepEqual(notifier.sent.map((n) => [n.kind, n.job ?? null, n.commit]), [['approval_requested', 'approve', 'c0ffee'], ['run_succeeded', null, 'c0ffee']]);
});

test('StartQueuedRun dequeues the oldest queued run once nothing else runs', async () => {
  const { deps, runs, events } = setup();
  const base = runState();
  await runs.create({ ...base, runId: 'R1', status: 'running', createdAt: '2026-11-27T01:00:00Z' });
  await runs.create({ ...base, runId: 'R2', status: 'queued', createdAt: '2026-11-27T01:00:01Z' });
  await runs.create({ ...base, runId: 'R3', status: 'queued', createdAt: '2026-11-27T01:00:02Z' });
  await performEffects(deps, base, [{ type: 'StartQueuedRun', pipelineId: 'web', afterRunId: 'R1' }]);
  assert.deepEqual(events.sent, [{ type: 'RunDequeued', id: 'dequeued:R2', runId: 'R2', at: NOW }]);
});

test('StartQueuedRun dequeues nothing while another run is running', async () => {
  const { deps, runs, events } = setup();
  const base = runState();
  await runs.create({ ...base, runId: 'R0', status: 'running', createdAt: '2026-11-27T00:59:00Z' });
  await runs.create({ ...base, runId: 'R2', status: 'queued', createdAt: '2026-11-27T01:00:01Z' });
  await performEffects(deps, base, [{ type: 'StartQueuedRun', pipelineId: 'web', afterRunId: 'R1' }]);
  assert.equal(events.sent.length, 0);
});
