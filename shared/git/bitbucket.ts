/**
 * Bitbucket Cloud webhook payloads (https://support.atlassian.com/bitbucket-cloud/docs/event-payloads/):
 * `repo:push` (one change per ref, including tags and deletions) and
 * `pullrequest:created|updated|fulfilled|rejected`.
 *
 * A Bitbucket push lists no changed files, so `changedFiles` stays undefined and
 * path filters let the run start (see SourceEvent.changedFiles).
 */
import { ValidationError } from '../domain/errors.ts';
import { IgnoredEventError, type PullRequestAction, type SourceEvent } from '../domain/source-event.ts';
import { arr, at, int, isFork, name, str, pullRequestEvent, type EventBase } from './payload.ts';

export function bitbucketRepository(payload: unknown): string | undefined {
  return name(at(payload, 'repository', 'full_name'));
}

const PR_ACTIONS: Readonly<Record<string, PullRequestAction>> = {
  'pullrequest:created': 'opened',
  'pullrequest:updated': 'updated',
  'pullrequest:fulfilled': 'merged',
  'pullrequest:rejected': 'closed',
};

export function normaliseBitbucket(eventKey: string, payload: unknown, deliveryId: string): SourceEvent[] {
  const repository = bitbucketRepository(payload);
  if (!repository) throw new ValidationError('the payload names no repository (repository.full_name)');
  const base = { provider: 'bitbucket' as const, repository, deliveryId };
  const author = name(at(payload, 'actor', 'nickname')) ?? name(at(payload, 'actor', 'display_name'));
  if (eventKey === 'repo:push') {
    const changes = arr(at(payload, 'push', 'changes'));
    if (!changes) throw new ValidationError('repo:push event without push.changes');
    return changes.map((change) => bitbucketChange(base, change, author));
  }
  const action = PR_ACTIONS[eventKey];
  if (action === undefined) {
    throw new IgnoredEventError(`Bitbucket event '${eventKey.slice(0, 60)}' starts nothing (Slipway acts on repo:push, ${Object.keys(PR_ACTIONS).join(', ')})`);
  }
  return [bitbucketPullRequest(base, payload, action, author)];
}

type Base = EventBase;

function bitbucketChange(base: Base, change: unknown, author: string | undefined): SourceEvent {
  const next = at(change, 'new');
  if (next === null || next === undefined) {
    const refName = name(at(change, 'old', 'name'));
    const type = str(at(change, 'old', 'type'));
    if (!refName) throw new ValidationError('repo:push change without new or old ref');
    return type === 'tag'
      ? { ...base, kind: 'delete', deleted: 'tag', ref: `refs/tags/${refName}`, tag: refName, author }
      : { ...base, kind: 'delete', deleted: 'branch', ref: `refs/heads/${refName}`, branch: refName, author };
  }
  const refName = name(at(next, 'name'));
  const type = str(at(next, 'type'));
  const commit = name(at(next, 'target', 'hash'));
  if (!refName || !commit) throw new ValidationError('repo:push change without ref name or target hash');
  const message = str(at(next, 'target', 'message'));
  if (type === 'tag') return { ...base, kind: 'tag', ref: `refs/tags/${refName}`, tag: refName, commit, author, message };
  if (type !== 'branch') throw new ValidationError(`unsupported ref type '${type ?? ''}' in repo:push`);
  return { ...base, kind: 'push', ref: `refs/heads/${refName}`, branch: refName, commit, author, message };
}

function bitbucketPullRequest(base: Base, payload: unknown, action: PullRequestAction, author: string | undefined): SourceEvent {
  const pr = at(payload, 'pullrequest');
  const number = int(at(pr, 'id'));
  const sourceBranch = name(at(pr, 'source', 'branch', 'name'));
  const targetBranch = name(at(pr, 'destination', 'branch', 'name'));
  // Bitbucket sends the 12-character short hash here; CodeBuild resolves it as a sourceVersion.
  const commit = name(at(pr, 'source', 'commit', 'hash'));
  if (number === undefined || !sourceBranch || !targetBranch || !commit) {
    throw new ValidationError('pull request event without id, source/destination branch or source commit');
  }
  const sourceRepo = at(pr, 'source', 'repository');
  const destinationRepo = at(pr, 'destination', 'repository');
  const headRepository = name(at(sourceRepo, 'full_name'));
  const fork = isFork(
    { id: name(at(sourceRepo, 'uuid')), fullName: headRepository },
    { id: name(at(destinationRepo, 'uuid')), fullName: name(at(destinationRepo, 'full_name')) ?? base.repository },
  );
  return pullRequestEvent(base, {
    number, action, sourceBranch, targetBranch, title: str(at(pr, 'title')), commit,
    author: author ?? name(at(pr, 'author', 'nickname')),
    fork, headRepository, baseCommit: name(at(pr, 'destination', 'commit', 'hash')),
  });
}
