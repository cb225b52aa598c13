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
import type { Effect } from '../domain/run-effects.ts';
import type { EngineEvent } from '../domain/run-events.ts';
import type { RunState } from '../domain/run.ts';
import { METRIC, type MetricDatum, type MetricName, type MetricsSink } from '../ports/metrics.ts';

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
  if (event.type === 'JobStarted' && event.compute !== undefined) {
    out.push(count(event.compute === 'lambda' ? METRIC.buildsOnLambda : event.compute === 'fleet' ? METRIC.buildsOnFleet : METRIC.buildsOnEc2));
  }
  if (event.type === 'JobStarted' && event.attempt === 1 && state.trigger.event !== 'manual' && (state.plan[event.job]?.needs.length ?? 1) === 0) {
    const ms = Date.parse(event.at) - Date.parse(state.createdAt);
    if (Number.isFinite(ms) && ms >= 0) out.push({ name: METRIC.webhookToBuildStart, unit: 'Milliseconds', value: ms });
  }
  return out;
}
