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
 * schedules:                           # at most 10; trigger `schedule` (domain/schedule.ts)
 *   - name: nightly                    # @default schedule-<n>
 *     cron: "0 2 * * 1-5"              # minute hour day-of-month month day-of-week
 *     timezone: Europe/Berlin          # IANA @default UTC
 *     branch: main                     # its head runs
 *     parameters: { SUITE: full }      # @default none
 *     onlyIfChanged: true              # skip a head that already ran green @default false
 * ```
 *
 * Chat kinds are slack, teams and dingtalk (they need `secret`, the name of a Secrets
 * Manager secret holding the webhook URL, or JSON `{"url": ..., "signingSecret": ...}` for a
 * signed DingTalk robot); email needs `topicArn` (a topic in the engine's account and region). `on` takes
 * run_failed, run_succeeded, run_fixed, approval_needed, released, rolled_back
 * (@default [run_failed, run_fixed]). JSON with the same shape is accepted too.
 */
import { ValidationError, type Problem } from './errors.ts';
import {
  FORK_APPROVAL_JOB, DEFAULT_ECR_REPOSITORY_PREFIX, MAX_JOBS, type PipelineSpec
} from './pipeline.ts';
import { JOB_NAME, isValidName } from './names.ts';
import { formatPath, isRecord, describe } from './definition/words.ts';
import { topSchema, jobSchema, type RawJob, REQUIRED_HINTS, issuesToProblems } from './definition/schema.ts';
import { loadText } from './definition/load.ts';
import { checkSource, checkNotifications, checkJobs, checkRunBounds, checkImageRepositories, checkEnvNames, tidy } from './definition/checks.ts';
import { normalise } from './definition/normalise.ts';
import type { ParseOptions, ParseResult } from './definition/load.ts';

export type { ParseOptions, ParseResult } from './definition/load.ts';


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
      } else if (!isValidName(JOB_NAME, name)) {
        problems.push({
          path: formatPath(['jobs', name]),
          message: `invalid job name "${name}": use ${JOB_NAME.chars}, starting with a letter or digit (at most ${JOB_NAME.max} characters)`,
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

