/**
 * Which registered pipelines a source event starts. Pure.
 *
 * - push: `events` has `push`, the branch matches `branches`, and the path filter holds;
 * - tag: `events` has `tag` and the tag matches `tags` (no path filter: a tag names a commit, not a change);
 * - pull_request: `events` has `pull_request`, the action brings code (opened, updated, reopened),
 *   and the target branch matches `branches`; the path filter holds;
 * - delete and ping: nothing starts.
 *
 * An empty glob list matches everything, as in the job-level `when` filter.
 */
import picomatch from 'picomatch';
import type { PathFilter, Triggers } from './pipeline.ts';
import type { SourceEvent } from './source-event.ts';

const RUNNABLE_PR_ACTIONS = new Set(['opened', 'updated', 'reopened']);

export function matchesTriggers(triggers: Triggers, event: SourceEvent): boolean {
  switch (event.kind) {
    case 'push':
      return triggers.events.includes('push') && matchesAny(triggers.branches, event.branch) && matchesPaths(triggers.paths, event.changedFiles);
    case 'tag':
      return triggers.events.includes('tag') && matchesAny(triggers.tags, event.tag);
    case 'pull_request':
      return (
        triggers.events.includes('pull_request') &&
        event.pullRequest !== undefined &&
        RUNNABLE_PR_ACTIONS.has(event.pullRequest.action) &&
        matchesAny(triggers.branches, event.pullRequest.targetBranch) &&
        matchesPaths(triggers.paths, event.changedFiles)
      );
    case 'delete':
    case 'ping':
      return false;
  }
}

/**
 * Path filter over the changed files. With no globs it always holds; with globs and
 * an unknown file list it holds too (better one run too many than a release missed);
 * otherwise some changed file must be included and not excluded. With only excludes,
 * a change made entirely of excluded files starts nothing.
 */
export function matchesPaths(paths: PathFilter, changedFiles: readonly string[] | undefined): boolean {
  if (paths.include.length === 0 && paths.exclude.length === 0) return true;
  if (changedFiles === undefined) return true;
  const excluded = paths.exclude.length > 0 ? matcher(paths.exclude) : () => false;
  const included = paths.include.length > 0 ? matcher(paths.include) : () => true;
  return changedFiles.some((f) => !excluded(f) && included(f));
}

function matchesAny(globs: readonly string[], value: string | undefined): boolean {
  if (value === undefined) return false;
  return globs.length === 0 || matcher(globs)(value);
}

// Pipelines are few and their globs change rarely: compile each list once per container.
const compiled = new Map<string, (s: string) => boolean>();
const MAX_COMPILED = 1000;

function matcher(globs: readonly string[]): (s: string) => boolean {
  const key = JSON.stringify(globs);
  let m = compiled.get(key);
  if (!m) {
    // `dot`: `src/**` covers `src/.config`; branch and tag names may contain dots too.
    m = picomatch(globs as string[], { dot: true });
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(key, m);
  }
  return m;
}
