import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { CONSOLE_API_PREFIX } from '../../shared/http/router.ts';

const { DELETE, GET, POST, PUT } = apigw.HttpMethod;

/** Every management route; each one is IAM-authorised (SigV4). */
export const MANAGEMENT_ROUTES: ReadonlyArray<readonly [apigw.HttpMethod, string]> = [
  [PUT, '/pipelines/{id}'],
  [GET, '/pipelines/{id}'],
  [GET, '/pipelines'],
  [DELETE, '/pipelines/{id}'],
  [POST, '/pipelines/{id}/disable'],
  [POST, '/pipelines/{id}/enable'],
  [POST, '/pipelines/{id}/runs'],
  [GET, '/pipelines/{id}/runs'],
  [GET, '/runs/{id}'],
  [POST, '/runs/{id}/cancel'],
  [POST, '/runs/{id}/rerun'],
  [POST, '/runs/{id}/jobs/{job}/approve'],
  [POST, '/runs/{id}/jobs/{job}/reject'],
  [GET, '/runs/{id}/jobs/{job}/logs'],
  [GET, '/runs/{id}/jobs/{job}/artifacts'],
  [GET, '/runs/{id}/jobs/{job}/artifacts/{path+}'],
  [GET, '/targets'],
  [PUT, '/targets/{name}'],
  [GET, '/targets/{name}'],
  [POST, '/targets/{name}/rollback'],
];

/** The only route open without IAM: git hosts cannot sign SigV4; functions/webhook checks each provider's signature. */
export const WEBHOOK_ROUTE = [POST, '/webhooks/{provider}'] as const;

export interface ApiProps {
  readonly webhookFunction: lambda.IFunction;
  readonly apiFunction: lambda.IFunction;
  /**
   * Steady-state requests per second of each management route (the stage's default route settings).
   * @default 50
   */
  readonly throttleRateLimit?: number;
  /** @default 100 */
  readonly throttleBurstLimit?: number;
  /**
   * Steady-state requests per second of the webhook route, a route setting of its own, so that
   * unauthenticated traffic is throttled apart from the management routes. 100/s is far above a
   * busy organisation's push rate (GitHub sends one delivery per push or pull-request change).
   * @default 100
   */
  readonly webhookRateLimit?: number;
  /** @default 200 */
  readonly webhookBurstLimit?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly accessLogRetention?: logs.RetentionDays;
}

/** HTTP API (v2): one open webhook route, the management routes behind IAM, throttled, access-logged. */
export class Api extends Construct {
  readonly httpApi: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogs: logs.LogGroup;
  private readonly apiFunction: lambda.IFunction;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    this.httpApi = new apigw.HttpApi(this, 'Http', {
      description: 'Slipway: webhooks and the management API',
      createDefaultStage: false,
      // Secure by default: a route added later without an explicit authorizer needs SigV4.
      defaultAuthorizer: new HttpIamAuthorizer(),
    });
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stage = new apigw.HttpStage(this, 'Stage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit ?? 50, burstLimit: props.throttleBurstLimit ?? 100 },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            caller: '$context.identity.userArn',
            person: '$context.authorizer.claims.username',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            integrationError: '$context.integrationErrorMessage',
            authorizeError: '$context.authorizer.error',
          }),
        ),
      },
    });

    const webhookRoutes = this.httpApi.addRoutes({
      path: WEBHOOK_ROUTE[1],
      methods: [WEBHOOK_ROUTE[0]],
      integration: new HttpLambdaIntegration('Webhook', props.webhookFunction),
      authorizer: new apigw.HttpNoneAuthorizer(),
    });
    // Route-level throttling overrides the stage's default route settings for that route
    // (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html);
    // all routes still share the account's per-Region limit. The route must exist before the
    // stage names it, hence the dependency.
    const cfnStage = this.stage.node.defaultChild as apigw.CfnStage;
    // RouteSettings is untyped JSON in CloudFormation's schema: CDK passes it as written.
    cfnStage.routeSettings = {
      [`${WEBHOOK_ROUTE[0]} ${WEBHOOK_ROUTE[1]}`]: {
        ThrottlingRateLimit: props.webhookRateLimit ?? 100,
        ThrottlingBurstLimit: props.webhookBurstLimit ?? 200,
      },
    };
    for (const route of webhookRoutes) {
      cfnStage.node.addDependency(route);
      NagSuppressions.addResourceSuppressions(route, [
        {
          id: 'AwsSolutions-APIG4',
          reason: 'Git hosts (GitHub, GitLab, Bitbucket) cannot sign requests with SigV4; functions/webhook verifies each delivery with the provider signature and the webhook secret in Secrets Manager before anything else.',
        },
      ]);
    }

    this.apiFunction = props.apiFunction;
    const management = new HttpLambdaIntegration('Management', props.apiFunction);
    for (const [method, path] of MANAGEMENT_ROUTES) {
      this.httpApi.addRoutes({ path, methods: [method], integration: management });
    }
  }

  /**
   * The management routes again under `/console-api/`, for people: each with the console's JWT
   * authorizer instead of IAM. API Gateway authorizes per route (one authorizer each,
   * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html),
   * so a route cannot take both SigV4 and a JWT; a parallel prefix keeps the IAM routes exactly as
   * they were for machines. The handler strips the prefix (shared/http/router.ts).
   */
  addConsoleRoutes(authorizer: apigw.IHttpRouteAuthorizer): apigw.HttpRoute[] {
    const management = new HttpLambdaIntegration('Console', this.apiFunction);
    return MANAGEMENT_ROUTES.flatMap(([method, path]) =>
      this.httpApi.addRoutes({ path: `${CONSOLE_API_PREFIX}${path}`, methods: [method], integration: management, authorizer }));
  }

  /** https://<id>.execute-api.<region>.amazonaws.com */
  get url(): string {
    return this.httpApi.apiEndpoint;
  }

  /** Point a git host at `<webhookUrl>/github` (or /gitlab, /bitbucket). */
  get webhookUrl(): string {
    return `${this.httpApi.apiEndpoint}/webhooks`;
  }
}
