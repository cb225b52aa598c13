/** Where the engine sends what happened to a run; the notifier delivers it to commit statuses, chat and e-mail. */
import type { NotifyKind } from '../domain/run-effects.ts';
import type { RunState, Trigger } from '../domain/run.ts';

/** What a notification says: the notifier turns it into commit statuses, chat messages and e-mail. */
export interface Notification {
  /** `approval_requested` comes with every RequestApproval, beside a Notify `approval_needed`. */
  kind: NotifyKind | 'approval_requested';
  runId: string;
  pipelineId: string;
  pipelineVersion: number;
  job?: string;
  /** The run's status when the effect was carried out (a replay may find it further on than `kind`). */
  status: RunState['status'];
  commit: string;
  branch?: string;
  trigger: Trigger;
  reason?: string;
  startedAt?: string;
  finishedAt?: string;
  /** The run's last update: the time of the event that asked for the notification. */
  at: string;
}

export interface Notifier {
  notify(notification: Notification): Promise<void>;
}
