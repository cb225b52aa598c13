/**
 * ECR tags that say which image a target serves, so that lifecycle rules
 * (which see tags, not ECS) never expire it: `slipway-live-<target>` on the
 * image a target serves, `slipway-prev-<target>` on the one it can roll back to.
 * Moving a tag to another image is a PutImage of that image's manifest with the
 * tag; no layer is uploaded. Images outside ECR (local process images, other
 * registries) are left alone.
 */
import { BatchGetImageCommand, PutImageCommand, type ECRClient, type ImageIdentifier } from '@aws-sdk/client-ecr';
import { toReleaseError } from './errors.ts';
import type { MarkLiveResult } from '../ports/releases.ts';
import { DEFAULT_ECR_REPOSITORY_PREFIX } from '../domain/pipeline.ts';

export const LIVE_TAG_PREFIX = 'slipway-live-';
export const PREVIOUS_TAG_PREFIX = 'slipway-prev-';

/** Manifest types asked for, so an image's own manifest (single or multi-arch) comes back unconverted. */
const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
];

export interface EcrImageRef {
  registryId: string;
  region: string;
  repositoryName: string;
  digest?: string;
  tag?: string;
}

/** `<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repo>(@sha256:..|:tag)`; undefined for anything else. */
export function parseEcrImage(uri: string): EcrImageRef | undefined {
  const m = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9][a-z0-9._/-]*?)(?:@(sha256:[a-f0-9]{64})|:([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?$/.exec(uri);
  if (!m) return undefined;
  return { registryId: m[1]!, region: m[2]!, repositoryName: m[3]!, ...(m[4] ? { digest: m[4] } : {}), ...(m[5] ? { tag: m[5] } : {}) };
}

/** ECR tags are at most 128 characters of [A-Za-z0-9_.-]; target names are close to that already. */
export function targetTag(prefix: string, target: string): string {
  return `${prefix}${target.replace(/[^A-Za-z0-9_.-]/g, '-')}`.slice(0, 128);
}


export class EcrImageTagger {
  private readonly prefix: string;
  /** `repositoryPrefix`: the releaser may tag images in `<prefix>/*` only (the repositories image jobs push to). @default "slipway" */
  constructor(private readonly ecr: ECRClient, opts: { repositoryPrefix?: string } = {}) {
    this.prefix = opts.repositoryPrefix ?? DEFAULT_ECR_REPOSITORY_PREFIX;
  }

  /** The image's repository, if it is one Slipway's image jobs push to (and so one the releaser may tag). */
  private refOf(image: string): EcrImageRef | string {
    const ref = parseEcrImage(image);
    if (!ref) return `not an ECR image: ${image}`;
    if (!ref.repositoryName.startsWith(`${this.prefix}/`)) return `${ref.repositoryName} is not under the image prefix ${this.prefix}/ (the releaser may tag only those repositories)`;
    return ref;
  }

  /**
   * After a release succeeded: the image that carried `slipway-live-<target>` now carries
   * `slipway-prev-<target>` (the colour kept for a rollback), and the released image carries
   * `slipway-live-<target>`. Safe to repeat.
   */
  async markLive(target: string, image: string): Promise<MarkLiveResult> {
    const ref = this.refOf(image);
    if (typeof ref === 'string') return { tagged: false, skipped: ref };
    const live = targetTag(LIVE_TAG_PREFIX, target);
    const prev = targetTag(PREVIOUS_TAG_PREFIX, target);
    const released = await this.manifest(ref, ref.digest ? { imageDigest: ref.digest } : { imageTag: ref.tag ?? 'latest' });
    if (!released) return { tagged: false, skipped: `image ${image} is not in its repository` };
    const current = await this.manifest(ref, { imageTag: live });
    if (current?.digest === released.digest) return { tagged: false };
    if (current) await this.put(ref, current, prev);
    await this.put(ref, released, live);
    return { tagged: true, ...(current ? { previous: current.digest } : {}) };
  }

  /**
   * After a rollback to the previous colour: the image tagged `slipway-prev-<target>` serves again,
   * so it takes the live tag, and the image rolled back from (still running, scaled down later)
   * takes the previous tag. `image` names the repository (the release rolled back from).
   */
  async swapAfterRollback(target: string, image: string): Promise<MarkLiveResult> {
    const ref = this.refOf(image);
    if (typeof ref === 'string') return { tagged: false, skipped: ref };
    const live = targetTag(LIVE_TAG_PREFIX, target);
    const prev = targetTag(PREVIOUS_TAG_PREFIX, target);
    const [serving, previous] = await Promise.all([this.manifest(ref, { imageTag: live }), this.manifest(ref, { imageTag: prev })]);
    if (!previous || previous.digest === serving?.digest) return { tagged: false, skipped: 'no previous image to put back' };
    if (serving) await this.put(ref, serving, prev);
    await this.put(ref, previous, live);
    return { tagged: true, ...(serving?.digest ? { previous: serving.digest } : {}) };
  }

  private async manifest(ref: EcrImageRef, id: ImageIdentifier): Promise<{ manifest: string; mediaType?: string; digest?: string } | undefined> {
    try {
      const out = await this.ecr.send(new BatchGetImageCommand({ registryId: ref.registryId, repositoryName: ref.repositoryName, imageIds: [id], acceptedMediaTypes: MANIFEST_TYPES }));
      const img = out.images?.[0];
      if (!img?.imageManifest) return undefined;
      return { manifest: img.imageManifest, ...(img.imageManifestMediaType ? { mediaType: img.imageManifestMediaType } : {}), ...(img.imageId?.imageDigest ? { digest: img.imageId.imageDigest } : {}) };
    } catch (err) {
      throw toReleaseError(err, `reading image ${ref.repositoryName} ${id.imageDigest ?? id.imageTag}`);
    }
  }

  private async put(ref: EcrImageRef, image: { manifest: string; mediaType?: string; digest?: string }, tag: string): Promise<void> {
    try {
      await this.ecr.send(new PutImageCommand({
        registryId: ref.registryId,
        repositoryName: ref.repositoryName,
        imageManifest: image.manifest,
        ...(image.mediaType ? { imageManifestMediaType: image.mediaType } : {}),
        ...(image.digest ? { imageDigest: image.digest } : {}),
        imageTag: tag,
      }));
    } catch (err) {
      // The tag already points at this very image: nothing to do.
      if ((err as { name?: string }).name === 'ImageAlreadyExistsException') return;
      throw toReleaseError(err, `tagging ${ref.repositoryName}@${image.digest ?? '?'} as ${tag}`);
    }
  }
}
