import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { LIVE_TAG_PREFIX, PREVIOUS_TAG_PREFIX } from '../../shared/aws/image-tags.ts';
import { DEFAULT_ECR_REPOSITORY_PREFIX, ecrRepositoryName } from '../../shared/domain/pipeline.ts';

/** An ECR repository name (or prefix of one). */
export const ECR_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

/** The same rule the pipeline definition check applies to `docker.repository`: a name under the prefix, without it. */
export function checkRepositoryName(prefix: string, name: string): void {
  if (!ECR_NAME.test(name)) throw new Error(`image repository name '${name}' is not a valid ECR repository name`);
  if (name === prefix || name.startsWith(`${prefix}/`)) {
    throw new Error(`image repository name '${name}': leave out the prefix '${prefix}/', it is added ('${name}' would become '${ecrRepositoryName(prefix, name)}')`);
  }
  if (ecrRepositoryName(prefix, name).length > 256) throw new Error(`image repository '${ecrRepositoryName(prefix, name)}' is longer than ECR's 256 characters`);
}

/**
 * Never reached in practice (one live and one previous tag per target and repository), so images
 * carrying those tags are never expired. ECR has no "keep forever" rule; aws-cdk-lib's own example
 * protects tagged images the same way (`maxImageCount: 9999`).
 */
const PROTECTED_COUNT = 9999;

/**
 * Lifecycle rules for a Slipway image repository. Order matters: ECR evaluates rules by priority,
 * and "an image that matches the tagging requirements of a higher priority rule cannot be expired
 * by a rule with a lower priority" (Amazon ECR User Guide, lifecycle policies). So:
 * 1. images tagged `slipway-live-<target>` (what a target serves) are selected and never expired;
 * 2. images tagged `slipway-prev-<target>` (the colour kept for a rollback) likewise. Two rules,
 *    because a `tagPrefixList` with two prefixes selects only images carrying both;
 * 3. every other image: keep the newest `keep` (a `tagStatus: any` rule must come last).
 * Rule 3 still *counts* the protected images (ECR counts images other rules matched, it only may
 * not expire them), so with 2 protected images among the newest, `keep - 2` others remain.
 */
export function imageLifecycleRules(keep: number): ecr.LifecycleRule[] {
  if (!Number.isInteger(keep) || keep < 1 || keep > 10_000) throw new Error(`keepImages must be a whole number from 1 to 10000, got ${keep}`);
  return [
    { rulePriority: 1, description: 'Keep every image a Slipway target is serving', tagStatus: ecr.TagStatus.TAGGED, tagPrefixList: [LIVE_TAG_PREFIX], maxImageCount: PROTECTED_COUNT },
    { rulePriority: 2, description: 'Keep every image a Slipway target can roll back to', tagStatus: ecr.TagStatus.TAGGED, tagPrefixList: [PREVIOUS_TAG_PREFIX], maxImageCount: PROTECTED_COUNT },
    { rulePriority: 3, description: `Keep the newest ${keep} images; expire the rest`, tagStatus: ecr.TagStatus.ANY, maxImageCount: keep },
  ];
}

export interface SlipwayImageRepositoryProps {
  /**
   * The name pipelines give as `docker.repository` (e.g. `shop`); the repository is created as
   * `<ecrRepositoryPrefix>/<repositoryName>`, the only place image jobs may push to.
   */
  readonly repositoryName: string;
  /**
   * The engine's image prefix (SlipwayProps.ecrRepositoryPrefix).
   * @default 'slipway'
   */
  readonly ecrRepositoryPrefix?: string;
  /**
   * Images kept besides those a target is serving or can roll back to.
   * @default 30
   */
  readonly keepImages?: number;
  /** @default RemovalPolicy.RETAIN (images outlive the stack) */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * One ECR repository for a pipeline's images, with the lifecycle policy above: scan on push,
 * immutable tags are NOT set (Slipway moves its `slipway-live-*` / `slipway-prev-*` tags).
 */
export class SlipwayImageRepository extends Construct {
  readonly repository: ecr.Repository;
  /** `<prefix>/<repositoryName>`. */
  readonly fullName: string;

  constructor(scope: Construct, id: string, props: SlipwayImageRepositoryProps) {
    super(scope, id);
    const prefix = props.ecrRepositoryPrefix ?? DEFAULT_ECR_REPOSITORY_PREFIX;
    checkRepositoryName(prefix, props.repositoryName);
    this.fullName = ecrRepositoryName(prefix, props.repositoryName);
    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: this.fullName,
      imageScanOnPush: true,
      imageTagMutability: ecr.TagMutability.MUTABLE,
      encryption: ecr.RepositoryEncryption.AES_256,
      lifecycleRules: imageLifecycleRules(props.keepImages ?? 30),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }
}

export interface ImagesProps {
  /** Prefix image jobs push under (BuildsProps.ecrRepositoryPrefix). */
  readonly ecrRepositoryPrefix: string;
  /**
   * Repositories to create, by name under the prefix (`web` -> `<prefix>/web`).
   * @default none: teams create their own (e.g. with SlipwayImageRepository)
   */
  readonly repositoryNames?: readonly string[];
  /** @default 30 */
  readonly keepImages?: number;
}

/** The pipelines' image repositories under the ECR prefix, and the releaser's right to tag images there. */
export class Images extends Construct {
  readonly repositories: Record<string, ecr.Repository> = {};
  readonly ecrRepositoryPrefix: string;

  constructor(scope: Construct, id: string, props: ImagesProps) {
    super(scope, id);
    this.ecrRepositoryPrefix = props.ecrRepositoryPrefix;
    for (const name of props.repositoryNames ?? []) {
      if (this.repositories[name]) throw new Error(`image repository '${name}' is listed twice`);
      this.repositories[name] = new SlipwayImageRepository(this, `Repo-${name.replace(/[^A-Za-z0-9]/g, '-')}`, {
        repositoryName: name,
        ecrRepositoryPrefix: props.ecrRepositoryPrefix,
        keepImages: props.keepImages,
      }).repository;
    }
  }

  /**
   * Read an image's manifest and put tags on it (BatchGetImage, PutImage), on repositories under the
   * prefix only: how the releaser marks the images targets serve, so the lifecycle rules keep them.
   * PutImage with an existing manifest adds a tag and uploads no layer.
   */
  grantTagImages(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['ecr:BatchGetImage', 'ecr:PutImage'],
      resourceArns: [Stack.of(this).formatArn({ service: 'ecr', resource: 'repository', resourceName: `${this.ecrRepositoryPrefix}/*` })],
    });
  }
}
