/** Run lists: the last run of each branch, and the filters of a pipeline's runs page. Pure. */

export interface RunSummaryLike {
  runId: string;
  pipelineId: string;
  status: string;
  branch?: string;
  commit: string;
  createdAt: string;
  finishedAt?: string;
}

/** Newest-first summaries -> the newest run of each branch, in the order first seen (most recent activity first). */
export function lastRunPerBranch<T extends RunSummaryLike>(newestFirst: readonly T[]): T[] {
  const seen = new Map<string, T>();
  for (const r of newestFirst) {
    const key = r.branch ?? '(no branch)';
    if (!seen.has(key)) seen.set(key, r);
  }
  return [...seen.values()];
}

export interface RunFilter { branch?: string; status?: string }

export function filterRuns<T extends RunSummaryLike>(runs: readonly T[], f: RunFilter): T[] {
  return runs.filter((r) => (!f.branch || r.branch === f.branch) && (!f.status || r.status === f.status || (f.status === 'active' && (r.status === 'queued' || r.status === 'running'))));
}

/** Runs of a newer first page replace the older copies; older pages keep their order; no duplicates. */
export function mergeRunPages<T extends RunSummaryLike>(firstPage: readonly T[], older: readonly T[]): T[] {
  const ids = new Set(firstPage.map((r) => r.runId));
  return [...firstPage, ...older.filter((r) => !ids.has(r.runId))];
}

export function branchesOf(runs: readonly RunSummaryLike[]): string[] {
  return [...new Set(runs.map((r) => r.branch).filter((b): b is string => typeof b === 'string'))].sort();
}
