/** What the targets view shows of a target (GET /targets/{name}). Pure. */

export type Colour = 'blue' | 'green';

export interface ReleaseLike {
  releaseId: string;
  runId: string;
  pipelineId: string;
  job: string;
  image: string;
  strategy: string;
  phase: string;
  fromColour: Colour;
  toColour: Colour;
  percent?: number;
  startedAt: string;
  finishedAt?: string;
  outcome?: string;
  reason?: string;
  rolledBackBy?: string;
  history: Array<{ at: string; phase: string; detail: string }>;
}

export interface TargetLike {
  name: string;
  liveColour: Colour;
  weights: Record<Colour, number>;
  current?: ReleaseLike;
  last?: ReleaseLike;
  waiting: Array<{ releaseId: string; runId: string; job: string; image: string }>;
  rollback?: { colour: Colour; until: string; releaseId: string };
  updatedAt: string;
}

/** The traffic bar: each colour's share, the label screen readers read, and whether it is moving. */
export function weightsBar(t: Pick<TargetLike, 'weights' | 'current'>): { blue: number; green: number; label: string; shifting: boolean } {
  const blue = clampPercent(t.weights.blue);
  const green = 100 - blue;
  const shifting = t.current !== undefined && (t.current.phase === 'shifting' || t.current.phase === 'baking' || t.current.phase === 'reverting');
  return { blue, green, label: `traffic: blue ${blue}%, green ${green}%${shifting ? ` (release in progress: ${t.current!.phase})` : ''}`, shifting };
}

function clampPercent(n: number): number {
  return Number.isFinite(n) ? Math.min(100, Math.max(0, Math.round(n))) : 0;
}

/**
 * Whether a rollback can be asked for now, and if not why (the API has the last word:
 * a refused rollback answers 409 with its reason, which the view shows).
 */
export function rollbackAvailability(t: Pick<TargetLike, 'rollback' | 'current'>, now: number): { possible: true; colour: Colour; until: string } | { possible: false; reason: string } {
  if (t.current) return { possible: false, reason: `a release is in progress (${t.current.phase}); it rolls back by itself if a check fails` };
  if (!t.rollback) return { possible: false, reason: 'no previous colour is kept running (no release yet, or its rollback window has closed)' };
  if (Date.parse(t.rollback.until) <= now) return { possible: false, reason: `the rollback window closed at ${t.rollback.until}` };
  return { possible: true, colour: t.rollback.colour, until: t.rollback.until };
}

/** Releases to list, newest first: the one in progress, then the last one. */
export function releaseHistory(t: Pick<TargetLike, 'current' | 'last'>): ReleaseLike[] {
  return [t.current, t.last].filter((r): r is ReleaseLike => r !== undefined && (r !== t.last || r.releaseId !== t.current?.releaseId));
}
