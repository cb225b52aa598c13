import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE, METRICS_SERVICE, type MetricName } from '../../shared/ports/metrics.ts';
import type { DeadLetterQueue } from './queues.ts';

export interface ObservabilityProps {
  /** Handlers by name. */
  readonly functions: Record<string, lambda.IFunction>;
  readonly deadLetterQueues: Record<string, DeadLetterQueue>;
  readonly engineQueue: sqs.IQueue;
  readonly httpApi: apigw.IHttpApi;
  /**
   * Topic every alarm notifies (ALARM and OK). It must accept publishes from CloudWatch: unencrypted,
   * or encrypted with a customer key whose policy lets cloudwatch.amazonaws.com use it.
   * @default no alarm actions; alarms show in the console and the dashboard
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Create the CloudWatch dashboard. Each account has 3 dashboards free; beyond that one costs $3/month.
   * @default true
   */
  readonly dashboard?: boolean;
  /**
   * Age of the oldest engine event that means the engine is stuck.
   * @default Duration.minutes(15)
   */
  readonly engineBacklogAge?: Duration;
  /**
   * Failed runs in one hour that raise the RunsFailed alarm. Runs fail for ordinary reasons (a red
   * test), so one failure is not an operator's problem; many in an hour usually are (a broken
   * build image, an expired token, a CodeBuild quota).
   * @default 5
   */
  readonly runsFailedPerHour?: number;
  /**
   * 90th percentile of the time from a webhook to the run's first StartBuild that raises the
   * WebhookToBuildStart alarm.
   * @default Duration.minutes(5)
   */
  readonly webhookToBuildStartP90?: Duration;
}

/** An engine metric (Powertools EMF, namespace Slipway, dimension service=slipway). */
export function engineMetric(name: MetricName, statistic: string, period = Duration.minutes(5), label?: string): cloudwatch.Metric {
  return new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: name, dimensionsMap: { service: METRICS_SERVICE }, statistic, period, ...(label ? { label } : {}) });
}

/** Alarms on handler errors, DLQs, an engine backlog, failed runs, rollbacks and slow build starts; one dashboard. */
export class Observability extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    for (const [name, fn] of Object.entries(props.functions)) {
      this.alarms.push(
        new cloudwatch.Alarm(this, `${name}Errors`, {
          alarmDescription: `Slipway: the ${name} handler threw (an invocation failed); see its log group.`,
          metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
          threshold: 0,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    const backlog = props.engineQueue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' });
    this.alarms.push(
      new cloudwatch.Alarm(this, 'EngineBacklog', {
        alarmDescription: 'Slipway: engine events wait longer than expected; the engine is failing or throttled.',
        metric: backlog,
        threshold: (props.engineBacklogAge ?? Duration.minutes(15)).toSeconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    // Alarms on what the engine reports about runs and releases (metrics missing = nothing happened).
    this.alarms.push(
      new cloudwatch.Alarm(this, 'RunsFailed', {
        alarmDescription: 'Slipway: many runs failed within an hour; look for a common cause (build image, git token, CodeBuild quota) in the run reasons.',
        metric: engineMetric(METRIC.runsFailed, 'Sum', Duration.hours(1)),
        threshold: props.runsFailedPerHour ?? 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, 'Rollbacks', {
        alarmDescription: 'Slipway: a release was rolled back (automatically or on request); the release reason is on the target and the run.',
        metric: engineMetric(METRIC.rollbacks, 'Sum', Duration.minutes(5)),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, 'WebhookToBuildStart', {
        alarmDescription: 'Slipway: builds start late after webhooks (p90); the engine queue is backing up or StartBuild is throttled.',
        metric: engineMetric(METRIC.webhookToBuildStart, 'p90', Duration.minutes(15)),
        threshold: (props.webhookToBuildStartP90 ?? Duration.minutes(5)).toMilliseconds(),
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    const dlqAlarms = Object.values(props.deadLetterQueues).map((d) => d.alarm);
    if (props.alarmTopic) {
      const action = new actions.SnsAction(props.alarmTopic);
      for (const alarm of [...this.alarms, ...dlqAlarms]) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }

    if (props.dashboard ?? true) {
      const fns = Object.entries(props.functions);
      this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
        defaultInterval: Duration.hours(6),
        widgets: [
          [
            new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...this.alarms, ...dlqAlarms], width: 24, height: 4 }),
          ],
          [
            new cloudwatch.GraphWidget({ title: 'Invocations', left: fns.map(([n, f]) => f.metricInvocations({ label: n })), width: 8 }),
            new cloudwatch.GraphWidget({ title: 'Errors', left: fns.map(([n, f]) => f.metricErrors({ label: n })), width: 8 }),
            new cloudwatch.GraphWidget({ title: 'Duration p99', left: fns.map(([n, f]) => f.metricDuration({ label: n, statistic: 'p99' })), width: 8 }),
          ],
          [
            new cloudwatch.GraphWidget({
              title: 'Engine queue',
              left: [props.engineQueue.metricApproximateNumberOfMessagesVisible({ label: 'visible' })],
              right: [backlog.with({ label: 'oldest (s)' })],
              width: 8,
            }),
            new cloudwatch.GraphWidget({
              title: 'Dead-letter queues',
              left: Object.entries(props.deadLetterQueues).map(([n, d]) => d.queue.metricApproximateNumberOfMessagesVisible({ label: n })),
              width: 8,
            }),
            new cloudwatch.GraphWidget({
              title: 'API',
              left: [props.httpApi.metricCount({ label: 'requests' })],
              right: [props.httpApi.metricClientError({ label: '4xx' }), props.httpApi.metricServerError({ label: '5xx' })],
              width: 8,
            }),
          ],
          [
            new cloudwatch.GraphWidget({
              title: 'Runs',
              left: [
                engineMetric(METRIC.runsStarted, 'Sum', undefined, 'started'),
                engineMetric(METRIC.runsSucceeded, 'Sum', undefined, 'succeeded'),
                engineMetric(METRIC.runsFailed, 'Sum', undefined, 'failed'),
              ],
              width: 8,
            }),
            new cloudwatch.GraphWidget({
              title: 'Webhook to build start (ms)',
              left: [engineMetric(METRIC.webhookToBuildStart, 'p50', undefined, 'p50'), engineMetric(METRIC.webhookToBuildStart, 'p90', undefined, 'p90')],
              width: 8,
            }),
            new cloudwatch.GraphWidget({
              title: 'Build and release duration (s)',
              left: [engineMetric(METRIC.buildDuration, 'p50', undefined, 'build p50'), engineMetric(METRIC.buildDuration, 'p90', undefined, 'build p90')],
              right: [engineMetric(METRIC.releaseDuration, 'p50', undefined, 'release p50'), engineMetric(METRIC.releaseDuration, 'Maximum', undefined, 'release max')],
              width: 8,
            }),
          ],
          [
            new cloudwatch.GraphWidget({
              title: 'Rollbacks and repairs',
              left: [
                engineMetric(METRIC.rollbacks, 'Sum', undefined, 'rollbacks'),
                engineMetric(METRIC.reconciledJobs, 'Sum', undefined, 'jobs reconciled'),
                engineMetric(METRIC.stuckReleases, 'Sum', undefined, 'deploy jobs past timeout'),
              ],
              width: 12,
            }),
            new cloudwatch.GraphWidget({
              title: 'Missed webhooks: recovered runs and delay since the commit (s)',
              left: [
                engineMetric(METRIC.missedWebhooksRecovered, 'Sum', undefined, 'runs recovered'),
                engineMetric(METRIC.webhookProblems, 'Sum', undefined, 'hook problems reported'),
              ],
              right: [engineMetric(METRIC.recoveryDelay, 'p50', undefined, 'delay p50'), engineMetric(METRIC.recoveryDelay, 'Maximum', undefined, 'delay max')],
              width: 12,
            }),
          ],
          [
            new cloudwatch.GraphWidget({
              title: 'Builds started, by compute',
              left: [
                engineMetric(METRIC.buildsOnLambda, 'Sum', undefined, 'Lambda compute'),
                engineMetric(METRIC.buildsOnEc2, 'Sum', undefined, 'EC2 on demand'),
                engineMetric(METRIC.buildsOnFleet, 'Sum', undefined, 'reserved fleet'),
              ],
              width: 24,
            }),
          ],
        ],
      });
    }
  }
}
