import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

/**
 * Lambda runtime for every Slipway handler. nodejs24.x is the newest runtime aws-cdk-lib 2.276
 * knows (cdk-nag AwsSolutions-L1 asks for the newest); the code itself stays runnable on Node 20
 * for the local mode and the tests.
 */
export const HANDLER_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** Entry points of the handlers, one thin file each under functions/. */
export const HANDLER_ENTRIES = {
  webhook: 'webhook.ts',
  api: 'api.ts',
  engine: 'run-engine.ts',
  buildEvents: 'build-events.ts',
  releaser: 'releaser.ts',
  notifier: 'notifier.ts',
  reconciler: 'reconciler.ts',
} as const;

export type HandlerName = keyof typeof HANDLER_ENTRIES;

export function handlerEntry(name: HandlerName): string {
  return fileURLToPath(new URL(`../../functions/${HANDLER_ENTRIES[name]}`, import.meta.url));
}

export interface SlipwayFunctionProps {
  /** Which handler under functions/ this function runs. */
  readonly handler: HandlerName;
  /** Environment variables (the ENV contract of shared/config.ts plus extras). */
  readonly environment: Record<string, string>;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** Retention of the function's own log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  readonly description?: string;
}

/**
 * One Slipway handler: a NodejsFunction bundled locally by esbuild (no Docker), ESM, arm64,
 * minified with source maps, with its own log group and its own role. The role starts with
 * permission to write to its log group only (instead of the AWSLambdaBasicExecutionRole managed
 * policy, which allows every log group in the account); the constructs that own a resource grant
 * the rest.
 */
export class SlipwayFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SlipwayFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Slipway ${props.handler} handler`,
    });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: handlerEntry(props.handler),
      handler: 'handler',
      runtime: HANDLER_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      // X-Ray active tracing: one trace per invocation with its duration and cold start, at no cost
      // while idle. SDK calls are not traced as subsegments (no Powertools Tracer): see README.
      tracing: lambda.Tracing.ACTIVE,
      description: props.description,
      // Stack traces point into the TypeScript sources through the bundled source maps.
      environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node24',
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        sourcesContent: false,
        // Some CommonJS dependencies call require() on Node built-ins; an ESM bundle has no
        // require, so give it one.
        banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        mainFields: ['module', 'main'],
        // The AWS SDK v3 is bundled, not taken from the runtime: the versions pinned in
        // package-lock.json are the ones tested, and a runtime SDK update cannot change behaviour
        // under a deployed engine. Nothing is external.
        bundleAwsSDK: true,
        externalModules: [],
      },
    });
    NagSuppressions.addResourceSuppressions(
      this.role,
      [{
        id: 'AwsSolutions-IAM5',
        reason: 'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords have no resource type; "*" is the only resource they accept.',
        appliesTo: ['Resource::*'],
      }],
      true,
    );
  }
}
