/**
 * E-mail through SNS: one Publish to the pipeline's topicArn; people subscribe
 * their addresses to the topic. The subject is what SNS accepts (ASCII, one line,
 * under 100 characters).
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { isRetryable } from '../aws/errors.ts';
import { DeliveryError } from './http.ts';
import type { NotificationText } from './text.ts';

export async function publishEmail(sns: Pick<SNSClient, 'send'>, topicArn: string, text: NotificationText): Promise<void> {
  const message = [text.title, '', ...text.lines, ...(text.url ? ['', text.url] : [])].join('\n');
  try {
    await sns.send(new PublishCommand({ TopicArn: topicArn, Subject: emailSubject(text.title), Message: message }));
  } catch (err) {
    const e = err as { name?: string; message?: string };
    const what = `email (SNS topic ${topicArn})`;
    // The topic gone, refusing us (a KMS key included) or the message: no retry will change that.
    const permanent = !isRetryable(err);
    throw new DeliveryError(`${what}: ${permanent ? 'refused' : 'failed'}: ${e.name ?? 'Error'}${e.message ? ` ${e.message}` : ''}`, permanent, { cause: err });
  }
}

export function emailSubject(title: string): string {
  const ascii = `Slipway: ${title}`.replace(/[^\x20-\x7e]/g, '?').replace(/\s+/g, ' ').trim();
  return ascii.length > 99 ? `${ascii.slice(0, 96)}...` : ascii;
}
