import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { RECONCILE_MARGIN_ENV } from '../../shared/services/reconciler.ts';
import { SlipwayFunction } from './handler.ts';

export interface ReconcilerProps {
  readonly environment: Record<string, string>;
  /**
   * How often the reconciler looks for runs with lost build events.
   * @default Duration.minutes(5)
   */
  readonly every?: Duration;
  /**
   * Minutes past a job's timeout before it is checked against CodeBuild (and, for a job queued
   * without a build, before it is failed as never started).
   * @default 20
   */
  readonly marginMinutes?: number;
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The scheduled reconciler (functions/reconciler.ts). Each pass reads the active runs of every
 * pipeline (a Query per pipeline, a GetItem per run older than the margin), so idle it costs a few
 * Lambda invocations and DynamoDB reads per hour, within the free tiers. A second rule invokes it
 * every minute as the clock of scheduled runs (`{ kind: 'schedules', time }`: it lists the
 * pipelines and fires what came due): 43,200 short invocations a month, also within the free tier.
 * The owners of the table, queue and builds grant it what it needs (Slipway).
 */
export class Reconciler extends Construct {
  readonly handler: SlipwayFunction;
  readonly schedule: events.Rule;
  /** Every minute: the clock of pipelines' `schedules` (the same function, a schedules event). */
  readonly scheduledRuns: events.Rule;

  constructor(scope: Construct, id: string, props: ReconcilerProps) {
    super(scope, id);
    const every = props.every ?? Duration.minutes(5);
    if (every.toMinutes() < 1) throw new Error('the reconciler cannot run more often than once a minute');
    const margin = props.marginMinutes ?? 20;
    if (!Number.isInteger(margin) || margin < 5) throw new Error(`reconciler marginMinutes must be a whole number >= 5 (the engine queue's redelivery takes that long), got ${margin}`);
    this.handler = new SlipwayFunction(this, 'Function', {
      handler: 'reconciler',
      description: 'Slipway reconciler: moves jobs whose build events were lost to their true state (CodeBuild BatchGetBuilds)',
      environment: { ...props.environment, [RECONCILE_MARGIN_ENV]: String(margin) },
      timeout: Duration.minutes(2),
      logRetention: props.logRetention,
    });
    // A failed pass is not retried: the next one comes within minutes and does the same work.
    this.handler.function.configureAsyncInvoke({ retryAttempts: 0 });
    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'Slipway: reconcile runs whose build events were lost',
      schedule: events.Schedule.rate(every),
      targets: [new targets.LambdaFunction(this.handler.function, { retryAttempts: 0 })],
    });
    // Scheduled runs: each call fires what came due in its minute and the two before, so a
    // lost call is covered by the next ones; the same run's request id dedupes in the FIFO queue.
    this.scheduledRuns = new events.Rule(this, 'ScheduledRuns', {
      description: 'Slipway: fire the pipelines\' scheduled runs that came due (the clock of schedules:)',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.handler.function, {
        retryAttempts: 0,
        event: events.RuleTargetInput.fromObject({ kind: 'schedules', time: events.EventField.time }),
      })],
    });
  }
}
