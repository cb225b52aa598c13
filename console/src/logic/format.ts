/** Words and numbers people read in the console. Pure: no DOM, unit-tested. */

export const TERMINAL_RUN = new Set(['succeeded', 'failed', 'cancelled', 'superseded']);
export const TERMINAL_JOB = new Set(['succeeded', 'failed', 'skipped', 'cancelled']);

/** `1.2s`, `48s`, `3m 05s`, `2h 04m`; empty without a start. */
export function duration(startedAt: string | undefined, finishedAt: string | undefined, now: number): string {
  if (!startedAt) return '';
  const ms = Math.max(0, (finishedAt ? Date.parse(finishedAt) : now) - Date.parse(startedAt));
  if (Number.isNaN(ms)) return '';
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.floor(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** `waiting_approval` -> `waiting for approval`. */
export function statusLabel(status: string): string {
  return status === 'waiting_approval' ? 'waiting for approval' : status.replace(/_/g, ' ');
}

/** `5 s ago`, `3 min ago`, `2 h ago`, else the date. */
export function ago(iso: string | undefined, now: number): string {
  if (!iso) return '';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (Number.isNaN(s)) return '';
  if (s < 60) return `${Math.max(0, s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return iso.slice(0, 10);
}

export function shortSha(sha: string | undefined): string {
  return sha ? sha.slice(0, 8) : '';
}
