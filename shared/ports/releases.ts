/**
 * The releaser's port to the outside world, apart from any SDK: `EcsTarget`
 * (shared/aws/ecs-target.ts) implements it on ECS, ELBv2 and CloudWatch, the
 * local mode on processes behind a weighted proxy. Kept free of SDK imports so
 * the API function, which only reads targets, bundles no ECS or ELBv2 client.
 */
import { SlipwayError, type Problem } from '../domain/errors.ts';
import type { Observation, ObserveSpec, TargetConfig } from '../domain/release.ts';
import type { Colour, Weights } from '../domain/traffic.ts';

/** What tagging a released image in ECR did (see shared/aws/image-tags.ts). */
export interface MarkLiveResult {
  /** False when the image is not in ECR (nothing to protect) or already carried the live tag. */
  tagged: boolean;
  /** Digest that moved to the previous tag, if the live tag pointed at another image. */
  previous?: string;
  skipped?: string;
}

/** What the releaser asks of the outside world; `EcsTarget` is the AWS implementation. */
export interface ReleaseActions {
  /** Copies `fromService`'s task definition with `image` swapped in and registers it as a new revision. */
  registerTaskDefinition(input: { cluster: string; fromService: string; image: string; containerName?: string }): Promise<{ taskDefinition: string; previousTaskDefinition: string }>;
  updateService(input: { cluster: string; service: string; taskDefinition?: string; desiredCount?: number }): Promise<void>;
  /** Sets the forward action of a listener rule to the two target groups with these weights. */
  modifyRule(input: { ruleArn: string; targetGroups: Record<Colour, string>; weights: Weights }): Promise<void>;
  observe(spec: ObserveSpec): Promise<Observation>;
  /**
   * GET `url` and report the status (or why there was none). With `via`, the check runs inside the
   * target's VPC: `via.functionName` GETs `via.path` on every target registered in `via.targetGroupArn`.
   */
  httpCheck(url: string, via?: { functionName: string; targetGroupArn: string; path: string }): Promise<{ status?: number; error?: string }>;
  /**
   * Optional: after a successful release, tag the released image `slipway-live-<target>` and the
   * image that had that tag `slipway-prev-<target>`, so ECR lifecycle rules keep both (they see
   * tags, not ECS). Best effort: the releaser logs a failure and the release stands.
   */
  markLiveImage?(target: string, image: string): Promise<MarkLiveResult>;
  /** Optional: after a rollback, the previous image takes the live tag back (see markLiveImage). */
  markRolledBack?(target: string, image: string): Promise<MarkLiveResult>;
}

/**
 * The tag that marks what belongs to a release target: `slipway:target=<target name>` on its
 * listener rules, target groups, ECS services and task roles. The releaser's IAM policy
 * allows changes only to tagged resources (infra/constructs/releases.ts).
 */
export const TARGET_TAG = 'slipway:target';

/**
 * Proves that what a `PUT /targets/{name}` names belongs to that target: the listener
 * rule(s), both target groups and both services carry `slipway:target=<name>`. Without
 * it, the right to register a target would be the right to point the releaser at any
 * rule in the account. `AwsTargetOwnership` asks ELBv2 and ECS; the local mode's target
 * vouches for its own processes.
 */
export interface TargetOwnership {
  /** Every reason the config's resources are not the target's (empty: they are). Throws only when it could not find out. */
  verify(config: TargetConfig): Promise<Problem[]>;
}

/** A permanent failure of an AWS call the release cannot get past (missing service, bad image name...). */
export class ReleaseActionError extends SlipwayError {
  override readonly code = 'ReleaseActionFailed';
  constructor(message: string, options?: { cause?: unknown }) { super(message, options); this.name = 'ReleaseActionError'; }
}
