/**
 * The management API's operations, over ports: register and read pipelines,
 * request, read and cancel runs, approve or reject approval jobs, read build
 * logs and artifacts, and look at or roll back release targets.
 *
 * Everything that changes a run goes to the engine as a message on the engine
 * queue (a RunRequest, or an engine event): the API never writes a run itself,
 * so the engine's `decide` stays the only place where run state changes. The API
 * checks what it can answer at once (unknown run or job -> NotFoundError, a
 * finished run or a job not waiting for approval -> ConflictError) so callers get
 * a useful status instead of a silent no-op.
 */
import { notificationSecrets, secretNameProblems } from '../domain/secret-names.ts';
import { ulid } from 'ulid';
import { ConflictError, NotFoundError, RetryableError, SlipwayError, ValidationError, type Problem } from '../domain/errors.ts';
import type { TargetConfig } from '../domain/release.ts';
import { FORK_APPROVAL_JOB, pullRequestSettings, type PipelineSpec, type Provider } from '../domain/pipeline.ts';
import { isApprover, parseCaller } from '../domain/principals.ts';
import { ARTIFACT_ROOTS, buildLaneOf, MAX_EARLIER_BUILDS, definitionCommitOf, TERMINAL_RUN_STATUSES, type RunState, type Trigger } from '../domain/run.ts';
import { type ApprovalGiven, type ApprovalRejected, type CancelRequested } from '../domain/run-events.ts';
import type { RunRequest } from '../ports/messages.ts';
import type { EventQueue, Page, PipelineRecord, PipelineStore, RunStore, RunSummary } from '../ports/index.ts';
import type { ArtifactLink, ArtifactReader, BranchResolver, LogPage, LogReader, TargetService } from '../ports/reads.ts';
import { parsePipeline, parsePipelineObject, type ParseResult } from '../domain/definition.ts';


export interface ApiServiceDeps {
  pipelines: PipelineStore;
  runs: RunStore;
  queue: EventQueue;
  git?: BranchResolver;
  logs?: LogReader;
  artifacts?: ArtifactReader;
  /** Absent until the releaser provides it: target routes then answer 501. */
  targets?: TargetService;
  /**
   * The definition of a run of a pipeline defined in its repository (the file at the
   * run's definition commit), for checking who may approve. Without it, approval jobs
   * of such pipelines that name approvers cannot be answered (503).
   */
  resolveDefinition?: (record: PipelineRecord, trigger: Trigger) => Promise<PipelineSpec>;
  /**
   * The local mode: one developer on their own machine, who holds the local API token,
   * answers every approval; recorded as `local developer <name>`. Never set in AWS.
   */
  localDeveloper?: string;
  now?: () => Date;
  newRunId?: () => string;
  /** Prefix the engine adds to image repositories; definitions are checked against it. @default "slipway" */
  ecrRepositoryPrefix?: string;
}

/** Who asked, and the API Gateway request id (the base of deterministic event ids). */
export interface Caller {
  by: string;
  requestId: string;
  /** A console user's groups in the user pool (`cognito:<pool>:group/<name>` approvers). */
  groups?: readonly string[];
}

/** The caller may not do this (e.g. approve a job that names other approvers). */
export class ForbiddenError extends SlipwayError {
  override readonly status = 403;
  override readonly code = 'Forbidden';
  constructor(message: string) {
    super(message);
    this.name = 'ForbiddenError';
  }
}

/** A capability this deployment does not have (yet). */
export class NotImplementedError extends SlipwayError {
  override readonly status = 501;
  override readonly code = 'NotImplemented';
  constructor(message: string) {
    super(message);
    this.name = 'NotImplementedError';
  }
}

// ---- registration input ------------------------------------------------------

/**
 * A registration, after the HTTP layer decoded the body (YAML or JSON):
 * - `definition`: the pipeline definition itself (an object, or YAML/JSON text to parse);
 * - `repository`: the definition lives in the repository at `path`, read at each run's
 *   commit; `source` (provider, repository, triggers), `concurrency` and `notifications`
 *   are registered here because webhook matching and admission need them before any file is read.
 * Secret names left undefined keep the previous version's; `null` removes them.
 */
export type Registration = (
  | {
      kind: 'definition';
      definition: unknown;
      format?: 'yaml' | 'json';
      /** Where the definition sits in the request (`definition` in an envelope): prefixes problem paths. */
      definitionPath?: string;
      webhookSecretName?: string | null;
      tokenSecretName?: string | null;
    }
  | {
      kind: 'repository';
      path: string;
      settings: { name?: unknown; source?: unknown; concurrency?: unknown; notifications?: unknown; pullRequests?: unknown };
      webhookSecretName?: string | null;
      tokenSecretName?: string | null;
    }
) & {
  /** Problems the HTTP layer found in the envelope; reported together with the definition's. */
  problems?: Problem[];
};

export interface ManualRunInput {
  branch?: string;
  commit?: string;
  parameters?: Record<string, string>;
}

export class ApiService {
  private readonly now: () => Date;
  private readonly newRunId: () => string;

  constructor(private readonly deps: ApiServiceDeps) {
    this.now = deps.now ?? (() => new Date());
    this.newRunId = deps.newRunId ?? (() => ulid());
  }

  // ---- pipelines --------------------------------------------------------------

  /** Validates and stores a new version; `created` is true for version 1. ValidationError lists every problem. */
  async registerPipeline(id: string, registration: Registration): Promise<{ record: PipelineRecord; created: boolean }> {
    let result: ParseResult;
    let definitionSource: PipelineRecord['definitionSource'];
    if (registration.kind === 'definition') {
      const d = registration.definition;
      const prefix = this.deps.ecrRepositoryPrefix ? { ecrRepositoryPrefix: this.deps.ecrRepositoryPrefix } : {};
      result = typeof d === 'string' ? parsePipeline(d, registration.format === 'json' ? { filename: 'pipeline.json', ...prefix } : prefix) : parsePipelineObject(d, prefix);
      if (!result.ok && registration.definitionPath) result = { ok: false, problems: result.problems.map((p) => ({ ...p, path: p.path ? `${registration.definitionPath}.${p.path}` : registration.definitionPath! })) };
      definitionSource = { kind: 'registered' };
    } else {
      const s = registration.settings;
      // Jobs live in the repository file; a placeholder job lets the rest be validated and normalised by the same rules.
      const doc: Record<string, unknown> = { name: s.name ?? id, source: s.source, jobs: { [PLACEHOLDER_JOB]: { kind: 'approval' } } };
      if (s.concurrency !== undefined) doc.concurrency = s.concurrency;
      if (s.notifications !== undefined) doc.notifications = s.notifications;
      if (s.pullRequests !== undefined) doc.pullRequests = s.pullRequests;
      result = parsePipelineObject(doc);
      if (result.ok) {
        // Pull-request settings registered here override the repository file's (the engine takes the stricter
        // fork policy); left out, the file on the run's definition commit decides.
        const { pullRequests, ...rest } = result.spec;
        result = { ok: true, spec: { ...rest, ...(s.pullRequests !== undefined ? { pullRequests } : {}), jobs: {} } };
      }
      definitionSource = { kind: 'repository', path: registration.path };
    }
    // One answer with every problem: the envelope's and the definition's.
    const problems = [...(registration.problems ?? []), ...(result.ok ? [] : result.problems)];
    if (problems.length > 0 || !result.ok) {
      throw new ValidationError(`invalid pipeline definition (${problems.length} problem${problems.length === 1 ? '' : 's'})`, problems);
    }
    const spec = result.spec;
    const previous = await this.deps.pipelines.get(id).catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    const webhookSecretName = carry(registration.webhookSecretName, previous?.webhookSecretName);
    const tokenSecretName = carry(registration.tokenSecretName, previous?.tokenSecretName);
    const secretProblems = secretNameProblems(id, [
      { path: 'webhookSecretName', name: webhookSecretName },
      { path: 'tokenSecretName', name: tokenSecretName },
      ...notificationSecrets(spec, registration.kind === 'definition' && registration.definitionPath ? `${registration.definitionPath}.notifications` : 'notifications'),
    ]);
    if (secretProblems.length > 0) {
      throw new ValidationError(`invalid pipeline definition (${secretProblems.length} problem${secretProblems.length === 1 ? '' : 's'})`, secretProblems);
    }
    const record = await this.deps.pipelines.put({
      id,
      spec,
      definitionSource,
      // A new version of a disabled pipeline stays disabled until enabled: the store carries the mark.
      ...(webhookSecretName ? { webhookSecretName } : {}),
      ...(tokenSecretName ? { tokenSecretName } : {}),
    });
    return { record, created: record.version === 1 };
  }

  /** Disabled: webhooks start no runs and manual runs are refused (409) until enabled; the history stays. */
  async setPipelineEnabled(id: string, enabled: boolean, caller: Caller): Promise<PipelineSummary> {
    if (!this.deps.pipelines.setDisabled) throw new NotImplementedError('this deployment cannot disable pipelines');
    const record = await this.deps.pipelines.setDisabled(id, enabled ? undefined : { by: this.who(caller), at: this.now().toISOString() });
    return summarizePipeline(record);
  }

  /**
   * Deletes a pipeline. `history: 'keep'` leaves its runs (and the versions they pinned)
   * readable; `'delete'` removes them too. Refused while a run is active: cancel it first.
   */
  async deletePipeline(id: string, history: 'keep' | 'delete'): Promise<{ id: string; deleted: true; history: 'keep' | 'delete'; runsDeleted: number }> {
    const { remove } = this.deps.pipelines;
    if (!remove || (history === 'delete' && !this.deps.runs.removeByPipeline)) throw new NotImplementedError('this deployment cannot delete pipelines');
    await this.deps.pipelines.get(id);
    const active = await this.deps.runs.listActive(id);
    if (active.length > 0) throw new ConflictError(`pipeline ${id} has ${active.length} active run(s) (${active.map((r) => r.runId).join(', ')}); cancel them first`);
    const runsDeleted = history === 'delete' ? await this.deps.runs.removeByPipeline!(id) : 0;
    await remove.call(this.deps.pipelines, id, { keepVersions: history === 'keep' });
    return { id, deleted: true, history, runsDeleted };
  }

  getPipeline(id: string, version?: number): Promise<PipelineRecord> {
    return this.deps.pipelines.get(id, version);
  }

  async listPipelines(opts: { limit?: number; cursor?: string }): Promise<Page<PipelineSummary>> {
    const page = await this.deps.pipelines.list(opts);
    return { items: page.items.map(summarizePipeline), ...(page.cursor ? { cursor: page.cursor } : {}) };
  }

  // ---- runs -------------------------------------------------------------------

  /**
   * Asks the engine for a manual run of the latest version (pinned now, so an update
   * registered a moment later does not change what was asked for). A branch is
   * resolved to its head commit here, so the run records exactly what it built.
   */
  async requestRun(pipelineId: string, input: ManualRunInput, caller: Caller): Promise<{ runId: string; pipelineId: string; pipelineVersion: number; commit: string; branch?: string }> {
    if (input.branch !== undefined && input.commit !== undefined) {
      throw new ValidationError('give either a branch or a commit', [{ path: '', message: '"branch" and "commit" are mutually exclusive' }]);
    }
    const pipeline = await this.deps.pipelines.get(pipelineId);
    refuseDisabled(pipeline);
    const source = pipeline.spec.source;
    let commit = input.commit?.toLowerCase();
    let branch = input.branch;
    if (commit === undefined && branch === undefined) {
      // Neither given: the repository's default branch, as the git host (or the repository on disk) says.
      if (!this.deps.git?.defaultBranch) throw new ValidationError('give either a branch or a commit', [{ path: '', message: 'one of "branch" or "commit" is required' }]);
      branch = await this.deps.git.defaultBranch(source.provider, source.repository, pipeline.tokenSecretName);
    }
    if (commit === undefined) {
      if (!this.deps.git) throw new NotImplementedError('this deployment cannot resolve branches; give a commit');
      try {
        commit = await this.deps.git.resolveBranch(source.provider, source.repository, branch!, pipeline.tokenSecretName);
      } catch (err) {
        if (err instanceof NotFoundError) {
          throw new ValidationError('unknown branch', [{ path: 'branch', message: `${err.message}; push it first, or name another branch` }]);
        }
        throw err;
      }
    }
    const runId = this.newRunId();
    const trigger: Trigger = {
      event: 'manual',
      provider: source.provider,
      repository: source.repository,
      commit,
      author: this.who(caller),
      ...(branch !== undefined ? { branch } : {}),
      ...(input.parameters && Object.keys(input.parameters).length > 0 ? { parameters: input.parameters } : {}),
    };
    const request: RunRequest = {
      type: 'RunRequest',
      id: `req:api:${caller.requestId}`,
      runId,
      pipelineId,
      pipelineVersion: pipeline.version,
      trigger,
      at: this.now().toISOString(),
    };
    await this.deps.queue.send([request]);
    return { runId, pipelineId, pipelineVersion: pipeline.version, commit, ...(branch !== undefined ? { branch } : {}) };
  }

  /**
   * A new run repeating a finished one: the same commit and trigger, the same pipeline
   * version (pinned, so a newer registration does not change what is repeated), linked to
   * it (`rerun.of`). `failedOnly` keeps the jobs that succeeded (with their outputs and
   * artifacts) and runs the others again, as GitHub's "re-run failed jobs" does.
   */
  async rerunRun(runId: string, opts: { failedOnly?: boolean }, caller: Caller): Promise<{ runId: string; rerunOf: string; pipelineId: string; pipelineVersion: number; commit: string; reused: string[] }> {
    const old = await this.getRun(runId);
    if (!TERMINAL_RUN_STATUSES.has(old.status)) throw new ConflictError(`run ${runId} is still ${old.status}; wait for it to end, or cancel it first (slipway cancel ${runId})`);
    if (Object.keys(old.plan).length === 0) throw new ConflictError(`run ${runId} was never planned (${old.reason ?? 'it failed before its jobs were planned'}); start a new run instead`);
    const pipeline = await this.deps.pipelines.get(old.pipelineId);
    refuseDisabled(pipeline);
    const reused = opts.failedOnly ? Object.keys(old.jobs).filter((j) => old.jobs[j].status === 'succeeded') : [];
    if (opts.failedOnly && reused.length === Object.keys(old.jobs).length) throw new ConflictError(`every job of run ${runId} succeeded: nothing to re-run with --failed (re-run it whole without it)`);
    const newRunId = this.newRunId();
    if (reused.length > 0 && this.deps.artifacts?.copyJob) {
      const root = ARTIFACT_ROOTS[buildLaneOf(old.trigger)];
      for (const job of reused) await this.deps.artifacts.copyJob(runId, newRunId, job, root);
    }
    const request: RunRequest = {
      type: 'RunRequest',
      id: `req:rerun:${caller.requestId}`,
      runId: newRunId,
      pipelineId: old.pipelineId,
      pipelineVersion: old.pipelineVersion,
      trigger: old.trigger,
      at: this.now().toISOString(),
      rerun: {
        of: runId,
        by: this.who(caller),
        ...(reused.length > 0 ? { reused: Object.fromEntries(reused.map((j) => [j, old.jobs[j].outputs ? { outputs: old.jobs[j].outputs } : {}])) } : {}),
      },
    };
    await this.deps.queue.send([request]);
    return { runId: newRunId, rerunOf: runId, pipelineId: old.pipelineId, pipelineVersion: old.pipelineVersion, commit: old.trigger.commit, reused };
  }

  async getRun(runId: string): Promise<RunState> {
    try {
      return await this.deps.runs.get(runId);
    } catch (err) {
      // A run requested a moment ago exists only once the engine has planned it.
      if (err instanceof NotFoundError) throw new NotFoundError(`run ${runId} not found (a run requested a moment ago appears once the engine has planned it)`);
      throw err;
    }
  }

  async listRuns(pipelineId: string, opts: { limit?: number; cursor?: string }): Promise<Page<RunSummary>> {
    // 404 for an unknown pipeline rather than an empty list; a pipeline deleted with its history kept still lists its runs.
    await this.deps.pipelines.get(pipelineId).catch(async (err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err;
      await this.deps.pipelines.get(pipelineId, 1).catch(() => { throw err; });
    });
    return this.deps.runs.listByPipeline(pipelineId, opts);
  }

  /** Cancelling twice is harmless: both requests carry the same event id. */
  async cancelRun(runId: string, caller: Caller): Promise<{ runId: string; status: 'cancelling' }> {
    const run = await this.getRun(runId);
    if (TERMINAL_RUN_STATUSES.has(run.status)) throw new ConflictError(`run ${runId} already ended (${run.status}); there is nothing to cancel`);
    const event: CancelRequested = { type: 'CancelRequested', id: `cancel:${runId}`, runId, by: this.who(caller), at: this.now().toISOString() };
    await this.deps.queue.send([event]);
    return { runId, status: 'cancelling' };
  }

  /**
   * Approves or rejects an approval job that is waiting. The event id names the
   * job attempt, not the verdict: the first answer wins, a second one is dropped.
   */
  async answerApproval(runId: string, job: string, verdict: 'approve' | 'reject', caller: Caller, comment?: string): Promise<{ runId: string; job: string; verdict: 'approved' | 'rejected' }> {
    const run = await this.getRun(runId);
    const state = run.jobs[job];
    const plan = run.plan[job];
    if (!state || !plan) throw new NotFoundError(`run ${runId} has no job "${job}"`);
    if (plan.kind !== 'approval') throw new ConflictError(`job "${job}" is a ${plan.kind} job; only approval jobs can be approved or rejected`);
    if (TERMINAL_RUN_STATUSES.has(run.status)) throw new ConflictError(`run ${runId} already ended (${run.status})`);
    if (state.status !== 'waiting_approval') throw new ConflictError(`job "${job}" is ${state.status.replace('_', ' ')}, not waiting for approval`);
    const by = await this.checkApprover(run, job, caller.by, caller.groups);
    const at = this.now().toISOString();
    const id = `approval:${runId}:${job}:${state.attempt}`;
    const event: ApprovalGiven | ApprovalRejected =
      verdict === 'approve'
        ? { type: 'ApprovalGiven', id, runId, job, by, at }
        : { type: 'ApprovalRejected', id, runId, job, by, at, ...(comment ? { comment } : {}) };
    await this.deps.queue.send([event]);
    return { runId, job, verdict: verdict === 'approve' ? 'approved' : 'rejected' };
  }

  /**
   * The approvers of the definition the run uses (the pinned version, or for a pipeline
   * defined in its repository that file at the run's definition commit) must include
   * the caller, matched as an AWS principal (principals.ts), never by a name the caller
   * chose. Returns who answered, as recorded on the run: the caller's full principal ARN.
   */
  private async checkApprover(run: RunState, job: string, by: string, groups: readonly string[] = []): Promise<string> {
    if (this.deps.localDeveloper !== undefined) return this.who({ by, requestId: '' });
    if (by === 'unknown' || parseCaller(by) === undefined) {
      throw new ForbiddenError(`approvals need a caller AWS identifies (a signed IAM request, or a person signed in to the console); this request's caller is ${JSON.stringify(by)}`);
    }
    const approvers = await this.approversOf(run, job);
    if (approvers.length > 0 && !isApprover(approvers, by, groups)) {
      throw new ForbiddenError(`${by} may not answer job "${job}"; it may be approved or rejected only by: ${approvers.join(', ')}`);
    }
    return by;
  }

  private async approversOf(run: RunState, job: string): Promise<string[]> {
    const record = await this.deps.pipelines.get(run.pipelineId, run.pipelineVersion);
    let spec = record.spec;
    if (record.definitionSource.kind === 'repository') {
      if (!this.deps.resolveDefinition) throw new RetryableError('the approvers of this pipeline live in its repository, which this deployment cannot read');
      spec = await this.deps.resolveDefinition(record, { ...run.trigger, commit: definitionCommitOf(run.trigger) });
    }
    // The approval Slipway puts in front of a fork's run answers to the pipeline's pullRequests.approvers.
    if (job === FORK_APPROVAL_JOB && !Object.hasOwn(spec.jobs, job)) {
      const registered = record.definitionSource.kind === 'repository' ? record.spec.pullRequests?.approvers : undefined;
      return registered && registered.length > 0 ? registered : pullRequestSettings(spec).approvers;
    }
    return (Object.hasOwn(spec.jobs, job) ? spec.jobs[job].approval?.approvers : undefined) ?? [];
  }

  /**
   * Who asked, as runs and targets record it. In the local mode there is no AWS identity:
   * the developer holding the local API token is the caller, for every action.
   */
  private who(caller: Caller): string {
    return this.deps.localDeveloper !== undefined ? `local developer ${this.deps.localDeveloper}` : caller.by;
  }

  // ---- logs and artifacts ---------------------------------------------------------

  /** A build's log: the job's current (or last) attempt, or an earlier one (`attempt`). */
  async readLogs(runId: string, job: string, opts: { cursor?: string; limit?: number; attempt?: number }): Promise<LogPage & { runId: string; job: string; status: string; complete: boolean; attempt: number; attempts: number }> {
    const { run, state } = await this.findJob(runId, job);
    const kind = run.plan[job].kind;
    if (kind !== 'build' && kind !== 'image') {
      throw new NotFoundError(`job "${job}" is a ${kind} job and has no build log${kind === 'deploy' ? `; its release steps are in \`slipway status ${runId}\` (and \`slipway targets ${run.plan[job].target ?? ''}\`)` : `; \`slipway status ${runId}\` shows who answered it`}`);
    }
    const attempt = opts.attempt ?? state.attempt;
    if (opts.attempt !== undefined && (attempt < 1 || attempt > state.attempt)) throw new NotFoundError(`job "${job}" has no attempt ${attempt}: it has had ${state.attempt} attempt${state.attempt === 1 ? '' : 's'}`);
    const current = attempt === state.attempt;
    const buildId = current ? state.buildId : state.earlierBuilds?.find((a) => a.attempt === attempt)?.buildId;
    if (!current && buildId === undefined && state.attempt - attempt > MAX_EARLIER_BUILDS) {
      throw new NotFoundError(`the run keeps the build of the last ${MAX_EARLIER_BUILDS + 1} attempts of job "${job}" only; attempt ${attempt}'s build log is in the build log group under its own build id`);
    }
    const base = { runId, job, status: current ? state.status : 'failed', attempt, attempts: state.attempt };
    if (!buildId) return { ...base, events: [], complete: !current || TERMINAL_RUN_STATUSES.has(run.status) || isTerminalJob(state.status) };
    if (!this.deps.logs) throw new NotImplementedError('build logs are not available in this deployment');
    const { cursor, limit } = opts;
    const page = await this.deps.logs.read(buildId, { cursor, limit });
    // The stream is complete once the attempt ended and a read returns nothing new.
    const complete = (!current || isTerminalJob(state.status)) && page.events.length === 0;
    return { ...base, ...page, complete };
  }

  async listArtifacts(runId: string, job: string): Promise<{ runId: string; job: string; artifacts: ArtifactLink[] }> {
    const { run } = await this.findJob(runId, job);
    if (!this.deps.artifacts) throw new NotImplementedError('artifacts are not available in this deployment');
    return { runId, job, artifacts: await this.deps.artifacts.list(runId, job, ARTIFACT_ROOTS[buildLaneOf(run.trigger)]) };
  }

  /** A download link for one artifact of the job. */
  async artifactUrl(runId: string, job: string, path: string): Promise<string> {
    const { run } = await this.findJob(runId, job);
    if (!this.deps.artifacts) throw new NotImplementedError('artifacts are not available in this deployment');
    return this.deps.artifacts.presignArtifact(runId, job, path, ARTIFACT_ROOTS[buildLaneOf(run.trigger)]);
  }

  // ---- targets --------------------------------------------------------------------

  getTarget(name: string): Promise<unknown> {
    if (!this.deps.targets) throw new NotImplementedError('release targets are not available through the API yet');
    return this.deps.targets.get(name);
  }

  rollbackTarget(name: string, caller: Caller): Promise<unknown> {
    if (!this.deps.targets) throw new NotImplementedError('rollback is not available through the API yet');
    return this.deps.targets.rollback(name, this.who(caller));
  }

  async listTargets(): Promise<{ items: unknown[] }> {
    if (!this.deps.targets?.list) throw new NotImplementedError('release targets are not available through the API yet');
    return { items: await this.deps.targets.list() };
  }

  putTarget(config: TargetConfig): Promise<{ target: unknown; created: boolean }> {
    if (!this.deps.targets?.put) throw new NotImplementedError('release targets are not available through the API yet');
    return this.deps.targets.put(config);
  }

  private async findJob(runId: string, job: string) {
    const run = await this.getRun(runId);
    const state = run.jobs[job];
    if (!state || !run.plan[job]) throw new NotFoundError(`run ${runId} has no job "${job}"`);
    return { run, state };
  }
}

export interface PipelineSummary {
  id: string;
  version: number;
  name: string;
  provider: Provider;
  repository: string;
  definitionSource: PipelineRecord['definitionSource'];
  createdAt: string;
  disabled?: { by: string; at: string };
}

function refuseDisabled(pipeline: PipelineRecord): void {
  if (pipeline.disabled) throw new ConflictError(`pipeline ${pipeline.id} is disabled (by ${pipeline.disabled.by} at ${pipeline.disabled.at}); enable it first: slipway pipelines enable ${pipeline.id}`);
}

function summarizePipeline(r: PipelineRecord): PipelineSummary {
  return {
    ...(r.disabled ? { disabled: r.disabled } : {}),
    id: r.id,
    version: r.version,
    name: r.spec.name,
    provider: r.spec.source.provider,
    repository: r.spec.source.repository,
    definitionSource: r.definitionSource,
    createdAt: r.createdAt,
  };
}

const PLACEHOLDER_JOB = 'repository-definition';

function carry(given: string | null | undefined, previous: string | undefined): string | undefined {
  if (given === null) return undefined;
  return given ?? previous;
}

function isTerminalJob(status: string): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'skipped' || status === 'cancelled';
}

