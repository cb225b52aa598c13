/**
 * `slipway dev --repo PATH`: commits on the working copy's checked-out branch start runs as a
 * push would. The engine gets the same RunRequest a push webhook makes (event push, the branch,
 * the commit), and the pipeline's triggers decide as they would in AWS. A disabled pipeline
 * starts nothing, as its webhooks would not. Either way the head is claimed as a push webhook
 * claims it, so the local reconciler does not run that commit (again) as a missed push.
 */
import { spawnSync } from 'node:child_process';
import { ulid } from 'ulid';
import { NotFoundError } from '../../shared/domain/errors.ts';
import type { PipelineSpec } from '../../shared/domain/pipeline.ts';
import { HEAD_CLAIM_TTL_SECONDS, headClaimKey, watchesRef } from '../../shared/domain/recovery.ts';
import type { DeliveryStore, EventQueue, PipelineStore } from '../../shared/ports/index.ts';

export interface WatchedRepository {
  /** The working copy. */
  dir: string;
  pipelineId: string;
  spec: PipelineSpec;
  branch: string;
}

export interface CommitWatcherDeps {
  own: WatchedRepository;
  pipelines: Pick<PipelineStore, 'get'>;
  events: EventQueue;
  deliveries: DeliveryStore;
  /** Who pushed: the developer running the local mode. */
  author: string;
  log: (line: string) => void;
  /** The branch's head now ('' if unreadable). @default `git rev-parse refs/heads/<branch>` in `own.dir` */
  head?: () => string;
  newRunId?: () => string;
}

export interface CommitWatcher {
  /** One look at the branch: a new head is run (or said why not). Resolves once it is handled. */
  check(): Promise<void>;
}

/** The head seen at creation is the registered state, not a new commit. */
export function commitWatcher(deps: CommitWatcherDeps): CommitWatcher {
  const { own, log } = deps;
  const head = deps.head ?? (() => spawnSync('git', ['-C', own.dir, 'rev-parse', `refs/heads/${own.branch}`], { encoding: 'utf8' }).stdout.trim());
  let seen = head();
  let busy: Promise<void> | undefined;

  async function handle(commit: string): Promise<void> {
    const short = commit.slice(0, 8);
    const source = own.spec.source;
    // As a push webhook is matched (no `branches` filter takes every branch), paths aside: a commit on disk has no push's file list.
    if (!watchesRef(source.triggers, `refs/heads/${own.branch}`)) { log(`commit ${short} on ${own.branch}: the pipeline's triggers do not take pushes to it`); return; }
    let disabled: { by: string; at: string } | undefined;
    try {
      ({ disabled } = await deps.pipelines.get(own.pipelineId));
    } catch (e) {
      if (e instanceof NotFoundError) { log(`commit ${short} on ${own.branch}: pipeline ${own.pipelineId} was deleted; no run (restart \`slipway dev --repo\` to register it again)`); return; }
      throw e;
    }
    // Claimed as a push webhook claims it: the local reconciler then never runs this head as a missed
    // push, neither while the engine is slow to create the run below nor after a disabled pipeline is enabled.
    const headKey = headClaimKey(own.pipelineId, `refs/heads/${own.branch}`, commit);
    const claimed = await deps.deliveries.claim(source.provider, headKey, HEAD_CLAIM_TTL_SECONDS);
    if (disabled) {
      log(`commit ${short} on ${own.branch}: pipeline ${own.pipelineId} is disabled (by ${disabled.by}); no run (slipway pipelines enable ${own.pipelineId})`);
      return;
    }
    const message = spawnSync('git', ['-C', own.dir, 'log', '-1', '--format=%s', commit], { encoding: 'utf8' }).stdout.trim();
    const runId = (deps.newRunId ?? ulid)();
    try {
      await deps.events.send([{
        type: 'RunRequest', id: `req:local-push:${own.pipelineId}:${commit}`, runId, pipelineId: own.pipelineId, at: new Date().toISOString(),
        trigger: { event: 'push', provider: source.provider, repository: source.repository, branch: own.branch, commit, trust: 'trusted', author: deps.author, ...(message ? { message } : {}) },
      }]);
    } catch (e) {
      // Not requested: the reconciler may recover the head after all.
      if (claimed) await deps.deliveries.release?.(source.provider, headKey).catch(() => undefined);
      throw e;
    }
    log(`commit ${short} on ${own.branch}: run ${runId} requested (slipway status ${runId} --watch)`);
  }

  return {
    async check() {
      // One look at a time: a slow store must not let two timers' looks handle one commit twice.
      if (busy) return busy;
      const now = head();
      if (!now || now === seen) return;
      seen = now;
      busy = handle(now).catch((e) => log(`commit ${now.slice(0, 8)}: could not request a run: ${(e as Error).message}`)).finally(() => { busy = undefined; });
      return busy;
    },
  };
}

/** Checks every `everyMs` until the returned stop is called. */
export function watchCommits(deps: CommitWatcherDeps, everyMs = 2000): () => Promise<void> {
  const watcher = commitWatcher(deps);
  let last: Promise<void> = Promise.resolve();
  const timer = setInterval(() => { last = watcher.check(); }, everyMs);
  timer.unref();
  return async () => { clearInterval(timer); await last; };
}

