/** A run as listings and concurrency decisions see it (the run index's projection). */
import type { RunStatus } from './run.ts';

export interface RunSummary {
  runId: string;
  pipelineId: string;
  status: RunStatus;
  branch?: string;
  commit: string;
  createdAt: string;
  finishedAt?: string;
}
