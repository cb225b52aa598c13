/**
 * Per-pipeline concurrency (CodePipeline's three modes). Pure: the engine lists
 * the pipeline's active runs, asks `admit`, then records the answer in the
 * `RunRequested` event and sends `RunSuperseded` to each run to supersede.
 */
import type { ConcurrencyMode } from './pipeline.ts';
import type { RunSummary } from './run-summary.ts';

export interface Admission {
  admission: 'start' | 'queue';
  /** Runs the incoming run supersedes (oldest first). */
  supersede: string[];
  /** A newer run of the same branch is active already: the incoming run is superseded by it on arrival. */
  supersededBy?: string;
}

export interface IncomingRun {
  runId: string;
  branch?: string;
  /** When given, only runs created earlier are superseded (two webhooks racing must not let the older run win). */
  createdAt?: string;
}

/**
 * @param active the pipeline's queued or running runs, oldest first. It may
 *   already list the incoming run (when the store wrote it first); the incoming
 *   run is never counted against itself, and in `superseded` mode only runs
 *   listed before it are superseded.
 *
 * `superseded` mode sends O(runs) messages for a burst: the incoming run
 * supersedes only the newest older run of its branch. Runs a pipeline started in
 * another mode before switching to `superseded` are therefore not all stopped by
 * the next run; only the newest of them is.
 */
export function admit(mode: ConcurrencyMode, active: readonly RunSummary[], incoming: IncomingRun): Admission {
  const position = active.findIndex((r) => r.runId === incoming.runId);
  const others = (position >= 0 ? active.slice(0, position).concat(active.slice(position + 1)) : active).filter(isActive);
  switch (mode) {
    case 'parallel':
      return { admission: 'start', supersede: [] };
    case 'queued':
      return { admission: others.length > 0 ? 'queue' : 'start', supersede: [] };
    case 'superseded': {
      if (incoming.branch === undefined) return { admission: 'start', supersede: [] };
      const sameBranch = (r: RunSummary) => isActive(r) && r.branch === incoming.branch;
      let older: RunSummary[];
      let newer: RunSummary[];
      if (position >= 0) {
        older = active.slice(0, position).filter(sameBranch);
        newer = active.slice(position + 1).filter(sameBranch);
      } else {
        const others = active.filter(sameBranch);
        older = incoming.createdAt === undefined ? others : others.filter((r) => r.createdAt <= incoming.createdAt!);
        newer = incoming.createdAt === undefined ? [] : others.filter((r) => r.createdAt > incoming.createdAt!);
      }
      // An older run arriving late loses to the newer one at once (it must never deploy after it).
      if (newer.length > 0) return { admission: 'start', supersede: [], supersededBy: newer[newer.length - 1].runId };
      // Every admission supersedes the newest older run, and a late older run is superseded on
      // arrival, so every other older run of the branch has been sent its RunSuperseded already
      // (it stays listed until that message is applied). One message per run, not one per pair.
      return { admission: 'start', supersede: older.slice(-1).map((r) => r.runId) };
    }
    default:
      throw new Error(`admit: unknown concurrency mode ${String(mode satisfies never)}`);
  }
}

/**
 * The run whose turn has come after `afterRunId` ended (queued mode): the oldest
 * queued run, or undefined while another run is still running. `afterRunId` is
 * left out because a just-finished run may still be listed as running.
 */
export function nextQueued(active: readonly RunSummary[], afterRunId?: string): string | undefined {
  const others = active.filter((r) => r.runId !== afterRunId);
  if (others.some((r) => r.status === 'running')) return undefined;
  return others.find((r) => r.status === 'queued')?.runId;
}

function isActive(r: RunSummary): boolean {
  return r.status === 'queued' || r.status === 'running';
}
