import { Duration, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { HealthChecker } from './health-checker.ts';
import { TARGET_TAG, type ReleaseScope } from './releases.ts';

export interface SlipwayReleaseTargetProps {
  /** Target name pipelines deploy to; also the value of the `slipway:target` tag. */
  readonly name: string;
  readonly vpc: ec2.IVpc;
  /**
   * Cluster the two services run in.
   * @default a new cluster in `vpc`, with Container Insights
   */
  readonly cluster?: ecs.ICluster;
  /**
   * Image the services start with. Only the first deployment uses it: Slipway owns the task
   * definition afterwards, and changing this later registers a revision no service runs.
   */
  readonly image: ecs.ContainerImage;
  /** @default 80 */
  readonly containerPort?: number;
  /** @default '/' */
  readonly healthCheckPath?: string;
  /**
   * Tasks of the live color in every release (register it as the target's `desiredCount`). The
   * template leaves the services' desired counts to Slipway: CloudFormation creates each with one
   * task, and the first release scales the new colour to this and the old one to 0.
   * @default 2
   */
  readonly desiredCount?: number;
  /** @default 256 */
  readonly cpu?: number;
  /** @default 512 */
  readonly memoryLimitMiB?: number;
  /** @default 80 (443 when `certificates` are given) */
  readonly listenerPort?: number;
  /** HTTPS certificates for the listener. @default plain HTTP */
  readonly certificates?: elbv2.IListenerCertificate[];
  /**
   * A second listener that always routes to the idle color, for verification jobs before traffic shifts.
   * @default no test listener
   */
  readonly testListenerPort?: number;
  /** @default true */
  readonly internetFacing?: boolean;
  /**
   * Bucket for the load balancer's access logs (must allow the ELB log delivery principal).
   * @default no access logs
   */
  readonly accessLogBucket?: s3.IBucket;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/** What the engine needs to release to this target (register it through the API). */
export interface ReleaseTargetDescription {
  readonly name: string;
  readonly clusterArn: string;
  readonly services: { readonly blue: string; readonly green: string };
  readonly targetGroups: { readonly blue: string; readonly green: string };
  readonly listenerArn: string;
  readonly listenerRuleArn: string;
  readonly testListenerArn?: string;
  readonly testListenerRuleArn?: string;
  readonly healthCheckFunctionArn: string;
}

/**
 * An ECS service pair ready for blue-green releases: `blue` (live, desiredCount tasks) and `green`
 * (idle, 0 tasks), both Fargate services of the same task definition, each behind its own target
 * group, and a listener rule forwarding to both with weights (blue 100 / green 0). The Slipway
 * releaser moves the weights; everything it may touch carries the `slipway:target` tag.
 *
 * Always-on cost: the ALB and the live color's Fargate tasks bill by the hour.
 */
export class SlipwayReleaseTarget extends Construct {
  readonly cluster: ecs.ICluster;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly blue: ecs.FargateService;
  readonly green: ecs.FargateService;
  readonly blueTargetGroup: elbv2.ApplicationTargetGroup;
  readonly greenTargetGroup: elbv2.ApplicationTargetGroup;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly listener: elbv2.ApplicationListener;
  readonly listenerRule: elbv2.ApplicationListenerRule;
  readonly testListener?: elbv2.ApplicationListener;
  readonly testListenerRule?: elbv2.ApplicationListenerRule;
  readonly targetName: string;
  /** Runs deploy jobs' health checks from inside the VPC (the releaser runs outside it). */
  readonly healthChecker: HealthChecker;
  /** Task family the services run: `slipway-<name>`. */
  readonly family: string;
  private readonly desiredCount: number;

  constructor(scope: Construct, id: string, props: SlipwayReleaseTargetProps) {
    super(scope, id);
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(props.name)) throw new Error(`target name '${props.name}' must be lower-case letters, digits and dashes (max 63)`);
    this.targetName = props.name;
    const containerPort = props.containerPort ?? 80;
    const desiredCount = props.desiredCount ?? 2;
    if (!Number.isInteger(desiredCount) || desiredCount < 1) throw new Error(`desiredCount must be >= 1, got ${desiredCount}`);

    this.cluster =
      props.cluster ??
      new ecs.Cluster(this, 'Cluster', { vpc: props.vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });

    this.desiredCount = desiredCount;
    this.family = `slipway-${props.name}`;
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      family: this.family,
      cpu: props.cpu ?? 256,
      memoryLimitMiB: props.memoryLimitMiB ?? 512,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.taskDefinition.addContainer('app', {
      image: props.image,
      portMappings: [{ containerPort }],
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: props.name }),
      essential: true,
    });

    // After the first deployment Slipway owns what the services run, how many tasks and the
    // weights; a later `cdk deploy` of this stack must not put any of it back:
    // - TaskDefinition names the family, not a revision: "If a revision isn't specified, the latest
    //   ACTIVE revision is used" (AWS::ECS::Service, TaskDefinition), which the creation uses; a new
    //   image in this construct registers a new revision but leaves the property, and so the
    //   services, unchanged.
    // - DesiredCount is left out: "For existing services, if a desired count is not specified, it
    //   is omitted from the operation" (AWS::ECS::Service, DesiredCount); with it, every update of
    //   a service would put the template's count back over Slipway's.
    // - the listener rules only reference the target groups, which no image change touches.
    const service = (id: string) => {
      const svc = new ecs.FargateService(this, id, {
        cluster: this.cluster,
        taskDefinition: this.taskDefinition,
        assignPublicIp: false,
        minHealthyPercent: 100,
        maxHealthyPercent: 200,
        circuitBreaker: { rollback: true },
        propagateTags: ecs.PropagatedTagSource.SERVICE,
        enableECSManagedTags: true,
      });
      const cfn = svc.node.defaultChild as ecs.CfnService;
      cfn.taskDefinition = this.family;
      cfn.addPropertyDeletionOverride('DesiredCount');
      cfn.node.addDependency(this.taskDefinition);
      return svc;
    };
    this.blue = service('Blue');
    this.green = service('Green');
    // The revision CloudFormation registered first keeps running until the first release; a later
    // image change must not deregister it under the services.
    (this.taskDefinition.node.defaultChild as ecs.CfnTaskDefinition).applyRemovalPolicy(RemovalPolicy.RETAIN);

    const targetGroup = (id: string) =>
      new elbv2.ApplicationTargetGroup(this, id, {
        vpc: props.vpc,
        port: containerPort,
        protocol: elbv2.ApplicationProtocol.HTTP,
        targetType: elbv2.TargetType.IP,
        deregistrationDelay: Duration.seconds(30),
        healthCheck: { path: props.healthCheckPath ?? '/', healthyThresholdCount: 2, interval: Duration.seconds(10), timeout: Duration.seconds(5) },
      });
    this.blueTargetGroup = targetGroup('BlueTargets');
    this.greenTargetGroup = targetGroup('GreenTargets');
    this.blue.attachToApplicationTargetGroup(this.blueTargetGroup);
    this.green.attachToApplicationTargetGroup(this.greenTargetGroup);

    this.healthChecker = new HealthChecker(this, 'HealthChecker', { vpc: props.vpc, port: containerPort, logRetention: props.logRetention });
    for (const svc of [this.blue, this.green]) {
      svc.connections.allowFrom(this.healthChecker.securityGroup, ec2.Port.tcp(containerPort), 'Slipway health checker (release health checks)');
    }

    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: props.internetFacing ?? true,
      dropInvalidHeaderFields: true,
    });
    if (props.accessLogBucket) this.loadBalancer.logAccessLogs(props.accessLogBucket, `slipway-target-${props.name}`);
    else {
      NagSuppressions.addResourceSuppressions(this.loadBalancer, [
        { id: 'AwsSolutions-ELB2', reason: 'Access logs are opt-in through accessLogBucket: the log bucket is the team\'s choice (and cost).' },
      ]);
    }

    if (props.internetFacing ?? true) {
      NagSuppressions.addResourceSuppressions(
        this.loadBalancer,
        [{ id: 'AwsSolutions-EC23', reason: 'An internet-facing load balancer of a public service: the production listener port is open to the internet by design; the test listener is not opened.' }],
        true,
      );
    }
    const https = (props.certificates?.length ?? 0) > 0;
    const weighted = (blue: number, green: number) =>
      elbv2.ListenerAction.weightedForward([
        { targetGroup: this.blueTargetGroup, weight: blue },
        { targetGroup: this.greenTargetGroup, weight: green },
      ]);
    const notFound = elbv2.ListenerAction.fixedResponse(404, { contentType: 'text/plain', messageBody: 'not found' });

    this.listener = this.loadBalancer.addListener('Listener', {
      port: props.listenerPort ?? (https ? 443 : 80),
      protocol: https ? elbv2.ApplicationProtocol.HTTPS : elbv2.ApplicationProtocol.HTTP,
      certificates: props.certificates,
      defaultAction: notFound,
    });
    // The rule the releaser shifts (ModifyRule); weights always add up to 100.
    this.listenerRule = new elbv2.ApplicationListenerRule(this, 'Traffic', {
      listener: this.listener,
      priority: 10,
      conditions: [elbv2.ListenerCondition.pathPatterns(['/*'])],
      action: weighted(100, 0),
    });

    if (props.testListenerPort !== undefined) {
      this.testListener = this.loadBalancer.addListener('TestListener', {
        port: props.testListenerPort,
        protocol: https ? elbv2.ApplicationProtocol.HTTPS : elbv2.ApplicationProtocol.HTTP,
        certificates: props.certificates,
        defaultAction: notFound,
        // Verification traffic comes from inside the VPC (build jobs, the team's checks), not the internet.
        open: false,
      });
      // Routes to the idle color (green at first); the releaser flips it with each release.
      this.testListenerRule = new elbv2.ApplicationListenerRule(this, 'TestTraffic', {
        listener: this.testListener,
        priority: 10,
        conditions: [elbv2.ListenerCondition.pathPatterns(['/*'])],
        action: weighted(0, 100),
      });
    }

    Tags.of(this).add(TARGET_TAG, props.name);
    NagSuppressions.addResourceSuppressions(
      this.taskDefinition,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason: 'The execution role CDK generates may create streams in the task log group (log-group:<name>:*) and pull from ECR (ecr:GetAuthorizationToken has no resource type).',
        },
      ],
      true,
    );
  }

  /** What to pass to SlipwayProps.releaseScope so the releaser may act on this target only. */
  get releaseScope(): ReleaseScope {
    return {
      serviceArns: [this.blue.serviceArn, this.green.serviceArn],
      clusterArns: [this.cluster.clusterArn],
      listenerArns: [this.listener.listenerArn, ...(this.testListener ? [this.testListener.listenerArn] : [])],
      taskRoleArns: [this.taskDefinition.taskRole.roleArn, this.taskDefinition.obtainExecutionRole().roleArn],
      healthCheckFunctionArns: [this.healthChecker.function.functionArn],
    };
  }

  get description(): ReleaseTargetDescription {
    return {
      name: this.targetName,
      clusterArn: this.cluster.clusterArn,
      services: { blue: this.blue.serviceArn, green: this.green.serviceArn },
      targetGroups: { blue: this.blueTargetGroup.targetGroupArn, green: this.greenTargetGroup.targetGroupArn },
      listenerArn: this.listener.listenerArn,
      listenerRuleArn: this.listenerRule.listenerRuleArn,
      testListenerArn: this.testListener?.listenerArn,
      testListenerRuleArn: this.testListenerRule?.listenerRuleArn,
      healthCheckFunctionArn: this.healthChecker.function.functionArn,
    };
  }

  /**
   * The body of `PUT /targets/<name>` (`slipway targets apply <name> -f <file>`) for this target,
   * as a CloudFormation value: `new CfnOutput(this, 'Registration', { value: target.registration })`.
   */
  get registration(): string {
    return Stack.of(this).toJsonString({
      cluster: this.cluster.clusterName,
      services: { blue: this.blue.serviceName, green: this.green.serviceName },
      targetGroups: { blue: this.blueTargetGroup.targetGroupArn, green: this.greenTargetGroup.targetGroupArn },
      listenerRuleArn: this.listenerRule.listenerRuleArn,
      ...(this.testListenerRule ? { testListenerRuleArn: this.testListenerRule.listenerRuleArn } : {}),
      healthCheckFunction: this.healthChecker.function.functionArn,
      desiredCount: this.desiredCount,
    });
  }
}
