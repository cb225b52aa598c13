import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { HANDLER_RUNTIME } from './handler.ts';

/**
 * The checker's code, inline (CommonJS `index.handler`): no bundling, so the construct works in any
 * app. It takes `{ targets: [{ ip, port }], path, timeoutMs? }` and GETs `http://<ip>:<port><path>`
 * on each, answering `{ results: [{ target, status } | { target, error }] }`. It builds every URL
 * itself and accepts private IPv4 addresses on the container port only, so whoever may invoke it
 * cannot use it to reach anything else in the VPC. Node's global fetch; no dependency.
 */
export const HEALTH_CHECKER_SOURCE = `'use strict';
const PORT = Number(process.env.SLIPWAY_CHECK_PORT);
const PRIVATE = /^(10\\.\\d{1,3}|172\\.(1[6-9]|2\\d|3[01])|192\\.168)\\.\\d{1,3}\\.\\d{1,3}$/;
exports.handler = async (event) => {
  const targets = Array.isArray(event && event.targets) ? event.targets.slice(0, 100) : [];
  const path = typeof (event && event.path) === 'string' && /^\\/[\\x21-\\x7e]*$/.test(event.path) ? event.path : undefined;
  if (!path) return { error: 'path must be a URL path starting with /' };
  const timeoutMs = Math.min(Math.max(Number(event.timeoutMs) || 5000, 100), 10000);
  const results = await Promise.all(targets.map(async (t) => {
    const target = String(t && t.ip) + ':' + String(t && t.port);
    if (!t || typeof t.ip !== 'string' || !PRIVATE.test(t.ip) || Number(t.port) !== PORT) return { target, error: 'refused: only private addresses on port ' + PORT };
    try {
      const res = await fetch('http://' + t.ip + ':' + PORT + path, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      if (res.body) await res.body.cancel().catch(() => undefined);
      return { target, status: res.status };
    } catch (err) {
      const cause = err && err.cause && (err.cause.code || err.cause.message);
      return { target, error: String(cause || (err && err.message) || err) };
    }
  }));
  return { results };
};
`;

export interface HealthCheckerProps {
  readonly vpc: ec2.IVpc;
  /** Subnets of the tasks it checks. @default the VPC's private subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The container port it may reach. */
  readonly port: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A small function inside the target's VPC that runs a release's health check: the releaser runs
 * outside any VPC, and a target's tasks (private addresses) and its test listener (closed to the
 * world) cannot be reached from there. The releaser invokes it (lambda:InvokeFunction) with the
 * targets of the new colour; its security group may only reach the container port, and the
 * services admit it there (SlipwayReleaseTarget). Costs nothing while idle.
 */
export class HealthChecker extends Construct {
  readonly function: lambda.Function;
  readonly securityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: HealthCheckerProps) {
    super(scope, id);
    this.securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Slipway health checker: HTTP to the target tasks only',
      allowAllOutbound: false,
    });
    // CDK drops its "match no traffic" egress placeholder once an egress rule to another group is
    // added (as a separate resource); a group without any inline egress gets EC2's default
    // allow-all egress. Keep the placeholder so the only egress is the rules to the services.
    (this.securityGroup.node.defaultChild as ec2.CfnSecurityGroup).addPropertyOverride('SecurityGroupEgress', [
      { CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic', IpProtocol: 'icmp', FromPort: 252, ToPort: 86 },
    ]);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Slipway health checker: its log group and its network interfaces in the VPC',
    });
    logGroup.grantWrite(role);
    // The ENI actions a function in a VPC needs (Lambda Developer Guide, "Giving Lambda functions access to a VPC").
    role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole'));
    this.function = new lambda.Function(this, 'Function', {
      description: 'Slipway: GETs the health check path on the tasks of a new colour, from inside their VPC',
      runtime: HANDLER_RUNTIME,
      handler: 'index.handler',
      code: lambda.Code.fromInline(HEALTH_CHECKER_SOURCE),
      architecture: lambda.Architecture.ARM_64,
      memorySize: 128,
      timeout: Duration.seconds(20),
      role,
      logGroup,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [this.securityGroup],
      environment: { SLIPWAY_CHECK_PORT: String(props.port) },
    });
    NagSuppressions.addResourceSuppressions(
      role,
      [
        {
          id: 'AwsSolutions-IAM4',
          reason: 'AWSLambdaVPCAccessExecutionRole (added by Lambda for a VPC function): the ENI actions it needs have no narrower resource; logging goes to the function\'s own log group.',
          appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole'],
        },
        {
          id: 'AwsSolutions-IAM5',
          reason: 'The function\'s own log group (log-group:<name>:*, its streams).',
        },
      ],
      true,
    );
  }
}
