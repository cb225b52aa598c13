/**
 * GitLab webhook payloads (https://docs.gitlab.com/user/project/integrations/webhook_events/):
 * push, tag push (both including deletion) and merge request events. GitLab has
 * no ping: its "Test" button sends a sample push.
 */
import { ValidationError } from '../domain/errors.ts';
import { IgnoredEventError, type PullRequestAction, type SourceEvent } from '../domain/source-event.ts';
import { arr, at, filesOfCommits, int, isZeroSha, name, str, pullRequestEvent, type EventBase } from './payload.ts';

export function gitlabRepository(payload: unknown): string | undefined {
  return name(at(payload, 'project', 'path_with_namespace'));
}

export function normaliseGitlab(eventName: string, payload: unknown, deliveryId: string): SourceEvent {
  const repository = gitlabRepository(payload);
  if (!repository) throw new ValidationError('the payload names no project (project.path_with_namespace)');
  const base = { provider: 'gitlab' as const, repository, deliveryId };
  // object_kind is authoritative; the header (`Push Hook`, `Tag Push Hook`, `Merge Request Hook`,
  // or `System Hook` for instance-level hooks) only has to be present.
  const kind = str(at(payload, 'object_kind'));
  switch (kind) {
    case 'push':
    case 'tag_push':
      return gitlabPush(base, kind, payload);
    case 'merge_request':
      return gitlabMergeRequest(base, payload);
    default:
      throw new IgnoredEventError(`GitLab event '${(kind ?? eventName).slice(0, 60)}' starts nothing (Slipway acts on push, tag_push, merge_request)`);
  }
}

type Base = EventBase;

function gitlabPush(base: Base, kind: 'push' | 'tag_push', payload: unknown): SourceEvent {
  const ref = name(at(payload, 'ref'));
  if (!ref) throw new ValidationError(`${kind} event without ref`);
  const prefix = kind === 'push' ? 'refs/heads/' : 'refs/tags/';
  if (!ref.startsWith(prefix) || ref.length === prefix.length) throw new IgnoredEventError(`a ${kind} to '${ref.slice(0, 100)}' starts nothing (expected ${prefix}*)`);
  const short = ref.slice(prefix.length);
  const target = kind === 'push' ? { branch: short } : { tag: short };
  const author = name(at(payload, 'user_username')) ?? name(at(payload, 'user_name'));
  const after = str(at(payload, 'after'));
  if (isZeroSha(after)) {
    return { ...base, kind: 'delete', ref, ...target, deleted: kind === 'push' ? 'branch' : 'tag', author };
  }
  const commit = name(at(payload, 'checkout_sha')) ?? name(after);
  if (!commit) throw new ValidationError(`${kind} event without a commit`);
  const commits = arr(at(payload, 'commits')) ?? [];
  if (kind === 'tag_push') {
    return { ...base, kind: 'tag', ref, tag: short, commit, author, message: str(at(payload, 'message')) ?? undefined };
  }
  const head = commits.find((c) => at(c, 'id') === commit);
  return {
    ...base,
    kind: 'push',
    ref,
    branch: short,
    commit,
    changedFiles: gitlabChangedFiles(payload, commits),
    author,
    message: str(at(head, 'message')),
  };
}

function gitlabChangedFiles(payload: unknown, commits: unknown[]): string[] | undefined {
  // GitLab lists at most 20 commits; total_commits_count says whether some were left out.
  const total = int(at(payload, 'total_commits_count'));
  if (total !== undefined && total > commits.length) return undefined;
  // No commits listed: a new branch at an existing commit, or a rewind / force-push to an older
  // commit (GitLab lists none then either). What changed is unknown, not nothing.
  if (commits.length === 0) return undefined;
  return filesOfCommits(commits);
}

function gitlabMergeRequest(base: Base, payload: unknown): SourceEvent {
  const mr = at(payload, 'object_attributes');
  const number = int(at(mr, 'iid'));
  const sourceBranch = name(at(mr, 'source_branch'));
  const targetBranch = name(at(mr, 'target_branch'));
  const commit = name(at(mr, 'last_commit', 'id'));
  if (number === undefined || !sourceBranch || !targetBranch || !commit) {
    throw new ValidationError('merge_request event without iid, source/target branch or last commit');
  }
  const action = gitlabAction(str(at(mr, 'action')), at(mr, 'oldrev'));
  // A merge request from a fork has a source project other than its target project.
  // Without both ids nothing proves it is the same project, so it counts as a fork.
  const sourceProject = int(at(mr, 'source_project_id'));
  const targetProject = int(at(mr, 'target_project_id'));
  const fork = sourceProject === undefined || targetProject === undefined || sourceProject !== targetProject;
  const headRepository = name(at(mr, 'source', 'path_with_namespace'));
  return pullRequestEvent(base, {
    number, action, sourceBranch, targetBranch, title: str(at(mr, 'title')), commit,
    author: name(at(payload, 'user', 'username')),
    fork, headRepository,
  });
}

function gitlabAction(action: string | undefined, oldrev: unknown): PullRequestAction {
  switch (action) {
    case 'open': return 'opened';
    case 'reopen': return 'reopened';
    // `update` also fires for title, label and assignee changes; only `oldrev` says new commits arrived.
    case 'update': return typeof oldrev === 'string' && oldrev.length > 0 ? 'updated' : 'other';
    case 'merge': return 'merged';
    case 'close': return 'closed';
    default: return 'other';
  }
}
