/**
 * Target administration: registering a target and changing an idle one (after
 * checking its resources carry `slipway:target=<name>`), reading targets as the
 * API shows them, and asking the releaser for a rollback. It needs no ECS or
 * ELBv2 rights beyond reading tags, so the API function can use it; the release
 * loop itself is the Releaser's (releaser.ts).
 */
import { ConflictError,NotFoundError,ValidationError } from '../domain/errors.ts';
import { decideRelease,type Release,type ReleaseHistoryEntry,type ReleaseOutcome,type ReleasePhase,type TargetConfig,type TargetState } from '../domain/release.ts';
import { validateTargetConfig } from '../domain/target-config.ts';
import type { Colour,Weights } from '../domain/traffic.ts';
import type { ReleaseQueue,TargetService,TargetStore } from '../ports/index.ts';
import { TARGET_TAG,type TargetOwnership } from '../ports/releases.ts';

export interface TargetAdminDeps {
  targets: TargetStore;
  /** Checks the tags of what `putTarget` is given; without it `putTarget` refuses every target. */
  ownership?: TargetOwnership;
  /** Where rollbacks go: the releaser moves the traffic. */
  releaseQueue: ReleaseQueue;
  /** @default () => new Date() */
  now?: () => Date;
}

/** A release as `GET /targets/{name}` shows it. */
export interface ReleaseView {
  releaseId: string;
  runId: string;
  pipelineId: string;
  job: string;
  attempt: number;
  image: string;
  strategy: Release['strategy'];
  phase: ReleasePhase;
  step: number;
  fromColour: Colour;
  toColour: Colour;
  /** Percent of the traffic on the new colour (blue-green). */
  percent?: number;
  taskDefinition?: string;
  previousTaskDefinition?: string;
  startedAt: string;
  finishedAt?: string;
  outcome?: ReleaseOutcome;
  reason?: string;
  rolledBackBy?: string;
  history: ReleaseHistoryEntry[];
}

export interface TargetView {
  name: string;
  cluster: string;
  services: Record<Colour, string>;
  targetGroups: Record<Colour, string>;
  listenerRuleArn: string;
  /** The health checker inside the target's VPC, when registered. */
  healthCheckFunction?: string;
  liveColour: Colour;
  weights: Weights;
  current?: ReleaseView;
  last?: ReleaseView;
  waiting: Array<{ releaseId: string; runId: string; job: string; attempt: number; image: string }>;
  /** Colour kept running for an instant rollback, and until when. */
  rollback?: { colour: Colour; until: string; releaseId: string };
  updatedAt: string;
  version: number;
}

export class TargetAdmin implements TargetService {
  private readonly now: () => Date;

  constructor(private readonly deps: TargetAdminDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  private iso(): string {
    return this.now().toISOString();
  }

  // The API's port (TargetService).
  get(name: string): Promise<TargetView> { return this.getTarget(name); }
  list(): Promise<TargetView[]> { return this.listTargets(); }
  put(config: TargetConfig): Promise<{ target: TargetView; created: boolean }> { return this.putTarget(config); }
  rollback(name: string, by: string): Promise<TargetView & { rollbackRequested: true }> { return this.requestRollback(name, by); }

  async registerTarget(config: TargetConfig): Promise<TargetView> {
    return toView(await this.deps.targets.create(config, this.now().toISOString()));
  }

  /**
   * `PUT /targets/{name}`: registers a target, or changes where an idle one's
   * colours live (services, target groups, rules, counts, timing). The live
   * colour and weights are the target's own history and are kept; a target with
   * a release running or waiting is not changed under it (ConflictError).
   */
  async putTarget(config: TargetConfig): Promise<{ target: TargetView; created: boolean }> {
    validateTargetConfig(config);
    await this.verifyOwnership(config);
    let state: TargetState;
    try {
      state = await this.deps.targets.get(config.name);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      return { target: await this.registerTarget(config), created: true };
    }
    if (state.current || state.waiting.length > 0) {
      throw new ConflictError(`target ${config.name} has a release ${state.current ? 'in progress' : 'waiting'}; change it once the target is idle`);
    }
    const { liveColour: _live, ...changes } = config;
    const saved = await this.deps.targets.save({ ...state, ...changes, updatedAt: this.iso() }, state.version);
    return { target: toView(saved), created: false };
  }

  /** ValidationError (400) naming every resource that does not carry `slipway:target=<name>`; nothing is saved. */
  private async verifyOwnership(config: TargetConfig): Promise<void> {
    if (!this.deps.ownership) throw new Error('this releaser has no way to check target ownership; refusing to register targets');
    const problems = await this.deps.ownership.verify(config);
    if (problems.length > 0) {
      throw new ValidationError(`target ${config.name}: the resources named must carry the tag ${TARGET_TAG}=${config.name}`, problems);
    }
  }

  /** `GET /targets`: every registered target, by name. */
  async listTargets(): Promise<TargetView[]> {
    const names = await this.deps.targets.listNames();
    return Promise.all(names.map((n) => this.getTarget(n)));
  }

  async getTarget(name: string): Promise<TargetView> {
    return toView(await this.deps.targets.get(name));
  }

  /**
   * `POST /targets/{name}/rollback` in Lambda: checks with the pure state machine
   * that a rollback is possible now (ConflictError with the reason if not), then
   * hands it to the releaser through the release queue. The API's role thus needs
   * no ECS or ELBv2 permission; the releaser moves the traffic within seconds.
   */
  async requestRollback(name: string, by: string): Promise<TargetView & { rollbackRequested: true }> {
    if (!by || typeof by !== 'string') throw new ValidationError('a rollback needs the name of who asked for it');
    const state = await this.deps.targets.get(name);
    const check = decideRelease(state, { type: 'Rollback', by, now: this.iso() });
    if (check.rejected) throw new ConflictError(check.rejected);
    await this.deps.releaseQueue.send({ type: 'Rollback', target: name, requestedBy: by });
    return { ...toView(state), rollbackRequested: true };
  }
}

function releaseView(r: Release): ReleaseView {
  return {
    releaseId: r.id,
    runId: r.runId,
    pipelineId: r.pipelineId,
    job: r.job,
    attempt: r.attempt,
    image: r.image,
    strategy: r.strategy,
    phase: r.phase,
    step: r.step,
    fromColour: r.fromColour,
    toColour: r.toColour,
    ...(r.strategy === 'blue-green' ? { percent: r.shiftIndex >= 0 ? r.deploy.steps[r.shiftIndex] : 0 } : {}),
    ...(r.taskDefinition ? { taskDefinition: r.taskDefinition } : {}),
    ...(r.previousTaskDefinition ? { previousTaskDefinition: r.previousTaskDefinition } : {}),
    startedAt: r.startedAt,
    ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
    ...(r.outcome ? { outcome: r.outcome } : {}),
    ...(r.reason ? { reason: r.reason } : {}),
    ...(r.rolledBackBy ? { rolledBackBy: r.rolledBackBy } : {}),
    history: r.history,
  };
}

export function toView(s: TargetState): TargetView {
  return {
    name: s.name,
    cluster: s.cluster,
    services: s.services,
    targetGroups: s.targetGroups,
    listenerRuleArn: s.listenerRuleArn,
    ...(s.healthCheckFunction ? { healthCheckFunction: s.healthCheckFunction } : {}),
    liveColour: s.liveColour,
    weights: s.weights,
    ...(s.current ? { current: releaseView(s.current) } : {}),
    ...(s.last ? { last: releaseView(s.last) } : {}),
    waiting: s.waiting.map((w) => ({ releaseId: w.token, runId: w.runId, job: w.job, attempt: w.attempt, image: w.image })),
    ...(s.retiring ? { rollback: { colour: s.retiring.colour, until: s.retiring.until, releaseId: s.retiring.releaseId } } : {}),
    updatedAt: s.updatedAt,
    version: s.version,
  };
}
