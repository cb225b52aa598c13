/**
 * The notifications queue: a standard SQS queue. Order does not matter (each
 * message is one notification, or one channel of it) and DelaySeconds spaces out
 * the retries of a channel that failed.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { RetryableError } from '../domain/errors.ts';
import { toDomainError } from './errors.ts';
import type { NotificationMessage } from '../ports/messages.ts';
import type { NotificationQueue } from '../ports/index.ts';

/** SQS's limit on DelaySeconds. */
export const MAX_NOTIFICATION_DELAY_SECONDS = 900;

export class SqsNotificationQueue implements NotificationQueue {
  constructor(private readonly sqs: SQSClient, private readonly queueUrl: string) {}

  async send(messages: NotificationMessage[], delaySeconds = 0): Promise<void> {
    const delay = Math.max(0, Math.min(MAX_NOTIFICATION_DELAY_SECONDS, Math.ceil(delaySeconds)));
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      let failed: number;
      let first: string;
      try {
        const out = await this.sqs.send(new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m), DelaySeconds: delay })),
        }));
        failed = out.Failed?.length ?? 0;
        first = failed > 0 ? `${out.Failed![0].Code} ${out.Failed![0].Message ?? ''}`.trim() : '';
      } catch (err) {
        throw toDomainError(err, `could not enqueue ${chunk.length} notification message(s)`);
      }
      if (failed > 0) throw new RetryableError(`could not enqueue ${failed} notification message(s): ${first}`);
    }
  }
}
