/**
 * Missed-webhook recovery: a push to a watched branch (or tag) runs whether or not its
 * webhook arrived. Git hosts deliver at most once in practice (GitHub never retries a
 * failed delivery by itself; Bitbucket retries a 5xx twice; GitLab disables a failing
 * hook), so the reconciler reads, per registered pipeline, the heads of the refs its
 * triggers watch and starts a run, marked `recovered: webhook missed`, for a head that
 * has none.
 *
 * Per pipeline and pass, the git host sees at most `maxRequestsPerPipeline` requests: one
 * listing of branches (if `push` is watched), one of tags (if `tag` is), one commit read
 * per head that may need recovering (for its date, when the listing has none) and, every
 * `hookCheckMinutes`, the hook's health. Listings are conditional requests (ETag /
 * If-None-Match) where the host offers them: an unchanged repository costs GitHub rate
 * limit nothing (a 304 answered to an authorised request does not count,
 * https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate).
 *
 * A head is recovered when (domain/recovery.ts `headVerdict`) no run of the pipeline has its
 * commit, it was committed after the pipeline was registered and within 30 days, and it has
 * been the head for `graceSeconds` (its webhook may be on its way). The head claim in the
 * delivery store decides between this and the webhook: the webhook claims it when it arrives
 * (even for a push its path filter rules out); whoever is first owns the head. So a webhook
 * after the recovery starts nothing, and a recovery after the webhook starts nothing.
 *
 * A disabled pipeline is skipped. A push its webhook announced while it was disabled stays
 * claimed (ingest-webhook claims the head) and is not run once it is enabled; one whose
 * webhook went missing too is recovered then, if it is still the head.
 *
 * `firstSeen` is state kept between passes (module scope in the Lambda): after a cold start
 * a head waits one more grace period, and conditional requests start afresh.
 */
import picomatch from 'picomatch';
import { ulid } from 'ulid';
import { HEAD_CLAIM_TTL_SECONDS, RECOVERED_CLAIM_TTL_SECONDS, headClaimKey, headVerdict, recoveredClaimKey, recoveredTrigger, watchesRef, type RefHead } from '../domain/recovery.ts';
import type { DeliveryStore, EventQueue, PipelineRecord, PipelineStore, RunStore } from '../ports/index.ts';
import type { HeadsQuery, HookNotice, RepositoryHeads } from '../ports/git-hosts.ts';
import type { RunRequest } from '../ports/messages.ts';
import { METRIC, type MetricsSink } from '../ports/metrics.ts';
import { everyPipeline } from './every-pipeline.ts';

export interface PushRecoveryOptions {
  /** How long a new head waits for its webhook before it is recovered. @default 120 */
  graceSeconds?: number;
  /** Git host requests per pipeline per pass, at most. @default 5 */
  maxRequestsPerPipeline?: number;
  /** How often each pipeline's hook health is read (it costs 1-2 requests). @default 60 */
  hookCheckMinutes?: number;
  /** The URL the hooks should post to (`WebhookUrl`), to find Slipway's hook among the repository's. */
  webhookUrl?: string;
}

export interface PushRecoveryDeps extends PushRecoveryOptions {
  pipelines: Pick<PipelineStore, 'list'>;
  runs: Pick<RunStore, 'listByPipeline'>;
  deliveries: DeliveryStore;
  queue: EventQueue;
  heads: RepositoryHeads;
  /** Kept between passes by the caller: when each head was first seen, and when each hook was last checked. */
  memory: RecoveryMemory;
  metrics?: MetricsSink;
  now?: () => Date;
  newRunId?: () => string;
  logger?: { info(message: string, extra?: Record<string, unknown>): void; warn(message: string, extra?: Record<string, unknown>): void; error(message: string, extra?: Record<string, unknown>): void };
}

export interface RecoveryMemory {
  firstSeen: Map<string, number>;
  hookCheckedAt: Map<string, number>;
  /** Committer dates already read (commit -> ISO date): a commit's date never changes. */
  commitDates: Map<string, string>;
}

export function newRecoveryMemory(): RecoveryMemory {
  return { firstSeen: new Map(), hookCheckedAt: new Map(), commitDates: new Map() };
}

export interface RecoveryReport {
  pipelines: number;
  /** Requests sent to git hosts in this pass, and how many were answered 304. */
  requests: number;
  notModified: number;
  /** The most requests one pipeline cost in this pass. */
  maxRequestsForOnePipeline: number;
  recovered: Array<{ pipelineId: string; runId: string; ref: string; commit: string; delaySeconds?: number }>;
  notices: HookNotice[];
  errors: Array<{ where: string; error: string }>;
}

/** Optional variable of the reconciler function: PushRecoveryOptions.graceSeconds. */
export const RECOVERY_GRACE_ENV = 'SLIPWAY_RECOVERY_GRACE_SECONDS';

/** How many of a pipeline's newest runs are searched for a head's commit. */
const RUNS_SEARCHED = 50;

export async function recoverMissedPushes(deps: PushRecoveryDeps): Promise<RecoveryReport> {
  const report: RecoveryReport = { pipelines: 0, requests: 0, notModified: 0, maxRequestsForOnePipeline: 0, recovered: [], notices: [], errors: [] };
  for await (const pipeline of everyPipeline(deps.pipelines)) {
    report.pipelines += 1;
    try {
      await recoverPipeline(deps, pipeline, report);
    } catch (err) {
      report.errors.push({ where: `pipeline ${pipeline.id}`, error: err instanceof Error ? err.message : String(err) });
      deps.logger?.error('missed-push recovery could not check a pipeline', { pipelineId: pipeline.id, error: err as Error });
    }
  }
  // Heads no longer seen are forgotten, so the memory stays as large as the repositories' refs.
  return report;
}

async function recoverPipeline(deps: PushRecoveryDeps, pipeline: PipelineRecord, report: RecoveryReport): Promise<void> {
  // A disabled pipeline starts no runs, recovered ones neither; its git host is not asked either.
  if (pipeline.disabled) return;
  const triggers = pipeline.spec.source.triggers;
  const wantBranches = triggers.events.includes('push');
  const wantTags = triggers.events.includes('tag');
  if (!wantBranches && !wantTags) return;
  const budget = deps.maxRequestsPerPipeline ?? 5;
  const now = (deps.now ?? (() => new Date()))().getTime();
  const query: HeadsQuery = {
    pipelineId: pipeline.id,
    provider: pipeline.spec.source.provider,
    repository: pipeline.spec.source.repository,
    ...(pipeline.tokenSecretName ? { tokenSecretName: pipeline.tokenSecretName } : {}),
    branches: wantBranches,
    tags: wantTags,
    // Within the budget: the listings come first.
    ...(wantBranches ? { branchNames: exactNames(triggers.branches).slice(0, Math.max(0, budget - 1 - (wantTags ? 1 : 0))) } : {}),
  };
  let used = 0;
  const answer = await deps.heads.heads(query);
  used += answer.requests;
  report.notModified += answer.notModified;

  const watched = answer.heads.filter((h) => watchesRef(triggers, h.ref));
  const seenNow = new Set<string>();
  let runs: Set<string> | undefined;
  const requests: Array<{ request: RunRequest; head: RefHead; claims: string[] }> = [];
  for (const head of watched) {
    const memoKey = `${pipeline.id}\0${head.ref}\0${head.commit}`;
    seenNow.add(memoKey);
    if (!deps.memory.firstSeen.has(memoKey)) deps.memory.firstSeen.set(memoKey, now);
    runs ??= new Set((await deps.runs.listByPipeline(pipeline.id, { limit: RUNS_SEARCHED })).items.map((r) => r.commit.toLowerCase()));
    const hasRun = runs.has(head.commit.toLowerCase());
    if (hasRun) continue;
    const firstSeenAt = deps.memory.firstSeen.get(memoKey)!;
    const graceMs = (deps.graceSeconds ?? 120) * 1000;
    if (now - firstSeenAt < graceMs) continue; // its webhook may be on its way: nothing to ask yet
    let dated = head;
    if (!head.committedAt && deps.heads.commitDate) {
      // Without a date the head cannot be told from history older than the pipeline: ask, within the budget.
      let committedAt = deps.memory.commitDates.get(head.commit);
      if (committedAt === undefined) {
        if (used >= budget) continue;
        used += 1;
        committedAt = await deps.heads.commitDate(query, head.commit);
        if (!committedAt) continue;
        deps.memory.commitDates.set(head.commit, committedAt);
      }
      dated = { ...head, committedAt };
    }
    const verdict = headVerdict(dated, { hasRun, registeredAt: pipeline.createdAt, firstSeenAt, now, graceMs });
    if (!verdict.recover) continue;
    const provider = pipeline.spec.source.provider;
    const headKey = headClaimKey(pipeline.id, head.ref, head.commit);
    // The webhook claims the same key when it comes: lost means it came (late, or ruled out by a path filter).
    if (!(await deps.deliveries.claim(provider, headKey, HEAD_CLAIM_TTL_SECONDS))) continue;
    const marker = recoveredClaimKey(pipeline.id, head.ref, head.commit);
    await deps.deliveries.claim(provider, marker, RECOVERED_CLAIM_TTL_SECONDS);
    const trigger = recoveredTrigger(provider, pipeline.spec.source.repository, dated, now, pipeline.createdAt);
    requests.push({
      head: dated,
      claims: [headKey, marker],
      request: {
        type: 'RunRequest',
        // Deterministic per head: a pass that sends twice (a retry) queues one run.
        id: `req:recovered:${headKey.slice(5)}`,
        runId: (deps.newRunId ?? ulid)(),
        pipelineId: pipeline.id,
        trigger,
        at: new Date(now).toISOString(),
      },
    });
  }
  for (const key of deps.memory.firstSeen.keys()) if (key.startsWith(`${pipeline.id}\0`) && !seenNow.has(key)) deps.memory.firstSeen.delete(key);
  if (deps.memory.commitDates.size > 10_000) deps.memory.commitDates.clear();

  if (requests.length > 0) {
    try {
      await deps.queue.send(requests.map((r) => r.request));
    } catch (err) {
      // Unclaimed, the heads are tried again next pass (and a webhook arriving meanwhile runs them).
      for (const r of requests) for (const key of r.claims) await deps.deliveries.release?.(pipeline.spec.source.provider, key).catch(() => undefined);
      throw err;
    }
    for (const { request, head } of requests) {
      const delaySeconds = request.trigger.recovered?.delaySeconds;
      report.recovered.push({ pipelineId: pipeline.id, runId: request.runId, ref: head.ref, commit: head.commit, ...(delaySeconds !== undefined ? { delaySeconds } : {}) });
      deps.metrics?.add({ name: METRIC.missedWebhooksRecovered, unit: 'Count', value: 1 });
      if (delaySeconds !== undefined) deps.metrics?.add({ name: METRIC.recoveryDelay, unit: 'Seconds', value: delaySeconds });
      deps.logger?.warn('recovered: webhook missed; started a run for a watched head without one', { pipelineId: pipeline.id, runId: request.runId, ref: head.ref, commit: head.commit, delaySeconds });
    }
  }

  // The hook's health, now and then and within the budget.
  const lastHookCheck = deps.memory.hookCheckedAt.get(pipeline.id);
  if (deps.heads.hookHealth && pipeline.tokenSecretName && used + 2 <= budget && (lastHookCheck === undefined || now - lastHookCheck >= (deps.hookCheckMinutes ?? 60) * 60_000)) {
    deps.memory.hookCheckedAt.set(pipeline.id, now);
    const health = await deps.heads.hookHealth(query, deps.webhookUrl);
    used += health.requests;
    for (const notice of health.notices) {
      report.notices.push(notice);
      deps.metrics?.add({ name: METRIC.webhookProblems, unit: 'Count', value: 1 });
      deps.logger?.warn(`webhook problem: ${notice.message}`, { pipelineId: pipeline.id, kind: notice.kind, fix: notice.fix });
    }
  }
  report.requests += used;
  report.maxRequestsForOnePipeline = Math.max(report.maxRequestsForOnePipeline, used);
}

/** Branch patterns that are plain names (no glob, no negation), at most 3: each may cost a request of its own. */
function exactNames(patterns: readonly string[]): string[] {
  return patterns.filter((p) => !p.startsWith('!') && !picomatch.scan(p).isGlob).slice(0, 3);
}
