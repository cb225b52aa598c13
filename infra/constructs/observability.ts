import { Duration } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
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
}

/** Alarms on handler errors, DLQs and an engine backlog, and one dashboard. */
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
        ],
      });
    }
  }
}
