/**
 * Carries out the effects `decide` returned, over the ports. Every effect is
 * safe to repeat: a redelivered event replays the effects of its first
 * application (applyEvent's outbox), so a crash between "saved" and "effects
 * done" is repaired without starting anything twice.
 *
 * - StartBuild: BuildRunner.start with the attempt token (CodeBuild returns the
 *   same build for the same token), then `JobStarted` on the engine queue with an
 *   id derived from the token. A build CodeBuild refuses outright (ValidationError)
 *   becomes a failed attempt with the reason, so the run shows why instead of
 *   waiting forever.
 *   A replay from the outbox (a redelivery) first looks at the run as it is now:
 *   an attempt that has a build, or has moved on (ended, retried, cancelled),
 *   starts nothing, however long after the first try. CodeBuild honours a token
 *   for 5 minutes only, so a replay later than TOKEN_TRUST_MS after the first try
 *   asks the runner for a build of the attempt (`find`) before starting one.
 * - StopBuild: BuildRunner.stop (stopping an ended build is a no-op).
 * - StartRelease / CancelRelease: messages on the release queue; the releaser
 *   dedupes StartRelease by its token. The image comes from the image job's
 *   outputs (the deploy's `imageFrom`, else the nearest image job upstream).
 * - RequestApproval / Notify: handed to a Notifier. In AWS and the local mode
 *   it is the QueueNotifier (shared/notify/queue-notifier.ts): one message on the
 *   notifications queue, delivered by functions/notifier.ts, so a slow or dead
 *   endpoint never holds up or fails the run.
 * - StartQueuedRun: lists the pipeline's active runs and dequeues the next one.
 */
import { notificationSecrets, secretNameProblems } from '../domain/secret-names.ts';
import { nextQueued } from '../domain/concurrency.ts';
import type { JobSpec, PipelineSpec } from '../domain/pipeline.ts';
import { buildLaneOf, definitionCommitOf, trustOf, type RunState, type Trigger } from '../domain/run.ts';
import { cacheScope, defaultBranchOf } from '../domain/dependency-cache.ts';
import { computeLabel } from '../domain/compute.ts';
import { type BuildStateChanged, type JobStarted, type ReleaseFinished, type RunDequeued } from '../domain/run-events.ts';
import { type Effect, type NotifyKind } from '../domain/run-effects.ts';
import { ValidationError } from '../domain/errors.ts';
import type { StartReleaseMessage } from '../ports/messages.ts';
import type { Notification, Notifier } from '../ports/notify.ts';
import type { BuildRequest, BuildRunner, EventQueue, PipelineRecord, PipelineStore, ReleaseQueue, RunStore } from '../ports/index.ts';

export interface EffectDeps {
  pipelines: Pick<PipelineStore, 'get'>;
  runs: Pick<RunStore, 'listActive'>;
  events: EventQueue;
  releases: ReleaseQueue;
  builds: BuildRunner;
  notifier: Notifier;
  /**
   * The definition a run uses when its pipeline keeps it in the repository
   * (`definitionSource.kind === 'repository'`): read at the run's commit and
   * validated; throws ValidationError with the problems. Without it, such
   * pipelines run their registered definition.
   */
  resolveDefinition?: (record: PipelineRecord, trigger: Trigger) => Promise<PipelineSpec>;
  /** ISO-8601 now, for the `at` of events the effects emit. @default the system clock */
  now?: () => string;
  logger?: Pick<Console, 'info' | 'warn'>;
}

/**
 * How long after the first StartBuild for a token a repeat may rely on the token
 * alone. CodeBuild keeps a token for 5 minutes ("The token is included in the
 * StartBuild request and is valid for 5 minutes",
 * https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html);
 * a minute less covers clock skew and the call's own latency.
 */
export const TOKEN_TRUST_MS = 4 * 60_000;

/** What performEffects knows about a replay from the outbox. */
export interface Replay {
  /** ISO-8601: when the effects were first tried. Unknown: assume long ago. */
  firstTriedAt?: string;
}

/**
 * Performs every effect; independent effects run concurrently. If any fails, the
 * first error is thrown after all have settled, so a redelivery repeats the lot
 * (each one idempotent) rather than stopping halfway on an arbitrary one.
 */
export async function performEffects(deps: EffectDeps, state: RunState, effects: readonly Effect[], replay?: Replay): Promise<void> {
  if (effects.length === 0) return;
  const pipeline = lazyPipeline(deps, state);
  const wanted = replay === undefined ? effects : effects.filter((effect) => stillWanted(deps, state, effect));
  const results = await Promise.allSettled(wanted.map((effect) => performEffect(deps, state, effect, pipeline, replay)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * A replayed start is wanted only while the run still waits for it: the same
 * attempt, still queued, with no build (or release) recorded. Everything else
 * is safe to repeat as it is.
 */
function stillWanted(deps: EffectDeps, state: RunState, effect: Effect): boolean {
  if (effect.type !== 'StartBuild' && effect.type !== 'StartRelease') return true;
  const job = state.jobs[effect.job];
  const wanted = state.status === 'running' && job !== undefined && job.attempt === effect.attempt && job.status === 'queued' && job.buildId === undefined;
  if (!wanted) {
    deps.logger?.info('replayed start skipped: the attempt has a build or has moved on', {
      runId: effect.runId, job: effect.job, attempt: effect.attempt, type: effect.type, jobStatus: job?.status, currentAttempt: job?.attempt,
    });
  }
  return wanted;
}

async function performEffect(deps: EffectDeps, state: RunState, effect: Effect, pipeline: () => Promise<PipelineSpec>, replay?: Replay): Promise<void> {
  const now = deps.now ?? (() => new Date().toISOString());
  switch (effect.type) {
    case 'StartBuild':
      return startBuild(deps, state, effect, pipeline, now, replay);
    case 'StopBuild':
      return deps.builds.stop(effect.buildId);
    case 'StartRelease':
      return startRelease(deps, state, effect, pipeline, now);
    case 'CancelRelease':
      return deps.releases.send({ type: 'CancelRelease', runId: effect.runId, job: effect.job, target: effect.target });
    case 'RequestApproval':
      return deps.notifier.notify(notification(state, 'approval_requested', effect.job));
    case 'Notify':
      return deps.notifier.notify(notification(state, effect.kind, effect.job));
    case 'StartQueuedRun': {
      const next = nextQueued(await deps.runs.listActive(effect.pipelineId), effect.afterRunId);
      if (next === undefined) return;
      const dequeued: RunDequeued = { type: 'RunDequeued', id: `dequeued:${next}`, runId: next, at: now() };
      await deps.events.send([dequeued]);
      deps.logger?.info('queued run dequeued', { runId: next, after: effect.afterRunId });
      return;
    }
    default:
      effect satisfies never;
  }
}

async function startBuild(deps: EffectDeps, state: RunState, effect: Extract<Effect, { type: 'StartBuild' }>, pipeline: () => Promise<PipelineSpec>, now: () => string, replay?: Replay): Promise<void> {
  let buildId: string;
  let compute: string;
  try {
    const definition = await pipeline();
    const spec = jobOf(definition, effect.job, state);
    const { source } = definition;
    const request: BuildRequest = {
      runId: effect.runId,
      pipelineId: state.pipelineId,
      job: effect.job,
      attempt: effect.attempt,
      token: effect.token,
      commit: state.trigger.commit,
      ...(state.trigger.branch !== undefined ? { branch: state.trigger.branch } : {}),
      repository: state.trigger.repository ?? source.repository,
      provider: state.trigger.provider ?? source.provider,
      ...(source.connection ? { connection: source.connection } : {}),
      spec,
      ...(state.trigger.parameters ? { parameters: state.trigger.parameters } : {}),
      lane: buildLaneOf(state.trigger),
      cache: cacheScope(state.trigger, defaultBranchOf(definition)),
    };
    const found = replay !== undefined ? await findEarlierBuild(deps, request, replay, now, state.createdAt) : undefined;
    if (found !== undefined) deps.logger?.info('replayed StartBuild found the build the first try started', { runId: effect.runId, job: effect.job, attempt: effect.attempt, buildId: found.buildId });
    const out: { buildId: string; compute?: string } = found ?? await deps.builds.start(request);
    buildId = out.buildId;
    compute = out.compute ?? computeLabel(spec);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    // Retrying cannot help: record the attempt as failed, with CodeBuild's words.
    const failed: BuildStateChanged = {
      type: 'BuildStateChanged',
      id: `build-refused:${effect.token}`,
      runId: effect.runId,
      at: now(),
      job: effect.job,
      attempt: effect.attempt,
      buildId: `not-started:${effect.token}`,
      state: 'FAILED',
      reason: `the build could not be started: ${err.message}`,
    };
    deps.logger?.warn('build refused; the attempt fails', { runId: effect.runId, job: effect.job, attempt: effect.attempt, error: err.message });
    await deps.events.send([failed]);
    return;
  }
  const started: JobStarted = { type: 'JobStarted', id: `started:${effect.token}`, runId: effect.runId, at: now(), job: effect.job, attempt: effect.attempt, buildId, compute };
  await deps.events.send([started]);
}

/**
 * Past the token's window, the build a first try may have started can only be
 * found by looking. Inside it (or with a runner that cannot look) the token does.
 */
async function findEarlierBuild(deps: EffectDeps, request: BuildRequest, replay: Replay, now: () => string, runCreatedAt: string): Promise<{ buildId: string } | undefined> {
  if (deps.builds.find === undefined) return undefined;
  const firstTried = replay.firstTriedAt !== undefined ? Date.parse(replay.firstTriedAt) : NaN;
  const current = Date.parse(now());
  if (Number.isFinite(firstTried) && current - firstTried < TOKEN_TRUST_MS) return undefined;
  // From a minute before the first try (clock skew); unknown, no build of the run can be older than the run.
  const since = (Number.isFinite(firstTried) ? firstTried : Date.parse(runCreatedAt) || 0) - 60_000;
  return deps.builds.find(request, new Date(since));
}

async function startRelease(deps: EffectDeps, state: RunState, effect: Extract<Effect, { type: 'StartRelease' }>, pipeline: () => Promise<PipelineSpec>, now: () => string): Promise<void> {
  // Planning never lets an untrusted run reach a deploy job; this holds even if a plan did.
  const untrusted = trustOf(state.trigger) === 'untrusted';
  const spec = untrusted ? undefined : jobOf(await pipeline(), effect.job, state);
  const image = spec?.deploy ? releaseImage(state, effect.job, spec.deploy.imageFrom) : undefined;
  if (!spec?.deploy || image === undefined) {
    const reason = untrusted
      ? "a fork's pull request never deploys"
      : !spec?.deploy ? `job "${effect.job}" has no deploy settings` : `no image to release: no upstream image job of "${effect.job}" reported an image`;
    const failed: ReleaseFinished = { type: 'ReleaseFinished', id: `release-refused:${effect.token}`, runId: effect.runId, at: now(), job: effect.job, attempt: effect.attempt, releaseId: `not-started:${effect.token}`, outcome: 'failed', reason };
    deps.logger?.warn('release not started; the attempt fails', { runId: effect.runId, job: effect.job, reason });
    await deps.events.send([failed]);
    return;
  }
  const message: StartReleaseMessage = {
    type: 'StartRelease',
    runId: effect.runId,
    pipelineId: state.pipelineId,
    job: effect.job,
    attempt: effect.attempt,
    token: effect.token,
    target: effect.target,
    image,
    deploy: spec.deploy,
  };
  await deps.releases.send(message);
}

/**
 * The image a deploy job releases: from `imageFrom`, else the nearest image job
 * upstream (breadth-first over `needs`, in declaration order). Pinned by digest
 * when the image job reported one, so a moved tag cannot change what is released.
 */
export function releaseImage(state: RunState, job: string, imageFrom?: string): string | undefined {
  const source = imageFrom ?? nearestImageJob(state, job);
  if (source === undefined) return undefined;
  const outputs = state.jobs[source]?.outputs ?? {};
  const uri = outputs.imageUri;
  const digest = outputs.imageDigest;
  if (uri && digest) return `${repositoryOf(uri)}@${digest}`;
  return uri || undefined;
}

function nearestImageJob(state: RunState, job: string): string | undefined {
  const seen = new Set<string>([job]);
  const queue = [...(state.plan[job]?.needs ?? [])];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    if (state.plan[name]?.kind === 'image') return name;
    queue.push(...(state.plan[name]?.needs ?? []));
  }
  return undefined;
}

/** `host[:port]/path:tag` or `host/path@digest` -> `host[:port]/path`. */
function repositoryOf(uri: string): string {
  const at = uri.indexOf('@');
  if (at >= 0) return uri.slice(0, at);
  const slash = uri.lastIndexOf('/');
  const colon = uri.lastIndexOf(':');
  return colon > slash ? uri.slice(0, colon) : uri;
}

function jobOf(spec: PipelineSpec, job: string, state: RunState): JobSpec {
  const found = Object.hasOwn(spec.jobs, job) ? spec.jobs[job] : undefined;
  if (found === undefined) throw new ValidationError(`pipeline ${state.pipelineId} version ${state.pipelineVersion} has no job "${job}"`);
  return found;
}

function notification(state: RunState, kind: Notification['kind'], job?: string): Notification {
  return {
    kind,
    runId: state.runId,
    pipelineId: state.pipelineId,
    pipelineVersion: state.pipelineVersion,
    ...(job !== undefined ? { job } : {}),
    status: state.status,
    commit: state.trigger.commit,
    ...(state.trigger.branch !== undefined ? { branch: state.trigger.branch } : {}),
    trigger: state.trigger,
    ...(state.reason !== undefined ? { reason: state.reason } : {}),
    ...(state.startedAt !== undefined ? { startedAt: state.startedAt } : {}),
    ...(state.finishedAt !== undefined ? { finishedAt: state.finishedAt } : {}),
    at: state.updatedAt,
  };
}

/**
 * The definition a run was planned with: its pinned pipeline version, or for a
 * definition kept in the repository, that file at the run's definition commit
 * (`definitionCommitOf`: the run's commit, or the target branch's for a fork).
 */
export async function runDefinition(deps: Pick<EffectDeps, 'resolveDefinition'>, record: PipelineRecord, trigger: Trigger): Promise<PipelineSpec> {
  if (record.definitionSource.kind !== 'repository' || !deps.resolveDefinition) return record.spec;
  // A fork's pull request never supplies its own definition (nor, with it, its notification channels).
  const spec = await deps.resolveDefinition(record, { ...trigger, commit: definitionCommitOf(trigger) });
  // Whoever can push to the repository writes this file: it may name only this pipeline's secrets.
  const problems = secretNameProblems(record.id, notificationSecrets(spec));
  if (problems.length > 0) throw new ValidationError(`${record.definitionSource.path} names secrets of another pipeline`, problems);
  return spec;
}

// A pipeline version never changes once written, nor does a file at a commit, so
// a warm Lambda keeps the few definitions it has read (per store, so tests with
// their own stores never share entries).
const caches = new WeakMap<object, Map<string, Promise<PipelineSpec>>>();
const DEFINITION_CACHE_LIMIT = 50;

function definitionsOf(deps: Pick<EffectDeps, 'pipelines'>): Map<string, Promise<PipelineSpec>> {
  let definitions = caches.get(deps.pipelines);
  if (definitions === undefined) caches.set(deps.pipelines, (definitions = new Map()));
  return definitions;
}

function definitionKey(pipelineId: string, version: number, trigger: Trigger): string {
  return `${pipelineId}#${version}#${definitionCommitOf(trigger)}`;
}

function keep(definitions: Map<string, Promise<PipelineSpec>>, key: string, spec: Promise<PipelineSpec>): void {
  if (definitions.size >= DEFINITION_CACHE_LIMIT) definitions.delete(definitions.keys().next().value!);
  definitions.set(key, spec);
}

/** The definition a run was just planned with, kept for its effects (the first StartBuild) so they do not read it again. */
export function rememberDefinition(deps: Pick<EffectDeps, 'pipelines'>, record: PipelineRecord, trigger: Trigger, spec: PipelineSpec): void {
  const definitions = definitionsOf(deps);
  const key = definitionKey(record.id, record.version, trigger);
  if (!definitions.has(key)) keep(definitions, key, Promise.resolve(spec));
}

/** Loads the run's definition at most once per call, and only if an effect needs it. */
function lazyPipeline(deps: EffectDeps, state: RunState): () => Promise<PipelineSpec> {
  let loaded: Promise<PipelineSpec> | undefined;
  return () => {
    loaded ??= (() => {
      const definitions = definitionsOf(deps);
      const key = definitionKey(state.pipelineId, state.pipelineVersion, state.trigger);
      let spec = definitions.get(key);
      if (spec === undefined) {
        spec = deps.pipelines.get(state.pipelineId, state.pipelineVersion).then((record) => runDefinition(deps, record, state.trigger));
        spec.catch(() => definitions.delete(key));
        keep(definitions, key, spec);
      }
      return spec;
    })();
    return loaded;
  };
}
