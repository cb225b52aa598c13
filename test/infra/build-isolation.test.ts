/**
 * Builds are isolated from each other by IAM, outside the build: each lane's service role
 * (release, same-repository pull request, fork) reads and writes only its own artifact
 * namespace, only image jobs may push to ECR, and a fork's build can touch nothing else.
 * Checked by evaluating the synthesized policies with an IAM policy simulator.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Artifacts } from '../../infra/constructs/artifacts.ts';
import { Builds } from '../../infra/constructs/builds.ts';
import { ACCOUNT, REGION, resolve, simulate } from './iam-simulator.ts';
import { nagFindings, newApp } from './support.ts';

const app = newApp();
// Environment-agnostic, as the Slipway stack is: the simulator resolves the pseudo parameters.
const stack = new Stack(app, 'Isolation');
const artifacts = new Artifacts(stack, 'Artifacts');
const builds = new Builds(stack, 'Builds', { artifacts });
const template = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string; Properties?: any }> };
const logicalId = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);
const roles = { release: logicalId(builds.role), pullRequest: logicalId(builds.pullRequestRole), fork: logicalId(builds.forkRole), image: logicalId(builds.imageRole) };
const bucket = `arn:aws:s3:::${stack.getLogicalId(artifacts.bucket.node.defaultChild as never).toLowerCase()}`;
const object = (key: string) => `${bucket}/${key}`;

describe("a fork's build role", () => {
  it("is denied writing another run's artifacts, in every other namespace", async () => {
    for (const key of ['runs/01MAIN/build/app.jar', 'pr-runs/01PR/build/app.jar']) {
      assert.equal(await simulate(template, roles.fork, 's3:PutObject', object(key)), 'ImplicitlyDenied', key);
      assert.equal(await simulate(template, roles.fork, 's3:GetObject', object(key)), 'ImplicitlyDenied', key);
    }
    assert.equal(await simulate(template, roles.fork, 's3:PutObject', object('fork-runs/01FORK/test/report.xml')), 'Allowed', 'its own namespace');
  });

  it('is denied pushing images, reading secrets and publishing to SNS', async () => {
    const denied: Array<[string, string]> = [
      ['ecr:PutImage', `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/slipway/web`],
      ['ecr:InitiateLayerUpload', `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/slipway/web`],
      ['ecr:GetAuthorizationToken', '*'],
      ['secretsmanager:GetSecretValue', `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:slipway/web/token-AbCdEf`],
      ['sns:Publish', `arn:aws:sns:${REGION}:${ACCOUNT}:releases`],
      ['sqs:SendMessage', `arn:aws:sqs:${REGION}:${ACCOUNT}:slipway-engine-events.fifo`],
      ['dynamodb:PutItem', `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/slipway`],
      ['iam:PassRole', `arn:aws:iam::${ACCOUNT}:role/anything`],
    ];
    for (const [action, resource] of denied) assert.equal(await simulate(template, roles.fork, action, resource), 'ImplicitlyDenied', action);
  });
});

describe('release and pull-request build roles', () => {
  it("a pull request's build cannot overwrite a release run's outputs, and a release build cannot touch a pull request's", async () => {
    assert.equal(await simulate(template, roles.pullRequest, 's3:PutObject', object('runs/01MAIN/build/app.jar')), 'ImplicitlyDenied');
    assert.equal(await simulate(template, roles.pullRequest, 's3:PutObject', object('pr-runs/01PR/build/app.jar')), 'Allowed');
    assert.equal(await simulate(template, roles.release, 's3:PutObject', object('pr-runs/01PR/build/app.jar')), 'ImplicitlyDenied');
    assert.equal(await simulate(template, roles.release, 's3:PutObject', object('runs/01MAIN/build/app.jar')), 'Allowed');
  });

  it('only the image role may push to ECR, and only under the pipelines prefix', async () => {
    const repo = (name: string) => `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${name}`;
    assert.equal(await simulate(template, roles.release, 'ecr:PutImage', repo('slipway/web')), 'ImplicitlyDenied', 'a test job cannot push or retag images');
    assert.equal(await simulate(template, roles.pullRequest, 'ecr:PutImage', repo('slipway/web')), 'ImplicitlyDenied');
    assert.equal(await simulate(template, roles.image, 'ecr:PutImage', repo('slipway/web')), 'Allowed');
    assert.equal(await simulate(template, roles.image, 'ecr:PutImage', repo('other-team/api')), 'ImplicitlyDenied');
  });
});

describe('dependency caches (cache/)', () => {
  const entry = object('cache/web/test/main/0123456789abcdef.tar.gz');

  it("a fork's build may restore the shared caches but never write one", async () => {
    assert.equal(await simulate(template, roles.fork, 's3:GetObject', entry), 'Allowed');
    assert.equal(await simulate(template, roles.fork, 's3:PutObject', entry), 'ImplicitlyDenied');
    assert.equal(await simulate(template, roles.fork, 's3:PutObject', object('cache/web/test/main/latest.tar.gz')), 'ImplicitlyDenied');
  });

  it('release and same-repository pull-request builds read and save them; image jobs have no use for them', async () => {
    for (const role of [roles.release, roles.pullRequest]) {
      assert.equal(await simulate(template, role, 's3:GetObject', entry), 'Allowed', role);
      assert.equal(await simulate(template, role, 's3:PutObject', entry), 'Allowed', role);
    }
    assert.equal(await simulate(template, roles.image, 's3:PutObject', entry), 'ImplicitlyDenied');
  });

  it('reading caches opens nothing else of the bucket to a fork', async () => {
    assert.equal(await simulate(template, roles.fork, 's3:GetObject', object('runs/01MAIN/build/app.jar')), 'ImplicitlyDenied');
  });
});

describe('the build roles', () => {
  it('are assumable by CodeBuild of this account only', () => {
    for (const id of Object.values(roles)) {
      const trust = resolve(template.Resources, template.Resources[id].Properties.AssumeRolePolicyDocument.Statement[0]) as { Principal: unknown; Condition: unknown };
      assert.deepEqual(trust.Principal, { Service: 'codebuild.amazonaws.com' }, id);
      assert.deepEqual(trust.Condition, { StringEquals: { 'aws:SourceAccount': ACCOUNT } }, id);
    }
  });

  it('raise no unsuppressed cdk-nag finding', () => {
    const { errors } = nagFindings(stack);
    assert.deepEqual(errors.filter((e) => /Builds/.test(e.path)), []);
  });
});
