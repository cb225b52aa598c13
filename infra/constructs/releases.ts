import { ArnFormat, Duration, Fn, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { SlipwayFunction } from './handler.ts';

/** Tag SlipwayReleaseTarget puts on everything it creates; the releaser may only touch tagged resources. */
export { TARGET_TAG } from '../../shared/ports/releases.ts';
import { TARGET_TAG } from '../../shared/ports/releases.ts';

/**
 * The condition keys used below, as the Service Authorization Reference lists them:
 * - ELBv2 `ModifyRule` on resource type `listener-rule/app` takes `aws:ResourceTag/${TagKey}`
 *   (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awselasticloadbalancingv2.html);
 * - ECS `UpdateService` and `DescribeServices` on resource type `service` take
 *   `aws:ResourceTag/${TagKey}` and `ecs:cluster`
 *   (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html);
 * - IAM `PassRole` on resource type `role` takes `aws:ResourceTag/${TagKey}` (and `iam:ResourceTag`),
 *   plus `iam:PassedToService`
 *   (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html).
 * `Null: { 'aws:ResourceTag/slipway:target': 'false' }` means "the resource carries the tag".
 * IAM cannot compare the tag's value with the target a release is for; `PUT /targets` checks
 * that (AwsTargetOwnership), so the releaser only ever acts on rules, groups and services that
 * someone with tagging rights gave to Slipway.
 */
const TAGGED = { Null: { [`aws:ResourceTag/${TARGET_TAG}`]: 'false' } };

/** What the releaser may change, as narrow as the team can say it. */
export interface ReleaseScope {
  /**
   * ECS service ARNs (blue and green of every target) the releaser may update.
   * @default every ECS service in this account and region that carries the `slipway:target` tag
   */
  readonly serviceArns?: string[];
  /**
   * ECS cluster ARNs the services run in; narrows the default service scope to these clusters.
   * @default any cluster
   */
  readonly clusterArns?: string[];
  /**
   * ALB listener ARNs (production and test listeners) whose rules the releaser may change.
   * Either way, only rules tagged `slipway:target`.
   * @default every application load balancer listener rule in this account and region tagged `slipway:target`
   */
  readonly listenerArns?: string[];
  /**
   * Task and task-execution role ARNs the releaser may pass when it registers a task definition.
   * @default every role in this account tagged `slipway:target`, only to ecs-tasks.amazonaws.com
   */
  readonly taskRoleArns?: string[];
  /**
   * Health checker functions (SlipwayReleaseTarget.healthChecker) the releaser may invoke.
   * @default every Lambda function in this account and region tagged `slipway:target`
   */
  readonly healthCheckFunctionArns?: string[];
}

export interface ReleasesProps extends ReleaseScope {
  readonly releaseQueue: sqs.IQueue;
  readonly environment: Record<string, string>;
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The releaser: consumes release-steps, drives ECS services and ALB weights, watches alarms.
 */
/** The releaser role's wildcard resources cdk-nag (IAM5) sees; the reason is given where they are suppressed below. */
export const RELEASER_WILDCARDS = [
  'Resource::*',
  'Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:service/*',
  'Resource::arn:<AWS::Partition>:elasticloadbalancing:<AWS::Region>:<AWS::AccountId>:listener-rule/app/*',
  'Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*',
  'Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:*',
  'Resource::arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:*',
  // rules of the configured listeners: <listener ARN with listener-rule>/*
  { regex: '/^Resource::.*:listener-rule\\/.*\\/\\*$/' },
] as const;

export class Releases extends Construct {
  readonly releaser: SlipwayFunction;

  constructor(scope: Construct, id: string, props: ReleasesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.releaser = new SlipwayFunction(this, 'Releaser', {
      handler: 'releaser',
      description: 'Slipway releaser: blue-green and standard releases to ECS behind weighted ALB target groups',
      environment: props.environment,
      timeout: Duration.seconds(60),
      logRetention: props.logRetention,
    });
    const fn = this.releaser.function;
    fn.addEventSource(new SqsEventSource(props.releaseQueue, { batchSize: 5, reportBatchItemFailures: true }));
    const role = this.releaser.role;

    // RegisterTaskDefinition and DescribeTaskDefinition have no resource type in IAM: "*" is the
    // only resource they accept. What a registered definition may run as is bounded by PassRole below.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['ecs:RegisterTaskDefinition', 'ecs:DescribeTaskDefinition'], resources: ['*'] }),
    );

    const serviceStatement = new iam.PolicyStatement({
      actions: ['ecs:UpdateService', 'ecs:DescribeServices'],
      resources: props.serviceArns?.length ? props.serviceArns : [stack.formatArn({ service: 'ecs', resource: 'service', resourceName: '*' })],
    });
    // Tagged services only, also when ARNs are given: a service must be handed to Slipway by tag.
    serviceStatement.addCondition('Null', TAGGED.Null);
    if (props.clusterArns?.length) serviceStatement.addCondition('ArnEquals', { 'ecs:cluster': props.clusterArns });
    role.addToPrincipalPolicy(serviceStatement);

    // Weights live in listener rules (the production rule and the test listener's rule), so
    // ModifyRule on listener-rule ARNs is all the releaser changes; not ModifyListener. With
    // listener ARNs given, their rules are listener-rule/app/<lb>/<lb-id>/<listener-id>/*.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['elasticloadbalancing:ModifyRule'],
        resources: props.listenerArns?.length
          ? props.listenerArns.map((arn) => `${listenerRulePrefix(arn)}/*`)
          : [stack.formatArn({ service: 'elasticloadbalancing', resource: 'listener-rule', resourceName: 'app/*' })],
        conditions: TAGGED,
      }),
    );
    // Every elasticloadbalancing:Describe* action has no resource type in IAM; read-only.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['elasticloadbalancing:DescribeTargetHealth', 'elasticloadbalancing:DescribeRules'], resources: ['*'] }),
    );

    // Registering a task definition passes its task and execution roles: only the roles the
    // targets use (given, or tagged slipway:target), and only to ECS tasks.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: props.taskRoleArns?.length ? props.taskRoleArns : [stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: '*' })],
        conditions: {
          StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
          ...(props.taskRoleArns?.length ? {} : TAGGED),
        },
      }),
    );

    // Health checks run inside each target's VPC, by its checker function.
    const invoke = new iam.PolicyStatement({
      actions: ['lambda:InvokeFunction'],
      resources: props.healthCheckFunctionArns?.length
        ? props.healthCheckFunctionArns
        : [stack.formatArn({ service: 'lambda', resource: 'function', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
    });
    // Lambda authorizes InvokeFunction on the function's tags (aws:ResourceTag), like ECS services above.
    if (!props.healthCheckFunctionArns?.length) invoke.addCondition('Null', { [`aws:ResourceTag/${TARGET_TAG}`]: 'false' });
    role.addToPrincipalPolicy(invoke);

    // DescribeAlarms takes the alarm resource type, so it is scoped to this account and region.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:DescribeAlarms'],
        resources: [stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      }),
    );

    NagSuppressions.addResourceSuppressions(
      role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'ecs:RegisterTaskDefinition/DescribeTaskDefinition and elasticloadbalancing:Describe* have no resource type (Resource "*"); services, listener rules (app/*) and roles are allowed only when tagged slipway:target (aws:ResourceTag condition), inside this account and region, and are narrowed further by the releaseScope props; alarm:* is read-only; iam:PassRole is limited to ecs-tasks.amazonaws.com; lambda function:* (InvokeFunction) is limited to functions tagged slipway:target (the targets\' health checkers) unless releaseScope names them.',
          appliesTo: [...RELEASER_WILDCARDS],
        },
      ],
      true,
    );
  }
}

/**
 * What the API needs to check `PUT /targets` (AwsTargetOwnership): read the tags of listener
 * rules and target groups (`elasticloadbalancing:DescribeTags` has no resource type: "*"), and
 * describe ECS services with their tags (`ecs:DescribeServices`, and `ecs:ListTagsForResource`
 * in case tags are authorised apart). Read-only; no right to change either.
 */
export function grantReadTargetTags(grantee: iam.IGrantable): void {
  const stack = Stack.of(grantee.grantPrincipal as unknown as Construct);
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['elasticloadbalancing:DescribeTags'], resources: ['*'] }));
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['ecs:DescribeServices', 'ecs:ListTagsForResource'],
    resources: [stack.formatArn({ service: 'ecs', resource: 'service', resourceName: '*' })],
  }));
}

/** arn:...:listener/app/<lb>/<lb-id>/<listener-id> -> arn:...:listener-rule/app/<lb>/<lb-id>/<listener-id> */
function listenerRulePrefix(listenerArn: string): string {
  if (Token.isUnresolved(listenerArn)) {
    const parts = Fn.split(':listener/', listenerArn, 2);
    return Fn.join('', [Fn.select(0, parts), ':listener-rule/', Fn.select(1, parts)]);
  }
  if (!listenerArn.includes(':listener/')) throw new Error(`not an ALB listener ARN: ${listenerArn}`);
  return listenerArn.replace(':listener/', ':listener-rule/');
}
