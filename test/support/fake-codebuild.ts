/**
 * CodeBuild as far as Slipway uses it, behind aws-sdk-client-mock, on a clock
 * the test controls. What matters here is what the real service does with
 * StartBuild's `idempotencyToken`: a repeat with the same token returns the
 * build the first call started for *5 minutes*, and afterwards starts another
 * (a repeat with other parameters inside the window is refused). See
 * https://docs.aws.amazon.com/codebuild/latest/APIReference/API_StartBuild.html
 * ("The token is included in the StartBuild request and is valid for 5 minutes").
 *
 * ListBuildsForProject lists ids newest first (by build number, 100 a page, with
 * a nextToken); BatchGetBuilds answers with the build's start time, status and
 * environment (overrides included), and `buildsNotFound` for ids it does not know.
 */
import { randomUUID } from 'node:crypto';
import {
  BatchGetBuildsCommand,
  CodeBuildClient,
  InvalidInputException,
  ListBuildsForProjectCommand,
  StartBuildCommand,
  StopBuildCommand,
  type StartBuildCommandInput,
} from '@aws-sdk/client-codebuild';
import { mockClient } from 'aws-sdk-client-mock';

/** How long CodeBuild honours an idempotency token. */
export const TOKEN_WINDOW_MS = 5 * 60_000;

export interface FakeBuild {
  id: string;
  arn: string;
  number: number;
  token: string | undefined;
  input: StartBuildCommandInput;
  env: Record<string, string>;
  startedAt: number;
  status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'STOPPED';
  exported: Record<string, string>;
}

export class FakeCodeBuild {
  readonly client = new CodeBuildClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  readonly builds: FakeBuild[] = [];
  readonly stopped: string[] = [];
  startCalls = 0;
  listCalls = 0;
  /** Errors the next StartBuild calls throw before any build exists (throttling, say), first first. */
  readonly refuseNext: Error[] = [];
  /** Refuses a StartBuild by its environment (SLIPWAY_JOB...) before any build exists. */
  refuse: (env: Record<string, string>) => Error | undefined = () => undefined;
  /** How many of the next StartBuild calls start their build but lose the answer (the caller sees a network error). */
  loseNextAnswers = 0;
  private number = 0;

  constructor(readonly now: () => number = Date.now) {
    const mock = mockClient(this.client);
    mock.on(StartBuildCommand).callsFake((input: StartBuildCommandInput) => this.start(input));
    mock.on(StopBuildCommand).callsFake(({ id }: { id: string }) => {
      this.stopped.push(id);
      const build = this.find(id);
      if (build && build.status === 'IN_PROGRESS') build.status = 'STOPPED';
      return { build: build ? { id: build.id } : undefined };
    });
    mock.on(ListBuildsForProjectCommand).callsFake(({ projectName, nextToken }: { projectName: string; nextToken?: string }) => {
      this.listCalls++;
      const ids = this.builds.filter((b) => b.input.projectName === projectName).sort((a, b) => b.number - a.number).map((b) => b.id);
      const from = nextToken ? Number(nextToken) : 0;
      const page = ids.slice(from, from + 100);
      return { ids: page, ...(from + 100 < ids.length ? { nextToken: String(from + 100) } : {}) };
    });
    mock.on(BatchGetBuildsCommand).callsFake(({ ids }: { ids: string[] }) => ({
      builds: ids.map((id) => this.find(id)).filter((b): b is FakeBuild => b !== undefined).map((b) => ({
        id: b.id,
        arn: b.arn,
        buildNumber: b.number,
        projectName: b.input.projectName,
        startTime: new Date(b.startedAt),
        buildStatus: b.status,
        environment: { environmentVariables: Object.entries(b.env).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })) },
        exportedEnvironmentVariables: Object.entries(b.exported).map(([name, value]) => ({ name, value })),
      })),
      buildsNotFound: ids.filter((id) => this.find(id) === undefined),
    }));
  }

  /** Builds started for one job attempt (by its environment, as CodeBuild would show them). */
  buildsOf(runId: string, job: string, attempt: number): FakeBuild[] {
    return this.builds.filter((b) => b.env.SLIPWAY_RUN_ID === runId && b.env.SLIPWAY_JOB === job && b.env.SLIPWAY_ATTEMPT === String(attempt));
  }

  private find(id: string): FakeBuild | undefined {
    return this.builds.find((b) => b.id === id || b.arn === id);
  }

  private start(input: StartBuildCommandInput) {
    this.startCalls++;
    const env = Object.fromEntries((input.environmentVariablesOverride ?? []).map((v) => [v.name!, v.value!]));
    const refusal = this.refuse(env) ?? this.refuseNext.shift();
    if (refusal) throw refusal;
    const now = this.now();
    const known = input.idempotencyToken === undefined
      ? undefined
      : [...this.builds].reverse().find((b) => b.token === input.idempotencyToken && now - b.startedAt < TOKEN_WINDOW_MS);
    if (known) {
      if (JSON.stringify(known.input) !== JSON.stringify(input)) {
        throw new InvalidInputException({ message: 'idempotency token reused with different parameters', $metadata: { httpStatusCode: 400 } });
      }
      return { build: { id: known.id, arn: known.arn } };
    }
    const id = `${input.projectName}:${randomUUID()}`;
    const build: FakeBuild = {
      id, arn: `arn:aws:codebuild:us-east-1:123456789012:build/${id}`, number: ++this.number, token: input.idempotencyToken, input, env, startedAt: now, status: 'IN_PROGRESS', exported: {},
    };
    this.builds.push(build);
    if (this.loseNextAnswers > 0) {
      this.loseNextAnswers--;
      throw Object.assign(new Error('read ECONNRESET'), { name: 'Error' });
    }
    return { build: { id: build.id, arn: build.arn } };
  }
}
