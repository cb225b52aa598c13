/**
 * `--watch`: a run followed until it ends.
 *
 * In a terminal the run's view is redrawn in place. Redrawing moves the cursor up
 * by the number of lines drawn last time, which is only right when no line wrapped:
 * so every line is cut to the terminal's width (and the view to its height), and a
 * narrow terminal shows a clipped view instead of stacking stale copies of it.
 * Piped (a CI log, `| tee`), each job's status change is printed as one line as it
 * happens, then the whole view once the run has ended.
 */
import { ApiClient, ApiError } from './client.ts';
import { runView } from './format.ts';
import type { RunState } from '../shared/domain/run.ts';
import { TERMINAL_RUN_STATUSES } from '../shared/domain/run.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** Cuts a line to `width` visible characters, keeping colour codes balanced. */
export function clipLine(line: string, width: number): string {
  if (width <= 0) return '';
  if (line.replace(ANSI, '').length <= width) return line;
  let out = '';
  let visible = 0;
  let coloured = false;
  for (let i = 0; i < line.length && visible < width - 1; ) {
    ANSI.lastIndex = i;
    const m = line.startsWith('\x1b[', i) ? /^\x1b\[[0-9;]*m/.exec(line.slice(i)) : null;
    if (m) { out += m[0]; coloured = m[0] !== '\x1b[0m'; i += m[0].length; continue; }
    out += line[i];
    visible += 1;
    i += 1;
  }
  return `${out}${coloured ? '\x1b[0m' : ''}…`;
}

/** The view fitted to a terminal of `columns` x `rows`: no line wraps, and it never scrolls. */
export function fitView(view: string, columns: number, rows: number): string {
  const lines = view.split('\n').map((l) => clipLine(l, Math.max(columns - 1, 10)));
  const room = Math.max(rows - 1, 3);
  if (lines.length <= room) return lines.join('\n');
  return [...lines.slice(0, room - 1), `… ${lines.length - room + 1} more line(s): make the terminal taller, or run without --watch`].join('\n');
}

/** One line per job whose status (or attempt) changed since `seen`; updates `seen`. */
export function statusChanges(run: RunState, seen: Map<string, string>, now = new Date()): string[] {
  const lines: string[] = [];
  const clock = now.toISOString().slice(11, 19);
  if (seen.get('') !== run.status) {
    seen.set('', run.status);
    lines.push(`${clock}  run ${run.runId} ${run.status}`);
  }
  for (const [name, j] of Object.entries(run.jobs).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const key = `${j.status}#${j.attempt}`;
    if (seen.get(`job:${name}`) === key) continue;
    seen.set(`job:${name}`, key);
    lines.push(`${clock}  ${name} ${j.status}${j.attempt > 1 ? ` (attempt ${j.attempt})` : ''}${j.reason ? `: ${j.reason}` : ''}`);
  }
  return lines;
}

export interface WatchOutput {
  write(text: string): void;
  isTTY: boolean;
  columns?: number;
  rows?: number;
}

/** Follows a run until it ends: 0 if it succeeded, 1 otherwise. */
export async function watchRun(api: ApiClient, runId: string, json: boolean, out: WatchOutput = process.stdout, intervalMs = 1000): Promise<number> {
  const tty = out.isTTY && !json;
  let lastLines = 0;
  const seen = new Map<string, string>();
  const plannedBy = Date.now() + 30_000;
  for (;;) {
    let run: RunState;
    try {
      run = await api.request<RunState>('GET', `/runs/${encodeURIComponent(runId)}`);
    } catch (e) {
      // A run just requested exists once the engine has planned it.
      if (e instanceof ApiError && e.status === 404 && Date.now() < plannedBy) { await sleep(500); continue; }
      throw e;
    }
    const ended = TERMINAL_RUN_STATUSES.has(run.status);
    if (tty) {
      const columns = out.columns || Number(process.env.COLUMNS) || 80;
      const rows = out.rows || Number(process.env.LINES) || 24;
      // The last frame is printed whole: it stays in the scrollback.
      const view = ended ? runView(run) : fitView(runView(run), columns, rows);
      if (lastLines > 0) out.write(`\x1b[${lastLines}A\r\x1b[J`);
      out.write(`${view}\n`);
      lastLines = ended ? 0 : view.split('\n').length;
    } else if (!json) {
      for (const line of statusChanges(run, seen)) out.write(`${line}\n`);
    }
    if (ended) {
      if (json) out.write(`${JSON.stringify(run, null, 2)}\n`);
      else if (!tty) out.write(`${runView(run)}\n`);
      return run.status === 'succeeded' ? 0 : 1;
    }
    await sleep(intervalMs);
  }
}
