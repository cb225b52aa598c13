/**
 * Scheduled runs: a `schedules` entry that comes due becomes a run request for the head of
 * its branch, with trigger `schedule`. On AWS the clock is the reconciler's minute rule
 * (infra/constructs/reconciler.ts, functions/reconciler.ts): every minute `fireDueSchedules`
 * over that minute and the two before, so a scheduled run starts within about a minute of its
 * time (43,200 invocations a month of a few hundred ms, inside Lambda's free tier); in the
 * local mode a 15 s timer over the time since it last looked. Both end in `fireSchedule`.
 *
 * The run request id is deterministic per pipeline, schedule and scheduled time, so a
 * clock that fires twice (overlapping windows; EventBridge delivers at least once) queues
 * one run: the engine queue is FIFO and deduplicates on that id for 5 minutes.
 * `onlyIfChanged`: nothing starts when the branch's head already has a succeeded run.
 * A disabled pipeline's schedules start nothing (and its branches are not read) until it is
 * enabled; the times that came due meanwhile are not made up for.
 */
import { ulid } from 'ulid';
import { dueTimes, type ScheduleSpec } from '../domain/schedule.ts';
import type { Trigger } from '../domain/run.ts';
import type { EventQueue, PipelineRecord, PipelineStore, RunStore } from '../ports/index.ts';
import type { RunRequest } from '../ports/messages.ts';
import { everyPipeline } from './every-pipeline.ts';

export interface ScheduleDeps {
  pipelines: Pick<PipelineStore, 'list'>;
  runs: Pick<RunStore, 'listByPipeline'>;
  queue: EventQueue;
  /** The commit a branch points at now (the git host's API; the repository on disk locally). */
  resolveBranch(provider: PipelineRecord['spec']['source']['provider'], repository: string, branch: string, tokenSecretName: string | undefined): Promise<string>;
  newRunId?: () => string;
  logger?: { info(message: string, extra?: Record<string, unknown>): void; warn(message: string, extra?: Record<string, unknown>): void };
}

export type FireOutcome =
  | { started: true; runId: string; commit: string }
  | { started: false; why: 'unchanged'; commit: string };

/** Starts the run of one schedule for its scheduled time (ISO). */
export async function fireSchedule(deps: ScheduleDeps, pipeline: PipelineRecord, schedule: ScheduleSpec, scheduledTime: string): Promise<FireOutcome> {
  const { provider, repository } = pipeline.spec.source;
  const commit = await deps.resolveBranch(provider, repository, schedule.branch, pipeline.tokenSecretName);
  if (schedule.onlyIfChanged) {
    const recent = await deps.runs.listByPipeline(pipeline.id, { limit: 50 });
    if (recent.items.some((r) => r.commit === commit && r.status === 'succeeded')) {
      deps.logger?.info('scheduled run skipped: the branch head already ran green (onlyIfChanged)', { pipelineId: pipeline.id, schedule: schedule.name, commit });
      return { started: false, why: 'unchanged', commit };
    }
  }
  const trigger: Trigger = {
    event: 'schedule',
    provider,
    repository,
    branch: schedule.branch,
    commit,
    trust: 'trusted',
    author: 'slipway (schedule)',
    schedule: schedule.name,
    ...(Object.keys(schedule.parameters).length > 0 ? { parameters: schedule.parameters } : {}),
  };
  const request: RunRequest = {
    type: 'RunRequest',
    id: `req:schedule:${pipeline.id}:${schedule.name}:${scheduledTime}`,
    runId: (deps.newRunId ?? ulid)(),
    pipelineId: pipeline.id,
    trigger,
    at: scheduledTime,
  };
  await deps.queue.send([request]);
  deps.logger?.info('scheduled run requested', { pipelineId: pipeline.id, schedule: schedule.name, runId: request.runId, commit, scheduledTime });
  return { started: true, runId: request.runId, commit };
}

/**
 * The clock's step (the local mode's timer, the reconciler's minute rule on AWS): every
 * schedule of every pipeline that came due in (from, to]
 * fires. Returns what fired; a schedule that fails (a branch that does not exist) is
 * reported and the others go on.
 */
export async function fireDueSchedules(deps: ScheduleDeps, from: number, to: number): Promise<Array<{ pipelineId: string; schedule: string; scheduledTime: string; outcome: FireOutcome | { error: string } }>> {
  const fired: Array<{ pipelineId: string; schedule: string; scheduledTime: string; outcome: FireOutcome | { error: string } }> = [];
  for await (const pipeline of everyPipeline(deps.pipelines)) {
    for (const schedule of pipeline.spec.schedules ?? []) {
      const due = dueTimes(schedule, from, to, 1);
      // A disabled pipeline starts no runs; its schedules resume with the first time due after it is enabled.
      if (pipeline.disabled) {
        if (due.length > 0) deps.logger?.info('scheduled run not requested: the pipeline is disabled', { pipelineId: pipeline.id, schedule: schedule.name, scheduledTimes: due, disabledBy: pipeline.disabled.by });
        continue;
      }
      for (const scheduledTime of due) {
        let outcome: FireOutcome | { error: string };
        try {
          outcome = await fireSchedule(deps, pipeline, schedule, scheduledTime);
        } catch (err) {
          outcome = { error: (err as Error).message };
          deps.logger?.warn('scheduled run could not be requested', { pipelineId: pipeline.id, schedule: schedule.name, error: (err as Error).message });
        }
        fired.push({ pipelineId: pipeline.id, schedule: schedule.name, scheduledTime, outcome });
      }
    }
  }
  return fired;
}
