/**
 * Engine metrics to CloudWatch as embedded metric format (EMF) log lines,
 * through Powertools Metrics: no PutMetricData call, no IAM permission, nothing
 * billed while idle. One namespace and one dimension (`service`) for every
 * handler, so infra/ can name each metric exactly.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type middy from '@middy/core';
import { METRICS_NAMESPACE, METRICS_SERVICE, type MetricDatum, type MetricsSink } from '../ports/metrics.ts';

const UNITS = { Count: MetricUnit.Count, Milliseconds: MetricUnit.Milliseconds, Seconds: MetricUnit.Seconds } as const;

export function createMetrics(): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE });
}

/** MetricsSink over a Powertools Metrics instance. */
export class PowertoolsMetricsSink implements MetricsSink {
  constructor(private readonly metrics: Metrics) {}
  add(datum: MetricDatum): void {
    this.metrics.addMetric(datum.name, UNITS[datum.unit], datum.value);
  }
}

/**
 * Middy middleware: writes the invocation's metrics at its end, failed or not.
 * Unlike Powertools' own `logMetrics`, an invocation that recorded nothing
 * writes nothing (no "No application metrics to publish" warning on every idle
 * reconciler run or ignored event).
 */
export function flushMetrics(metrics: Metrics): middy.MiddlewareObj {
  const flush = async (): Promise<void> => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return { after: flush, onError: flush };
}
