import { Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import type { Artifacts } from './artifacts.ts';

/** Connection ARNs grouped by the IAM service prefix of their actions (codeconnections, or the older codestar-connections). */
export function connectionsByService(arns: readonly string[]): Map<'codeconnections' | 'codestar-connections', string[]> {
  const out = new Map<'codeconnections' | 'codestar-connections', string[]>();
  for (const arn of arns) {
    if (Token.isUnresolved(arn)) throw new Error('source connection ARNs must be literal ARNs (their IAM action prefix depends on them)');
    const m = /^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection\/[A-Za-z0-9-]+$/.exec(arn);
    if (!m) throw new Error(`'${arn}' is not a CodeConnections connection ARN (arn:aws:codeconnections:<region>:<account>:connection/<id>)`);
    const service = m[1] as 'codeconnections' | 'codestar-connections';
    out.set(service, [...(out.get(service) ?? []), arn]);
  }
  return out;
}

/** Compute classes a job can ask for, and the CodeBuild compute type behind each. */
export const COMPUTE_TYPES = {
  small: codebuild.ComputeType.SMALL,
  medium: codebuild.ComputeType.MEDIUM,
  large: codebuild.ComputeType.LARGE,
} as const;

export type ComputeClass = keyof typeof COMPUTE_TYPES;

export interface BuildsProps {
  readonly artifacts: Artifacts;
  /**
   * Compute classes to create a CodeBuild project for.
   * @default ['small', 'medium', 'large']
   */
  readonly computeClasses?: readonly ComputeClass[];
  /**
   * Prefix of the ECR repositories image jobs may push to: `<prefix>/<name>`.
   * @default 'slipway'
   */
  readonly ecrRepositoryPrefix?: string;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * AWS CodeConnections connection ARNs builds may check out with; the build role may use exactly these.
   * @default none: public repositories only (and no GitLab)
   */
  readonly sourceConnectionArns?: readonly string[];
  /**
   * Longest a build may run; a job's own timeout overrides it per build (up to 8 hours).
   * @default Duration.hours(1)
   */
  readonly buildTimeout?: Duration;
  /**
   * Create the Lambda-compute project (`compute: lambda`, and `auto` for jobs that can run there).
   * Without it, jobs `auto` would put on Lambda fail to start with the setting named.
   * @default true
   */
  readonly lambdaCompute?: boolean;
  /**
   * Reserved-capacity fleets jobs may name (`fleet: NAME`). A fleet keeps `baseCapacity` machines
   * running, and billing, around the clock: builds on it start without provisioning, at a cost that
   * no longer drops to zero when idle.
   * @default none
   */
  readonly fleets?: readonly BuildFleetProps[];
}

/** One reserved-capacity fleet. */
export interface BuildFleetProps {
  /** The name jobs give in `fleet:` (letters, digits, "-", "_"; 2 to 64). */
  readonly name: string;
  /** @default codebuild.FleetComputeType.SMALL */
  readonly computeType?: codebuild.FleetComputeType;
  /** Machines kept ready. @default 1 */
  readonly baseCapacity?: number;
}

/**
 * One CodeBuild project per compute class. No build machine exists between builds: CodeBuild
 * starts a fresh container per StartBuild and bills by the minute of build.
 *
 * x86_64 (LINUX_CONTAINER) rather than arm: image jobs build the images the team's ECS services
 * run, and those are x86_64 unless a team chooses Graviton; an arm builder would need
 * QEMU/buildx emulation (slow) to produce them, and all three compute classes exist on x86.
 * The handlers themselves are arm64 Lambda functions (our own code, no such constraint).
 */
export class Builds extends Construct {
  readonly projects: Partial<Record<ComputeClass | 'lambda', codebuild.Project>>;
  /** Reserved-capacity fleets by the name jobs give. */
  readonly fleets: Record<string, codebuild.Fleet> = {};
  /** Build jobs of push, tag and manual runs; the projects' own role. */
  readonly role: iam.Role;
  /** Build jobs of pull requests from the pipeline's own repository. */
  readonly pullRequestRole: iam.Role;
  /** Every build of a fork's pull request: its own logs and its lane's artifacts, nothing else. */
  readonly forkRole: iam.Role;
  /** Image jobs: the only builds that may push to ECR. */
  readonly imageRole: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly ecrRepositoryPrefix: string;
  /** The connections builds may check out with. */
  readonly sourceConnectionArns: string[];

  constructor(scope: Construct, id: string, props: BuildsProps) {
    super(scope, id);
    const classes = props.computeClasses ?? (Object.keys(COMPUTE_TYPES) as ComputeClass[]);
    if (classes.length === 0) throw new Error('computeClasses must name at least one compute class');
    for (const c of classes) if (!(c in COMPUTE_TYPES)) throw new Error(`unknown compute class '${c}' (known: ${Object.keys(COMPUTE_TYPES).join(', ')})`);
    const prefix = props.ecrRepositoryPrefix ?? 'slipway';
    if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(prefix)) {
      throw new Error(`ecrRepositoryPrefix '${prefix}' is not a valid ECR repository name prefix`);
    }
    this.ecrRepositoryPrefix = prefix;

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // One role per build lane, chosen per build with StartBuild's serviceRoleOverride (the engine's
    // CodeBuildRunner): isolation between release runs, pull requests and forks is IAM's doing,
    // outside the build, whatever the repository's commands try.
    const stack = Stack.of(this);
    const buildRole = (roleId: string, description: string) => {
      const role = new iam.Role(this, roleId, {
        description,
        // Only CodeBuild builds of this account may assume it (confused-deputy guard on the service principal).
        assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com', {
          conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
        }),
      });
      this.logGroup.grantWrite(role);
      return role;
    };
    this.role = buildRole('Role', 'Slipway builds of push, tag and manual runs: their artifacts (runs/) and build logs; no ECR push');
    props.artifacts.grantBuildAccess(this.role, ['release']);
    this.pullRequestRole = buildRole('PullRequestRole', 'Slipway builds of same-repository pull requests: their artifacts (pr-runs/) and build logs');
    props.artifacts.grantBuildAccess(this.pullRequestRole, ['pullRequest']);
    this.forkRole = buildRole('ForkRole', "Slipway builds of forks' pull requests: their artifacts (fork-runs/) and build logs, nothing else");
    props.artifacts.grantBuildAccess(this.forkRole, ['fork']);
    // Dependency caches: trusted lanes read and save them; a fork's build only reads (never poisons them).
    props.artifacts.grantCacheAccess(this.role, 'write');
    props.artifacts.grantCacheAccess(this.pullRequestRole, 'write');
    props.artifacts.grantCacheAccess(this.forkRole, 'read');
    this.imageRole = buildRole('ImageRole', 'Slipway image jobs: artifacts of release runs and same-repository pull requests, pushes to the pipelines ECR repositories');
    props.artifacts.grantBuildAccess(this.imageRole, ['release', 'pullRequest']);
    // ecr:GetAuthorizationToken has no resource type in IAM; it only hands out a registry login,
    // what the login may do is decided by the repository statement below.
    this.imageRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    this.imageRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [
          'ecr:BatchCheckLayerAvailability',
          'ecr:BatchGetImage',
          'ecr:GetDownloadUrlForLayer',
          'ecr:InitiateLayerUpload',
          'ecr:UploadLayerPart',
          'ecr:CompleteLayerUpload',
          'ecr:PutImage',
        ],
        resources: [stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: `${prefix}/*` })],
      }),
    );

    // Checking out through a connection: CodeBuild asks CodeConnections for a token with the build's
    // service role (codeconnections:GetConnectionToken, GetConnection, UseConnection; the Service
    // Authorization Reference for AWS CodeConnections, and the CodeBuild User Guide's "Connect to
    // GitLab/GitHub/Bitbucket with CodeConnections"). Connections created before 2024 have
    // codestar-connections ARNs, whose actions carry that older prefix. Not the fork role: a build
    // holds its role's credentials, and a fork's code could ask for a token to every repository the
    // connection sees; forks are cloned anonymously (CodeBuildRunner).
    this.sourceConnectionArns = [...(props.sourceConnectionArns ?? [])];
    for (const [service, arns] of connectionsByService(this.sourceConnectionArns)) {
      for (const role of [this.role, this.pullRequestRole, this.imageRole]) {
        role.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: [`${service}:GetConnectionToken`, `${service}:GetConnection`, `${service}:UseConnection`],
            resources: arns,
          }),
        );
      }
    }

    this.projects = {};
    for (const cls of classes) {
      const project = new codebuild.Project(this, `Project-${cls}`, {
        description: `Slipway ${cls} builds; the engine overrides buildspec, image, source and environment on every StartBuild`,
        role: this.role,
        environment: {
          buildImage: codebuild.LinuxBuildImage.STANDARD_7_0,
          computeType: COMPUTE_TYPES[cls],
          // Not privileged. Image jobs (docker build) start with privilegedModeOverride: true, which
          // the docker daemon inside the build container needs; every other job runs unprivileged.
          privileged: false,
        },
        // NO_SOURCE here; the engine sets sourceTypeOverride/sourceLocationOverride/sourceVersion
        // (the commit) per build, and the buildspec it generates replaces this one.
        buildSpec: codebuild.BuildSpec.fromObject({
          version: '0.2',
          phases: { build: { commands: ['echo "Slipway starts builds with a generated buildspec; this project default is never meant to run" && exit 1'] } },
        }),
        logging: { cloudWatch: { logGroup: this.logGroup } },
        // Local caching: the `cache.paths` of a generated buildspec, docker layers and the source
        // stay on the build host between close builds; free, best effort, no bucket to grant.
        cache: codebuild.Cache.local(codebuild.LocalCacheMode.CUSTOM, codebuild.LocalCacheMode.DOCKER_LAYER, codebuild.LocalCacheMode.SOURCE),
        timeout: props.buildTimeout ?? Duration.hours(1),
        queuedTimeout: Duration.hours(1),
      });
      NagSuppressions.addResourceSuppressions(project, [
        {
          id: 'AwsSolutions-CB4',
          reason:
            'Build outputs go to the artifact bucket (SSE-S3) and CodeBuild encrypts the rest with the AWS managed aws/s3 key; a customer KMS key costs $1/month idle and adds no control the bucket policy lacks.',
        },
      ]);
      this.projects[cls] = project;
    }

    // Lambda compute: builds start without provisioning a machine and bill per second. CodeBuild refuses
    // a cache, a custom timeout, a queued timeout and privileged mode on it ("Limitations of AWS Lambda
    // compute", https://docs.aws.amazon.com/codebuild/latest/userguide/lambda.html#lambda.limitations),
    // so the project sets none: the engine's StartBuild gives the template's Lambda image per build.
    if (props.lambdaCompute ?? true) {
      const project = new codebuild.Project(this, 'Project-lambda', {
        description: 'Slipway builds on Lambda compute; the engine overrides buildspec, image, source and environment on every StartBuild',
        role: this.role,
        environment: {
          buildImage: codebuild.LinuxLambdaBuildImage.AMAZON_LINUX_2023_NODE_22,
          computeType: codebuild.ComputeType.LAMBDA_2GB,
        },
        buildSpec: codebuild.BuildSpec.fromObject({
          version: '0.2',
          phases: { build: { commands: ['echo "Slipway starts builds with a generated buildspec; this project default is never meant to run" && exit 1'] } },
        }),
        logging: { cloudWatch: { logGroup: this.logGroup } },
      });
      NagSuppressions.addResourceSuppressions(project, [
        {
          id: 'AwsSolutions-CB4',
          reason: 'Build outputs go to the artifact bucket (SSE-S3) and CodeBuild encrypts the rest with the AWS managed aws/s3 key; a customer KMS key costs $1/month idle and adds no control the bucket policy lacks.',
        },
      ]);
      this.projects.lambda = project;
    }

    for (const f of props.fleets ?? []) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$/.test(f.name)) throw new Error(`fleet name '${f.name}' must be 2 to 64 letters, digits, "-" or "_"`);
      if (this.fleets[f.name]) throw new Error(`fleet '${f.name}' is named twice`);
      const baseCapacity = f.baseCapacity ?? 1;
      if (!Number.isInteger(baseCapacity) || baseCapacity < 1) throw new Error(`fleet '${f.name}': baseCapacity must be a whole number >= 1`);
      this.fleets[f.name] = new codebuild.Fleet(this, `Fleet-${f.name}`, {
        fleetName: f.name,
        computeType: f.computeType ?? codebuild.FleetComputeType.SMALL,
        environmentType: codebuild.EnvironmentType.LINUX_CONTAINER,
        baseCapacity,
      });
    }

    for (const role of [this.role, this.pullRequestRole, this.forkRole, this.imageRole]) {
      NagSuppressions.addResourceSuppressions(
        role,
        [
          {
            id: 'AwsSolutions-IAM5',
            reason:
              '<lane>/* (runs/, pr-runs/, fork-runs/) and cache/* are the narrowest artifact prefix IAM can express for a role shared by every build of a lane (no per-run session tags); repository/<prefix>/* is the set of pipeline repositories; the report-group and /aws/codebuild log-group wildcards are the ones CodeBuild creates per project; ecr:GetAuthorizationToken has no resource type.',
            appliesTo: [
              { regex: '/^Resource::<[A-Za-z0-9]*ArtifactsBucket[A-Za-z0-9]+\\.Arn>\\/(runs|pr-runs|fork-runs|cache)\\/\\*$/' },
              { regex: '/^Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository\\/.+\\/\\*$/' },
              { regex: '/^Resource::arn:<AWS::Partition>:codebuild:<AWS::Region>:<AWS::AccountId>:report-group\\/<[A-Za-z0-9]*BuildsProject[A-Za-z0-9]+>-\\*$/' },
              { regex: '/^Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:\\/aws\\/codebuild\\/<[A-Za-z0-9]*BuildsProject[A-Za-z0-9]+>:\\*$/' },
              'Resource::*',
            ],
          },
        ],
        true,
      );
    }
  }

  /** Lane -> service role name, the value of SLIPWAY_BUILD_ROLES (as a JSON string; see BuildRoles). */
  roleNamesJson(): string {
    return Stack.of(this).toJsonString({
      release: this.role.roleName,
      pullRequest: this.pullRequestRole.roleName,
      fork: this.forkRole.roleName,
      image: this.imageRole.roleName,
    });
  }

  /** iam:PassRole on exactly the build roles, to CodeBuild only: StartBuild's serviceRoleOverride needs it. */
  grantPassRoles(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['iam:PassRole'],
      resourceArns: [this.role, this.pullRequestRole, this.forkRole, this.imageRole].map((r) => r.roleArn),
      conditions: { StringEquals: { 'iam:PassedToService': 'codebuild.amazonaws.com' } },
    });
  }

  /** Fleet name -> fleet ARN, the value of SLIPWAY_BUILD_FLEETS (as a JSON string). */
  fleetArnsJson(): string {
    const arns: Record<string, string> = {};
    for (const [name, fleet] of Object.entries(this.fleets)) arns[name] = fleet.fleetArn;
    return Stack.of(this).toJsonString(arns);
  }

  /** Compute -> project name, the value of SLIPWAY_BUILD_PROJECTS (as a JSON string). */
  projectNamesJson(): string {
    const names: Record<string, string> = {};
    for (const [cls, project] of Object.entries(this.projects)) names[cls] = project.projectName;
    return Stack.of(this).toJsonString(names);
  }

  get projectList(): codebuild.Project[] {
    return Object.values(this.projects);
  }

  /**
   * StartBuild (with overrides), StopBuild, BatchGetBuilds and ListBuildsForProject on
   * these projects only. Listing is how a StartBuild repeated after CodeBuild's 5-minute
   * idempotency window finds the build the first try started.
   */
  grantStartStop(grantee: iam.IGrantable): iam.Grant {
    // StartBuild hands CodeBuild a connection (sourceAuthOverride): passing a connection to a service
    // is codeconnections:PassConnection, allowed for the configured connections and CodeBuild only.
    for (const [service, arns] of connectionsByService(this.sourceConnectionArns)) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: [`${service}:PassConnection`],
          resources: arns,
          conditions: { StringEquals: { [`${service}:PassedToService`]: 'codebuild.amazonaws.com' } },
        }),
      );
    }
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['codebuild:StartBuild', 'codebuild:StopBuild', 'codebuild:BatchGetBuilds', 'codebuild:ListBuildsForProject'],
      resourceArns: this.projectList.map((p) => p.projectArn),
    });
  }

  /** BatchGetBuilds on these projects (a finished build's exported variables). */
  grantReadBuilds(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['codebuild:BatchGetBuilds'], resourceArns: this.projectList.map((p) => p.projectArn) });
  }

  /** Read build logs (the API's GET /runs/{id}/jobs/{job}/logs). */
  grantReadLogs(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['logs:GetLogEvents', 'logs:FilterLogEvents'],
      resourceArns: [this.logGroup.logGroupArn],
    });
  }

  /**
   * Routes "CodeBuild Build State Change" events of these projects to `handler`. Events EventBridge
   * cannot deliver, and events the function still fails on after its async retries, go to `dlq`.
   */
  routeStateChanges(handler: lambda.Function, dlq: sqs.IQueue): events.Rule {
    return new events.Rule(this, 'BuildStateChanged', {
      description: 'Slipway: CodeBuild state changes of Slipway builds -> build-events',
      eventPattern: {
        source: ['aws.codebuild'],
        detailType: ['CodeBuild Build State Change'],
        detail: { 'project-name': this.projectList.map((p) => p.projectName) },
      },
      targets: [new targets.LambdaFunction(handler, { deadLetterQueue: dlq, retryAttempts: 8, maxEventAge: Duration.hours(6) })],
    });
  }
}
