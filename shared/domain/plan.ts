/**
 * Planning a run: what the run item keeps of each job, and which jobs the run's
 * `when` filters leave out. Pure; the result goes into a `RunRequested` event.
 */
import picomatch from 'picomatch';
import {
  DEFAULT_FORK_POLICY,
  FORK_APPROVAL_JOB,
  jobPullRequestPolicy,
  type ForkPolicy,
  type JobSpec,
  type PipelineSpec,
  type WhenFilter,
} from './pipeline.ts';
import { trustOf, type JobPlan, type Trigger } from './run.ts';

export interface RunPlan {
  plan: Record<string, JobPlan>;
  /**
   * Jobs skipped from the start: their `when` filter does not match the trigger, or the
   * run's trust does not let them run. Their dependents are skipped by `decide`.
   */
  skippedByWhen: string[];
  /** Why each job in `skippedByWhen` is skipped, in words shown on the job. */
  skipReasons: Record<string, string>;
}

export interface PlanOptions {
  /** How a fork's pull request is run (the pipeline's `pullRequests.forks`). @default approve-first */
  forks?: ForkPolicy;
}

/**
 * Builds the run's job plan from a validated pipeline spec.
 * Throws a plain Error for a deploy job without a target: the definition schema
 * guarantees one, so its absence is a programming error, not a user's.
 */
export function planRun(spec: PipelineSpec, trigger: Trigger, opts: PlanOptions = {}): RunPlan {
  const plan: Record<string, JobPlan> = {};
  const skippedByWhen: string[] = [];
  const skipReasons: Record<string, string> = {};
  const untrusted = trustOf(trigger) === 'untrusted';
  const forks = opts.forks ?? DEFAULT_FORK_POLICY;
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
    const why = trustSkipReason(job, trigger, untrusted, forks) ?? whenSkipReason(job.when, trigger);
    if (why !== undefined) {
      skippedByWhen.push(name);
      skipReasons[name] = why;
    }
  }
  if (untrusted && forks === 'approve-first') gateForkRun(plan, skippedByWhen);
  return { plan, skippedByWhen, skipReasons };
}

/**
 * Under `approve-first`, every job of a fork's run that may run waits behind one
 * approval job: a person allowed to approve looks at the change first. The run is
 * for one head commit; a new commit is a new run, which waits again.
 */
function gateForkRun(plan: Record<string, JobPlan>, skipped: readonly string[]): void {
  const off = new Set(skipped);
  const roots = Object.keys(plan).filter((name) => !off.has(name) && plan[name].needs.length === 0);
  if (roots.length === 0) return;
  for (const name of roots) plan[name].needs = [FORK_APPROVAL_JOB];
  // First in the plan's order, so listings show the gate before what it holds.
  const jobs = { ...plan };
  for (const key of Object.keys(plan)) delete plan[key];
  plan[FORK_APPROVAL_JOB] = { kind: 'approval', needs: [], maxAttempts: 1 };
  Object.assign(plan, jobs);
}

/** Why the run's provenance keeps a job from running, if it does. */
function trustSkipReason(job: JobSpec, trigger: Trigger, untrusted: boolean, forks: ForkPolicy): string | undefined {
  if (untrusted && forks === 'skip') return "pull requests from forks are not run (the pipeline's pullRequests.forks is skip)";
  if (trigger.event !== 'pull_request' && !untrusted) return undefined;
  const policy = jobPullRequestPolicy(job);
  const publishes = job.kind !== 'build';
  const what = job.kind === 'image' ? 'build images' : job.kind === 'deploy' ? 'deploy' : 'wait for approvals';
  if (untrusted && publishes) return `a pull request from a fork never runs ${job.kind} jobs: its code is not the team's`;
  if (policy === 'skip') {
    return publishes
      ? `pull-request runs do not ${what}; set pullRequests: same-repository on the job to run it for pull requests from this repository's branches`
      : 'the job sets pullRequests: skip';
  }
  if (policy === 'same-repository' && untrusted) return 'the job sets pullRequests: same-repository and this pull request comes from a fork';
  return undefined;
}

/** Why the job's `when` filter leaves it out of this run, if it does. */
function whenSkipReason(when: WhenFilter | undefined, trigger: Trigger): string | undefined {
  if (matchesWhen(when, trigger)) return undefined;
  const branches = when?.branches ?? [];
  const tags = when?.tags ?? [];
  if (trigger.event === 'pull_request' && (branches.length > 0 || tags.length > 0) && !(when?.events ?? []).includes('pull_request')) {
    return 'its when.branches names pushes to those branches, not pull requests into them; add pull_request to when.events to run it for pull requests';
  }
  return `its when filter does not match this run (${describeTrigger(trigger)})`;
}

function describeTrigger(t: Trigger): string {
  const ref = t.tag !== undefined ? `tag "${t.tag}"` : t.branch !== undefined ? `branch "${t.branch}"` : 'no branch or tag';
  return `${t.event} on ${ref}`;
}

/**
 * Whether a job-level `when` filter lets the job run for this trigger.
 *
 * - `events`: empty = any event; otherwise the trigger's event must be listed.
 * - `branches` / `tags`: both empty = any ref. Otherwise the run must be on a
 *   listed branch (`trigger.branch`) or a listed tag (`trigger.tag`): a job with
 *   only tag globs is skipped on branch pushes, and the other way round.
 * - A pull request's run is on its *target* branch, so `branches: [main]` would
 *   match every pull request into main. A job that filters on branches or tags
 *   therefore runs for a pull request only when `events` lists `pull_request`:
 *   "main only" means pushes to main unless the job says otherwise.
 * - Globs follow GitHub Actions: `*` stops at `/`, `**` does not, and a pattern
 *   starting with `!` excludes what earlier patterns included (the last match wins).
 */
export function matchesWhen(when: WhenFilter | undefined, trigger: Trigger): boolean {
  const events = when?.events ?? [];
  const branches = when?.branches ?? [];
  const tags = when?.tags ?? [];
  if (events.length > 0 && !events.includes(trigger.event)) return false;
  if (branches.length === 0 && tags.length === 0) return true;
  if (trigger.event === 'pull_request' && !events.includes('pull_request')) return false;
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
