/**
 * Test doubles for the engine's outbound ports that only record what they were
 * given: the Notifier and the MetricsSink.
 */
import type { MetricDatum, MetricName, MetricsSink } from '../../shared/ports/metrics.ts';
import type { Notification, Notifier } from '../../shared/ports/notify.ts';

export class RecordingNotifier implements Notifier {
  readonly sent: Notification[] = [];
  async notify(notification: Notification): Promise<void> {
    this.sent.push(structuredClone(notification));
  }
}

export class RecordingMetrics implements MetricsSink {
  readonly data: MetricDatum[] = [];
  add(datum: MetricDatum): void {
    this.data.push(datum);
  }
  sum(name: MetricName): number {
    return this.data.filter((d) => d.name === name).reduce((n, d) => n + d.value, 0);
  }
}
