/**
 * Every name rule in one place: pipeline ids and names, job names, target names and
 * secret names. The API (shared/http/api-routes.ts), the definition (definition.ts),
 * target registration (target-config.ts) and the stores check names against these,
 * so a name one of them accepts is never refused by another.
 *
 * Target names are at most 64 characters: the API and pipeline definitions always
 * allowed 64, and the released image's ECR tags (`slipway-live-<target>`,
 * `slipway-prev-<target>`) must stay within ECR's 128. Which secrets a pipeline may
 * name (`slipway/<pipelineId>/...`) is secret-names.ts's rule; this is their syntax.
 */
// A namespace import, not `{ z }`: esbuild can drop what a namespace import never reads (zod's ~260 KB of locales); see shared/http/request.ts.
import * as z from 'zod';

export interface NameRule {
  pattern: RegExp;
  /** Most characters allowed. */
  max: number;
  /** The characters allowed, for messages. */
  chars: string;
}

const rule = (max: number, chars: string, charClass: string): NameRule => ({
  pattern: new RegExp(`^[A-Za-z0-9][${charClass}]{0,${max - 1}}$`),
  max,
  chars,
});

/** Pipeline ids (registration, URLs, secret prefixes): 1-128. */
export const PIPELINE_ID = rule(128, 'letters, digits, ".", "-" and "_"', 'A-Za-z0-9._-');
/** A definition's `name`, shown to people: 1-100. */
export const PIPELINE_NAME = rule(100, 'letters, digits, ".", "-" and "_"', 'A-Za-z0-9._-');
/** Job names (keys of `jobs:`, API paths, build environment, artifact prefixes): 1-64, no dots. */
export const JOB_NAME = rule(64, 'letters, digits, "-" and "_"', 'A-Za-z0-9_-');
/** Release target names (registration, deploy jobs, ECR tags): 1-64. */
export const TARGET_NAME = rule(64, 'letters, digits, ".", "-" and "_"', 'A-Za-z0-9._-');

/** A Secrets Manager secret name or ARN. */
export const SECRET_NAME: NameRule = { pattern: /^[A-Za-z0-9/_+=.@:-]{1,2048}$/, max: 2048, chars: 'letters, digits and /_+=.@:-' };

/** The problem with a name, in the words every caller uses. */
export function nameMessage(r: NameRule): string {
  return r === SECRET_NAME ? 'must be a Secrets Manager secret name or ARN' : `must start with a letter or digit and hold only ${r.chars} (at most ${r.max} characters)`;
}

export function isValidName(r: NameRule, name: unknown): name is string {
  return typeof name === 'string' && r.pattern.test(name);
}

/** A zod string checked against the rule. */
export function nameSchema(r: NameRule): z.ZodString {
  return z.string().regex(r.pattern, nameMessage(r));
}
