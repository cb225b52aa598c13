/**
 * GitHub webhook payloads (https://docs.github.com/webhooks/webhook-events-and-payloads):
 * `push` (branches, tags and their deletion), `delete`, `pull_request` and `ping`.
 */
import { ValidationError } from '../domain/errors.ts';
import { IgnoredEventError, type PullRequestAction, type SourceEvent } from '../domain/source-event.ts';
import { arr, at, filesOfCommits, int, isFork, isZeroSha, name, str, pullRequestEvent, type EventBase } from './payload.ts';

/** GitHub lists at most this many commits in a push payload; a push that fills it may have more. */
const MAX_PUSH_COMMITS = 2048;

export function githubRepository(payload: unknown): string | undefined {
  return name(at(payload, 'repository', 'full_name'));
}

export function normaliseGithub(eventName: string, payload: unknown, deliveryId: string): SourceEvent {
  const repository = githubRepository(payload);
  if (!repository) throw new ValidationError('the payload names no repository (repository.full_name)');
  const base = { provider: 'github' as const, repository, deliveryId };
  const author = name(at(payload, 'sender', 'login')) ?? name(at(payload, 'pusher', 'name'));
  switch (eventName) {
    case 'ping':
      return { ...base, kind: 'ping' };
    case 'push':
      return githubPush(base, payload, author);
    case 'delete': {
      // The `delete` event names the ref without its prefix.
      const ref = name(at(payload, 'ref'));
      const refType = str(at(payload, 'ref_type'));
      if (!ref || (refType !== 'branch' && refType !== 'tag')) throw new ValidationError('delete event without ref or ref_type');
      return refType === 'branch'
        ? { ...base, kind: 'delete', deleted: 'branch', ref: `refs/heads/${ref}`, branch: ref, author }
        : { ...base, kind: 'delete', deleted: 'tag', ref: `refs/tags/${ref}`, tag: ref, author };
    }
    case 'pull_request':
      return githubPullRequest(base, payload, author);
    default:
      throw new IgnoredEventError(`GitHub event '${eventName.slice(0, 60)}' starts nothing (Slipway acts on push, delete, pull_request, ping)`);
  }
}

type Base = EventBase;

function githubPush(base: Base, payload: unknown, author: string | undefined): SourceEvent {
  const ref = name(at(payload, 'ref'));
  if (!ref) throw new ValidationError('push event without ref');
  const target = refTarget(ref);
  const after = str(at(payload, 'after'));
  if (at(payload, 'deleted') === true || isZeroSha(after)) {
    return { ...base, kind: 'delete', ref, ...target, deleted: target.tag !== undefined ? 'tag' : 'branch', author };
  }
  const commit = name(at(payload, 'head_commit', 'id')) ?? name(after);
  if (!commit) throw new ValidationError('push event without a head commit');
  const message = str(at(payload, 'head_commit', 'message'));
  if (target.tag !== undefined) return { ...base, kind: 'tag', ref, tag: target.tag, commit, author, message };
  return { ...base, kind: 'push', ref, branch: target.branch, commit, changedFiles: changedFiles(payload), author, message };
}

function refTarget(ref: string): { branch: string; tag?: undefined } | { tag: string; branch?: undefined } {
  if (ref.startsWith('refs/heads/') && ref.length > 11) return { branch: ref.slice(11) };
  if (ref.startsWith('refs/tags/') && ref.length > 10) return { tag: ref.slice(10) };
  // refs/notes/*, refs/changes/*, ...: a ref no trigger can watch. Nothing to do, nothing wrong.
  throw new IgnoredEventError(`a push to '${ref.slice(0, 100)}' starts nothing (Slipway acts on refs/heads/* and refs/tags/*)`);
}

/**
 * The files the push changed, or undefined when the payload cannot say. Unknown is not "nothing":
 * - a force-push (`forced: true`) rewrites the branch; its `commits` are only the new ones, and a
 *   rewind to an older commit lists none at all, yet the tree changed (a rollback must deploy);
 * - `commits: []` on an existing branch (a rewind, or a push of commits already known elsewhere);
 * - a new branch pointing at an existing commit lists no commits;
 * - commits listed without file lists (`added`/`modified`/`removed`), as some proxies and
 *   older GitHub Enterprise versions send them;
 * - GitHub lists at most 2048 commits.
 */
function changedFiles(payload: unknown): string[] | undefined {
  const commits = arr(at(payload, 'commits'));
  if (!commits || commits.length === 0 || commits.length >= MAX_PUSH_COMMITS) return undefined;
  if (at(payload, 'forced') === true) return undefined;
  return filesOfCommits(commits);
}

function githubPullRequest(base: Base, payload: unknown, author: string | undefined): SourceEvent {
  const pr = at(payload, 'pull_request');
  const number = int(at(payload, 'number')) ?? int(at(pr, 'number'));
  const sourceBranch = name(at(pr, 'head', 'ref'));
  const targetBranch = name(at(pr, 'base', 'ref'));
  const commit = name(at(pr, 'head', 'sha'));
  if (number === undefined || !sourceBranch || !targetBranch || !commit) {
    throw new ValidationError('pull_request event without number, head/base ref or head sha');
  }
  const action = githubAction(str(at(payload, 'action')), at(pr, 'merged') === true);
  // `head.repo` is null when the fork was deleted.
  const headRepo = at(pr, 'head', 'repo');
  const baseRepo = at(pr, 'base', 'repo');
  const headRepository = name(at(headRepo, 'full_name'));
  const fork = isFork(
    { id: int(at(headRepo, 'id')), fullName: headRepository },
    { id: int(at(baseRepo, 'id')), fullName: name(at(baseRepo, 'full_name')) ?? base.repository },
  );
  return pullRequestEvent(base, {
    number, action, sourceBranch, targetBranch, title: str(at(pr, 'title')), commit,
    author: author ?? name(at(pr, 'user', 'login')),
    fork, headRepository, baseCommit: name(at(pr, 'base', 'sha')),
  });
}

function githubAction(action: string | undefined, merged: boolean): PullRequestAction {
  switch (action) {
    case 'opened': return 'opened';
    case 'synchronize': return 'updated';
    case 'reopened': return 'reopened';
    case 'closed': return merged ? 'merged' : 'closed';
    default: return 'other';
  }
}
