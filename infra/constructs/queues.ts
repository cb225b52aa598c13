import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

export interface QueuesProps {
  /**
   * Visibility timeout of engine-events.fifo; AWS advises at least six times the consumer's timeout.
   * @default Duration.minutes(3)
   */
  readonly engineVisibilityTimeout?: Duration;
  /** @default Duration.minutes(6) */
  readonly releaseVisibilityTimeout?: Duration;
  /**
   * Visibility timeout of the notifications queue; at least six times the notifier's timeout.
   * @default Duration.minutes(6)
   */
  readonly notificationVisibilityTimeout?: Duration;
  /**
   * Receives before a message goes to its DLQ.
   * @default 5
   */
  readonly maxReceiveCount?: number;
}

/** A DLQ and the alarm that fires as soon as it holds a message. */
export interface DeadLetterQueue {
  readonly queue: sqs.Queue;
  readonly alarm: cloudwatch.Alarm;
}

/**
 * engine-events.fifo (one message group per run, or per pipeline for admissions), the
 * release-steps standard queue (per-message delay for polling), and the DLQs with their alarms.
 * Encryption: SSE-SQS, which costs nothing and needs no key policy for EventBridge; TLS enforced.
 */
export class Queues extends Construct {
  readonly engineQueue: sqs.Queue;
  readonly engineDlq: DeadLetterQueue;
  readonly releaseQueue: sqs.Queue;
  readonly releaseDlq: DeadLetterQueue;
  /** Build state changes EventBridge could not deliver, or build-events failed on after retries. */
  readonly buildEventsDlq: DeadLetterQueue;
  /**
   * notifications: a standard queue (DelaySeconds spaces out retries of one channel; order does
   * not matter). Its DLQ holds messages the notifier could not even report on the run.
   */
  readonly notificationQueue: sqs.Queue;
  readonly notificationDlq: DeadLetterQueue;

  constructor(scope: Construct, id: string, props: QueuesProps = {}) {
    super(scope, id);
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    const common = {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    } as const;

    this.engineDlq = this.deadLetterQueue('EngineEventsDlq', { fifo: true });
    this.engineQueue = new sqs.Queue(this, 'EngineEvents', {
      ...common,
      fifo: true,
      // Producers set MessageDeduplicationId = dedupeId(event.id) (shared/ports/messages.ts); two
      // different events with the same body must not be merged.
      contentBasedDeduplication: false,
      // Event ids are unique across groups, so per-group dedup loses nothing and allows
      // high-throughput FIFO.
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      visibilityTimeout: props.engineVisibilityTimeout ?? Duration.minutes(3),
      deadLetterQueue: { queue: this.engineDlq.queue, maxReceiveCount },
    });

    this.releaseDlq = this.deadLetterQueue('ReleaseStepsDlq', { fifo: false });
    this.releaseQueue = new sqs.Queue(this, 'ReleaseSteps', {
      ...common,
      visibilityTimeout: props.releaseVisibilityTimeout ?? Duration.minutes(6),
      deadLetterQueue: { queue: this.releaseDlq.queue, maxReceiveCount },
    });

    this.notificationDlq = this.deadLetterQueue('NotificationsDlq', { fifo: false });
    this.notificationQueue = new sqs.Queue(this, 'Notifications', {
      ...common,
      visibilityTimeout: props.notificationVisibilityTimeout ?? Duration.minutes(6),
      deadLetterQueue: { queue: this.notificationDlq.queue, maxReceiveCount },
    });

    this.buildEventsDlq = this.deadLetterQueue('BuildEventsDlq', { fifo: false });
    NagSuppressions.addResourceSuppressions(this.buildEventsDlq.queue, [
      {
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is itself a DLQ: of the EventBridge rule target and of the build-events function (async on-failure destination); cdk-nag only recognises DLQs named in another queue\'s redrive policy.',
      },
    ]);
  }

  private deadLetterQueue(id: string, opts: { fifo: boolean }): DeadLetterQueue {
    const queue = new sqs.Queue(this, id, {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      fifo: opts.fifo || undefined,
      retentionPeriod: Duration.days(14),
    });
    const alarm = new cloudwatch.Alarm(this, `${id}NotEmpty`, {
      alarmDescription: `Slipway: a message landed in ${id}; it was not processed and needs a look (redrive it once fixed).`,
      metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    return { queue, alarm };
  }

  get deadLetterQueues(): DeadLetterQueue[] {
    return [this.engineDlq, this.releaseDlq, this.buildEventsDlq, this.notificationDlq];
  }

  grantSendEngineEvents(grantee: iam.IGrantable): iam.Grant {
    return this.engineQueue.grantSendMessages(grantee);
  }

  grantSendReleaseSteps(grantee: iam.IGrantable): iam.Grant {
    return this.releaseQueue.grantSendMessages(grantee);
  }

  grantSendNotifications(grantee: iam.IGrantable): iam.Grant {
    return this.notificationQueue.grantSendMessages(grantee);
  }
}
