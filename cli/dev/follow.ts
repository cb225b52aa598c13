/**
 * The terminal's view of runs: each job's status change as it happens, and its build's
 * log lines under it. The status comes from polling the run, the log lines straight from the
 * build: a job's first log line announces the job itself, so its lines never come before
 * its status line (the poll sees the change up to 250 ms later, by when the lines are out).
 */
import type { JobState, RunState } from '../../shared/domain/run.ts';
import type { ApiService } from '../../shared/services/api-service.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How far along an attempt a status is: a status line is printed only for a later one than printed. */
const RANK: Record<JobState['status'], number> = { pending: 0, waiting_approval: 1, queued: 2, running: 3, succeeded: 4, failed: 4, skipped: 4, cancelled: 4 };

/** The build a log line is from, as the build runner reports it. */
export interface BuildOfLine {
  runId: string;
  job: string;
  attempt: number;
  /** The build reported IN_PROGRESS (before that, it waits out a retry's backoff). */
  running: boolean;
}

export class RunTerminal {
  /** `runId/job` -> the attempt and rank of the last status line printed. */
  private readonly printed = new Map<string, { attempt: number; rank: number; status: string }>();

  constructor(private readonly print: (line: string) => void, private readonly t0 = Date.now()) {}

  /** Prints the job's status line unless one as far along was printed already. */
  status(runId: string, name: string, j: Pick<JobState, 'status' | 'attempt' | 'startedAt' | 'finishedAt' | 'reason'>): void {
    const key = `${runId}/${name}`;
    const last = this.printed.get(key);
    const rank = RANK[j.status];
    if (last && (j.attempt < last.attempt || (j.attempt === last.attempt && (rank < last.rank || (rank === last.rank && j.status === last.status))))) return;
    this.printed.set(key, { attempt: j.attempt, rank, status: j.status });
    const took = j.startedAt && j.finishedAt ? ` in ${((Date.parse(j.finishedAt) - Date.parse(j.startedAt)) / 1000).toFixed(1)}s` : '';
    this.print(`[${((Date.now() - this.t0) / 1000).toFixed(1).padStart(5)}s] ${name.padEnd(12)} ${j.status}${j.attempt > 1 ? ` (attempt ${j.attempt})` : ''}${took}${j.reason ? ` - ${j.reason}` : ''}`);
  }

  /** A build's log line, after its job's status line. */
  buildLog(build: BuildOfLine, line: string): void {
    this.status(build.runId, build.job, { status: build.running ? 'running' : 'queued', attempt: build.attempt });
    this.print(`  | ${line}`);
  }
}

/** Waits for a run to end, printing each job's status change, attempt and duration as it happens. */
export async function followRun(api: Pick<ApiService, 'getRun'>, runId: string, out: RunTerminal | ((line: string) => void), timeoutMs = 15 * 60_000): Promise<RunState> {
  const terminal = out instanceof RunTerminal ? out : new RunTerminal(out);
  const t0 = Date.now();
  for (;;) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`run ${runId} did not end within ${timeoutMs / 1000} s`);
    let run: RunState;
    try { run = await api.getRun(runId); } catch { await sleep(300); continue; }
    for (const [name, j] of Object.entries(run.jobs)) terminal.status(runId, name, j);
    if (['succeeded', 'failed', 'cancelled', 'superseded'].includes(run.status)) return run;
    await sleep(250);
  }
}
