/**
 * Where a build runs: CodeBuild's Lambda compute, an EC2 compute class, or a
 * reserved-capacity fleet. A job says `compute: auto` (the default), `lambda`,
 * `small | medium | large`, or `fleet: NAME`; {@link chooseCompute} turns that
 * into the compute the job is started on, once, when the definition is read.
 * Pure: no I/O.
 *
 * Lambda compute starts without provisioning a machine and bills per second, but
 * it cannot run everything. CodeBuild User Guide, "Limitations of AWS Lambda
 * compute" (https://docs.aws.amazon.com/codebuild/latest/userguide/lambda.html#lambda.limitations):
 * - no tools that need root (yum, rpm, ...);
 * - no Docker builds or runs;
 * - no writing outside /tmp (its package managers use /tmp);
 * - no caching, custom build timeouts, queue timeout, build badges, privileged mode,
 *   custom runtime environments (buildspec runtime-versions), or runtimes longer than 15 minutes;
 * - no VPC, fixed source IPs, EFS, certificates or Session Manager.
 * Its curated images carry AWS CLI v2, SAM CLI, git, Go, Java, Node.js, Python, pip,
 * Ruby and .NET (same page, "Which tools and runtimes ..."): so PHP and C++ (CMake,
 * compilers) never go there on `auto`.
 */
import type { BuildCompute, JobKind, TemplateName } from './pipeline.ts';

export const COMPUTE_CHOICES = ['auto', 'lambda', 'small', 'medium', 'large'] as const;
export type ComputeChoice = (typeof COMPUTE_CHOICES)[number];

/** Lambda compute ends a build after 15 minutes, whatever the job asks. */
export const LAMBDA_MAX_MINUTES = 15;

/**
 * The curated Lambda image per template (x86_64, like the EC2 projects: see infra/constructs/builds.ts).
 * Image names: the CodeBuild User Guide's "Docker images provided by CodeBuild" (Lambda compute) and
 * aws-cdk-lib's LinuxLambdaBuildImage. The User Guide's list of Lambda tools does not name Maven,
 * but the corretto21 image's definition installs Maven 3.9.4 and Gradle 8.2.1 (and every image
 * installs tar and gzip; coreutils' sha256sum comes with the base image), which the dependency
 * cache's restore and save need: aws/aws-codebuild-docker-images, al-lambda/x86_64/<runtime>/Dockerfile
 * at 1590e48 (2026-04-09).
 */
export const LAMBDA_IMAGES: Readonly<Partial<Record<TemplateName, string>>> = {
  node: 'aws/codebuild/amazonlinux-x86_64-lambda-standard:nodejs22',
  python: 'aws/codebuild/amazonlinux-x86_64-lambda-standard:python3.12',
  go: 'aws/codebuild/amazonlinux-x86_64-lambda-standard:go1.24',
  'java-gradle': 'aws/codebuild/amazonlinux-x86_64-lambda-standard:corretto21',
  java: 'aws/codebuild/amazonlinux-x86_64-lambda-standard:corretto21',
};
/** Templates `auto` sends to Lambda: every template with a Lambda image. */
const AUTO_LAMBDA_TEMPLATES: ReadonlySet<TemplateName> = new Set(['node', 'python', 'go', 'java-gradle', 'java']);

/** Commands Lambda compute cannot run: Docker (no daemon, no privileged mode) and root-only package managers. */
const NOT_ON_LAMBDA: ReadonlyArray<[RegExp, string]> = [
  [/(^|[\s;&|(`])(docker|podman|buildah)(?=$|[\s;&|)`])/m, 'runs Docker (Lambda compute runs no Docker builds or containers)'],
  [/(^|[\s;&|(`])(sudo|yum|dnf|rpm|apt-get|apt|apk)(?=$|[\s;&|)`])/m, 'needs root (yum, apt, sudo: Lambda compute has no root)'],
];

/** What chooseCompute reads of a job. */
export interface ComputeSubject {
  kind: JobKind;
  template?: TemplateName;
  /** The image the job asked for itself (`image:`), if any; a template's own image does not count. */
  customImage?: string;
  install: readonly string[];
  commands: readonly string[];
  /** The job's own `timeout`, in minutes, if it set one. */
  timeoutMinutes?: number;
}

/**
 * Why a job cannot run on Lambda compute; empty when it can. `forced` is a job that said
 * `compute: lambda`: it may bring its own image (a custom image for Lambda compute is allowed,
 * CodeBuild User Guide, "What if the curated image doesn't include the tools I need?").
 */
export function lambdaBlockers(job: ComputeSubject, forced = false): string[] {
  const out: string[] = [];
  if (job.kind !== 'build') out.push(`${job.kind} jobs run docker build, which needs privileged mode (EC2 compute only)`);
  if (job.customImage === undefined) {
    if (!job.template) out.push('a job without a template names no Lambda image (give it a template, or an image built for Lambda compute)');
    else if (!LAMBDA_IMAGES[job.template]) out.push(`Lambda compute's images have no ${job.template} toolchain (they carry Node.js, Python, Java, Go, Ruby and .NET)`);
    else if (!forced && !AUTO_LAMBDA_TEMPLATES.has(job.template)) out.push(`the ${job.template} template is not sent to Lambda compute unless asked`);
  } else if (!forced) {
    out.push('a custom image may not be built for Lambda compute (single-architecture, Lambda-compatible)');
  }
  if (job.timeoutMinutes !== undefined && job.timeoutMinutes > LAMBDA_MAX_MINUTES) out.push(`its timeout (${job.timeoutMinutes} minutes) is over Lambda compute's ${LAMBDA_MAX_MINUTES}`);
  const steps = [...job.install, ...job.commands];
  for (const [pattern, why] of NOT_ON_LAMBDA) {
    const step = steps.find((s) => pattern.test(s));
    if (step !== undefined) out.push(`\`${step.length > 60 ? `${step.slice(0, 57)}...` : step}\` ${why}`);
  }
  return out;
}

export type ComputeDecision =
  | { ok: true; compute: BuildCompute; fleet?: string; why: string; auto?: true }
  | { ok: false; message: string };

/**
 * The compute a job runs on. `auto`: Lambda when nothing stands in the way, else `small`;
 * image jobs are always EC2. A fleet is the job's own choice and runs on EC2 reserved capacity.
 */
export function chooseCompute(choice: ComputeChoice | undefined, fleet: string | undefined, job: ComputeSubject): ComputeDecision {
  const c = choice ?? 'auto';
  if (fleet !== undefined) {
    if (c === 'lambda') return { ok: false, message: `a fleet is EC2 reserved capacity; remove compute: lambda, or the fleet` };
    return { ok: true, compute: c === 'auto' ? 'small' : c, fleet, why: `reserved-capacity fleet ${fleet}` };
  }
  if (c === 'lambda') {
    const blockers = lambdaBlockers(job, true);
    if (blockers.length > 0) return { ok: false, message: `cannot run on Lambda compute: ${blockers.join('; ')} (CodeBuild User Guide, "Limitations of AWS Lambda compute"); use compute: auto, small, medium or large` };
    return { ok: true, compute: 'lambda', why: 'asked for' };
  }
  if (c !== 'auto') return { ok: true, compute: c, why: 'asked for' };
  const blockers = lambdaBlockers(job);
  return blockers.length === 0 ? { ok: true, compute: 'lambda', why: 'auto: Lambda compute can run it', auto: true } : { ok: true, compute: 'small', why: `auto: ${blockers[0]}`, auto: true };
}

/** The compute a job records (short: every job of a run carries it): `lambda`, `small`, `medium`, `large` or `fleet`. */
export function computeLabel(spec: { compute: BuildCompute; fleet?: string }): string {
  return spec.fleet !== undefined ? 'fleet' : spec.compute;
}

/** How a job's compute is shown: the recorded one, a fleet with its name (`fleet reserved-x86`). */
export function describeCompute(recorded: string | undefined, spec?: { fleet?: string }): string | undefined {
  if (recorded === undefined) return undefined;
  return recorded === 'fleet' && spec?.fleet ? `fleet ${spec.fleet}` : recorded;
}

/** A fleet name as CodeBuild allows it (2-128 characters; kept to 64 here, it is stored on every job). */
export const FLEET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$/;
