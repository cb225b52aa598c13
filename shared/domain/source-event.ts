/**
 * What a git host told Slipway, in one shape for the three hosts: a push, a tag, a
 * deletion, a pull (merge) request or a ping. The adapters in shared/git read the
 * hosts' payloads into it; trigger matching and the webhook service read it.
 */
import type { Provider } from './pipeline.ts';
import type { Trigger } from './run.ts';
import { ValidationError } from './errors.ts';

/**
 * An authenticated delivery of an event Slipway does not act on (GitHub's `issues`, `star`,
 * an organisation ping, GitLab's note or pipeline events, ...). The webhook answers it 2xx
 * with `ignored` and this reason, never 4xx: a hook set to "send me everything" must not
 * fill the host's delivery log with failures (GitLab counts them toward disabling the hook).
 * A ValidationError for callers that only know that hierarchy.
 */
export class IgnoredEventError extends ValidationError {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'IgnoredEventError';
  }
}

export type WebhookEventKind = 'push' | 'tag' | 'pull_request' | 'ping' | 'delete';

/**
 * `updated` means new commits on the source branch (GitHub `synchronize`, GitLab
 * `update` with `oldrev`, Bitbucket `pullrequest:updated`); `other` is an action
 * that changes no code (labels, edits, approvals) and starts nothing.
 */
export type PullRequestAction = 'opened' | 'updated' | 'reopened' | 'merged' | 'closed' | 'other';

export interface PullRequestInfo {
  number: number;
  action: PullRequestAction;
  sourceBranch: string;
  targetBranch: string;
  title?: string;
  /**
   * True when the change comes from another repository than the one the hook is on
   * (a fork): GitHub `pull_request.head.repo` vs `base.repo`, GitLab `source_project_id`
   * vs `target_project_id`, Bitbucket `source.repository` vs `destination.repository`.
   * A head repository the payload does not name (a deleted fork) counts as a fork.
   */
  fork: boolean;
  /** The repository the change comes from, as the host names it (absent when the host no longer knows it). */
  headRepository?: string;
  /** The target branch's head commit as the host reported it with the event, when it did (GitHub, Bitbucket). */
  baseCommit?: string;
}

export interface SourceEvent {
  provider: Provider;
  /** `owner/name` (GitHub, Bitbucket) or `group/subgroup/name` (GitLab), as the host spells it. */
  repository: string;
  kind: WebhookEventKind;
  deliveryId: string;
  /** Full ref (`refs/heads/main`, `refs/tags/v1.2.0`); for pull requests the source branch's ref. */
  ref?: string;
  /** Branch pushed or deleted; for pull requests the target branch (what triggers match on). */
  branch?: string;
  tag?: string;
  /** What was deleted, for `delete`. */
  deleted?: 'branch' | 'tag';
  /** Head commit after the event (full sha; Bitbucket pull requests carry a 12-character short sha). */
  commit?: string;
  /**
   * Files added, modified or removed by the pushed commits. `undefined` means unknown:
   * Bitbucket push payloads list no files, pull request payloads of all three hosts
   * list none, and GitHub (2048 commits) and GitLab (20 commits) truncate long pushes.
   * Path filters treat unknown as "may touch anything" and let the run start.
   */
  changedFiles?: string[];
  author?: string;
  message?: string;
  pullRequest?: PullRequestInfo;
}

/**
 * Who a pull request's run may be trusted as: a same-repository pull request was
 * pushed by someone with write access to the repository, a fork's by anyone.
 */
function pullRequestProvenance(pr: PullRequestInfo): Pick<Trigger, 'pullRequest' | 'trust' | 'fork' | 'sourceBranch' | 'headRepository' | 'baseCommit'> {
  return {
    pullRequest: pr.number,
    trust: pr.fork ? 'untrusted' : 'trusted',
    fork: pr.fork,
    sourceBranch: pr.sourceBranch,
    ...(pr.headRepository !== undefined ? { headRepository: pr.headRepository } : {}),
    ...(pr.baseCommit !== undefined ? { baseCommit: pr.baseCommit } : {}),
  };
}

/** What a run records about the event that started it. Only for push, tag and pull_request events. */
export function triggerOf(event: SourceEvent): Trigger {
  if (event.kind !== 'push' && event.kind !== 'tag' && event.kind !== 'pull_request') {
    throw new Error(`a ${event.kind} event starts no run`);
  }
  return {
    event: event.kind,
    provider: event.provider,
    repository: event.repository,
    ...(event.branch !== undefined ? { branch: event.branch } : {}),
    ...(event.tag !== undefined ? { tag: event.tag } : {}),
    commit: event.commit ?? '',
    ...(event.pullRequest ? pullRequestProvenance(event.pullRequest) : { trust: 'trusted' as const }),
    ...(event.author !== undefined ? { author: event.author } : {}),
    ...(event.message !== undefined ? { message: event.message } : {}),
    deliveryId: event.deliveryId,
  };
}
