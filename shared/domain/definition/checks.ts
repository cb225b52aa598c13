/**
 * Checks across fields and jobs on the raw document (the DAG, deploy jobs, image repositories, run bounds, environment names) and the order problems are reported in.
 */
import { type Problem } from '../errors.ts';
import { ancestors, findCycle } from '../dag.ts';
import {
  ecrRepositoryName,
  JOB_KINDS, TEMPLATE_NAMES,
  type JobKind
} from '../pipeline.ts';
import { MAX_DEPLOY_JOBS, MAX_NEEDS_TOTAL } from '../run-bounds.ts';
import { CHAT_KINDS, LIMITS, ENV_NAME, TWO_PART_REPO, GITLAB_REPO, ECR_REPOSITORY } from './rules.ts';
import { didYouMean, parseDuration, type Segment, formatPath, isRecord } from './words.ts';
import { type RawJob, REQUIRED_HINTS } from './schema.ts';
import { chooseCompute, COMPUTE_CHOICES, type ComputeChoice } from '../compute.ts';
import { applyTemplate } from '../templates.ts';
import { TEMPLATE_NAMES as TEMPLATES_KNOWN, type TemplateName } from '../pipeline.ts';

// ---------------------------------------------------------------------------
// Checks across fields and jobs, on the raw document (guarded: a field of the wrong
// type was already reported by the schema and is simply skipped here).

export function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export function checkSource(raw: Record<string, unknown>, problems: Problem[]): void {
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

export function checkNotifications(raw: Record<string, unknown>, problems: Problem[]): void {
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

export function checkDuration(value: unknown, limit: (typeof LIMITS)[keyof typeof LIMITS], path: string, problems: Problem[]): void {
  const seconds = parseDuration(value);
  if (seconds === undefined) return; // reported by the schema
  if (seconds < limit.min || seconds > limit.max) {
    problems.push({ path, message: `must be ${limit.text}, got ${JSON.stringify(value)}` });
  }
}

export const BUILD_ONLY_KEYS = ['template', 'image', 'install', 'commands', 'cache', 'env', 'outputs', 'inputs', 'compute', 'fleet'] as const;

export function kindOf(job: Record<string, unknown>): JobKind | undefined {
  if (job.kind === undefined) return 'build';
  return (JOB_KINDS as readonly unknown[]).includes(job.kind) ? (job.kind as JobKind) : undefined;
}

/** Whether `name` or one of its ancestors needs a job that does not exist (already reported; do not pile on). */
export function hasUnknownNeeds(jobs: Record<string, Record<string, unknown>>, name: string): boolean {
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
export function nearestImageJob(jobs: Record<string, Record<string, unknown>>, graph: Record<string, { needs: string[] }>, name: string): string | undefined {
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

export function checkJobs(jobs: Record<string, Record<string, unknown>>, problems: Problem[]): Record<string, { needs: string[] }> {
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
    if (kind === 'build' || kind === 'image') checkCompute(job, kind, at, problems);
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

export function checkDeploy(
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

/**
 * A run and all its jobs are one DynamoDB item (at most 400 KB): what a definition
 * puts in every run is bounded, so the largest run it can become still fits
 * (shared/domain/run-bounds.ts).
 */
export function checkRunBounds(jobs: Record<string, RawJob>, problems: Problem[]): void {
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
export function checkImageRepositories(jobs: Record<string, Record<string, unknown>>, prefix: string, problems: Problem[]): void {
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

export function checkEnvNames(job: string, env: unknown, problems: Problem[]): void {
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

export const SECTION_ORDER = ['', 'name', 'source', 'concurrency', 'pullRequests', 'jobs', 'notifications'];

/** Problems in the order of the file's sections (stable inside a section), each once. */
export function tidy(problems: Problem[]): Problem[] {
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

/** A forced `compute: lambda` the job cannot honour, or a fleet beside it, is a definition error (see compute.ts). */
function checkCompute(job: Record<string, unknown>, kind: 'build' | 'image', at: (...p: Segment[]) => string, problems: Problem[]): void {
  const choice = (COMPUTE_CHOICES as readonly unknown[]).includes(job.compute) ? (job.compute as ComputeChoice) : undefined;
  if (choice !== 'lambda' && job.fleet === undefined) return;
  const strings = (v: unknown) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined);
  const template = (TEMPLATES_KNOWN as readonly unknown[]).includes(job.template) ? (job.template as TemplateName) : undefined;
  const build = applyTemplate({ template, install: strings(job.install), commands: strings(job.commands) });
  const timeout = parseDuration(job.timeout);
  const decided = chooseCompute(choice, typeof job.fleet === 'string' ? job.fleet : undefined, {
    kind,
    ...(template ? { template } : {}),
    ...(typeof job.image === 'string' ? { customImage: job.image } : {}),
    install: build.install,
    commands: build.commands,
    ...(timeout !== undefined ? { timeoutMinutes: timeout / 60 } : {}),
  });
  if (!decided.ok) problems.push({ path: at('compute'), message: decided.message });
}
