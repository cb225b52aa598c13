/**
 * Pipeline definitions: YAML (or JSON) text in, a normalised {@link PipelineSpec}
 * out, or every problem at once, each with its path and a message a person can
 * act on. Pure: no I/O.
 *
 * ## The format
 *
 * ```yaml
 * name: shop-api                       # letters, digits, ".", "-", "_" (at most 100)
 * source:
 *   provider: github                   # github | gitlab | bitbucket
 *   repository: acme/shop-api          # owner/name (GitLab: group[/subgroup...]/name)
 *   connection: arn:aws:codeconnections:eu-west-1:123456789012:connection/...  # @default the stack's default connection
 *   triggers:                          # optional
 *     events: [push, pull_request]     # push | tag | pull_request   @default [push]
 *     branches: [main, "release/*"]    # globs (pull requests match their target) @default ["**"]
 *     tags: ["v*"]                     # globs for tag events          @default ["**"]
 *     paths: { include: ["src/**"], exclude: ["docs/**"] }  # @default any file
 * concurrency: superseded              # superseded | queued | parallel @default superseded
 * pullRequests:                        # how pull-request runs are treated (see the README)
 *   forks: approve-first               # skip | build | approve-first   @default approve-first
 *   approvers: ["arn:aws:iam::123456789012:role/Maintainers"]   # who may let a fork's run start @default anyone
 * jobs:                                # 1..200 jobs (at most 20 deploys, 500 needs in all); the key is the job name
 *   test:
 *     kind: build                      # build | image | deploy | approval @default build
 *     template: node                   # java | java-gradle | node | python | php | go | cpp
 *     image: aws/codebuild/amazonlinux-x86_64-standard:5.0   # build image override
 *     install: [npm ci]                # overrides the template's install steps
 *     commands: [npm test]             # overrides the template's commands
 *     cache: ["/root/.npm/**\/*"]      # overrides the template's cache paths
 *     env: { LOG_LEVEL: debug }        # merged over the template's (values are strings)
 *     outputs: ["dist/**"]             # kept under runs/<runId>/<job>/
 *     inputs: [build]                  # ancestors whose outputs are fetched first
 *     needs: [lint]                    # jobs that must succeed first
 *     when: { branches: [main], tags: [], events: [push, manual] }  # else skipped
 *                                      # (branches/tags filter pull requests only if events lists pull_request)
 *     pullRequests: all                # all | same-repository | skip  @default all (build), skip (others)
 *     timeout: 30m                     # "30s" | "5m" | "1h30m" | seconds  @default 60m
 *     retries: 1                       # 0..10 extra attempts              @default 0
 *     retryDelay: 30s                  # before the 1st retry, doubling (at most 10m) @default 10s
 *     compute: small                   # small | medium | large            @default small
 *   image:
 *     kind: image
 *     needs: [test]
 *     docker:                          # image jobs only
 *       repository: shop-api           # ECR repository under the stack's prefix (required): pushed to <prefix>/shop-api
 *       dockerfile: Dockerfile         # @default Dockerfile
 *       context: .                     # @default .
 *       tags: [latest]                 # besides the commit sha
 *   deploy-staging:
 *     kind: deploy
 *     needs: [image]
 *     deploy:                          # deploy jobs only
 *       target: staging                # a registered release target (required)
 *       strategy: blue-green           # standard | blue-green  @default blue-green
 *       steps: [10, 50, 100]           # increasing percentages ending at 100 @default [10, 50, 100]
 *       interval: 60s                  # between steps        @default 60s
 *       bake: 5m                       # after the last step  @default 300s
 *       alarms: [shop-api-5xx]         # CloudWatch alarms that roll back
 *       imageFrom: image               # @default the nearest image job among the ancestors
 *       healthCheck: { path: /health, expectedStatus: 200, window: 2m }  # retried for `window` @default 2m
 *       rollbackWindow: 60m            # old colour kept for instant rollback @default 60m
 *   approve:
 *     kind: approval
 *     needs: [deploy-staging]
 *     approval:                        # @default anyone the API's IAM policy lets approve, 24h
 *       approvers: ["arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:role/Releasers"]
 *       timeout: 24h
 * notifications:
 *   - { kind: slack, secret: slipway/<pipelineId>/slack, on: [run_failed, released] }
 *   - { kind: email, topicArn: "arn:aws:sns:eu-west-1:123456789012:releases" }
 * ```
 *
 * Chat kinds are slack, teams and dingtalk (they need `secret`, the name of a Secrets
 * Manager secret holding the webhook URL, or JSON `{"url": ..., "signingSecret": ...}` for a
 * signed DingTalk robot); email needs `topicArn` (a topic in the engine's account and region). `on` takes
 * run_failed, run_succeeded, run_fixed, approval_needed, released, rolled_back
 * (@default [run_failed, run_fixed]). JSON with the same shape is accepted too.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import picomatch from 'picomatch';
import { z } from 'zod';
import { ValidationError, type Problem } from './errors.ts';
import { ancestors, findCycle, topoOrder } from './dag.ts';
import {
  COMPUTE_CLASSES,
  CONCURRENCY_MODES,
  DEFAULT_FORK_POLICY,
  FORK_APPROVAL_JOB,
  FORK_POLICIES,
  JOB_PULL_REQUEST_POLICIES,
  DEFAULT_ECR_REPOSITORY_PREFIX,
  DEFAULT_HEALTH_CHECK_WINDOW_SECONDS,
  ecrRepositoryName,
  JOB_KINDS,
  MAX_JOBS,
  PROVIDERS,
  RELEASE_STRATEGIES,
  SOURCE_EVENTS,
  TEMPLATE_NAMES,
  type JobKind,
  type JobSpec,
  type NotificationEvent,
  type NotificationSpec,
  type PipelineSpec,
} from './pipeline.ts';
import { parseApprover } from './principals.ts';
import { applyTemplate } from './templates.ts';
import { MAX_DEPLOY_JOBS, MAX_NEEDS_TOTAL } from './run-bounds.ts';

export type ParseResult = { ok: true; spec: PipelineSpec } | { ok: false; problems: Problem[] };

export interface ParseOptions {
  /** Used to tell JSON from YAML (`.json`) and in error messages. */
  filename?: string;
  /**
   * Prefix the engine adds to every image repository (`docker.repository: web` -> `<prefix>/web`).
   * @default DEFAULT_ECR_REPOSITORY_PREFIX ("slipway")
   */
  ecrRepositoryPrefix?: string;
}

export const NOTIFICATION_EVENTS: readonly NotificationEvent[] = [
  'run_failed',
  'run_succeeded',
  'run_fixed',
  'approval_needed',
  'released',
  'rolled_back',
];
const NOTIFICATION_KINDS = ['slack', 'teams', 'dingtalk', 'email'] as const;
const CHAT_KINDS = new Set(['slack', 'teams', 'dingtalk']);
const WHEN_EVENTS = [...SOURCE_EVENTS, 'manual'] as const;

const DEFAULT_TIMEOUT_SECONDS = 60 * 60;
const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 24 * 60 * 60;
const DEFAULT_INTERVAL_SECONDS = 60;
const DEFAULT_BAKE_SECONDS = 300;
const DEFAULT_ROLLBACK_WINDOW_SECONDS = 60 * 60;
const DEFAULT_STEPS = [10, 50, 100];
/** Before a build's first retry; each next one waits twice as long. */
const DEFAULT_RETRY_DELAY_SECONDS = 10;

/** Duration limits, in seconds, with the words used in messages. */
const LIMITS = {
  // CodeBuild accepts 5 to 2160 minutes per build.
  timeout: { min: 5 * 60, max: 36 * 3600, text: 'between 5m and 36h (the limits of CodeBuild)' },
  approval: { min: 60, max: 7 * 86400, text: 'between 1m and 7d' },
  interval: { min: 1, max: 3600, text: 'between 1s and 1h' },
  bake: { min: 0, max: 24 * 3600, text: 'between 0s and 24h' },
  rollbackWindow: { min: 0, max: 24 * 3600, text: 'between 0s and 24h' },
  retryDelay: { min: 0, max: 3600, text: 'between 0s and 1h' },
  healthCheckWindow: { min: 0, max: 30 * 60, text: 'between 0s and 30m' },
} as const;

const PIPELINE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const REPO_SEGMENT = '[A-Za-z0-9_.-]+';
const TWO_PART_REPO = new RegExp(`^${REPO_SEGMENT}/${REPO_SEGMENT}$`);
const GITLAB_REPO = new RegExp(`^${REPO_SEGMENT}(/${REPO_SEGMENT})+$`);
const ECR_REPOSITORY = /^(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const DOCKER_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// AWS CodeConnections (and its former name, CodeStar Connections) connection ARNs.
const CONNECTION_ARN = /^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection\/[A-Za-z0-9-]+$/;
const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/;
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
const DURATION_HINT = 'use a number of seconds or a string like "30s", "5m", "1h" or "1h30m"';

// ---------------------------------------------------------------------------
// Small helpers

/** Edit distance counting a swap of two neighbours as one edit ("imgae" -> "image" is 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/** The candidate closest to `word`, if it is close enough to be a likely typo. */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length === 0) return undefined;
  const limit = word.length <= 3 ? 1 : word.length <= 6 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closestMatch(word, candidates);
  return match ? ` (did you mean "${match}"?)` : '';
}

/** Parses "30s", "5m", "1h30m", "2d" or a whole number of seconds; undefined when invalid. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const m = DURATION.exec(text);
  if (!m || text === '') return undefined;
  const [, d, h, min, s] = m.map((x) => Number(x ?? 0));
  return d * 86400 + h * 3600 + min * 60 + s;
}

type Segment = string | number;

function formatPath(path: readonly Segment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg as string];
  }
  return cur;
}

function describe(value: unknown): string {
  if (value === null) return 'empty';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the text ${JSON.stringify(value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  return typeof value;
}

function globError(glob: string): string | undefined {
  if (glob.trim() === '') return 'a glob must not be empty';
  try {
    picomatch.makeRe(glob, { strictBrackets: true });
    return undefined;
  } catch (err) {
    const reason = err instanceof Error ? err.message.replace(/ - use .*$/, '') : 'not a valid pattern';
    return `invalid glob ${JSON.stringify(glob)}: ${reason}`;
  }
}

// ---------------------------------------------------------------------------
// Schemas: shapes, types and single-field rules. Rules across fields or jobs are
// checked afterwards on the raw document, so one broken field hides nothing else.

const glob = z.string().superRefine((g, ctx) => {
  const error = globError(g);
  if (error) ctx.addIssue({ code: 'custom', message: error });
});
const globs = z.array(glob);
const text = z.string().min(1, 'must not be empty');
const duration = z.unknown().superRefine((value, ctx) => {
  if (value !== undefined && parseDuration(value) === undefined) {
    ctx.addIssue({ code: 'custom', message: `invalid duration ${JSON.stringify(value)}: ${DURATION_HINT}` });
  }
});

const sourceSchema = z.strictObject({
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

const approvers = z.array(
  z.string().superRefine((entry, ctx) => {
    const parsed = parseApprover(entry);
    if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message });
  }),
);

const notificationSchema = z.strictObject({
  kind: z.enum(NOTIFICATION_KINDS),
  secret: text.optional(),
  topicArn: z.string().regex(SNS_TOPIC_ARN, 'must be an SNS topic ARN like "arn:aws:sns:eu-west-1:123456789012:releases"').optional(),
  on: z.array(z.enum(NOTIFICATION_EVENTS as [NotificationEvent, ...NotificationEvent[]])).min(1, 'must list at least one event').optional(),
});

const topSchema = z.strictObject({
  name: z
    .string()
    .regex(PIPELINE_NAME, 'must start with a letter or digit and hold only letters, digits, ".", "-" and "_" (at most 100 characters)'),
  source: sourceSchema,
  concurrency: z.enum(CONCURRENCY_MODES).optional(),
  pullRequests: z.strictObject({ forks: z.enum(FORK_POLICIES).optional(), approvers: approvers.optional() }).optional(),
  jobs: z.unknown(),
  notifications: z.array(notificationSchema).optional(),
});

const jobSchema = z.strictObject({
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
  compute: z.enum(COMPUTE_CLASSES).optional(),
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
      target: z.string().regex(TARGET_NAME, 'must be the name of a release target: letters, digits, ".", "-" and "_"'),
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

type RawTop = z.infer<typeof topSchema>;
type RawJob = z.infer<typeof jobSchema>;

/** Job keys people put at the wrong level, and the block they belong to. */
const MISPLACED_JOB_KEYS: Record<string, string> = {
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

const ENUM_NOUNS: Record<string, string> = {
  provider: 'provider',
  events: 'event',
  concurrency: 'concurrency mode',
  kind: 'kind',
  template: 'template',
  compute: 'compute class',
  strategy: 'strategy',
  on: 'notification event',
  forks: 'pull-request policy for forks',
  pullRequests: 'pull-request policy',
};

const REQUIRED_HINTS: Record<string, string> = {
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
function requiredHint(path: readonly Segment[]): string | undefined {
  const keys = path.filter((s): s is string => typeof s === 'string');
  return REQUIRED_HINTS[keys.slice(-2).join('.')];
}

/** Keys allowed by the strict object found at `path` inside `schema` (walks zod's definitions). */
function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
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

interface ZodDef {
  type: string;
  shape?: Record<string, { _zod: { def: ZodDef } }>;
  innerType?: { _zod: { def: ZodDef } };
  in?: { _zod: { def: ZodDef } };
  element?: { _zod: { def: ZodDef } };
  valueType?: { _zod: { def: ZodDef } };
}

/** Turns zod's issues into problems worded for people. `prefix` places a sub-document (one job) in the file. */
function issuesToProblems(schema: z.ZodType, raw: unknown, issues: readonly z.core.$ZodIssue[], prefix: Segment[]): Problem[] {
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

// ---------------------------------------------------------------------------
// Reading text

interface Loaded {
  value?: unknown;
  problems: Problem[];
}

function loadText(text: string, opts: ParseOptions): Loaded {
  if (text.trim() === '') {
    return { problems: [{ path: '', message: 'the pipeline file is empty; it needs at least name, source and jobs' }] };
  }
  const isJsonFile = opts.filename?.toLowerCase().endsWith('.json') ?? false;
  const looksJson = isJsonFile || /^\s*[{[]/.test(text);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter, prettyErrors: false });
  if (looksJson) {
    // JSON.parse is the authority on JSON syntax; YAML (a superset) still finds duplicate keys.
    try {
      const value: unknown = JSON.parse(text);
      return { value, problems: doc.errors.length === 0 ? duplicateKeys(doc.contents, lineCounter) : [] };
    } catch (err) {
      // `{ name: x }` is a YAML flow mapping, not broken JSON, unless the file says it is JSON.
      if (isJsonFile || doc.errors.length > 0) return { problems: [jsonSyntaxProblem(text, err)] };
    }
  }
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
        const reason = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
        return { path: '', message: `YAML syntax error${where}: ${reason}` };
      }),
    };
  }
  const problems = duplicateKeys(doc.contents, lineCounter);
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }), problems };
  } catch (err) {
    return { problems: [...problems, { path: '', message: `cannot read the YAML: ${err instanceof Error ? err.message : String(err)}` }] };
  }
}

function jsonSyntaxProblem(text: string, err: unknown): Problem {
  const raw = err instanceof Error ? err.message : String(err);
  const m = /at position (\d+)/.exec(raw);
  const reason = raw.replace(/\s*(in JSON )?at position \d+.*$/s, '').replace(/^Unexpected/, 'unexpected');
  if (!m) return { path: '', message: `JSON syntax error: ${reason}` };
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  const col = Number(m[1]) - before.lastIndexOf('\n');
  return { path: '', message: `JSON syntax error at line ${line}, column ${col}: ${reason}` };
}

/** YAML allows a key twice with the last one winning; in a pipeline that is always a mistake. */
function duplicateKeys(root: unknown, lines: LineCounter): Problem[] {
  const problems: Problem[] = [];
  const stack: Array<{ node: unknown; path: Segment[] }> = [{ node: root, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    if (isMap(node)) {
      const seen = new Map<string, YamlNode>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const keyNode = pair.key;
        const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
        if (key !== undefined) {
          const first = seen.get(key);
          if (first) {
            const line = first.range ? lines.linePos(first.range[0]).line : undefined;
            const since = line ? ` (first defined on line ${line})` : '';
            const isJob = path.length === 1 && path[0] === 'jobs';
            problems.push({
              path: formatPath([...path, key]),
              message: isJob ? `duplicate job name "${key}"${since}; job names must be unique` : `duplicate key "${key}"${since}`,
            });
          } else {
            seen.set(key, keyNode as YamlNode);
          }
          stack.push({ node: pair.value, path: [...path, key] });
        }
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => stack.push({ node: item, path: [...path, i] }));
    }
  }
  return problems.reverse();
}

// ---------------------------------------------------------------------------
// Checks across fields and jobs, on the raw document (guarded: a field of the wrong
// type was already reported by the schema and is simply skipped here).

function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function checkSource(raw: Record<string, unknown>, problems: Problem[]): void {
  const source = raw.source;
  if (!isRecord(source)) return;
  const { provider, repository, triggers } = source;
  if (typeof repository === 'string') {
    if (/^[a-z]+:\/\//i.test(repository) || repository.startsWith('git@')) {
      problems.push({ path: 'source.repository', message: `must be "owner/name" (e.g. "acme/shop-api"), not a URL` });
    } else if (provider === 'gitlab' ? !GITLAB_REPO.test(repository) : !TWO_PART_REPO.test(repository)) {
      const form = provider === 'gitlab' ? '"group/name" or "group/subgroup/name"' : '"owner/name" (e.g. "acme/shop-api")';
      problems.push({ path: 'source.repository', message: `must be ${form}, got ${JSON.stringify(repository)}` });
    }
  }
  if (isRecord(triggers) && Array.isArray(triggers.tags) && triggers.tags.length > 0) {
    const events = stringsOf(triggers.events);
    if (Array.isArray(triggers.events) && !events.includes('tag')) {
      problems.push({ path: 'source.triggers.tags', message: 'only tag events use tag globs; add "tag" to source.triggers.events' });
    }
  }
}

function checkNotifications(raw: Record<string, unknown>, problems: Problem[]): void {
  if (!Array.isArray(raw.notifications)) return;
  raw.notifications.forEach((n, i) => {
    if (!isRecord(n) || typeof n.kind !== 'string') return;
    const at = (key: string) => formatPath(['notifications', i, key]);
    if (CHAT_KINDS.has(n.kind)) {
      if (n.secret === undefined) {
        problems.push({ path: at('secret'), message: `is required for ${n.kind} notifications: the name of a Secrets Manager secret holding the webhook URL` });
      } else if (typeof n.secret === 'string' && /^https?:\/\//i.test(n.secret)) {
        problems.push({ path: at('secret'), message: 'must name a Secrets Manager secret, not the webhook URL itself (the URL is a credential)' });
      }
      if (n.topicArn !== undefined) problems.push({ path: at('topicArn'), message: 'applies to email notifications only' });
    } else if (n.kind === 'email') {
      if (n.topicArn === undefined) {
        problems.push({ path: at('topicArn'), message: 'is required for email notifications: the ARN of the SNS topic people subscribe to' });
      }
      if (n.secret !== undefined) problems.push({ path: at('secret'), message: 'applies to chat notifications (slack, teams, dingtalk) only' });
    }
  });
}

function checkDuration(value: unknown, limit: (typeof LIMITS)[keyof typeof LIMITS], path: string, problems: Problem[]): void {
  const seconds = parseDuration(value);
  if (seconds === undefined) return; // reported by the schema
  if (seconds < limit.min || seconds > limit.max) {
    problems.push({ path, message: `must be ${limit.text}, got ${JSON.stringify(value)}` });
  }
}

const BUILD_ONLY_KEYS = ['template', 'image', 'install', 'commands', 'cache', 'env', 'outputs', 'inputs', 'compute'] as const;

function kindOf(job: Record<string, unknown>): JobKind | undefined {
  if (job.kind === undefined) return 'build';
  return (JOB_KINDS as readonly unknown[]).includes(job.kind) ? (job.kind as JobKind) : undefined;
}

/** Whether `name` or one of its ancestors needs a job that does not exist (already reported; do not pile on). */
function hasUnknownNeeds(jobs: Record<string, Record<string, unknown>>, name: string): boolean {
  const seen = new Set<string>();
  const stack = [name];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    const needs = jobs[n]?.needs;
    if (needs !== undefined && !Array.isArray(needs)) return true;
    for (const need of stringsOf(needs)) {
      if (!Object.hasOwn(jobs, need)) return true;
      stack.push(need);
    }
  }
  return false;
}

/** The image job a deploy job releases when it does not say: the closest image job up its needs. */
function nearestImageJob(jobs: Record<string, Record<string, unknown>>, graph: Record<string, { needs: string[] }>, name: string): string | undefined {
  const seen = new Set<string>([name]);
  let frontier = graph[name]?.needs ?? [];
  while (frontier.length > 0) {
    const next: string[] = [];
    for (const n of frontier) {
      if (seen.has(n) || !graph[n]) continue;
      seen.add(n);
      if (kindOf(jobs[n]) === 'image') return n;
      next.push(...graph[n].needs);
    }
    frontier = next;
  }
  return undefined;
}

function checkJobs(jobs: Record<string, Record<string, unknown>>, problems: Problem[]): Record<string, { needs: string[] }> {
  const names = Object.keys(jobs);
  const graph: Record<string, { needs: string[] }> = Object.create(null);
  for (const name of names) {
    graph[name] = { needs: stringsOf(jobs[name].needs).filter((n) => n !== name && Object.hasOwn(jobs, n)) };
  }

  for (const name of names) {
    const job = jobs[name];
    const at = (...rest: Segment[]) => formatPath(['jobs', name, ...rest]);
    const kind = kindOf(job);
    const others = names.filter((n) => n !== name);

    if (Array.isArray(job.needs)) {
      const seen = new Set<string>();
      job.needs.forEach((need, i) => {
        if (typeof need !== 'string') return;
        if (need === name) problems.push({ path: at('needs', i), message: `a job cannot need itself` });
        else if (!Object.hasOwn(jobs, need)) problems.push({ path: at('needs', i), message: `unknown job "${need}"${didYouMean(need, others)}` });
        else if (seen.has(need)) problems.push({ path: at('needs', i), message: `"${need}" is listed twice` });
        seen.add(need);
      });
    }

    // Only inputs and deploy jobs look upstream; computing it lazily keeps big files linear-ish.
    let upstreamCache: Set<string> | undefined;
    const upstream = () => (upstreamCache ??= ancestors(graph, name));
    if (Array.isArray(job.inputs)) {
      job.inputs.forEach((input, i) => {
        if (typeof input !== 'string') return;
        if (!Object.hasOwn(jobs, input)) {
          problems.push({ path: at('inputs', i), message: `unknown job "${input}"${didYouMean(input, others)}` });
        } else if (!upstream().has(input)) {
          problems.push({
            path: at('inputs', i),
            message: `"${input}" is not among the jobs "${name}" needs (directly or indirectly), so its outputs may not exist yet; add it to needs`,
          });
        } else if (!Array.isArray(jobs[input].outputs) || jobs[input].outputs.length === 0) {
          problems.push({ path: at('inputs', i), message: `"${input}" declares no outputs to take` });
        }
      });
    }

    if (job.docker !== undefined && kind !== undefined && kind !== 'image') {
      problems.push({ path: at('docker'), message: `applies to image jobs only; set kind: image or remove docker` });
    }
    if (job.deploy !== undefined && kind !== undefined && kind !== 'deploy') {
      problems.push({ path: at('deploy'), message: `applies to deploy jobs only; set kind: deploy or remove deploy` });
    }
    if (job.approval !== undefined && kind !== undefined && kind !== 'approval') {
      problems.push({ path: at('approval'), message: `applies to approval jobs only; set kind: approval or remove approval` });
    }
    if (job.pullRequests === 'all' && kind !== undefined && kind !== 'build') {
      problems.push({
        path: at('pullRequests'),
        message: `a${kind === 'image' ? 'n' : ''} ${kind} job never runs for a fork's pull request; use same-repository to run it for pull requests from branches of this repository, or skip`,
      });
    }

    if (kind === 'build' || kind === 'image') {
      checkDuration(job.timeout, LIMITS.timeout, at('timeout'), problems);
      checkDuration(job.retryDelay, LIMITS.retryDelay, at('retryDelay'), problems);
    }
    if (kind === 'build' && job.template === undefined && job.commands === undefined) {
      problems.push({ path: at(), message: `a build job needs "commands" or a "template" (one of ${TEMPLATE_NAMES.join(', ')})` });
    }
    if (kind === 'image' && job.docker === undefined) {
      problems.push({ path: at('docker', 'repository'), message: `is required: ${REQUIRED_HINTS['docker.repository']}` });
    }
    if (kind === 'deploy' || kind === 'approval') {
      for (const key of BUILD_ONLY_KEYS) {
        if (job[key] !== undefined) {
          problems.push({ path: at(key), message: `applies to build and image jobs only; ${kind === 'approval' ? 'an approval' : 'a deploy'} job runs no commands of its own` });
        }
      }
    }
    if (kind === 'approval') {
      if (job.timeout !== undefined) problems.push({ path: at('timeout'), message: 'use approval.timeout for how long an approval may wait' });
      if (job.retries !== undefined) problems.push({ path: at('retries'), message: 'an approval is given once; retries apply to build, image and deploy jobs' });
      if (job.retryDelay !== undefined) problems.push({ path: at('retryDelay'), message: 'an approval is given once; retryDelay applies to build and image jobs' });
      if (isRecord(job.approval)) checkDuration(job.approval.timeout, LIMITS.approval, at('approval', 'timeout'), problems);
    }
    if (kind === 'deploy') {
      checkDuration(job.timeout, LIMITS.timeout, at('timeout'), problems);
      if (job.deploy === undefined) {
        problems.push({ path: at('deploy', 'target'), message: `is required: ${REQUIRED_HINTS['deploy.target']}` });
      } else if (isRecord(job.deploy)) {
        checkDeploy(jobs, graph, name, job.deploy, upstream, problems);
      }
    }
  }

  // Report every independent cycle: after naming one, cut its closing edge and look again.
  const remaining: Record<string, { needs: string[] }> = Object.create(null);
  for (const n of names) remaining[n] = { needs: [...graph[n].needs] };
  for (let found = 0; found < 20; found++) {
    const cycle = findCycle(remaining);
    if (!cycle) break;
    problems.push({ path: 'jobs', message: `dependency cycle: ${cycle.join(' -> ')}` });
    const [from, to] = cycle;
    remaining[to].needs = remaining[to].needs.filter((n) => n !== from);
  }
  return graph;
}

function checkDeploy(
  jobs: Record<string, Record<string, unknown>>,
  graph: Record<string, { needs: string[] }>,
  name: string,
  deploy: Record<string, unknown>,
  upstream: () => Set<string>,
  problems: Problem[],
): void {
  const at = (...rest: Segment[]) => formatPath(['jobs', name, 'deploy', ...rest]);
  const steps = deploy.steps;
  if (Array.isArray(steps) && steps.length > 0 && steps.every((s) => Number.isInteger(s) && s >= 1 && s <= 100)) {
    const values = steps as number[];
    const drop = values.findIndex((s, i) => i > 0 && s <= values[i - 1]);
    if (drop > 0) {
      problems.push({
        path: at('steps'),
        message: `must be strictly increasing percentages, e.g. [10, 50, 100]; ${values[drop]} comes after ${values[drop - 1]}`,
      });
    } else if (values.at(-1) !== 100) {
      problems.push({ path: at('steps'), message: `must end at 100 (all traffic on the new colour); it ends at ${values.at(-1)}` });
    }
    if (deploy.strategy === 'standard' && !(values.length === 1 && values[0] === 100)) {
      problems.push({ path: at('steps'), message: 'traffic steps apply to blue-green releases only; a standard release replaces tasks in place' });
    }
  }
  checkDuration(deploy.interval, LIMITS.interval, at('interval'), problems);
  checkDuration(deploy.bake, LIMITS.bake, at('bake'), problems);
  checkDuration(deploy.rollbackWindow, LIMITS.rollbackWindow, at('rollbackWindow'), problems);
  if (isRecord(deploy.healthCheck)) checkDuration(deploy.healthCheck.window, LIMITS.healthCheckWindow, at('healthCheck', 'window'), problems);

  const imageFrom = deploy.imageFrom;
  if (typeof imageFrom === 'string') {
    if (!Object.hasOwn(jobs, imageFrom)) {
      problems.push({ path: at('imageFrom'), message: `unknown job "${imageFrom}"${didYouMean(imageFrom, Object.keys(jobs).filter((n) => kindOf(jobs[n]) === 'image'))}` });
    } else if (kindOf(jobs[imageFrom]) !== 'image') {
      problems.push({ path: at('imageFrom'), message: `"${imageFrom}" is not an image job; name a job with kind: image` });
    } else if (!upstream().has(imageFrom)) {
      problems.push({ path: at('imageFrom'), message: `"${imageFrom}" is not among the jobs "${name}" needs (directly or indirectly); add it to needs` });
    }
  } else if (imageFrom === undefined && !hasUnknownNeeds(jobs, name) && nearestImageJob(jobs, graph, name) === undefined) {
    problems.push({
      path: formatPath(['jobs', name, 'needs']),
      message: 'a deploy job releases an image: it must need (directly or indirectly) an image job, or name one in deploy.imageFrom',
    });
  }
}

// ---------------------------------------------------------------------------
// Entry points

/** Parses and validates pipeline text (YAML, or JSON when the file ends in `.json` or starts with `{`). */
export function parsePipeline(text: string, opts: ParseOptions = {}): ParseResult {
  const loaded = loadText(text, opts);
  if (loaded.value === undefined && loaded.problems.length > 0) return { ok: false, problems: loaded.problems };
  const result = parsePipelineObject(loaded.value, opts);
  if (loaded.problems.length === 0) return result;
  return { ok: false, problems: tidy([...loaded.problems, ...(result.ok ? [] : result.problems)]) };
}

/** Validates an already-parsed document (the API's JSON body). */
export function parsePipelineObject(value: unknown, opts: ParseOptions = {}): ParseResult {
  if (!isRecord(value)) {
    const what = value === undefined || value === null ? 'empty' : describe(value);
    return { ok: false, problems: [{ path: '', message: `a pipeline must be a mapping with name, source and jobs, not ${what}` }] };
  }
  const problems: Problem[] = [];

  const top = topSchema.safeParse(value);
  if (!top.success) problems.push(...issuesToProblems(topSchema, value, top.error.issues, []));
  checkSource(value, problems);

  const rawJobs = value.jobs;
  // Null-prototype maps: job names come from the document ("__proto__" must stay a plain key).
  const jobs: Record<string, Record<string, unknown>> = Object.create(null);
  const parsedJobs: Record<string, RawJob> = Object.create(null);
  if (isRecord(rawJobs)) {
    const names = Object.keys(rawJobs);
    if (names.length === 0) problems.push({ path: 'jobs', message: 'must declare at least one job' });
    if (names.length > MAX_JOBS) {
      problems.push({ path: 'jobs', message: `declares ${names.length} jobs; a pipeline may have at most ${MAX_JOBS} (split it into several pipelines)` });
    }
    // Far past the limit, checking each job only costs time and buries the one problem that matters.
    for (const name of names.length > MAX_JOBS * 5 ? [] : names) {
      const job = rawJobs[name];
      if (name === FORK_APPROVAL_JOB) {
        problems.push({ path: formatPath(['jobs', name]), message: `"${FORK_APPROVAL_JOB}" is reserved for the approval Slipway puts in front of a fork's pull-request run; choose another name` });
      } else if (!JOB_NAME.test(name)) {
        problems.push({
          path: formatPath(['jobs', name]),
          message: `invalid job name "${name}": use letters, digits, "-" and "_", starting with a letter or digit (at most 64 characters)`,
        });
      }
      if (!isRecord(job)) {
        problems.push({ path: formatPath(['jobs', name]), message: `must be a mapping describing the job, not ${describe(job)}` });
        continue;
      }
      jobs[name] = job;
      const parsed = jobSchema.safeParse(job);
      if (parsed.success) parsedJobs[name] = parsed.data;
      else problems.push(...issuesToProblems(jobSchema, job, parsed.error.issues, ['jobs', name]));
      checkEnvNames(name, job.env, problems);
    }
    checkRunBounds(parsedJobs, problems);
  } else if (rawJobs === undefined) {
    problems.push({ path: 'jobs', message: `is required: ${REQUIRED_HINTS.jobs}` });
  } else if (rawJobs === null) {
    problems.push({ path: 'jobs', message: 'must declare at least one job' });
  } else {
    problems.push({ path: 'jobs', message: `must be a mapping of job names to jobs, not ${describe(rawJobs)}` });
  }
  const graph = checkJobs(jobs, problems);
  checkImageRepositories(jobs, opts.ecrRepositoryPrefix ?? DEFAULT_ECR_REPOSITORY_PREFIX, problems);
  checkNotifications(value, problems);

  if (problems.length > 0 || !top.success) return { ok: false, problems: tidy(problems) };
  return { ok: true, spec: normalise(top.data, parsedJobs, jobs, graph) };
}

/** Like {@link parsePipeline} (text) or {@link parsePipelineObject} (anything else), throwing a `ValidationError` with every problem. */
export function assertPipeline(input: unknown, opts: ParseOptions = {}): PipelineSpec {
  const result = typeof input === 'string' ? parsePipeline(input, opts) : parsePipelineObject(input, opts);
  if (result.ok) return result.spec;
  const where = opts.filename ? ` in ${opts.filename}` : '';
  const count = result.problems.length;
  throw new ValidationError(`invalid pipeline definition${where} (${count} problem${count === 1 ? '' : 's'})`, result.problems);
}

/**
 * A run and all its jobs are one DynamoDB item (at most 400 KB): what a definition
 * puts in every run is bounded, so the largest run it can become still fits
 * (shared/domain/run-bounds.ts).
 */
function checkRunBounds(jobs: Record<string, RawJob>, problems: Problem[]): void {
  let needs = 0;
  let deploys = 0;
  for (const job of Object.values(jobs)) {
    needs += job.needs?.length ?? 0;
    if (job.kind === 'deploy') deploys += 1;
  }
  const why = 'a run and all its jobs are one DynamoDB item, at most 400 KB';
  if (needs > MAX_NEEDS_TOTAL) {
    problems.push({ path: 'jobs', message: `lists ${needs} needs in all; a pipeline may have at most ${MAX_NEEDS_TOTAL} (${why}): let a job need one gate job instead of a whole stage, or split the pipeline` });
  }
  if (deploys > MAX_DEPLOY_JOBS) {
    problems.push({ path: 'jobs', message: `declares ${deploys} deploy jobs; a pipeline may have at most ${MAX_DEPLOY_JOBS} (${why}): split the pipeline` });
  }
}

/**
 * One rule for image repositories: the engine adds its prefix (`hello` -> `slipway/hello`), the
 * only repositories its build role may push to. A name that already starts with the prefix would
 * be pushed to `slipway/slipway/hello`, a repository nobody created; say so now rather than let
 * the push fail at run time.
 */
function checkImageRepositories(jobs: Record<string, Record<string, unknown>>, prefix: string, problems: Problem[]): void {
  for (const [name, job] of Object.entries(jobs)) {
    const docker = job.docker;
    if (!isRecord(docker) || typeof docker.repository !== 'string' || !ECR_REPOSITORY.test(docker.repository)) continue;
    const repository = docker.repository;
    const path = formatPath(['jobs', name, 'docker', 'repository']);
    if (repository === prefix || repository.startsWith(`${prefix}/`)) {
      const rest = repository.slice(prefix.length + 1) || 'web';
      problems.push({
        path,
        message: `leave out the prefix "${prefix}/": Slipway adds it, so "${repository}" would be pushed to "${ecrRepositoryName(prefix, repository)}"; write "${rest}"`,
      });
    } else if (ecrRepositoryName(prefix, repository).length > 256) {
      problems.push({ path, message: `"${ecrRepositoryName(prefix, repository)}" is longer than the 256 characters ECR allows for a repository name` });
    }
  }
}

function checkEnvNames(job: string, env: unknown, problems: Problem[]): void {
  if (!isRecord(env)) return;
  for (const key of Object.keys(env)) {
    const path = formatPath(['jobs', job, 'env', key]);
    if (!ENV_NAME.test(key)) {
      problems.push({ path, message: `invalid environment variable name "${key}": use letters, digits and "_", not starting with a digit` });
    } else if (/^(SLIPWAY_|CODEBUILD_)/i.test(key)) {
      problems.push({ path, message: `"${key}" is reserved: names starting with SLIPWAY_ or CODEBUILD_ are set by the engine` });
    }
  }
}

const SECTION_ORDER = ['', 'name', 'source', 'concurrency', 'pullRequests', 'jobs', 'notifications'];

/** Problems in the order of the file's sections (stable inside a section), each once. */
function tidy(problems: Problem[]): Problem[] {
  const rank = (p: Problem) => {
    const section = /^[^.[]*/.exec(p.path)![0];
    const i = SECTION_ORDER.indexOf(section);
    return i === -1 ? SECTION_ORDER.length : i;
  };
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.map((p, i) => ({ p, i, r: rank(p) })).sort((a, b) => a.r - b.r || a.i - b.i).map(({ p }) => p);
}

// ---------------------------------------------------------------------------
// Normalising a valid document: every default filled in.

const minutes = (value: unknown, fallbackSeconds: number) => Math.ceil((parseDuration(value) ?? fallbackSeconds) / 60);
const seconds = (value: unknown, fallbackSeconds: number) => parseDuration(value) ?? fallbackSeconds;

function normalise(
  top: RawTop,
  parsed: Record<string, RawJob>,
  raw: Record<string, Record<string, unknown>>,
  graph: Record<string, { needs: string[] }>,
): PipelineSpec {
  const triggers = top.source.triggers ?? {};
  const jobs: Record<string, JobSpec> = {};
  // Declaration order is kept; topoOrder only proves (again) that the graph is a DAG.
  topoOrder(graph);
  for (const [name, job] of Object.entries(parsed)) {
    jobs[name] = normaliseJob(name, job, raw, graph);
  }
  const notifications: NotificationSpec[] = (top.notifications ?? []).map((n) => ({
    kind: n.kind,
    ...(n.secret !== undefined ? { secret: n.secret } : {}),
    ...(n.topicArn !== undefined ? { topicArn: n.topicArn } : {}),
    on: n.on ?? ['run_failed', 'run_fixed'],
  }));
  return {
    name: top.name,
    source: {
      provider: top.source.provider,
      repository: top.source.repository,
      ...(top.source.connection !== undefined ? { connection: top.source.connection } : {}),
      triggers: {
        events: triggers.events ?? ['push'],
        branches: triggers.branches ?? ['**'],
        tags: triggers.tags ?? ['**'],
        paths: { include: triggers.paths?.include ?? [], exclude: triggers.paths?.exclude ?? [] },
      },
    },
    concurrency: top.concurrency ?? 'superseded',
    pullRequests: { forks: top.pullRequests?.forks ?? DEFAULT_FORK_POLICY, approvers: top.pullRequests?.approvers ?? [] },
    jobs,
    notifications,
  };
}

function normaliseJob(
  name: string,
  job: RawJob,
  raw: Record<string, Record<string, unknown>>,
  graph: Record<string, { needs: string[] }>,
): JobSpec {
  const kind = job.kind ?? 'build';
  const base = {
    name,
    kind,
    needs: job.needs ?? [],
    when: { branches: job.when?.branches ?? [], tags: job.when?.tags ?? [], events: job.when?.events ?? [] },
    retries: job.retries ?? 0,
    pullRequests: job.pullRequests ?? (kind === 'build' ? ('all' as const) : ('skip' as const)),
    ...(kind === 'build' || kind === 'image' ? { retryDelaySeconds: seconds(job.retryDelay, DEFAULT_RETRY_DELAY_SECONDS) } : {}),
  };
  if (kind === 'build' || kind === 'image') {
    const build = applyTemplate({
      template: job.template,
      image: job.image,
      install: job.install,
      commands: job.commands,
      cache: job.cache,
      env: job.env,
    });
    const spec: JobSpec = {
      ...base,
      ...(job.template ? { template: job.template } : {}),
      buildImage: build.image,
      install: build.install,
      commands: build.commands,
      cache: build.cache,
      env: build.env,
      outputs: job.outputs ?? [],
      inputs: job.inputs ?? [],
      timeoutMinutes: minutes(job.timeout, DEFAULT_TIMEOUT_SECONDS),
      compute: job.compute ?? 'small',
    };
    if (kind === 'image' && job.docker) {
      spec.image = {
        dockerfile: job.docker.dockerfile ?? 'Dockerfile',
        context: job.docker.context ?? '.',
        repository: job.docker.repository,
        tags: job.docker.tags ?? [],
      };
    }
    return spec;
  }
  const noBuild = { install: [], commands: [], cache: [], env: {}, outputs: [], inputs: [], compute: 'small' as const };
  if (kind === 'approval') {
    const timeoutMinutes = minutes(job.approval?.timeout, DEFAULT_APPROVAL_TIMEOUT_SECONDS);
    return { ...base, ...noBuild, timeoutMinutes, approval: { approvers: job.approval?.approvers ?? [], timeoutMinutes } };
  }
  const d = job.deploy!;
  const strategy = d.strategy ?? 'blue-green';
  return {
    ...base,
    ...noBuild,
    timeoutMinutes: minutes(job.timeout, DEFAULT_TIMEOUT_SECONDS),
    deploy: {
      target: d.target,
      strategy,
      steps: d.steps ?? (strategy === 'standard' ? [100] : [...DEFAULT_STEPS]),
      intervalSeconds: seconds(d.interval, DEFAULT_INTERVAL_SECONDS),
      bakeSeconds: seconds(d.bake, DEFAULT_BAKE_SECONDS),
      alarms: d.alarms ?? [],
      imageFrom: d.imageFrom ?? nearestImageJob(raw, graph, name),
      ...(d.healthCheck
        ? { healthCheck: { path: d.healthCheck.path, expectedStatus: d.healthCheck.expectedStatus ?? 200, windowSeconds: seconds(d.healthCheck.window, DEFAULT_HEALTH_CHECK_WINDOW_SECONDS) } }
        : {}),
      rollbackWindowMinutes: minutes(d.rollbackWindow, DEFAULT_ROLLBACK_WINDOW_SECONDS),
    },
  };
}
