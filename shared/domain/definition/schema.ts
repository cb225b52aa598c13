/**
 * The pipeline format's zod schemas (shapes, types and single-field rules) and the walk that turns zod's issues into problems worded for people.
 */
// A namespace import, not `{ z }`: esbuild can drop what a namespace import never reads (zod's ~260 KB of locales), not what a re-exported namespace object holds.
import * as z from 'zod';
import { type Problem } from '../errors.ts';
import {
  CONCURRENCY_MODES, FORK_POLICIES,
  JOB_PULL_REQUEST_POLICIES, JOB_KINDS, PROVIDERS,
  RELEASE_STRATEGIES,
  SOURCE_EVENTS,
  TEMPLATE_NAMES, type NotificationEvent
} from '../pipeline.ts';
import { parseApprover } from '../principals.ts';
import { NOTIFICATION_EVENTS, NOTIFICATION_KINDS, WHEN_EVENTS, ECR_REPOSITORY, DOCKER_TAG, CONNECTION_ARN, SNS_TOPIC_ARN, DURATION_HINT } from './rules.ts';
import { PIPELINE_NAME, TARGET_NAME, nameMessage } from '../names.ts';
import { isValidTimeZone, parseCron } from '../schedule.ts';
import { COMPUTE_CHOICES, FLEET_NAME } from '../compute.ts';
import { didYouMean, parseDuration, type Segment, formatPath, isRecord, valueAt, describe, globError } from './words.ts';

// ---------------------------------------------------------------------------
// Schemas: shapes, types and single-field rules. Rules across fields or jobs are
// checked afterwards on the raw document, so one broken field hides nothing else.

export const glob = z.string().superRefine((g, ctx) => {
  const error = globError(g);
  if (error) ctx.addIssue({ code: 'custom', message: error });
});
export const globs = z.array(glob);
export const text = z.string().min(1, 'must not be empty');
export const duration = z.unknown().superRefine((value, ctx) => {
  if (value !== undefined && parseDuration(value) === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(value)}: ${DURATION_HINT}` });
  }
});

export const sourceSchema = z.strictObject({
  provider: z.enum(PROVIDERS),
  repository: z.string(),
  connection: z
    .string()
    .regex(CONNECTION_ARN, 'must be the ARN of an AWS CodeConnections connection, e.g. "arn:aws:codeconnections:eu-west-1:123456789012:connection/0123abcd-..."')
    .optional(),
  triggers: z
    .strictObject({
      events: z.array(z.enum(SOURCE_EVENTS)).min(1, 'must list at least one event (push, tag, pull_request)').optional(),
      branches: globs.optional(),
      tags: globs.optional(),
      paths: z.strictObject({ include: globs.optional(), exclude: globs.optional() }).optional(),
    })
    .optional(),
});

export const approvers = z.array(
  z.string().superRefine((entry, ctx) => {
    const parsed = parseApprover(entry);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message });
  }),
);

export const notificationSchema = z.strictObject({
  kind: z.enum(NOTIFICATION_KINDS),
  secret: text.optional(),
  topicArn: z.string().regex(SNS_TOPIC_ARN, 'must be an SNS topic ARN like "arn:aws:sns:eu-west-1:123456789012:releases"').optional(),
  on: z.array(z.enum(NOTIFICATION_EVENTS as [NotificationEvent, ...NotificationEvent[]])).min(1, 'must list at least one event').optional(),
});

/** A `schedules` entry: five-field cron in a time zone, the branch to run (domain/schedule.ts). */
export const scheduleSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be lower-case letters, digits and "-" (at most 40 characters)').optional(),
  cron: z.string().superRefine((c, ctx) => {
    try {
      parseCron(c);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  }),
  timezone: z.string().refine(isValidTimeZone, 'must be an IANA time zone such as "Europe/Berlin" or "UTC"').optional(),
  branch: text,
  parameters: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'parameter names are letters, digits and "_"'), z.string().max(1024)).optional(),
  onlyIfChanged: z.boolean().optional(),
});

export const topSchema = z.strictObject({
  name: z
    .string()
    .regex(PIPELINE_NAME.pattern, nameMessage(PIPELINE_NAME)),
  source: sourceSchema,
  concurrency: z.enum(CONCURRENCY_MODES).optional(),
  pullRequests: z.strictObject({ forks: z.enum(FORK_POLICIES).optional(), approvers: approvers.optional() }).optional(),
  jobs: z.unknown(),
  notifications: z.array(notificationSchema).optional(),
  schedules: z.array(scheduleSchema).max(10, 'at most 10 schedules per pipeline').optional(),
});

export const jobSchema = z.strictObject({
  kind: z.enum(JOB_KINDS).optional(),
  needs: z.array(z.string()).optional(),
  when: z
    .strictObject({
      branches: globs.optional(),
      tags: globs.optional(),
      events: z.array(z.enum(WHEN_EVENTS)).optional(),
    })
    .optional(),
  pullRequests: z.enum(JOB_PULL_REQUEST_POLICIES).optional(),
  template: z.enum(TEMPLATE_NAMES).optional(),
  image: text.optional(),
  install: z.array(text).optional(),
  commands: z.array(text).optional(),
  cache: globs.optional(),
  env: z.record(z.string(), z.string()).optional(),
  outputs: globs.optional(),
  inputs: z.array(z.string()).optional(),
  timeout: duration.optional(),
  retries: z
    .number()
    .int('must be a whole number between 0 and 10')
    .min(0, 'must be between 0 and 10 (extra attempts after a failure)')
    .max(10, 'must be between 0 and 10 (extra attempts after a failure)')
    .optional(),
  retryDelay: duration.optional(),
  compute: z.enum(COMPUTE_CHOICES).optional(),
  fleet: z.string().regex(FLEET_NAME, 'must be the name of a CodeBuild reserved-capacity fleet: letters, digits, "-" and "_" (2 to 64)').optional(),
  docker: z
    .strictObject({
      dockerfile: text.optional(),
      context: text.optional(),
      repository: z
        .string()
        .regex(ECR_REPOSITORY, 'must be an ECR repository name: lowercase letters, digits, ".", "-", "_" and "/" (e.g. "shop-api")'),
      tags: z.array(z.string().regex(DOCKER_TAG, 'must be a docker tag: letters, digits, "_", "." and "-" (at most 128)')).optional(),
    })
    .optional(),
  deploy: z
    .strictObject({
      target: z.string().regex(TARGET_NAME.pattern, `must be the name of a release target: ${TARGET_NAME.chars}, at most ${TARGET_NAME.max} characters`),
      strategy: z.enum(RELEASE_STRATEGIES).optional(),
      steps: z
        .array(z.number().int('must be a whole percentage').min(1, 'must be between 1 and 100').max(100, 'must be between 1 and 100'))
        .min(1, 'must list at least one step, e.g. [10, 50, 100]')
        .optional(),
      interval: duration.optional(),
      bake: duration.optional(),
      alarms: z.array(text).optional(),
      imageFrom: z.string().optional(),
      healthCheck: z
        .strictObject({
          path: z.string().startsWith('/', 'must be a URL path starting with "/", e.g. "/health"'),
          expectedStatus: z.number().int().min(100, 'must be an HTTP status (100-599)').max(599, 'must be an HTTP status (100-599)').optional(),
          window: duration.optional(),
        })
        .optional(),
      rollbackWindow: duration.optional(),
    })
    .optional(),
  approval: z
    .strictObject({
      approvers: approvers.optional(),
      timeout: duration.optional(),
    })
    .optional(),
});

export type RawTop = z.infer<typeof topSchema>;
export type RawJob = z.infer<typeof jobSchema>;

/** Job keys people put at the wrong level, and the block they belong to. */
export const MISPLACED_JOB_KEYS: Record<string, string> = {
  dockerfile: 'docker',
  context: 'docker',
  repository: 'docker',
  tags: 'docker',
  target: 'deploy',
  strategy: 'deploy',
  steps: 'deploy',
  interval: 'deploy',
  bake: 'deploy',
  alarms: 'deploy',
  imageFrom: 'deploy',
  healthCheck: 'deploy',
  rollbackWindow: 'deploy',
  approvers: 'approval',
};

export const ENUM_NOUNS: Record<string, string> = {
  provider: 'provider',
  events: 'event',
  concurrency: 'concurrency mode',
  kind: 'kind',
  template: 'template',
  compute: 'compute',
  strategy: 'strategy',
  on: 'notification event',
  forks: 'pull-request policy for forks',
  pullRequests: 'pull-request policy',
};

export const REQUIRED_HINTS: Record<string, string> = {
  name: 'the pipeline\'s name, e.g. "shop-api"',
  source: 'where the code lives, e.g. source: { provider: github, repository: acme/shop-api }',
  'source.provider': 'one of github, gitlab, bitbucket',
  'source.repository': 'the repository as "owner/name", e.g. "acme/shop-api"',
  jobs: 'a map of job names to jobs, e.g. jobs: { test: { template: node } }',
  'docker.repository': 'the ECR repository the image is pushed to, without the prefix Slipway adds, e.g. "shop-api" (pushed to "slipway/shop-api")',
  'deploy.target': 'the name of a registered release target, e.g. "staging"',
  'healthCheck.path': 'the URL path to check, e.g. "/health"',
  'notifications.kind': 'one of slack, teams, dingtalk, email',
};

/** The hint for a missing field, keyed by its last two keys (`deploy.target`) or, at the top, its only key. */
export function requiredHint(path: readonly Segment[]): string | undefined {
  const keys = path.filter((s): s is string => typeof s === 'string');
  return REQUIRED_HINTS[keys.slice(-2).join('.')];
}

/** Keys allowed by the strict object found at `path` inside `schema` (walks zod's definitions). */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  // zod 4 keeps each schema's definition under `_zod.def`; only the node types used above matter here.
  let def = (schema as unknown as { _zod: { def: ZodDef } })._zod.def;
  const unwrap = () => {
    while (def.innerType || def.in) def = (def.innerType ?? def.in)!._zod.def;
  };
  for (const seg of path) {
    unwrap();
    if (def.type === 'object' && typeof seg === 'string' && def.shape?.[seg]) def = def.shape[seg]._zod.def;
    else if (def.type === 'array' && def.element) def = def.element._zod.def;
    else if (def.type === 'record' && def.valueType) def = def.valueType._zod.def;
    else return [];
  }
  unwrap();
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

export interface ZodDef {
  type: string;
  shape?: Record<string, { _zod: { def: ZodDef } }>;
  innerType?: { _zod: { def: ZodDef } };
  in?: { _zod: { def: ZodDef } };
  element?: { _zod: { def: ZodDef } };
  valueType?: { _zod: { def: ZodDef } };
}

/** Turns zod's issues into problems worded for people. `prefix` places a sub-document (one job) in the file. */
export function issuesToProblems(schema: z.ZodType, raw: unknown, issues: readonly z.core.$ZodIssue[], prefix: Segment[]): Problem[] {
  const problems: Problem[] = [];
  for (const issue of issues) {
    const path = issue.path as Segment[];
    const at = (extra: Segment[] = []) => formatPath([...prefix, ...path, ...extra]);
    const last = path.at(-1);
    const lastKey = typeof last === 'number' ? path.at(-2) : last;
    const value = valueAt(raw, path);
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = knownKeysAt(schema, path);
        const inJob = prefix[0] === 'jobs' && path.length === 0;
        for (const key of issue.keys) {
          const suggestion = didYouMean(key, known);
          let message = `unknown key "${key}"${suggestion}`;
          if (!suggestion && inJob && MISPLACED_JOB_KEYS[key]) {
            message += `; it belongs under "${MISPLACED_JOB_KEYS[key]}"`;
          } else if (!suggestion) {
            message += `; allowed keys: ${known.join(', ')}`;
          }
          problems.push({ path: at([key]), message });
        }
        break;
      }
      case 'invalid_type': {
        if (value === undefined) {
          const hint = requiredHint([...prefix, ...path]);
          problems.push({ path: at(), message: hint ? `is required: ${hint}` : 'is required' });
        } else if (path[0] === 'env' && path.length === 2) {
          problems.push({ path: at(), message: `must be a string, not ${describe(value)}; quote it: ${JSON.stringify(JSON.stringify(value) ?? '')}` });
        } else if (path.length === 1 && last === 'image' && isRecord(value)) {
          problems.push({
            path: at(),
            message: 'must be a build image name such as "aws/codebuild/amazonlinux-x86_64-standard:5.0"; an image job describes its docker build under "docker"',
          });
        } else if (issue.expected === 'array' && typeof value === 'string') {
          problems.push({ path: at(), message: `must be a list, not the text ${JSON.stringify(value)}; write [${value}]` });
        } else {
          const expected = { string: 'a string', number: 'a number', object: 'a mapping', array: 'a list', boolean: 'true or false' }[issue.expected as string] ?? issue.expected;
          problems.push({ path: at(), message: `must be ${expected}, not ${describe(value)}` });
        }
        break;
      }
      case 'invalid_value': {
        const allowed = issue.values.map(String);
        if (value === undefined) {
          const hint = requiredHint([...prefix, ...path]);
          problems.push({ path: at(), message: hint ? `is required: ${hint}` : `is required: one of ${allowed.join(', ')}` });
        } else if (typeof value === 'string') {
          const noun = ENUM_NOUNS[String(lastKey)] ?? 'value';
          problems.push({ path: at(), message: `unknown ${noun} "${value}"${didYouMean(value, allowed)}; expected one of ${allowed.join(', ')}` });
        } else {
          problems.push({ path: at(), message: `must be one of ${allowed.join(', ')}, not ${describe(value)}` });
        }
        break;
      }
      default:
        problems.push({ path: at(), message: issue.message });
    }
  }
  return problems;
}
