/**
 * Normalising a valid document: every default filled in.
 */
import { topoOrder } from '../dag.ts';
import {
  DEFAULT_FORK_POLICY, DEFAULT_HEALTH_CHECK_WINDOW_SECONDS, type JobSpec, type NotificationSpec,
  type PipelineSpec
} from '../pipeline.ts';
import { applyTemplate } from '../templates.ts';
import { chooseCompute, LAMBDA_MAX_MINUTES, type ComputeSubject } from '../compute.ts';
import { DEFAULT_TIMEOUT_SECONDS, DEFAULT_APPROVAL_TIMEOUT_SECONDS, DEFAULT_INTERVAL_SECONDS, DEFAULT_BAKE_SECONDS, DEFAULT_ROLLBACK_WINDOW_SECONDS, DEFAULT_STEPS, DEFAULT_RETRY_DELAY_SECONDS } from './rules.ts';
import { parseDuration } from './words.ts';
import type { RawTop, RawJob } from './schema.ts';
import { nearestImageJob } from './checks.ts';

// ---------------------------------------------------------------------------
// Normalising a valid document: every default filled in.

export const minutes = (value: unknown, fallbackSeconds: number) => Math.ceil((parseDuration(value) ?? fallbackSeconds) / 60);
export const seconds = (value: unknown, fallbackSeconds: number) => parseDuration(value) ?? fallbackSeconds;

export function normalise(
  top: RawTop,
  parsed: Record<string, RawJob>,
  raw: Record<string, Record<string, unknown>>,
  graph: Record<string, { needs: string[] }>,
): PipelineSpec {
  const triggers = top.source.triggers ?? {};
  const jobs: Record<string, JobSpec> = {};
  // Declaration order is kept; topoOrder only proves (again) that the graph is a DAG.
  topoOrder(graph);
  for (const [name, job] of Object.entries(parsed)) {
    jobs[name] = normaliseJob(name, job, raw, graph);
  }
  const notifications: NotificationSpec[] = (top.notifications ?? []).map((n) => ({
    kind: n.kind,
    ...(n.secret !== undefined ? { secret: n.secret } : {}),
    ...(n.topicArn !== undefined ? { topicArn: n.topicArn } : {}),
    on: n.on ?? ['run_failed', 'run_fixed'],
  }));
  return {
    name: top.name,
    source: {
      provider: top.source.provider,
      repository: top.source.repository,
      ...(top.source.connection !== undefined ? { connection: top.source.connection } : {}),
      triggers: {
        events: triggers.events ?? ['push'],
        branches: triggers.branches ?? ['**'],
        tags: triggers.tags ?? ['**'],
        paths: { include: triggers.paths?.include ?? [], exclude: triggers.paths?.exclude ?? [] },
      },
    },
    concurrency: top.concurrency ?? 'superseded',
    pullRequests: { forks: top.pullRequests?.forks ?? DEFAULT_FORK_POLICY, approvers: top.pullRequests?.approvers ?? [] },
    jobs,
    notifications,
    ...(top.schedules && top.schedules.length > 0 ? {
      schedules: top.schedules.map((sc, i) => ({
        name: sc.name ?? `schedule-${i + 1}`,
        cron: sc.cron.trim().split(/\s+/).join(' '),
        timezone: sc.timezone ?? 'UTC',
        branch: sc.branch,
        parameters: sc.parameters ?? {},
        onlyIfChanged: sc.onlyIfChanged ?? false,
      })),
    } : {}),
  };
}

export function normaliseJob(
  name: string,
  job: RawJob,
  raw: Record<string, Record<string, unknown>>,
  graph: Record<string, { needs: string[] }>,
): JobSpec {
  const kind = job.kind ?? 'build';
  const base = {
    name,
    kind,
    needs: job.needs ?? [],
    when: { branches: job.when?.branches ?? [], tags: job.when?.tags ?? [], events: job.when?.events ?? [] },
    retries: job.retries ?? 0,
    pullRequests: job.pullRequests ?? (kind === 'build' ? ('all' as const) : ('skip' as const)),
    ...(kind === 'build' || kind === 'image' ? { retryDelaySeconds: seconds(job.retryDelay, DEFAULT_RETRY_DELAY_SECONDS) } : {}),
  };
  if (kind === 'build' || kind === 'image') {
    const build = applyTemplate({
      template: job.template,
      image: job.image,
      install: job.install,
      commands: job.commands,
      cache: job.cache,
      env: job.env,
    });
    const spec: JobSpec = {
      ...base,
      ...(job.template ? { template: job.template } : {}),
      buildImage: build.image,
      install: build.install,
      commands: build.commands,
      cache: build.cache,
      env: build.env,
      outputs: job.outputs ?? [],
      inputs: job.inputs ?? [],
      timeoutMinutes: minutes(job.timeout, DEFAULT_TIMEOUT_SECONDS),
      compute: 'small',
    };
    // checks.ts refused a choice that cannot hold, so the decision here is always ok.
    const decided = chooseCompute(job.compute, job.fleet, computeSubject(job, build));
    if (decided.ok) {
      spec.compute = decided.compute;
      if (decided.auto && decided.compute === 'lambda') spec.computeAuto = { timeoutMinutes: spec.timeoutMinutes };
      if (decided.fleet !== undefined) spec.fleet = decided.fleet;
      // Lambda compute ends every build at 15 minutes and takes no custom timeout.
      if (decided.compute === 'lambda') spec.timeoutMinutes = Math.min(spec.timeoutMinutes, LAMBDA_MAX_MINUTES);
    }
    if (kind === 'image' && job.docker) {
      spec.image = {
        dockerfile: job.docker.dockerfile ?? 'Dockerfile',
        context: job.docker.context ?? '.',
        repository: job.docker.repository,
        tags: job.docker.tags ?? [],
      };
    }
    return spec;
  }
  const noBuild = { install: [], commands: [], cache: [], env: {}, outputs: [], inputs: [], compute: 'small' as const };
  if (kind === 'approval') {
    const timeoutMinutes = minutes(job.approval?.timeout, DEFAULT_APPROVAL_TIMEOUT_SECONDS);
    return { ...base, ...noBuild, timeoutMinutes, approval: { approvers: job.approval?.approvers ?? [], timeoutMinutes } };
  }
  const d = job.deploy!;
  const strategy = d.strategy ?? 'blue-green';
  return {
    ...base,
    ...noBuild,
    timeoutMinutes: minutes(job.timeout, DEFAULT_TIMEOUT_SECONDS),
    deploy: {
      target: d.target,
      strategy,
      steps: d.steps ?? (strategy === 'standard' ? [100] : [...DEFAULT_STEPS]),
      intervalSeconds: seconds(d.interval, DEFAULT_INTERVAL_SECONDS),
      bakeSeconds: seconds(d.bake, DEFAULT_BAKE_SECONDS),
      alarms: d.alarms ?? [],
      imageFrom: d.imageFrom ?? nearestImageJob(raw, graph, name),
      ...(d.healthCheck
        ? { healthCheck: { path: d.healthCheck.path, expectedStatus: d.healthCheck.expectedStatus ?? 200, windowSeconds: seconds(d.healthCheck.window, DEFAULT_HEALTH_CHECK_WINDOW_SECONDS) } }
        : {}),
      rollbackWindowMinutes: minutes(d.rollbackWindow, DEFAULT_ROLLBACK_WINDOW_SECONDS),
    },
  };
}

/** What compute.ts needs of a raw job and its merged template. */
export function computeSubject(job: RawJob, build: { install: readonly string[]; commands: readonly string[] }): ComputeSubject {
  const given = parseDuration(job.timeout);
  return {
    kind: job.kind ?? 'build',
    ...(job.template ? { template: job.template } : {}),
    ...(job.image !== undefined ? { customImage: job.image } : {}),
    install: build.install,
    commands: build.commands,
    ...(given !== undefined ? { timeoutMinutes: given / 60 } : {}),
  };
}
