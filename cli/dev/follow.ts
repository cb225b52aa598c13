/**
 * The terminal's view of a run: each job's status change as it happens.
 */
import type { RunState } from '../../shared/domain/run.ts';
import { ApiService } from '../../shared/services/api-service.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for a run to end, printing each job's status change, attempt and duration as it happens. */
export async function followRun(api: ApiService, runId: string, print: (line: string) => void, timeoutMs = 15 * 60_000): Promise<RunState> {
  const seen = new Map<string, string>();
  const t0 = Date.now();
  for (;;) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`run ${runId} did not end within ${timeoutMs / 1000} s`);
    let run: RunState;
    try { run = await api.getRun(runId); } catch { await sleep(300); continue; }
    for (const [name, j] of Object.entries(run.jobs)) {
      const key = `${j.status}#${j.attempt}`;
      if (seen.get(name) !== key) {
        seen.set(name, key);
        const took = j.startedAt && j.finishedAt ? ` in ${((Date.parse(j.finishedAt) - Date.parse(j.startedAt)) / 1000).toFixed(1)}s` : '';
        print(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${name.padEnd(12)} ${j.status}${j.attempt > 1 ? ` (attempt ${j.attempt})` : ''}${took}${j.reason ? ` - ${j.reason}` : ''}`);
      }
    }
    if (['succeeded', 'failed', 'cancelled', 'superseded'].includes(run.status)) return run;
    await sleep(250);
  }
}
