/**
 * Sends engine messages to engine-events.fifo: one message group per run (per
 * pipeline for run requests), deduplicated by the message's deterministic id.
 */
import { ChangeMessageVisibilityBatchCommand, SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { RetryableError } from '../domain/errors.ts';
import { toDomainError } from './errors.ts';
import { dedupeId, engineMessageGroup, type EngineMessage } from '../ports/messages.ts';
import type { EventQueue } from '../ports/index.ts';

export class SqsEventQueue implements EventQueue {
  constructor(private readonly sqs: SQSClient, private readonly queueUrl: string) {}

  async send(messages: EngineMessage[]): Promise<void> {
    // Order within a group matters: SendMessageBatch keeps the order of entries per group.
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      const out = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((m, j) => ({
            Id: String(j),
            MessageBody: JSON.stringify(m),
            MessageGroupId: engineMessageGroup(m),
            MessageDeduplicationId: dedupeId(m.id),
          })),
        }),
      ).catch((err: unknown) => { throw toDomainError(err, `could not enqueue ${chunk.length} engine message(s)`); });
      if (out.Failed && out.Failed.length > 0) {
        const f = out.Failed[0];
        throw new RetryableError(`could not enqueue ${out.Failed.length} engine message(s): ${f.Code} ${f.Message ?? ''}`.trim());
      }
    }
  }

  /**
   * ChangeMessageVisibilityBatch (10 a call): the new timeout counts from now.
   * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html
   * Best effort: a message this fails for comes back after the queue's own timeout.
   */
  async retryAfter(messages: Array<{ receiptHandle: string; seconds: number }>): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      const out = await this.sqs.send(new ChangeMessageVisibilityBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.receiptHandle, VisibilityTimeout: m.seconds })),
      })).catch((err: unknown) => { throw toDomainError(err, `could not change the visibility of ${chunk.length} engine message(s)`); });
      if (out.Failed && out.Failed.length > 0) {
        const f = out.Failed[0];
        throw new RetryableError(`could not change the visibility of ${out.Failed.length} engine message(s): ${f.Code} ${f.Message ?? ''}`.trim());
      }
    }
  }
}
