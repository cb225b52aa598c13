import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

/** Key prefix under which release runs' outputs live: runs/<runId>/<job>/... */
export const RUNS_PREFIX = 'runs/';
/**
 * One namespace per build lane (push/tag/manual runs, same-repository pull requests, forks):
 * a lane's role reads and writes only its own, so a pull request's build can never
 * overwrite what a release run publishes (keep in step with ARTIFACT_ROOTS in shared/domain/run.ts).
 */
export const LANE_PREFIXES = { release: 'runs/', pullRequest: 'pr-runs/', fork: 'fork-runs/' } as const;
export type Lane = keyof typeof LANE_PREFIXES;
/** Dependency caches (keep in step with CACHE_PREFIX in shared/domain/dependency-cache.ts): cache/<pipeline>/<job>/<branch>/<hash>.tar.gz. */
export const CACHE_PREFIX = 'cache/';

export interface ArtifactsProps {
  /**
   * Days a run's artifacts are kept before S3 expires them.
   * @default 30
   */
  readonly artifactRetentionDays?: number;
  /**
   * Days server access logs of the artifact bucket are kept.
   * @default 90
   */
  readonly accessLogRetentionDays?: number;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Days a dependency cache entry (under `cache/`) is kept after it was written. A branch's newest
   * entry is rewritten by every build that changes it, so an active branch keeps a warm cache;
   * a branch nobody builds loses its caches after this long.
   * @default 14
   */
  readonly cacheRetentionDays?: number;
}

/** The private artifact bucket and the bucket its server access logs go to. */
export class Artifacts extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  readonly artifactRetentionDays: number;
  readonly cacheRetentionDays: number;

  constructor(scope: Construct, id: string, props: ArtifactsProps = {}) {
    super(scope, id);
    const days = props.artifactRetentionDays ?? 30;
    if (!Number.isInteger(days) || days < 1) throw new Error(`artifactRetentionDays must be a whole number of days >= 1, got ${days}`);
    this.artifactRetentionDays = days;
    const cacheDays = props.cacheRetentionDays ?? 14;
    if (!Number.isInteger(cacheDays) || cacheDays < 1) throw new Error(`cacheRetentionDays must be a whole number of days >= 1, got ${cacheDays}`);
    this.cacheRetentionDays = cacheDays;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
      lifecycleRules: [
        { id: 'expire-access-logs', expiration: Duration.days(props.accessLogRetentionDays ?? 90) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    NagSuppressions.addResourceSuppressions(this.accessLogBucket, [
      {
        id: 'AwsSolutions-S1',
        reason: 'This is the server access log bucket of the artifact bucket; logging it into itself (or a third bucket) would only log the log delivery.',
      },
    ]);

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // SSE-S3: free, no key to manage or pay for monthly; CodeBuild and presigned URLs work without KMS grants.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Not versioned: a run's outputs are written once under runs/<runId>/<job>/ and expire as a
      // whole; versions would only keep deleted artifacts around and cost storage.
      versioned: false,
      // Access logging is wired below, not through serverAccessLogsBucket: without the
      // `@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy` flag CDK would turn on the
      // LogDeliveryWrite ACL on the log bucket, which its BucketOwnerEnforced ownership forbids
      // (synthesis fails in an app without this repository's flags).
      removalPolicy,
      lifecycleRules: [
        { id: 'expire-run-artifacts', prefix: RUNS_PREFIX, expiration: Duration.days(days) },
        { id: 'expire-pull-request-artifacts', prefix: LANE_PREFIXES.pullRequest, expiration: Duration.days(days) },
        { id: 'expire-fork-artifacts', prefix: LANE_PREFIXES.fork, expiration: Duration.days(days) },
        // Caches have their own, shorter life: they are rebuilt by the next cold install, and the
        // save step caps each entry (2 GiB, buildspec.ts), so age bounds what the bucket holds.
        { id: 'expire-dependency-caches', prefix: CACHE_PREFIX, expiration: Duration.days(cacheDays) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    const accessLogPrefix = 'artifacts/';
    (this.bucket.node.defaultChild as s3.CfnBucket).loggingConfiguration = {
      destinationBucketName: this.accessLogBucket.bucketName,
      logFilePrefix: accessLogPrefix,
    };
    // The S3 logging service writes with a bucket policy (the way AWS recommends for buckets whose
    // ACLs are disabled), and only the logs of this bucket in this account.
    this.accessLogBucket.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
        actions: ['s3:PutObject'],
        resources: [this.accessLogBucket.arnForObjects(`${accessLogPrefix}*`)],
        conditions: { ArnLike: { 'aws:SourceArn': this.bucket.bucketArn }, StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
    );
  }

  /**
   * Read run artifacts: get objects under runs/ (presigned downloads) and list keys under runs/
   * (a job's artifact listing). Not the wider `bucket.grantRead`, which adds s3:GetBucket* and an
   * unconditioned s3:List*.
   */
  grantReadRuns(grantee: iam.IGrantable): void {
    const prefixes = Object.values(LANE_PREFIXES);
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: prefixes.map((p) => this.bucket.arnForObjects(`${p}*`)) });
    this.grantList(grantee, prefixes);
  }

  /**
   * A re-run of failed jobs copies the artifacts of the jobs it keeps into the new run:
   * put objects under the lanes' namespaces (S3 CopyObject reads with s3:GetObject, writes with s3:PutObject).
   */
  grantCopyRuns(grantee: iam.IGrantable): void {
    const prefixes = Object.values(LANE_PREFIXES);
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:PutObject'], resourceArns: prefixes.map((p) => this.bucket.arnForObjects(`${p}*`)) });
  }

  private grantList(grantee: iam.IGrantable, prefixes: readonly string[]): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': prefixes.map((p) => `${p}*`) } },
    });
  }

  /**
   * What a build of the given lanes needs: get and put objects under their namespaces, list
   * only there. IAM cannot narrow this to the build's own `<lane>/<runId>/<job>/` prefix: every
   * build of a lane runs as the same service role and CodeBuild passes no session tags for the
   * run id; the lanes keep release runs, pull requests and forks apart (see the README's
   * "Pull requests and forks" for what remains shared within a lane).
   */
  grantBuildAccess(grantee: iam.IGrantable, lanes: readonly Lane[] = ['release']): void {
    const prefixes = lanes.map((l) => LANE_PREFIXES[l]);
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'],
      resourceArns: prefixes.map((p) => this.bucket.arnForObjects(`${p}*`)),
    });
    this.grantList(grantee, prefixes);
  }

  /**
   * Dependency caches (`cache/`): `write` lanes may read and save them; others (a fork's role) may
   * only read, so an untrusted build can never poison what trusted builds restore.
   */
  grantCacheAccess(grantee: iam.IGrantable, mode: 'read' | 'write'): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: mode === 'write' ? ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'] : ['s3:GetObject'],
      resourceArns: [this.bucket.arnForObjects(`${CACHE_PREFIX}*`)],
    });
  }
}
