/**
 * Missed-webhook recovery, the pure part: which heads of a pipeline's watched refs
 * deserve a run nobody asked for, and the keys that make the webhook and the
 * reconciler start one run per head between them.
 *
 * Both sides claim `headClaimKey(pipeline, ref, commit)` in the delivery store before
 * they start anything for a head; whoever claims first owns the head. The reconciler
 * also claims `recoveredClaimKey`, so a webhook that loses the head claim can tell a
 * recovery (start nothing: its run exists) from an earlier webhook for the same commit
 * on the same ref (a rewind back to it, or a re-push: run again, as before).
 */
import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import type { SourceEvent } from './source-event.ts';
import type { Triggers } from './pipeline.ts';
import type { Trigger } from './run.ts';

/** Delivery-store keys with these prefixes are not delivery ids; the webhook refuses ids that start with one. */
export const HEAD_CLAIM_PREFIX = 'head:';
export const RECOVERED_CLAIM_PREFIX = 'recovered:';

/**
 * How long a head claim is kept: as long as runs are (90 days by default). A head older than
 * RECOVERY_MAX_AGE_DAYS is never recovered, so an expired claim cannot bring an old head back.
 */
export const HEAD_CLAIM_TTL_SECONDS = 90 * 24 * 60 * 60;
/** A webhook arriving this long after its push's recovery is no longer recognised as late (it runs). */
export const RECOVERED_CLAIM_TTL_SECONDS = 3 * 24 * 60 * 60;
/** Heads committed longer ago than this are history, not a missed push. */
export const RECOVERY_MAX_AGE_DAYS = 30;

function digest(ref: string, commit: string): string {
  return createHash('sha256').update(`${ref}\0${commit.toLowerCase()}`).digest('hex').slice(0, 40);
}

export function headClaimKey(pipelineId: string, ref: string, commit: string): string {
  return `${HEAD_CLAIM_PREFIX}${pipelineId}:${digest(ref, commit)}`;
}

export function recoveredClaimKey(pipelineId: string, ref: string, commit: string): string {
  return `${RECOVERED_CLAIM_PREFIX}${pipelineId}:${digest(ref, commit)}`;
}

/** One ref's head as the git host (or the repository on disk) reports it. */
export interface RefHead {
  /** `refs/heads/main`, `refs/tags/v1.2.0`. */
  ref: string;
  commit: string;
  /** The commit's committer date (ISO 8601), when known: the push came at or after it. */
  committedAt?: string;
}

/** Whether a pipeline's triggers watch a ref (branch for push, tag for tag), paths aside. */
export function watchesRef(triggers: Triggers, ref: string): boolean {
  if (ref.startsWith('refs/heads/')) return triggers.events.includes('push') && globsMatch(triggers.branches, ref.slice(11));
  if (ref.startsWith('refs/tags/')) return triggers.events.includes('tag') && globsMatch(triggers.tags, ref.slice(10));
  return false;
}

/** The ref a push or tag event moved, when the pipeline watches it (the head claim's subject). */
export function watchedRefOf(triggers: Triggers, event: SourceEvent): string | undefined {
  if ((event.kind !== 'push' && event.kind !== 'tag') || !event.ref || !event.commit) return undefined;
  return watchesRef(triggers, event.ref) ? event.ref : undefined;
}

function globsMatch(globs: readonly string[], value: string): boolean {
  return globs.length === 0 || picomatch(globs as string[], { dot: true })(value);
}

export type HeadVerdict =
  | { recover: true }
  | { recover: false; why: 'has a run' | 'before registration' | 'too old' | 'within grace' };

/**
 * Whether a watched head with no webhook-started run should be recovered now.
 * - a run exists for the commit (any trigger): nothing to do;
 * - committed before the pipeline was registered: the state it was registered on, not a push;
 * - older than RECOVERY_MAX_AGE_DAYS: history;
 * - first seen less than `graceMs` ago: its webhook may still be on its way.
 */
export function headVerdict(head: RefHead, o: { hasRun: boolean; registeredAt: string; firstSeenAt: number; now: number; graceMs: number }): HeadVerdict {
  if (o.hasRun) return { recover: false, why: 'has a run' };
  const committed = head.committedAt ? Date.parse(head.committedAt) : NaN;
  if (Number.isFinite(committed)) {
    if (committed < Date.parse(o.registeredAt)) return { recover: false, why: 'before registration' };
    if (o.now - committed > RECOVERY_MAX_AGE_DAYS * 86_400_000) return { recover: false, why: 'too old' };
  }
  if (o.now - o.firstSeenAt < o.graceMs) return { recover: false, why: 'within grace' };
  return { recover: true };
}

/** What a recovered run records: a push (or tag) marked `recovered`, with the delay since the commit. */
export function recoveredTrigger(provider: Trigger['provider'], repository: string, head: RefHead, now: number, registeredAt?: string): Trigger {
  const committed = head.committedAt ? Date.parse(head.committedAt) : NaN;
  // The push came at or after the commit: the delay is an upper bound, never less than the truth.
  // A commit dated before the registration (clock skew) counts from the registration.
  const since = Number.isFinite(committed) ? Math.max(committed, registeredAt ? Date.parse(registeredAt) || committed : committed) : undefined;
  const isTag = head.ref.startsWith('refs/tags/');
  return {
    event: isTag ? 'tag' : 'push',
    ...(provider ? { provider } : {}),
    repository,
    ...(isTag ? { tag: head.ref.slice(10) } : { branch: head.ref.slice(11) }),
    commit: head.commit,
    trust: 'trusted',
    author: 'slipway (recovered)',
    recovered: { reason: 'webhook missed', ...(since !== undefined ? { delaySeconds: Math.max(0, Math.round((now - since) / 1000)) } : {}) },
  };
}
