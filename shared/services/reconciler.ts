/**
 * The reconciler: a scheduled pass over every pipeline's active runs that
 * repairs what the event path lost. Build state changes reach the engine
 * through EventBridge -> build-events -> SQS; if one is lost (a DLQ, an outage,
 * a bug), the job would wait forever. So a build or image job with no news for
 * longer than its timeout plus a margin is checked against CodeBuild
 * (BatchGetBuilds) and moved to its true state by sending the very
 * `BuildStateChanged` the event path would have sent: same deterministic id
 * (`build:<buildId>:<state>`), so a late real event collapses into it (FIFO
 * deduplication, then `decide`'s applied-event ids) and nothing happens twice.
 *
 * Outcomes per overdue job:
 * - its build ended (SUCCEEDED, FAILED, STOPPED, TIMED_OUT, FAULT): that event is sent;
 * - its build is still in progress (CodeBuild queues and retries count as time too): nothing;
 * - CodeBuild does not know its build: FAULT with the reason (the attempt is
 *   retried if the job allows it, else the run fails and says why);
 * - it is queued with no build id at all: StartBuild never answered (its
 *   engine message ended in the DLQ, or was lost), so FAULT "the build never
 *   started". Failing the attempt (rather than starting the build from here)
 *   keeps one writer of builds, the engine, and lets the job's retries decide;
 * - an approval job waiting past its approval timeout: rejected on the run's
 *   behalf (`ApprovalRejected` by "slipway (timeout)"), so a forgotten approval
 *   ends the run instead of holding it (and, in `queued` mode, the pipeline);
 *   resolution is the reconciler's schedule;
 * - a pipeline in `queued` mode with queued runs and none running (a run request
 *   admitted while the running run ended, and index lag hid each from the other):
 *   the oldest queued run gets the `RunDequeued` its predecessor would have sent
 *   (same id, `dequeued:<runId>`), so the pipeline is never held for good;
 * - a deploy job past its timeout: reported only (log + metric). The releaser
 *   owns releases, holds the target lock and has its own timeouts; the engine
 *   must not end a job whose traffic may be mid-shift.
 *
 * "No news" is measured from the run's `updatedAt` (the last change of any
 * job), which is never earlier than the job's last change: a job may be checked
 * later than its own clock says, never earlier.
 *
 * The pure part (`overdueJobs`) picks the jobs; `reconcile` does the I/O.
 */
import { nextQueued } from '../domain/concurrency.ts';
import { attemptToken } from '../domain/run-effects.ts';
import { type ApprovalRejected, type BuildStateChanged, type RunDequeued } from '../domain/run-events.ts';
import { type RunState } from '../domain/run.ts';
import { FORK_APPROVAL_JOB, FORK_APPROVAL_TIMEOUT_MINUTES, type PipelineSpec } from '../domain/pipeline.ts';
import { NotFoundError } from '../domain/errors.ts';
import type { EventQueue, PipelineStore, RunStore } from '../ports/index.ts';
import { toBuildStateChanged, type BuildStateChangeEvent } from './build-events.ts';
import { METRIC, type MetricsSink } from '../ports/metrics.ts';
import { everyPipeline } from './every-pipeline.ts';

/** Optional variable of the reconciler function: ReconcilerOptions.marginMinutes. */
export const RECONCILE_MARGIN_ENV = 'SLIPWAY_RECONCILE_MARGIN_MINUTES';

/** What CodeBuild knows of each build id: the state change it would send, or null if it knows no such build. */
export type BuildLookup = (buildIds: readonly string[]) => Promise<Map<string, BuildStateChangeEvent | null>>;

export interface ReconcilerOptions {
  /**
   * Added to a job's timeout before it counts as overdue: covers CodeBuild's own
   * queueing and the event path's delivery. Also how long a queued job may go
   * without a build id: the engine queue gives up on a message after 5 receives
   * of a 3-minute visibility timeout, so after 20 minutes StartBuild is not coming.
   * @default 20
   */
  marginMinutes?: number;
  /** Timeout assumed for a job the run's registered definition does not describe. @default 60 */
  defaultTimeoutMinutes?: number;
}

export interface ReconcilerDeps extends ReconcilerOptions {
  pipelines: Pick<PipelineStore, 'list' | 'get'>;
  runs: Pick<RunStore, 'listActive' | 'get'>;
  builds: BuildLookup;
  events: EventQueue;
  metrics?: MetricsSink;
  now?: () => Date;
  logger?: { info(message: string, extra?: Record<string, unknown>): void; warn(message: string, extra?: Record<string, unknown>): void; error(message: string, extra?: Record<string, unknown>): void };
}

export type OverdueJob =
  | { kind: 'build'; runId: string; job: string; attempt: number; buildId: string; kindOfJob: 'build' | 'image' }
  | { kind: 'never-started'; runId: string; job: string; attempt: number }
  | { kind: 'release'; runId: string; job: string; attempt: number; target?: string; status: string }
  | { kind: 'approval-expired'; runId: string; job: string; attempt: number; timeoutMinutes: number };

/** Decides which jobs of one run are overdue at `now`. Pure. */
export function overdueJobs(run: RunState, timeoutMinutes: (job: string) => number, now: Date, opts: ReconcilerOptions = {}): OverdueJob[] {
  if (run.status !== 'running') return [];
  const margin = (opts.marginMinutes ?? 20) * 60_000;
  const lastNews = Date.parse(run.updatedAt);
  if (!Number.isFinite(lastNews)) return [];
  const quiet = now.getTime() - lastNews;
  const out: OverdueJob[] = [];
  for (const [name, job] of Object.entries(run.jobs)) {
    const plan = run.plan[name];
    if (plan === undefined) continue;
    const base = { runId: run.runId, job: name, attempt: job.attempt };
    if (plan.kind === 'approval' && job.status === 'waiting_approval') {
      // Measured from when the job started waiting: the run's other jobs may have changed since.
      const since = Date.parse(job.startedAt ?? run.updatedAt);
      if (Number.isFinite(since) && now.getTime() - since > timeoutMinutes(name) * 60_000) out.push({ kind: 'approval-expired', ...base, timeoutMinutes: timeoutMinutes(name) });
      continue;
    }
    if (job.status !== 'queued' && job.status !== 'running') continue;
    if (plan.kind === 'build' || plan.kind === 'image') {
      if (job.buildId !== undefined) {
        if (quiet > timeoutMinutes(name) * 60_000 + margin) out.push({ kind: 'build', ...base, buildId: job.buildId, kindOfJob: plan.kind });
      } else if (quiet > margin) {
        out.push({ kind: 'never-started', ...base });
      }
    } else if (plan.kind === 'deploy' && quiet > timeoutMinutes(name) * 60_000 + margin) {
      out.push({ kind: 'release', ...base, ...(plan.target !== undefined ? { target: plan.target } : {}), status: job.status });
    }
  }
  return out;
}

export interface ReconcileReport {
  pipelines: number;
  activeRuns: number;
  /** Builds asked of CodeBuild. */
  checked: number;
  /** Events sent, with the outcome each stands for. */
  sent: Array<{ runId: string; job: string; attempt: number; state: BuildStateChanged['state']; why: 'build ended' | 'build unknown' | 'never started' }>;
  stillRunning: number;
  stuckReleases: Array<{ runId: string; job: string; target?: string }>;
  /** Approvals nobody answered in time, rejected on the run's behalf. */
  expiredApprovals: Array<{ runId: string; job: string }>;
  /** Queued runs started because nothing of their (queued-mode) pipeline was running. */
  dequeued: string[];
  /** Pipelines or runs that could not be read; the pass went on without them. */
  errors: Array<{ where: string; error: string }>;
}

/**
 * One reconciliation pass. Failures reading one pipeline or run are collected
 * and the pass goes on; the caller decides (the Lambda handler throws, so the
 * function's Errors metric and alarm see it). Sending is not caught: an event
 * that cannot be enqueued fails the pass, and the next pass sends it again.
 */
export async function reconcile(deps: ReconcilerDeps): Promise<ReconcileReport> {
  const now = (deps.now ?? (() => new Date()))();
  const margin = (deps.marginMinutes ?? 20) * 60_000;
  const report: ReconcileReport = { pipelines: 0, activeRuns: 0, checked: 0, sent: [], stillRunning: 0, stuckReleases: [], expiredApprovals: [], dequeued: [], errors: [] };
  const dequeued: RunDequeued[] = [];
  const expired: ApprovalRejected[] = [];
  const overdue: OverdueJob[] = [];
  const runs = new Map<string, RunState>();

  for await (const pipeline of everyPipeline(deps.pipelines)) {
    report.pipelines += 1;
    try {
      const active = await deps.runs.listActive(pipeline.id);
      report.activeRuns += active.length;
      const next = pipeline.spec.concurrency === 'queued' ? nextQueued(active) : undefined;
      if (next !== undefined) {
        dequeued.push({ type: 'RunDequeued', id: `dequeued:${next}`, runId: next, at: now.toISOString() });
        report.dequeued.push(next);
      }
      for (const summary of active) {
        // A run younger than the margin cannot have an overdue job: skip the read.
        if (summary.status !== 'running' || now.getTime() - Date.parse(summary.createdAt) <= margin) continue;
        let run: RunState;
        try {
          run = await deps.runs.get(summary.runId);
        } catch (err) {
          if (err instanceof NotFoundError) continue; // ended and expired between the index read and now
          throw err;
        }
        const timeouts = await jobTimeouts(deps, run, pipeline.version === run.pipelineVersion ? pipeline.spec : undefined);
        const found = overdueJobs(run, timeouts, now, deps);
        if (found.length > 0) runs.set(run.runId, run);
        overdue.push(...found);
      }
    } catch (err) {
      report.errors.push({ where: `pipeline ${pipeline.id}`, error: err instanceof Error ? err.message : String(err) });
      deps.logger?.error('reconciler could not read a pipeline\'s runs', { pipelineId: pipeline.id, error: err as Error });
    }
  }

  const events: BuildStateChanged[] = [];
  const builds = overdue.filter((o): o is Extract<OverdueJob, { kind: 'build' }> => o.kind === 'build');
  const known = builds.length > 0 ? await deps.builds(builds.map((b) => b.buildId)) : new Map<string, BuildStateChangeEvent | null>();
  report.checked = builds.length;
  const at = now.toISOString();

  for (const o of overdue) {
    const log = { runId: o.runId, job: o.job, attempt: o.attempt };
    if (o.kind === 'release') {
      report.stuckReleases.push({ runId: o.runId, job: o.job, ...(o.target !== undefined ? { target: o.target } : {}) });
      deps.metrics?.add({ name: METRIC.stuckReleases, unit: 'Count', value: 1 });
      deps.logger?.warn('deploy job past its timeout; the releaser owns it (see the target\'s current release)', { ...log, target: o.target, status: o.status });
      continue;
    }
    if (o.kind === 'approval-expired') {
      expired.push({
        type: 'ApprovalRejected',
        id: `approval-timeout:${o.runId}:${o.job}:${o.attempt}`,
        runId: o.runId,
        at,
        job: o.job,
        by: 'slipway (timeout)',
        comment: `no answer within ${o.timeoutMinutes} minutes`,
      });
      report.expiredApprovals.push({ runId: o.runId, job: o.job });
      continue;
    }
    if (o.kind === 'never-started') {
      const token = attemptToken(o.runId, o.job, o.attempt);
      events.push({
        type: 'BuildStateChanged',
        id: `build-never-started:${token}`,
        runId: o.runId,
        at,
        job: o.job,
        attempt: o.attempt,
        buildId: `not-started:${token}`,
        state: 'FAULT',
        reason: `the build never started: no build id was recorded ${deps.marginMinutes ?? 20} minutes after the job was queued (the engine message that starts it may be in the engine DLQ)`,
      });
      report.sent.push({ ...log, state: 'FAULT', why: 'never started' });
      continue;
    }
    if (!known.has(o.buildId)) {
      // CodeBuild answered neither way for this id (should not happen): ask again next pass.
      deps.logger?.warn('CodeBuild did not report on a build; checked again next pass', { ...log, buildId: o.buildId });
      continue;
    }
    const build = known.get(o.buildId);
    if (build === null) {
      events.push({
        type: 'BuildStateChanged',
        id: `build:${o.buildId}:FAULT`,
        runId: o.runId,
        at,
        job: o.job,
        attempt: o.attempt,
        buildId: o.buildId,
        state: 'FAULT',
        reason: `CodeBuild no longer knows build ${o.buildId}`,
      });
      report.sent.push({ ...log, state: 'FAULT', why: 'build unknown' });
      continue;
    }
    const event = await toBuildStateChanged(withRunIdentity(build!, runs.get(o.runId)!, o));
    if (event === undefined || event.state === 'IN_PROGRESS') {
      report.stillRunning += 1;
      continue;
    }
    events.push(event);
    report.sent.push({ ...log, state: event.state, why: 'build ended' });
  }

  if (dequeued.length > 0) {
    await deps.events.send(dequeued);
    for (const e of dequeued) deps.logger?.warn('queued run started: nothing of its pipeline was running', { runId: e.runId, eventId: e.id });
  }
  if (expired.length > 0) {
    await deps.events.send(expired);
    for (const e of expired) deps.logger?.warn('approval timed out; rejected on the run\'s behalf', { runId: e.runId, job: e.job, eventId: e.id });
  }
  if (events.length > 0) {
    await deps.events.send(events);
    deps.metrics?.add({ name: METRIC.reconciledJobs, unit: 'Count', value: events.length });
    for (const [i, e] of events.entries()) {
      deps.logger?.warn('job reconciled against CodeBuild', { runId: e.runId, job: e.job, attempt: e.attempt, state: e.state, eventId: e.id, why: report.sent[i]?.why, reason: e.reason });
    }
  }
  return report;
}

/**
 * The run's own record of which job attempt a build belongs to wins over the
 * build's environment: the run holds this build id for this attempt, so the
 * event must land there even if the environment came back incomplete.
 */
function withRunIdentity(build: BuildStateChangeEvent, run: RunState, o: Extract<OverdueJob, { kind: 'build' }>): BuildStateChangeEvent {
  const info = build.detail['additional-information'] ?? {};
  const vars = (info.environment?.['environment-variables'] ?? []).filter((v) => !['SLIPWAY_RUN_ID', 'SLIPWAY_JOB', 'SLIPWAY_ATTEMPT', 'SLIPWAY_JOB_KIND'].includes(v.name));
  vars.push(
    { name: 'SLIPWAY_RUN_ID', value: run.runId },
    { name: 'SLIPWAY_JOB', value: o.job },
    { name: 'SLIPWAY_ATTEMPT', value: String(o.attempt) },
    { name: 'SLIPWAY_JOB_KIND', value: o.kindOfJob },
  );
  return { ...build, detail: { ...build.detail, 'additional-information': { ...info, environment: { ...info.environment, 'environment-variables': vars } } } };
}

/** Each job's timeout from the run's registered definition (cached per pipeline version for the pass). */
async function jobTimeouts(deps: ReconcilerDeps, run: RunState, latest: PipelineSpec | undefined): Promise<(job: string) => number> {
  const fallback = deps.defaultTimeoutMinutes ?? 60;
  let spec = latest;
  if (spec === undefined) {
    try {
      spec = (await deps.pipelines.get(run.pipelineId, run.pipelineVersion)).spec;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
  return (job) => {
    // The approval Slipway puts in front of a fork's run is in no definition; it waits a week.
    if (job === FORK_APPROVAL_JOB && run.plan[job]?.kind === 'approval' && !(spec && Object.hasOwn(spec.jobs, job))) return FORK_APPROVAL_TIMEOUT_MINUTES;
    const j = spec && Object.hasOwn(spec.jobs, job) ? spec.jobs[job]! : undefined;
    // Approval jobs wait for a person: their own approval timeout (default 24 h), not a build timeout.
    const t = j?.kind === 'approval' ? j.approval?.timeoutMinutes ?? 24 * 60 : j?.timeoutMinutes;
    return typeof t === 'number' && t > 0 ? t : fallback;
  };
}
