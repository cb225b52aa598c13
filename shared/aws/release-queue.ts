/**
 * The release-steps queue: a standard SQS queue, because FIFO queues have no
 * per-message delay and release polling is a chain of delayed messages. Order
 * and duplicates do not matter: the target record's step counter sorts them out.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { toDomainError } from './errors.ts';
import type { ReleaseMessage } from '../ports/messages.ts';
import type { ReleaseQueue, RequestCounter } from '../ports/index.ts';
import { MAX_DELAY_SECONDS } from '../domain/traffic.ts';

export class SqsReleaseQueue implements ReleaseQueue {
  constructor(private readonly sqs: SQSClient, private readonly queueUrl: string, private readonly counter?: RequestCounter) {}

  async send(message: ReleaseMessage, delaySeconds = 0): Promise<void> {
    const delay = Math.max(0, Math.min(MAX_DELAY_SECONDS, Math.ceil(delaySeconds)));
    try {
      this.counter?.count('sqs:SendMessage');
      await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(message), DelaySeconds: delay }));
    } catch (err) {
      throw toDomainError(err, `could not enqueue release message ${message.type} for ${message.target}`);
    }
  }
}
