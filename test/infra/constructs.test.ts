/** Props of the constructs a team configures, without bundling any handler. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Artifacts } from '../../infra/constructs/artifacts.ts';
import { Builds } from '../../infra/constructs/builds.ts';
import { cdkJsonContext } from './support.ts';

const newStack = () => new Stack(new App({ context: cdkJsonContext() }), 'Test');

describe('Artifacts', () => {
  it('expires run artifacts after the configured number of days', () => {
    const stack = newStack();
    new Artifacts(stack, 'Artifacts', { artifactRetentionDays: 7 });
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([{ Id: 'expire-run-artifacts', Prefix: 'runs/', ExpirationInDays: 7, Status: 'Enabled' }]) },
    });
  });

  it('refuses a retention that is not a whole number of days', () => {
    assert.throws(() => new Artifacts(newStack(), 'Artifacts', { artifactRetentionDays: 0 }), /artifactRetentionDays/);
    assert.throws(() => new Artifacts(newStack(), 'Artifacts', { artifactRetentionDays: 1.5 }), /artifactRetentionDays/);
  });
});

describe('Builds', () => {
  it('creates projects only for the chosen compute classes and lets them push under the chosen ECR prefix', () => {
    const stack = newStack();
    const builds = new Builds(stack, 'Builds', { artifacts: new Artifacts(stack, 'Artifacts'), computeClasses: ['small', 'large'], ecrRepositoryPrefix: 'team-a/apps' });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CodeBuild::Project', 3); // small, large and the Lambda-compute project
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: Match.arrayWith(['ecr:PutImage']),
            Resource: { 'Fn::Join': ['', Match.arrayWith([':repository/team-a/apps/*'])] },
          }),
        ]),
      },
    });
    assert.deepEqual(Object.keys(builds.projects).sort(), ['lambda', 'large', 'small']);
    const names = JSON.stringify(stack.resolve(builds.projectNamesJson()));
    assert.match(names, /\\"small\\":/);
    assert.match(names, /\\"large\\":/);
    assert.doesNotMatch(names, /medium/);
  });

  it('refuses an unknown compute class and an invalid repository prefix, naming them', () => {
    const stack = newStack();
    const artifacts = new Artifacts(stack, 'Artifacts');
    assert.throws(() => new Builds(stack, 'B1', { artifacts, computeClasses: ['huge' as never] }), /unknown compute class 'huge'/);
    assert.throws(() => new Builds(stack, 'B2', { artifacts, ecrRepositoryPrefix: 'Team A' }), /ecrRepositoryPrefix 'Team A'/);
    assert.throws(() => new Builds(stack, 'B3', { artifacts, computeClasses: [] }), /at least one compute class/);
  });
});
