import { existsSync } from 'node:fs';
import path from 'node:path';
import { Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { buildConsoleSync, CONSOLE_DIST } from '../../scripts/build-console.mjs';
import { CONSOLE_API_PREFIX } from '../../shared/http/router.ts';

export interface ConsoleHostingProps {
  /** The HTTP API's endpoint (`https://<id>.execute-api.<region>.amazonaws.com`): CloudFront forwards `/console-api/*` to it. */
  readonly apiEndpoint: string;
  /** The built console. @default dist/console (built now if missing) */
  readonly assetDir?: string;
  /** @default cloudfront.PriceClass.PRICE_CLASS_100 */
  readonly priceClass?: cloudfront.PriceClass;
  /** Days CloudFront's access logs are kept. @default 90 */
  readonly accessLogRetentionDays?: number;
  /** Retention of the deployment handler's log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The console's hosting: its files in a private bucket that only this distribution may read
 * (origin access control), HTTPS only, security headers on every answer (a CSP that lets the
 * page talk to its own origin and the sign-in domain, nothing else), and the API behind the
 * same origin at `/console-api/*`, so the page needs no CORS. CloudFront bills per request
 * and byte, nothing while idle. `deploy()` puts the files and the page's config.json in place.
 */
export class ConsoleHosting extends Construct {
  readonly bucket: s3.Bucket;
  readonly logBucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  /** `https://<distribution>.cloudfront.net/` */
  readonly url: string;
  private readonly assetDir: string;
  private readonly logRetention: logs.RetentionDays;
  private readonly responseHeaders: cloudfront.ResponseHeadersPolicy;

  constructor(scope: Construct, id: string, props: ConsoleHostingProps & { signInDomainUrl: string }) {
    super(scope, id);
    this.assetDir = props.assetDir ?? CONSOLE_DIST;
    this.logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    if (!existsSync(path.join(this.assetDir, 'index.html'))) buildConsoleSync(this.assetDir);

    this.logBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // CloudFront's standard logs are written with an ACL.
      objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
      lifecycleRules: [{ expiration: Duration.days(props.accessLogRetentionDays ?? 90) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    NagSuppressions.addResourceSuppressions(this.logBucket, [{ id: 'AwsSolutions-S1', reason: 'This is the access log bucket of the console\'s distribution; logging it to itself would loop.' }]);

    this.bucket = new s3.Bucket(this, 'Files', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'bucket/',
      // Rebuilt from the repository on every deployment.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: false,
    });

    const signIn = props.signInDomainUrl;
    this.responseHeaders = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'Slipway console: CSP (own origin and the sign-in domain only), HSTS, no framing, no sniffing, no referrer',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: Fn.join('', [
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ", signIn,
            "; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
          ]),
          override: true,
        },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
      },
    });

    // The API behind the same origin: nothing cached, every viewer header but Host forwarded
    // (Authorization and If-None-Match included); with caching disabled an origin request
    // policy may forward Authorization (https://repost.aws/knowledge-center/cloudfront-authorization-header).
    const apiDomain = Fn.select(2, Fn.split('/', props.apiEndpoint));
    this.distribution = new cloudfront.Distribution(this, 'Cdn', {
      comment: 'Slipway console',
      defaultRootObject: 'index.html',
      priceClass: props.priceClass ?? cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: 'cloudfront/',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        responseHeadersPolicy: this.responseHeaders,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      },
      additionalBehaviors: {
        [`${CONSOLE_API_PREFIX}/*`]: {
          origin: new origins.HttpOrigin(apiDomain, { protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY, originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2] }),
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
          cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
          originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
          responseHeadersPolicy: this.responseHeaders,
        },
      },
    });
    NagSuppressions.addResourceSuppressions(this.distribution, [
      { id: 'AwsSolutions-CFR1', reason: 'The console is for the team wherever its people are; sign-in and the API\'s authorizers decide who gets in, not geography.' },
      { id: 'AwsSolutions-CFR2', reason: 'AWS WAF bills a web ACL by the month, which this stack avoids while idle; the API behind /console-api/* is throttled by API Gateway and needs a valid access token.' },
      { id: 'AwsSolutions-CFR4', reason: 'The default *.cloudfront.net certificate is used (no custom domain), for which CloudFront fixes the viewer TLS policy; minimumProtocolVersion TLSv1.2_2021 applies once a custom domain and certificate are set.' },
    ]);
    this.url = `https://${this.distribution.distributionDomainName}/`;
  }

  /**
   * Puts the built console and its config.json in the bucket (a deploy-time custom resource),
   * then invalidates the distribution's cache so the new files are served at once.
   */
  deploy(config: Record<string, unknown>): s3deploy.BucketDeployment {
    const deployment = new s3deploy.BucketDeployment(this, 'Deploy', {
      sources: [s3deploy.Source.asset(this.assetDir), s3deploy.Source.jsonData('config.json', config)],
      destinationBucket: this.bucket,
      distribution: this.distribution,
      distributionPaths: ['/*'],
      prune: true,
      memoryLimit: 256,
      logGroup: new logs.LogGroup(this, 'DeployLogs', { retention: this.logRetention, removalPolicy: RemovalPolicy.DESTROY }),
    });
    const stack = Stack.of(this);
    // The deployment's singleton handler (CDK's, Python, with the AWS CLI layer) runs only during `cdk deploy`.
    const handler = stack.node.children.find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
    if (!handler) throw new Error('BucketDeployment created no handler: aws-cdk-lib changed how it names it');
    NagSuppressions.addResourceSuppressions(handler, [
      { id: 'AwsSolutions-IAM4', reason: 'CDK\'s BucketDeployment handler uses AWSLambdaBasicExecutionRole for its own logs; it runs only during deployments.' },
      { id: 'AwsSolutions-IAM5', reason: 'CDK\'s BucketDeployment handler copies the console\'s files: wildcards over the asset bucket\'s objects and this console bucket\'s objects only, plus cloudfront:CreateInvalidation.' },
      { id: 'AwsSolutions-L1', reason: 'The runtime of CDK\'s BucketDeployment handler is chosen by aws-cdk-lib and upgraded with it; it runs only during deployments.' },
    ], true);
    return deployment;
  }
}
