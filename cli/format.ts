/** Human-readable views of runs, jobs and targets for the terminal. */
import { describeProvenance, type RunState } from '../shared/domain/run.ts';

const useColor = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number, s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);

const STATUS_COLOR: Record<string, number> = {
  succeeded: 32, failed: 31, cancelled: 33, superseded: 33, skipped: 90, running: 36, queued: 34, pending: 90, waiting_approval: 35,
};

export function status(s: string): string {
  return paint(STATUS_COLOR[s] ?? 0, s);
}

export function duration(fromIso?: string, toIso?: string, now = Date.now()): string {
  if (!fromIso) return '';
  const ms = (toIso ? Date.parse(toIso) : now) - Date.parse(fromIso);
  if (!Number.isFinite(ms) || ms < 0) return '';
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export function table(rows: string[][]): string {
  // eslint-disable-next-line no-control-regex
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(c))));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i] - visible(c)))).join('  ')).join('\n');
}

/**
 * The run's jobs in dependency order: each after everything it needs, level by
 * level (its longest chain of needs), by name within a level. The run item's job
 * map has no order of its own (DynamoDB keeps none), so the view makes one.
 */
export function jobOrder(run: Pick<RunState, 'jobs' | 'plan'>): string[] {
  const depth = new Map<string, number>();
  const levelOf = (name: string, seen: Set<string>): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    if (seen.has(name)) return 0; // a cycle cannot be planned; never loop on one
    seen.add(name);
    const needs = run.plan?.[name]?.needs ?? [];
    const level = needs.length === 0 ? 0 : 1 + Math.max(...needs.map((n) => levelOf(n, seen)));
    depth.set(name, level);
    return level;
  };
  return Object.keys(run.jobs).sort((a, b) => levelOf(a, new Set()) - levelOf(b, new Set()) || (a < b ? -1 : a > b ? 1 : 0));
}

export function runView(run: RunState, now = Date.now()): string {
  const t = run.trigger;
  const head = `run ${run.runId}  ${status(run.status)}  pipeline ${run.pipelineId} v${run.pipelineVersion}  ${t.branch ?? t.tag ?? ''}@${t.commit.slice(0, 8)}  ${duration(run.startedAt ?? run.createdAt, run.finishedAt, now)}`;
  const rows = [['JOB', 'STATUS', 'ATTEMPT', 'COMPUTE', 'TIME', 'NOTE']];
  for (const name of jobOrder(run)) {
    const j = run.jobs[name];
    // A live release shows its latest step; an ended job its reason.
    rows.push([name, status(j.status), j.attempt ? String(j.attempt) : '', j.compute ?? '', duration(j.startedAt, j.finishedAt, now), j.reason ?? j.steps?.at(-1)?.detail ?? '']);
  }
  // Notices: what could not be reported (commit statuses, notifications); the run's outcome stands.
  const steps = jobOrder(run).map((name) => [name, run.jobs[name]] as const).flatMap(([name, j]) => (j.steps ?? []).map((st) => `  ${st.at}  [${name}] ${st.detail}`));
  const notices = (run.notices ?? []).map((n) => `  ${n.at}  ${n.job ? `[${n.job}] ` : ''}${n.message}`);
  const rerun = run.rerun ? `\nre-run of ${run.rerun.of} by ${run.rerun.by}` : '';
  return `${head}\n${describeProvenance(t)}${rerun}${run.reason ? `\n${run.reason}` : ''}\n${table(rows)}${steps.length > 0 ? `\nrelease steps:\n${steps.join('\n')}` : ''}${notices.length > 0 ? `\nnotices:\n${notices.join('\n')}` : ''}`;
}
