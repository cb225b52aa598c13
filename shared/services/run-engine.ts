/**
 * The engine: one message from engine-events.fifo at a time, for one run (or,
 * for a run request, one pipeline). Load, decide, save conditionally, then
 * perform the effects.
 *
 * A `RunRequest` becomes a `RunRequested` event here, because planning needs
 * I/O: the pipeline (pinned or latest version), the plan (`planRun`) and the
 * admission (`admit` against the pipeline's active runs). Run requests of one
 * pipeline share a message group, so admissions are serialized. Older runs a new
 * one supersedes get a `RunSuperseded` on their own groups before the new run is
 * written; a redelivery sends the same ids, which the FIFO queue and `decide`
 * both drop.
 *
 * A pipeline that cannot be loaded or planned still leaves a run behind, failed
 * with the reason, because the caller was already handed its run id.
 */
import { admit } from '../domain/concurrency.ts';
import { planRun, type RunPlan } from '../domain/plan.ts';
import { pullRequestSettings, stricterForkPolicy, type ForkPolicy, type PipelineSpec } from '../domain/pipeline.ts';
import type { Decision } from '../domain/run-effects.ts';
import type { EngineEvent, RunFailedToPlan, RunRequested, RunSuperseded } from '../domain/run-events.ts';
import type { RunState, Trigger } from '../domain/run.ts';
import { NotFoundError, PermissionError, RetryableError, SlipwayError, ValidationError } from '../domain/errors.ts';
import { parseEngineMessage, type EngineMessage, type RunRequest } from '../ports/messages.ts';
import type { EventQueue, PipelineRecord, PipelineStore, RunStore, RunSummary } from '../ports/index.ts';
import { applyEvent, HeldGroup, type KnownState, type RecentRuns } from './apply-event.ts';
import { performEffects, rememberDefinition, runDefinition, type EffectDeps } from './effects.ts';
import type { MetricsSink } from '../ports/metrics.ts';
import { runMetrics } from './run-metrics.ts';

export interface EngineDeps extends EffectDeps {
  runs: RunStore;
  pipelines: PipelineStore;
  decide: (state: RunState | undefined, event: EngineEvent) => Decision;
  /** Conflict retries of one event before the message is redelivered. @default applyEvent's */
  maxApplyAttempts?: number;
  /** Run metrics, read off each applied event's decision (runMetrics). @default none */
  metrics?: MetricsSink;
  /** The runs this process wrote last, decided on without a read (see RecentRuns). @default none */
  recent?: RecentRuns;
}

export interface HandledMessage {
  runId: string;
  /** False when the message changed nothing (a redelivery, a stale event, a run that no longer exists). */
  applied: boolean;
  effects: number;
}

/**
 * Handles one engine message; throws to have it redelivered. `hold`: the message's group as the
 * caller holds it (see HeldGroup); absent, every state this process remembers is read again before an
 * event that changes nothing on it is let go.
 */
export async function handleEngineMessage(deps: EngineDeps, message: EngineMessage, hold?: HeldGroup): Promise<HandledMessage> {
  if (message.type === 'RunRequest') return handleRunRequest(deps, message);
  return apply(deps, message, undefined, hold);
}

async function apply(deps: EngineDeps, event: EngineEvent, known?: KnownState, hold?: HeldGroup): Promise<HandledMessage> {
  let result;
  try {
    result = await applyEvent({ runs: deps.runs, decide: deps.decide, ...(deps.now ? { now: deps.now } : {}), ...(deps.maxApplyAttempts ? { maxAttempts: deps.maxApplyAttempts } : {}), ...(deps.recent ? { recent: deps.recent } : {}) }, event, known, hold);
  } catch (err) {
    // Events outlive their runs (a late build event after the run's TTL): nothing is left to change.
    // Only the run's absence is ignored; a NotFoundError from an effect below is a real failure.
    if (err instanceof NotFoundError && event.type !== 'RunRequested') {
      deps.logger?.warn('event for a run that does not exist; ignored', { runId: event.runId, eventId: event.id, type: event.type });
      return { runId: event.runId, applied: false, effects: 0 };
    }
    throw err;
  }
  // Counted when applied, not when a redelivery replays the effects: each run counts once.
  if (result.applied && deps.metrics) for (const datum of runMetrics(event, result.state, result.effects)) deps.metrics.add(datum);
  await performEffects(deps, result.state, result.effects, result.replay);
  return { runId: event.runId, applied: result.applied, effects: result.effects.length };
}

async function handleRunRequest(deps: EngineDeps, request: RunRequest): Promise<HandledMessage> {
  // The reads planning needs depend on none of each other: they go out together, one round trip
  // on the run's critical path instead of four. The run itself decides whether the rest is used.
  const pipeline = readPipeline(deps, request);
  const listing = deps.runs.listActive(request.pipelineId);
  // Unused when the run exists already (a redelivery): their failures must not go unhandled.
  pipeline.catch(() => undefined);
  listing.catch(() => undefined);
  const existing = await findRun(deps.runs, request.runId);
  if (existing !== undefined && !isPlanningPlaceholder(existing)) {
    // Handled before (perhaps up to a crash): replaying the same event repeats its effects, and only them.
    return apply(deps, requestedFromState(existing, requestedId(request)), { state: existing });
  }

  const loaded = await loadPlan(deps, request, await pipeline);
  if (!loaded.ok) return failToPlan(deps, request, loaded.reason);
  if (existing !== undefined) {
    // A crash came between writing the placeholder and failing it; the plan only failed then.
    return failToPlan(deps, request, 'the pipeline could not be planned when the run was requested');
  }
  const { record, spec, planned } = loaded;
  // The run's effects (its first StartBuild) need the definition just planned with: no second read.
  rememberDefinition(deps, record, request.trigger, spec);

  // A definition kept in the repository was just read from the git host (a round trip that can take
  // a while): the active runs are listed again after it, so the admission does not act on runs that
  // ended meanwhile (a queued run would wait for the reconciler instead of starting).
  const listed = record.definitionSource.kind === 'repository' && deps.resolveDefinition ? await deps.runs.listActive(request.pipelineId) : await listing;
  const active = spec.concurrency === 'superseded' ? await sameSupersedeLane(deps.runs, listed, request) : listed;
  const admission = admit(spec.concurrency, active, { runId: request.runId, branch: request.trigger.branch, createdAt: request.at });
  if (admission.supersede.length > 0) {
    const superseded = admission.supersede.map((runId): RunSuperseded => ({ type: 'RunSuperseded', id: `superseded:${runId}:by:${request.runId}`, runId, at: request.at, byRunId: request.runId }));
    await deps.events.send(superseded);
    deps.logger?.info('older runs superseded', { runId: request.runId, superseded: admission.supersede });
  }

  const requested: RunRequested = {
    type: 'RunRequested',
    id: requestedId(request),
    runId: request.runId,
    at: request.at,
    pipelineId: request.pipelineId,
    pipelineVersion: record.version,
    concurrency: spec.concurrency,
    trigger: request.trigger,
    plan: planned.plan,
    skippedByWhen: planned.skippedByWhen,
    skipReasons: planned.skipReasons,
    admission: admission.admission,
    ...(admission.supersededBy !== undefined ? { supersededBy: admission.supersededBy } : {}),
    ...(request.rerun ? { rerun: request.rerun } : {}),
  };
  // The run was just read and found missing: it is created without reading it again.
  return apply(deps, requested, { state: undefined });
}

/**
 * The active runs a run may supersede, or be superseded by: those of its branch *and* lane. A
 * pull request's run is on its target branch, so without the lane a pull request into main (a
 * fork's included) would cancel main's pending release, and a push would cancel every open pull
 * request's checks. Pushes supersede pushes; a pull request's runs supersede their own older ones.
 * Summaries carry no trigger, so the few active runs of the same branch are read in full.
 */
async function sameSupersedeLane(runs: RunStore, active: RunSummary[], request: RunRequest): Promise<RunSummary[]> {
  const lane = supersedeLaneOf(request.trigger);
  // `admit` acts on the newest older and the newest newer run of the lane only (every older one was
  // superseded by an earlier admission), so only the newest few of the branch are read.
  const candidates = new Set(active.filter((r) => r.runId !== request.runId && r.branch === request.trigger.branch).slice(-SUPERSEDE_READS).map((r) => r.runId));
  const kept = await Promise.all(
    active.map(async (r) => {
      if (r.runId === request.runId || r.branch !== request.trigger.branch) return r;
      if (!candidates.has(r.runId)) return undefined;
      const run = await findRun(runs, r.runId);
      return run !== undefined && supersedeLaneOf(run.trigger) === lane ? r : undefined;
    }),
  );
  return kept.filter((r): r is RunSummary => r !== undefined);
}

/** Active runs of the branch read in full per admission in superseded mode. */
const SUPERSEDE_READS = 8;

function supersedeLaneOf(trigger: Trigger): string {
  return trigger.event === 'pull_request' ? `pull-request:${trigger.pullRequest ?? '?'}` : 'branch';
}

type Loaded = { ok: true; record: PipelineRecord; spec: PipelineSpec; planned: RunPlan } | { ok: false; reason: string };
type PipelineRead = { ok: true; record: PipelineRecord; latest: PipelineRecord } | { ok: false; reason: string };

/**
 * The latest version (whose mark says whether the pipeline is disabled) and the requested one.
 * A request pinned to the latest version (the API pins what it read) needs no second read: the
 * latest record is that version's, with the mark.
 */
async function readPipeline(deps: EngineDeps, request: RunRequest): Promise<PipelineRead> {
  try {
    const latest = await deps.pipelines.get(request.pipelineId);
    const pinned = request.pipelineVersion;
    const record = pinned === undefined || pinned === latest.version ? withoutMark(latest) : await deps.pipelines.get(request.pipelineId, pinned);
    return { ok: true, record, latest };
  } catch (err) {
    if (isRunsProblem(err)) return { ok: false, reason: err.message };
    throw err;
  }
}

/** A version as registered: the disabled mark is the pipeline's state, not the version's. */
function withoutMark(record: PipelineRecord): PipelineRecord {
  const { disabled: _mark, ...registered } = record;
  return registered;
}

/** The pipeline version and the run's plan; a missing pipeline or an invalid definition is the run's failure, not the message's. */
async function loadPlan(deps: EngineDeps, request: RunRequest, read: PipelineRead): Promise<Loaded> {
  if (!read.ok) return read;
  const { record, latest } = read;
  try {
    // Disabling marks the latest version: a request queued before it (a push, a schedule, a re-run
    // pinned to an older version) starts nothing once the pipeline is disabled.
    if (latest.disabled) {
      return { ok: false, reason: `pipeline ${request.pipelineId} was disabled (by ${latest.disabled.by} at ${latest.disabled.at}) before this run started; enable it (slipway pipelines enable ${request.pipelineId}) and run again` };
    }
    const spec = await runDefinition(deps, record, request.trigger);
    return { ok: true, record, spec, planned: planRun(spec, request.trigger, { forks: forkPolicy(record, spec) }) };
  } catch (err) {
    if (isRunsProblem(err)) return { ok: false, reason: err.message };
    throw err;
  }
}

/**
 * A fork's pull requests are treated as the registration says, when it says so (for a
 * pipeline defined in the repository, the registration's settings may carry it);
 * otherwise as the definition the run uses says. That definition is never the fork's:
 * see `definitionCommit`.
 */
function forkPolicy(record: PipelineRecord, spec: PipelineSpec): ForkPolicy {
  if (record.definitionSource.kind === 'repository' && record.spec.pullRequests !== undefined) {
    return stricterForkPolicy(record.spec.pullRequests.forks, pullRequestSettings(spec).forks);
  }
  return pullRequestSettings(spec).forks;
}

/** What failToPlan writes first: a queued run without jobs. */
function isPlanningPlaceholder(state: RunState): boolean {
  return state.status === 'queued' && Object.keys(state.plan).length === 0;
}

/**
 * Writes the run as queued with no jobs, then fails it with the reason: `decide`
 * only creates runs from `RunRequested`, and a queued run holds no slot.
 */
async function failToPlan(deps: EngineDeps, request: RunRequest, reason: string): Promise<HandledMessage> {
  deps.logger?.warn('run could not be planned; it fails', { runId: request.runId, pipelineId: request.pipelineId, reason });
  const placeholder: RunRequested = {
    type: 'RunRequested',
    id: requestedId(request),
    runId: request.runId,
    at: request.at,
    pipelineId: request.pipelineId,
    pipelineVersion: request.pipelineVersion ?? 0,
    concurrency: 'parallel',
    trigger: request.trigger,
    plan: {},
    skippedByWhen: [],
    admission: 'queue',
  };
  await apply(deps, placeholder);
  const failed: RunFailedToPlan = { type: 'RunFailedToPlan', id: `plan-failed:${request.runId}`, runId: request.runId, at: request.at, reason };
  return apply(deps, failed);
}

function requestedId(request: RunRequest): string {
  return `requested:${request.runId}`;
}

/** The RunRequested an existing run was created from, as far as replaying it needs. */
function requestedFromState(state: RunState, id: string): RunRequested {
  return {
    type: 'RunRequested',
    id,
    runId: state.runId,
    at: state.createdAt,
    pipelineId: state.pipelineId,
    pipelineVersion: state.pipelineVersion,
    concurrency: state.concurrency,
    trigger: state.trigger,
    plan: state.plan,
    skippedByWhen: [],
    admission: state.status === 'queued' ? 'queue' : 'start',
  };
}

async function findRun(runs: RunStore, runId: string): Promise<RunState | undefined> {
  try {
    return await runs.get(runId);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}

/**
 * Errors that are the run's to show, not the message's to retry: no such
 * pipeline or file, an invalid definition, a git host refusing the token (every
 * 4xx SlipwayError), and planRun's plain Error for a deploy job without a target.
 */
function isRunsProblem(err: unknown): err is Error {
  if (err instanceof RetryableError) return false;
  if (err instanceof SlipwayError) return err.status >= 400 && err.status < 500;
  return err instanceof Error && err.message.startsWith('planRun:');
}

// ---- messages ----------------------------------------------------------------

/** The engine queue's parser is the message schema's (shared/ports/messages.ts). */
export { parseEngineMessage };

// ---- batches -------------------------------------------------------------------

/** The part of an SQS record the batch loop reads. */
export interface QueueRecord {
  messageId: string;
  body: string;
  receiptHandle?: string;
  attributes: { MessageGroupId?: string; ApproximateReceiveCount?: string };
}

/**
 * How soon a failed run request comes back: 15 s, 30 s, 60 s, then 120 s, instead
 * of the queue's 3-minute visibility timeout. A failed run request holds its
 * pipeline's whole message group (every other request of the pipeline waits behind
 * it), so it is retried soon; a run's own events keep the full timeout, which spaces
 * out retries of builds and releases. Undefined: leave the queue's timeout.
 */
export function retryDelaySeconds(record: QueueRecord): number | undefined {
  if (!record.attributes.MessageGroupId?.startsWith('pipeline#')) return undefined;
  const received = Number(record.attributes.ApproximateReceiveCount ?? '1');
  const n = Number.isInteger(received) && received >= 1 ? received : 1;
  return Math.min(120, 15 * 2 ** (n - 1));
}

/** Shortens the visibility of the failed records that retryDelaySeconds names; a failure to do so is only logged. */
export async function retrySooner(queue: EventQueue, records: readonly QueueRecord[], outcome: BatchOutcome, logger: BatchLogger): Promise<void> {
  if (queue.retryAfter === undefined || outcome.batchItemFailures.length === 0) return;
  const failed = new Set(outcome.batchItemFailures.map((f) => f.itemIdentifier));
  const sooner = records.flatMap((r) => {
    const seconds = failed.has(r.messageId) && r.receiptHandle ? retryDelaySeconds(r) : undefined;
    return seconds === undefined ? [] : [{ receiptHandle: r.receiptHandle!, seconds }];
  });
  if (sooner.length === 0) return;
  try {
    await queue.retryAfter(sooner);
  } catch (err) {
    logger.warn('could not shorten the visibility of failed run requests; they come back after the queue\'s timeout', { error: err instanceof Error ? err.message : String(err) });
  }
}

export interface BatchOutcome {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

export interface BatchLogger {
  error(message: string, extra: Record<string, unknown>): void;
  warn(message: string, extra: Record<string, unknown>): void;
}

/**
 * Permanent: the message can never succeed as it is (malformed, refused by
 * validation, or a dependency refusing Slipway's role). Everything else (throttling, conflicts lost too often, a dependency
 * down, a bug) may succeed on a later delivery.
 */
export function isPermanent(err: unknown): boolean {
  return err instanceof ValidationError || err instanceof PermissionError;
}

/**
 * Processes a FIFO batch: groups concurrently, each group in order. Once a record
 * fails, the rest of its group is reported failed unprocessed, so a run never sees
 * its events out of order. Every failure, permanent or not, is reported: SQS
 * redelivers it and, after the queue's maxReceiveCount, moves it to the DLQ, whose
 * alarm calls a person. A permanent failure is logged as such, with the message
 * id, so the DLQ entry can be traced and redriven after a fix; it is never dropped.
 *
 * Not Powertools' batch processor, unlike the notifier and the releaser: its FIFO
 * processors (SqsFifoPartialProcessor, SqsFifoPartialProcessorAsync) handle the
 * records one after another and by default stop at the first failure, failing the
 * rest of the batch ("By default, we will stop processing at the first failure and
 * mark unprocessed messages as failed to preserve ordering",
 * https://app.unpkg.com/@aws-lambda-powertools/batch@2.31.0/files/lib/esm/SqsFifoPartialProcessorAsync.d.ts);
 * `skipGroupOnError` keeps other groups going but still one record at a time. A
 * batch here holds many runs' groups, which this loop runs side by side, in order
 * within each group.
 */
export async function processRecords(records: readonly QueueRecord[], handle: (message: EngineMessage, hold: HeldGroup) => Promise<unknown>, logger: BatchLogger): Promise<BatchOutcome> {
  const groups = new Map<string, QueueRecord[]>();
  for (const r of records) {
    const g = r.attributes.MessageGroupId ?? `no-group:${r.messageId}`;
    let list = groups.get(g);
    if (list === undefined) groups.set(g, (list = []));
    list.push(r);
  }
  const failed = new Set<string>();
  await Promise.all(
    [...groups].map(async ([group, list]) => {
      // This batch holds the group until the batch ends: its records share what they read and wrote.
      const hold = new HeldGroup(group);
      for (let i = 0; i < list.length; i++) {
        const record = list[i];
        try {
          await handle(parseEngineMessage(record.body), hold);
        } catch (err) {
          const permanent = isPermanent(err);
          const skipped = list.slice(i + 1).map((r) => r.messageId);
          const extra = { messageId: record.messageId, group, permanent, error: err instanceof Error ? err.message : String(err), errorName: err instanceof Error ? err.name : typeof err, heldBack: skipped };
          if (permanent) logger.error('engine message failed permanently; it goes to the DLQ after the queue\'s receive limit', extra);
          else logger.warn('engine message failed; it will be redelivered', extra);
          for (const r of list.slice(i)) failed.add(r.messageId);
          return;
        }
      }
    }),
  );
  // Report in the batch's order.
  return { batchItemFailures: records.filter((r) => failed.has(r.messageId)).map((r) => ({ itemIdentifier: r.messageId })) };
}
