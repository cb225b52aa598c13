/**
 * The releaser's port to the outside world, apart from any SDK: `EcsTarget`
 * (shared/aws/ecs-target.ts) implements it on ECS, ELBv2 and CloudWatch, the
 * local mode on processes behind a weighted proxy. Kept free of SDK imports so
 * the API function, which only reads targets, bundles no ECS or ELBv2 client.
 */
import { SlipwayError } from '../errors.ts';
import type { Observation, ObserveSpec } from '../domain/release.ts';
import type { Colour, Weights } from '../domain/release-plan.ts';

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
  httpCheck(url: string): Promise<{ status?: number; error?: string }>;
  /**
   * Optional: after a successful release, tag the released image `slipway-live-<target>` and the
   * image that had that tag `slipway-prev-<target>`, so ECR lifecycle rules keep both (they see
   * tags, not ECS). Best effort: the releaser logs a failure and the release stands.
   */
  markLiveImage?(target: string, image: string): Promise<MarkLiveResult>;
  /** Optional: after a rollback, the previous image takes the live tag back (see markLiveImage). */
  markRolledBack?(target: string, image: string): Promise<MarkLiveResult>;
}

/** A permanent failure of an AWS call the release cannot get past (missing service, bad image name...). */
export class ReleaseActionError extends SlipwayError {
  override readonly code = 'ReleaseActionFailed';
  constructor(message: string, options?: { cause?: unknown }) { super(message, options); this.name = 'ReleaseActionError'; }
}
