/**
 * What a notification says, once for every channel: a title, a few lines of
 * detail and the link to the run. Chat payloads and e-mail format these.
 */
import type { NotificationEvent } from '../domain/pipeline.ts';
import { describeProvenance } from '../domain/run.ts';
import type { NotificationMessage } from '../ports/messages.ts';

export interface NotificationText {
  title: string;
  /** Short facts, one per line, without markup. */
  lines: string[];
  /** `<public API>/runs/<runId>`, when SLIPWAY_PUBLIC_API_URL is set. */
  url?: string;
  /** good | bad | waiting: chat accents. */
  tone: 'good' | 'bad' | 'waiting';
}

/** The run's page, or undefined when no public URL is configured. */
export function runUrl(publicApiUrl: string | undefined, runId: string): string | undefined {
  return publicApiUrl ? `${publicApiUrl.replace(/\/+$/, '')}/runs/${encodeURIComponent(runId)}` : undefined;
}

export function notificationText(m: NotificationMessage, event: NotificationEvent, publicApiUrl?: string): NotificationText {
  const where = refOf(m);
  const job = m.job ?? 'a job';
  const head: Record<NotificationEvent, [string, NotificationText['tone']]> = {
    run_failed: [`Run failed: ${m.pipelineId} on ${where}`, 'bad'],
    run_succeeded: [`Run succeeded: ${m.pipelineId} on ${where}`, 'good'],
    run_fixed: [`Fixed: ${m.pipelineId} on ${where} succeeds again`, 'good'],
    approval_needed: [`Approval needed: ${m.pipelineId} job "${job}" on ${where}`, 'waiting'],
    released: [`Released: ${m.pipelineId} job "${job}" on ${where}`, 'good'],
    rolled_back: [`Rolled back: ${m.pipelineId} job "${job}" on ${where}`, 'bad'],
  };
  const [title, tone] = head[event];
  const lines: string[] = [];
  if (event === 'run_failed' && m.reason) lines.push(m.reason);
  const subject = m.trigger.message?.split('\n')[0]?.trim();
  lines.push(`Commit ${m.trigger.commit.slice(0, 12)}${subject ? `: ${subject}` : ''}${m.trigger.author ? ` (${m.trigger.author})` : ''}`);
  if (m.trigger.repository) lines.push(`Repository ${m.trigger.repository}${m.trigger.provider ? ` on ${m.trigger.provider}` : ''}`);
  if (m.trigger.event === 'pull_request') lines.push(`From ${describeProvenance(m.trigger)}`);
  const took = duration(m.startedAt, m.finishedAt);
  if (took && (event === 'run_failed' || event === 'run_succeeded' || event === 'run_fixed')) lines.push(`Took ${took}`);
  lines.push(`Run ${m.runId}`);
  const url = runUrl(publicApiUrl, m.runId);
  return { title, lines, tone, ...(url ? { url } : {}) };
}

function refOf(m: NotificationMessage): string {
  if (m.trigger.tag !== undefined) return `tag ${m.trigger.tag}`;
  if (m.trigger.pullRequest !== undefined) return `pull request #${m.trigger.pullRequest}${m.trigger.branch ? ` into ${m.trigger.branch}` : ''}`;
  if (m.trigger.branch !== undefined) return m.trigger.branch;
  return m.trigger.commit.slice(0, 12);
}

/** `1m 05s`, or undefined without both times. */
export function duration(from?: string, to?: string): string | undefined {
  if (!from || !to) return undefined;
  const ms = Date.parse(to) - Date.parse(from);
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}
