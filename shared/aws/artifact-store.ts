/**
 * Job artifacts in the private bucket, under `runs/<runId>/<job>/<path>` (the
 * builds upload them there; see shared/services/buildspec.ts). Lists a job's
 * artifacts and signs short-lived GET URLs for downloads, so the bucket itself
 * never has to be reachable by the people downloading.
 */
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ARTIFACT_ROOTS } from '../domain/run.ts';
import { artifactPrefix, executablesKey } from '../services/buildspec.ts';
import type { ArtifactLink, ArtifactReader } from '../ports/reads.ts';
import { NotFoundError, ValidationError } from '../domain/errors.ts';
import { toDomainError } from './errors.ts';

export interface ArtifactInfo {
  /** Path under the job's prefix, e.g. `dist/app.js`. */
  path: string;
  size: number;
  lastModified?: string;
}

export interface S3ArtifactStoreOptions {
  /** Lifetime of presigned URLs. @default 900 (15 minutes) */
  urlExpiresInSeconds?: number;
  /** Most artifacts listed for one job. @default 1000 */
  maxListed?: number;
  /** @default the system clock, for `expiresAt` */
  now?: () => number;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export class S3ArtifactStore implements ArtifactReader {
  private readonly expiresIn: number;
  private readonly maxListed: number;
  private readonly now: () => number;

  constructor(private readonly s3: S3Client, private readonly bucket: string, opts: S3ArtifactStoreOptions = {}) {
    this.expiresIn = opts.urlExpiresInSeconds ?? 900;
    if (!Number.isInteger(this.expiresIn) || this.expiresIn < 1 || this.expiresIn > 604800) throw new RangeError(`urlExpiresInSeconds must be 1..604800, got ${opts.urlExpiresInSeconds}`);
    this.maxListed = opts.maxListed ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  /** The object key of an artifact; ValidationError for ids or paths that would leave the job's prefix. */
  key(runId: string, job: string, path = '', root: string = ARTIFACT_ROOTS.release): string {
    if (!Object.values(ARTIFACT_ROOTS).includes(root)) throw new ValidationError(`"${root}" is not an artifact namespace`);
    if (!SEGMENT.test(runId)) throw new ValidationError(`"${runId}" is not a run id`);
    if (!SEGMENT.test(job)) throw new ValidationError(`"${job}" is not a job name`);
    if (path !== '') checkPath(path);
    return `${artifactPrefix(runId, job, root)}${path}`;
  }

  /** A job's artifacts, in key order. */
  async listArtifacts(runId: string, job: string, root?: string): Promise<ArtifactInfo[]> {
    const prefix = this.key(runId, job, '', root);
    const out: ArtifactInfo[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: Math.min(1000, this.maxListed) }));
      } catch (err) {
        throw s3Error(err, `listing artifacts of ${job} in run ${runId}`);
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue;
        out.push({ path: o.Key.slice(prefix.length), size: o.Size ?? 0, ...(o.LastModified ? { lastModified: o.LastModified.toISOString() } : {}) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token && out.length < this.maxListed);
    return out.slice(0, this.maxListed);
  }

  /** A presigned GET URL for one artifact; NotFoundError if there is no such artifact. */
  async presignArtifact(runId: string, job: string, path: string, root?: string): Promise<string> {
    const Key = this.key(runId, job, path, root);
    try {
      await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      throw s3Error(err, `artifact ${path} of ${job} in run ${runId}`);
    }
    return this.sign(Key);
  }

  /** ArtifactReader for the API: every artifact of the job with a download link. */
  async list(runId: string, job: string, root?: string): Promise<ArtifactLink[]> {
    const [artifacts, executables] = await Promise.all([this.listArtifacts(runId, job, root), this.executables(runId, job, root)]);
    const expiresAt = new Date(this.now() + this.expiresIn * 1000).toISOString();
    return Promise.all(artifacts.map(async (a) => ({
      path: a.path, size: a.size, url: await this.sign(this.key(runId, job, a.path, root)), expiresAt, ...(executables.has(a.path) ? { executable: true } : {}),
    })));
  }

  /**
   * The paths the build left executable: S3 keeps no file modes, so the build uploads their list
   * beside the outputs (buildspec.ts `executablesKey`). None when there is no list.
   */
  private async executables(runId: string, job: string, root?: string): Promise<Set<string>> {
    this.key(runId, job, '', root);
    try {
      const obj = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: executablesKey(runId, job, root) }));
      const text = obj?.Body ? await obj.Body.transformToString() : '';
      return new Set(text.split('\n').filter((l) => l !== ''));
    } catch (err) {
      const e = s3Error(err, `the executable files of ${job} in run ${runId}`);
      if (e instanceof NotFoundError) return new Set();
      throw e;
    }
  }

  async copyJob(fromRunId: string, toRunId: string, job: string, root?: string): Promise<number> {
    const artifacts = await this.listArtifacts(fromRunId, job, root);
    const copy = async (from: string, to: string) => this.s3.send(new CopyObjectCommand({ Bucket: this.bucket, CopySource: `${this.bucket}/${from.split('/').map(encodeURIComponent).join('/')}`, Key: to }));
    for (const a of artifacts) {
      try {
        await copy(this.key(fromRunId, job, a.path, root), this.key(toRunId, job, a.path, root));
      } catch (err) {
        throw toDomainError(err, `copying artifact ${a.path} of ${job} from run ${fromRunId}`);
      }
    }
    // The list of executable files too, or the re-run's later jobs would get them back not executable.
    if (artifacts.length > 0) {
      try {
        await copy(executablesKey(fromRunId, job, root), executablesKey(toRunId, job, root));
      } catch (err) {
        const e = s3Error(err, `copying the executable files of ${job} from run ${fromRunId}`);
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
    return artifacts.length;
  }

  /** Stores an artifact (the local mode and tests; in AWS the builds upload). */
  async putArtifact(runId: string, job: string, path: string, body: string | Uint8Array): Promise<void> {
    try {
      await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(runId, job, path), Body: body }));
    } catch (err) {
      throw s3Error(err, `storing artifact ${path} of ${job} in run ${runId}`);
    }
  }

  private sign(Key: string): Promise<string> {
    // Signing is local computation: no request is sent.
    return getSignedUrl(this.s3, new GetObjectCommand({ Bucket: this.bucket, Key }), { expiresIn: this.expiresIn });
  }
}

function checkPath(path: string): void {
  const parts = path.split('/');
  if (path.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..') || /[\x00-\x1f\\]/.test(path)) {
    throw new ValidationError(`"${path}" is not an artifact path`);
  }
}

function s3Error(err: unknown, what: string): Error {
  return toDomainError(err, what, { notFound: `${what} not found` });
}
