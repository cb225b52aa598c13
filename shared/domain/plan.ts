/**
 * Planning a run: what the run item keeps of each job, and which jobs the run's
 * `when` filters leave out. Pure; the result goes into a `RunRequested` event.
 */
import picomatch from 'picomatch';
import type { PipelineSpec, WhenFilter } from './pipeline.ts';
import type { JobPlan, Trigger } from './run.ts';

export interface RunPlan {
  plan: Record<string, JobPlan>;
  /** Jobs whose own `when` filter does not match the trigger. Their dependents are skipped by `decide`. */
  skippedByWhen: string[];
}

/**
 * Builds the run's job plan from a validated pipeline spec.
 * Throws a plain Error for a deploy job without a target: the definition schema
 * guarantees one, so its absence is a programming error, not a user's.
 */
export function planRun(spec: PipelineSpec, trigger: Trigger): RunPlan {
  const plan: Record<string, JobPlan> = {};
  const skippedByWhen: string[] = [];
  for (const name of Object.keys(spec.jobs)) {
    const job = spec.jobs[name];
    const entry: JobPlan = {
      kind: job.kind,
      needs: [...job.needs],
      maxAttempts: Math.max(0, Math.floor(job.retries ?? 0)) + 1,
    };
    if (job.kind === 'deploy') {
      const target = job.deploy?.target;
      if (!target) throw new Error(`planRun: deploy job "${name}" has no target`);
      entry.target = target;
    }
    plan[name] = entry;
    if (!matchesWhen(job.when, trigger)) skippedByWhen.push(name);
  }
  return { plan, skippedByWhen };
}

/**
 * Whether a job-level `when` filter lets the job run for this trigger.
 *
 * - `events`: empty = any event; otherwise the trigger's event must be listed.
 * - `branches` / `tags`: both empty = any ref. Otherwise the run must be on a
 *   listed branch (`trigger.branch`) or a listed tag (`trigger.tag`): a job with
 *   only tag globs is skipped on branch pushes, and the other way round.
 * - Globs follow GitHub Actions: `*` stops at `/`, `**` does not, and a pattern
 *   starting with `!` excludes what earlier patterns included (the last match wins).
 */
export function matchesWhen(when: WhenFilter | undefined, trigger: Trigger): boolean {
  const events = when?.events ?? [];
  const branches = when?.branches ?? [];
  const tags = when?.tags ?? [];
  if (events.length > 0 && !events.includes(trigger.event)) return false;
  if (branches.length === 0 && tags.length === 0) return true;
  if (trigger.branch !== undefined && branches.length > 0 && matchesGlobs(branches, trigger.branch)) return true;
  if (trigger.tag !== undefined && tags.length > 0 && matchesGlobs(tags, trigger.tag)) return true;
  return false;
}

/** Ordered include/exclude globs: the last matching pattern decides; only excludes = everything else is included. */
export function matchesGlobs(patterns: readonly string[], value: string): boolean {
  let included = patterns.every((p) => p.startsWith('!'));
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    if (compile(negated ? pattern.slice(1) : pattern)(value)) included = !negated;
  }
  return included;
}

// Compiling a glob costs far more than matching it; the set of globs in use is small.
const compiled = new Map<string, (value: string) => boolean>();
function compile(glob: string): (value: string) => boolean {
  let matcher = compiled.get(glob);
  if (!matcher) {
    matcher = picomatch(glob, { dot: true });
    if (compiled.size > 1000) compiled.clear();
    compiled.set(glob, matcher);
  }
  return matcher;
}
