/**
 * The engine's operational metrics: names, and how they are derived from what
 * the engine decided. `decide` stays pure and knows nothing of metrics; the
 * engine layer reads the metrics off an applied event and its effects, once
 * (a redelivered event is not applied again, so it is not counted again).
 *
 * The AWS adapter (shared/aws/metrics.ts) writes them as CloudWatch embedded
 * metric format through Powertools Metrics; infra/ builds the dashboard and
 * alarms from the same names.
 */
import type { Effect, EngineEvent, RunState } from '../domain/run.ts';

/** CloudWatch namespace of every Slipway metric. */
export const METRICS_NAMESPACE = 'Slipway';

/** The one dimension every Slipway metric carries (Powertools' `service`), so infra can name the metrics exactly. */
export const METRICS_SERVICE = 'slipway';

export const METRIC = {
  runsStarted: 'RunsStarted',
  runsSucceeded: 'RunsSucceeded',
  runsFailed: 'RunsFailed',
  /** Milliseconds from the webhook (the run request) to the first build of the run starting. */
  webhookToBuildStart: 'WebhookToBuildStart',
  /** Seconds a build ran, from CodeBuild's phases. */
  buildDuration: 'BuildDuration',
  /** Seconds from a release taking the target to its end. */
  releaseDuration: 'ReleaseDuration',
  /** Releases that put the traffic back (automatic or asked for). */
  rollbacks: 'Rollbacks',
  /** Jobs the reconciler moved to their true state (a lost build event, a build that never started). */
  reconciledJobs: 'ReconciledJobs',
  /** Deploy jobs past their timeout; the releaser owns them, the reconciler only reports them. */
  stuckReleases: 'StuckReleases',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
export type MetricUnit = 'Count' | 'Milliseconds' | 'Seconds';

export interface MetricDatum {
  name: MetricName;
  unit: MetricUnit;
  value: number;
}

/** Where metrics go: Powertools Metrics in Lambda, nowhere (or an array) in the local mode and tests. */
export interface MetricsSink {
  add(datum: MetricDatum): void;
}

/** A sink that keeps what it is given (tests, benchmarks). */
export class RecordingMetrics implements MetricsSink {
  readonly data: MetricDatum[] = [];
  add(datum: MetricDatum): void {
    this.data.push(datum);
  }
  sum(name: MetricName): number {
    return this.data.filter((d) => d.name === name).reduce((n, d) => n + d.value, 0);
  }
}

const count = (name: MetricName, value = 1): MetricDatum => ({ name, unit: 'Count', value });

/**
 * The metrics one applied event yields, from the decision: the Notify effects
 * say a run started, succeeded or failed; an applied JobStarted for the first
 * attempt of a root job of a webhook-triggered run is the run's first build
 * starting. Pure; call it only for events that were applied (not replays).
 */
export function runMetrics(event: EngineEvent, state: RunState, effects: readonly Effect[]): MetricDatum[] {
  const out: MetricDatum[] = [];
  for (const e of effects) {
    if (e.type !== 'Notify') continue;
    if (e.kind === 'run_started') out.push(count(METRIC.runsStarted));
    else if (e.kind === 'run_succeeded') out.push(count(METRIC.runsSucceeded));
    else if (e.kind === 'run_failed') out.push(count(METRIC.runsFailed));
  }
  if (event.type === 'JobStarted' && event.attempt === 1 && state.trigger.event !== 'manual' && (state.plan[event.job]?.needs.length ?? 1) === 0) {
    const ms = Date.parse(event.at) - Date.parse(state.createdAt);
    if (Number.isFinite(ms) && ms >= 0) out.push({ name: METRIC.webhookToBuildStart, unit: 'Milliseconds', value: ms });
  }
  return out;
}
