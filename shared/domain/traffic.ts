/**
 * The arithmetic of a release: colours, weights, traffic steps, timings and
 * their validation. Pure: no I/O, no AWS SDK.
 */
import type { DeploySpec } from './pipeline.ts';

export const COLOURS = ['blue', 'green'] as const;
export type Colour = (typeof COLOURS)[number];

/** Percent of the production listener rule's traffic per colour; always adds up to 100. */
export interface Weights {
  blue: number;
  green: number;
}

export function otherColour(c: Colour): Colour {
  return c === 'blue' ? 'green' : 'blue';
}

/** Weights with `percent` on `colour` and the rest on the other one. */
export function weightsFor(colour: Colour, percent: number): Weights {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new RangeError(`a traffic weight must be a whole percent 0..100, got ${percent}`);
  return colour === 'blue' ? { blue: percent, green: 100 - percent } : { blue: 100 - percent, green: percent };
}

/** The colour holding all the traffic, if one does. */
export function colourAtFull(w: Weights): Colour | undefined {
  if (w.blue === 100 && w.green === 0) return 'blue';
  if (w.green === 100 && w.blue === 0) return 'green';
  return undefined;
}

/**
 * How often a release looks at ECS, the target groups and the alarms, and how
 * long it waits before giving up. Every poll is one delayed SQS message.
 */
export interface ReleaseTiming {
  /** Seconds between polls; also the longest an alarm can go unnoticed during a shift or the bake. @default 15 */
  pollSeconds: number;
  /** Seconds the new colour (blue-green) may take to be steady with every target healthy. @default 600 */
  healthyTimeoutSeconds: number;
  /** Seconds a standard (in-place) deployment may take to reach COMPLETED. @default 1800 */
  deploymentTimeoutSeconds: number;
}

export const DEFAULT_TIMING: ReleaseTiming = { pollSeconds: 15, healthyTimeoutSeconds: 600, deploymentTimeoutSeconds: 1800 };

/** SQS DelaySeconds is 0..900; longer waits are chained. */
export const MAX_DELAY_SECONDS = 900;

export function clampDelay(seconds: number): number {
  return Math.max(1, Math.min(MAX_DELAY_SECONDS, Math.ceil(seconds)));
}

/**
 * Problems with a deploy spec that make a release impossible, in words a
 * person can act on; empty when it can run. The definition parser checks the
 * same rules; the releaser checks again because a target outlives pipelines.
 */
export function releaseSpecProblems(deploy: DeploySpec, target: { testUrl?: string; healthCheckFunction?: string }): string[] {
  const problems: string[] = [];
  if (deploy.strategy === 'blue-green') {
    const s = deploy.steps;
    if (!Array.isArray(s) || s.length === 0) problems.push('steps: a blue-green release needs at least one traffic step');
    else {
      for (let i = 0; i < s.length; i++) {
        if (!Number.isInteger(s[i]) || s[i] < 1 || s[i] > 100) problems.push(`steps[${i}]: must be a whole percent from 1 to 100, got ${s[i]}`);
        else if (i > 0 && s[i] <= s[i - 1]) problems.push(`steps[${i}]: must be greater than the step before (${s[i - 1]}), got ${s[i]}`);
      }
      if (s[s.length - 1] !== 100) problems.push(`steps: the last step must be 100, got ${s[s.length - 1]}`);
    }
    if (!(deploy.intervalSeconds >= 0)) problems.push(`intervalSeconds: must be 0 or more, got ${deploy.intervalSeconds}`);
    if (!(deploy.bakeSeconds >= 0)) problems.push(`bakeSeconds: must be 0 or more, got ${deploy.bakeSeconds}`);
    if (!(deploy.rollbackWindowMinutes >= 0)) problems.push(`rollbackWindowMinutes: must be 0 or more, got ${deploy.rollbackWindowMinutes}`);
    if (deploy.healthCheck && !target.testUrl && !target.healthCheckFunction) {
      problems.push('healthCheck: the target has neither a health checker in its VPC (healthCheckFunction) nor a test listener URL (testUrl) to check against');
    }
  }
  return problems;
}

export function secondsBetween(fromIso: string, toIso: string): number {
  return (Date.parse(toIso) - Date.parse(fromIso)) / 1000;
}

export function addSeconds(iso: string, seconds: number): string {
  return new Date(Date.parse(iso) + seconds * 1000).toISOString();
}
