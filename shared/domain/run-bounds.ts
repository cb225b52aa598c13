/**
 * What keeps a run item under DynamoDB's 400 KB item limit
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items).
 * A run and all its jobs are one item, so every part of it has a bound:
 *
 * - what the definition decides (jobs, names, needs, targets): bounded by the
 *   definition's own limits (MAX_JOBS, job and target names of at most 64
 *   characters, MAX_NEEDS_TOTAL, MAX_DEPLOY_JOBS), checked when it is parsed;
 * - what happens while it runs (reasons, outputs, release steps, notices, the
 *   trigger's free text): cut to the sizes below by `decide`;
 * - what the engine keeps (applied event ids, the outbox): bounded in count.
 *
 * `largestRun` builds the run those bounds allow at their worst, every field at
 * its cap; the tests store it in DynamoDB Local and the bench prints its size
 * beside the limit. Pure: no I/O.
 */
import { MAX_JOBS } from './pipeline.ts';
import { MAX_COMPUTE_LABEL_BYTES, MAX_EARLIER_BUILDS, MAX_JOB_STEPS, RUN_NOTICES_LIMIT, type JobPlan, type JobState, type RunState } from './run.ts';

/** Needs in all, over every job of a definition (each costs the need's name in the run's plan). */
export const MAX_NEEDS_TOTAL = 500;
/** Deploy jobs of a definition: each keeps up to MAX_JOB_STEPS release steps in the run. */
export const MAX_DEPLOY_JOBS = 20;
/** A job's or the run's reason, in UTF-8 bytes. */
export const MAX_REASON_BYTES = 160;
/** One release step's detail. */
export const MAX_STEP_DETAIL_BYTES = 120;
/** One notice's message. */
export const MAX_NOTICE_BYTES = 300;
/** A job output's value: an image URI (registry, repository of at most 256 characters, tag), else a digest or an id. */
export const MAX_IMAGE_URI_BYTES = 400;
export const MAX_OUTPUT_BYTES = 128;
/** Who approved (an identity AWS vouches for: a principal ARN, an Identity Center user). */
export const MAX_IDENTITY_BYTES = 256;
/** A manual run's parameters, names and values in all (UTF-8 bytes). */
export const MAX_PARAMETERS_BYTES = 8 * 1024;
/** The trigger's commit message and author. */
export const MAX_TRIGGER_MESSAGE_BYTES = 256;
export const MAX_TRIGGER_AUTHOR_BYTES = 128;

/** How many applied event ids a run keeps (decide's dedupe window; beyond it, state guards). */
export const APPLIED_EVENT_IDS_LIMIT = 128;

/** Cuts `text` to at most `maxBytes` UTF-8 bytes, ending in "…" when cut, never inside a character. */
export function clip(text: string, maxBytes: number): string {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short text needs no counting.
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const budget = maxBytes - 3; // "…" is 3 bytes
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > budget) break;
    bytes += n;
    end += ch.length;
  }
  return `${text.slice(0, end)}…`;
}

/** Sizes the largest run assumes for what the engine and AWS write into a run (not cut by decide). */
export const WORST_CASE = {
  /** A CodeBuild build id: project name (at most 100 characters, see parseBuildProjects) ':' UUID. */
  buildIdBytes: 137,
  /**
   * An engine event id: the longest are `build:<build id>:<state>` (155) and
   * `ReleaseProgressed:<token>:<time>:<phase>:<n>` (about 155); the notifier's are hashed to at most 128.
   */
  eventIdBytes: 160,
  /** Branch and tag names, repository names: what git hosts allow. */
  refBytes: 255,
  /** The effects applyEvent's outbox keeps besides the newest entry (OUTBOX_EFFECTS_LIMIT), and that entry's effects. */
  outboxEffects: 64,
  newestEntryEffects: 2 * MAX_JOBS + 3,
  notices: RUN_NOTICES_LIMIT,
} as const;


/**
 * The largest run `plan` can become: every job on its last attempt with every
 * field at its cap, a full outbox and a full dedupe window. With the largest
 * plan the definition bounds allow, this is the largest run item there can be.
 */
export function largestRun(plan: Record<string, JobPlan>, runId = '01JZZZZZZZZZZZZZZZZZZZZZZZ', pipelineId = 'p'.repeat(100)): RunState & { outbox: Array<{ eventId: string; effects: unknown[]; at: string }> } {
  const at = '2026-11-30T23:59:59.999Z';
  const fill = (bytes: number, ch = 'x') => ch.repeat(bytes);
  const jobs: Record<string, JobState> = {};
  // decide keeps a reason only on a job that did not succeed, and outputs only from a success (a job that
  // succeeded is never retried); a deploy that rolled back has both, and its steps.
  for (const [name, p] of Object.entries(plan)) {
    const earlierBuilds = Array.from({ length: Math.min(MAX_EARLIER_BUILDS, p.maxAttempts - 1) }, (_, i) => ({ attempt: p.maxAttempts - 1 - i, buildId: fill(WORST_CASE.buildIdBytes) }));
    const base = { attempt: p.maxAttempts, startedAt: at, finishedAt: at, ...(p.kind === 'build' || p.kind === 'image' ? { earlierBuilds, compute: fill(MAX_COMPUTE_LABEL_BYTES) } : {}) };
    switch (p.kind) {
      case 'build':
        jobs[name] = { ...base, status: 'failed', buildId: fill(WORST_CASE.buildIdBytes), reason: fill(MAX_REASON_BYTES) };
        break;
      case 'image':
        jobs[name] = { ...base, status: 'succeeded', buildId: fill(WORST_CASE.buildIdBytes), outputs: { imageUri: fill(MAX_IMAGE_URI_BYTES), imageDigest: fill(MAX_OUTPUT_BYTES) } };
        break;
      case 'deploy':
        jobs[name] = {
          ...base, status: 'failed', reason: fill(MAX_REASON_BYTES),
          outputs: { releaseId: fill(MAX_OUTPUT_BYTES), releaseOutcome: 'rolled_back' },
          steps: Array.from({ length: MAX_JOB_STEPS }, () => ({ at, detail: fill(MAX_STEP_DETAIL_BYTES) })),
        };
        break;
      case 'approval':
        jobs[name] = { ...base, status: 'succeeded', approvedBy: fill(MAX_IDENTITY_BYTES) };
        break;
    }
  }
  const names = Object.keys(plan);
  const longest = names.reduce((a, b) => (b.length > a.length ? b : a), '');
  // As the outbox stores it: without the run id and token, which the run gives back.
  const startBuild = { type: 'StartBuild', job: longest, attempt: 11 };
  const effectsOf = (n: number) => Array.from({ length: n }, () => startBuild);
  const outbox = [
    ...Array.from({ length: WORST_CASE.outboxEffects }, () => ({ eventId: fill(WORST_CASE.eventIdBytes), effects: effectsOf(1), at })),
    { eventId: fill(WORST_CASE.eventIdBytes), effects: effectsOf(WORST_CASE.newestEntryEffects), at },
  ];
  const parameterCount = 50;
  const parameterBytes = Math.floor(MAX_PARAMETERS_BYTES / parameterCount) - 128;
  return {
    runId,
    pipelineId,
    pipelineVersion: 999_999,
    concurrency: 'superseded',
    trigger: {
      event: 'pull_request', provider: 'gitlab', repository: fill(WORST_CASE.refBytes), branch: fill(WORST_CASE.refBytes), tag: fill(WORST_CASE.refBytes),
      commit: fill(64, 'f'), pullRequest: 999_999, trust: 'untrusted', fork: true, sourceBranch: fill(WORST_CASE.refBytes),
      headRepository: fill(WORST_CASE.refBytes), baseCommit: fill(64, 'f'), author: fill(MAX_TRIGGER_AUTHOR_BYTES), message: fill(MAX_TRIGGER_MESSAGE_BYTES), deliveryId: fill(128),
      parameters: Object.fromEntries(Array.from({ length: parameterCount }, (_, i) => [`P${String(i).padStart(127, '_')}`, fill(Math.max(0, parameterBytes))])),
    },
    status: 'failed',
    jobs,
    plan,
    createdAt: at,
    updatedAt: at,
    startedAt: at,
    finishedAt: at,
    reason: fill(MAX_REASON_BYTES),
    version: 999_999,
    appliedEventIds: Array.from({ length: APPLIED_EVENT_IDS_LIMIT }, () => fill(WORST_CASE.eventIdBytes)),
    notices: Array.from({ length: WORST_CASE.notices }, () => ({ at, kind: 'notification_failed' as const, message: fill(MAX_NOTICE_BYTES), job: longest })),
    outbox,
  };
}

/**
 * The largest plan the definition bounds allow: MAX_JOBS jobs with 64-character
 * names, MAX_DEPLOY_JOBS of them deploys with 64-character targets and the rest
 * image jobs (the largest job state after a deploy's), MAX_NEEDS_TOTAL needs,
 * every job with the most retries (10, so 11 attempts). A fork's run adds one
 * approval gate (and a need on it per root job) but builds no image and deploys
 * nothing, so its run stays well below this one.
 */
export function largestPlan(): Record<string, JobPlan> {
  const name = (i: number) => `job-${String(i).padStart(3, '0')}-`.padEnd(64, 'x');
  const plan: Record<string, JobPlan> = {};
  let needsLeft = MAX_NEEDS_TOTAL;
  for (let i = 0; i < MAX_JOBS; i++) {
    const wanted = Math.min(i, Math.ceil(MAX_NEEDS_TOTAL / (MAX_JOBS - 1)), needsLeft);
    const needs = Array.from({ length: wanted }, (_, k) => name(i - 1 - k));
    needsLeft -= needs.length;
    const deploy = i >= MAX_JOBS - MAX_DEPLOY_JOBS;
    plan[name(i)] = deploy
      ? { kind: 'deploy', needs, maxAttempts: 11, target: 't'.repeat(64) }
      : { kind: 'image', needs, maxAttempts: 11 };
  }
  return plan;
}
