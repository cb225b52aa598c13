/**
 * Per-pipeline concurrency (CodePipeline's three modes). Pure: the engine lists
 * the pipeline's active runs, asks `admit`, then records the answer in the
 * `RunRequested` event and sends `RunSuperseded` to each run to supersede.
 */
import type { ConcurrencyMode } from './pipeline.ts';
import type { RunSummary } from '../ports.ts';

export interface Admission {
  admission: 'start' | 'queue';
  /** Runs the incoming run supersedes (oldest first). */
  supersede: string[];
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
      const older = position >= 0 ? active.slice(0, position).filter(isActive) : others;
      const supersede = older
        .filter((r) => r.branch === incoming.branch)
        .filter((r) => incoming.createdAt === undefined || r.createdAt <= incoming.createdAt)
        .map((r) => r.runId);
      return { admission: 'start', supersede };
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
