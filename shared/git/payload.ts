/** Defensive readers for loosely typed JSON payloads: wrong types read as undefined. */

import type { PullRequestInfo, SourceEvent } from '../domain/source-event.ts';

export type Json = Record<string, unknown>;

export function obj(v: unknown): Json | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A non-empty string. */
export function name(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

export function int(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
}

export function arr(v: unknown): unknown[] | undefined {
  return Array.isArray(v) ? v : undefined;
}

/** Reads a nested property: at(p, 'a', 'b') is p.a.b when every level is an object. */
export function at(v: unknown, ...path: string[]): unknown {
  let cur: unknown = v;
  for (const key of path) {
    const o = obj(cur);
    if (!o) return undefined;
    cur = o[key];
  }
  return cur;
}

export const ZERO_SHA = '0000000000000000000000000000000000000000';

export function isZeroSha(v: string | undefined): boolean {
  return v !== undefined && /^0+$/.test(v);
}

/**
 * The union of added, modified and removed paths over push commits (GitHub and GitLab shape);
 * undefined (unknown) when some commit carries no file lists at all.
 */
export function filesOfCommits(commits: unknown[]): string[] | undefined {
  const files = new Set<string>();
  for (const c of commits) {
    if (!['added', 'modified', 'removed'].some((key) => Array.isArray(at(c, key)))) return undefined;
    for (const key of ['added', 'modified', 'removed']) {
      for (const f of arr(at(c, key)) ?? []) if (typeof f === 'string' && f.length > 0) files.add(f);
    }
  }
  return [...files];
}

/**
 * Whether a pull request comes from another repository than its target: compared by the
 * repositories' stable ids when the payload has both (names can be reused after a rename),
 * else by full name; a head repository the payload does not name (a deleted fork) counts
 * as a fork, since nothing proves it is the same repository.
 */
export function isFork(head: { id?: string | number; fullName?: string }, target: { id?: string | number; fullName: string }): boolean {
  if (head.id !== undefined && target.id !== undefined) return head.id !== target.id;
  return head.fullName === undefined || head.fullName.toLowerCase() !== target.fullName.toLowerCase();
}

/** The fields every provider's push/PR event starts from. */
export type EventBase = Pick<SourceEvent, 'provider' | 'repository' | 'deliveryId'>;

/**
 * A pull/merge request as one source event, whatever the provider: it runs on
 * the source branch's commit and matches triggers on its target branch.
 */
export function pullRequestEvent(base: EventBase, pr: PullRequestInfo & { commit: string; author?: string }): SourceEvent {
  const { commit, author, ...info } = pr;
  // Undefined parts (a deleted fork's repository, a payload without the base commit) are left out.
  for (const key of Object.keys(info) as Array<keyof typeof info>) if (info[key] === undefined) delete info[key];
  return {
    ...base,
    kind: 'pull_request',
    ref: `refs/heads/${info.sourceBranch}`,
    branch: info.targetBranch,
    commit,
    author,
    message: info.title,
    pullRequest: info,
  };
}
