/**
 * The engine's Notifier: it only puts the notification on the notifications
 * queue. Delivery (git host APIs, chat webhooks, SNS) happens in the notifier
 * function, so a slow or dead endpoint never holds up a run's transition, and a
 * failure to report can never fail the run: the only way this throws is the
 * queue itself being unreachable, which the engine retries like any effect.
 */
import type { Notification, Notifier } from '../ports/notify.ts';
import type { NotificationMessage } from '../ports/messages.ts';
import type { NotificationQueue } from '../ports/index.ts';

export class QueueNotifier implements Notifier {
  constructor(private readonly queue: NotificationQueue) {}

  async notify(n: Notification): Promise<void> {
    // decide emits a Notify `approval_needed` beside every RequestApproval; that one is delivered.
    if (n.kind === 'approval_requested') return;
    await this.queue.send([notificationMessage({ ...n, kind: n.kind })]);
  }
}

export function notificationMessage(n: Notification & { kind: NotificationMessage['kind'] }): NotificationMessage {
  return {
    type: 'Notification',
    id: `${n.runId}:${n.kind}${n.job !== undefined ? `:${n.job}` : ''}`,
    kind: n.kind,
    runId: n.runId,
    pipelineId: n.pipelineId,
    pipelineVersion: n.pipelineVersion,
    ...(n.job !== undefined ? { job: n.job } : {}),
    status: n.status,
    trigger: n.trigger,
    ...(n.reason !== undefined ? { reason: n.reason } : {}),
    ...(n.startedAt !== undefined ? { startedAt: n.startedAt } : {}),
    ...(n.finishedAt !== undefined ? { finishedAt: n.finishedAt } : {}),
    at: n.at,
  };
}
