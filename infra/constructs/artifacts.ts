import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

/** Key prefix under which every run's outputs live: runs/<runId>/<job>/... */
export const RUNS_PREFIX = 'runs/';

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
}

/** The private artifact bucket and the bucket its server access logs go to. */
export class Artifacts extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  readonly artifactRetentionDays: number;

  constructor(scope: Construct, id: string, props: ArtifactsProps = {}) {
    super(scope, id);
    const days = props.artifactRetentionDays ?? 30;
    if (!Number.isInteger(days) || days < 1) throw new Error(`artifactRetentionDays must be a whole number of days >= 1, got ${days}`);
    this.artifactRetentionDays = days;
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
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'artifacts/',
      removalPolicy,
      lifecycleRules: [
        { id: 'expire-run-artifacts', prefix: RUNS_PREFIX, expiration: Duration.days(days) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
  }

  /**
   * Read run artifacts: get objects under runs/ (presigned downloads) and list keys under runs/
   * (a job's artifact listing). Not the wider `bucket.grantRead`, which adds s3:GetBucket* and an
   * unconditioned s3:List*.
   */
  grantReadRuns(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetObject'], resourceArns: [this.bucket.arnForObjects(`${RUNS_PREFIX}*`)] });
    this.grantListRuns(grantee);
  }

  private grantListRuns(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${RUNS_PREFIX}*`] } },
    });
  }

  /**
   * What a build needs: get and put objects under runs/, list only under runs/.
   * IAM cannot narrow this to the build's own runs/<runId>/ prefix: every build of a project runs
   * as the same service role and CodeBuild passes no session tags for the run id, so the prefix
   * would have to be `runs/*` anyway. The engine validates what a job declares as outputs.
   */
  grantBuildAccess(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'],
      resourceArns: [this.bucket.arnForObjects(`${RUNS_PREFIX}*`)],
    });
    this.grantListRuns(grantee);
  }
}
