/**
 * Build compute and caches in the stack: the Lambda-compute project (nothing CodeBuild refuses on
 * Lambda compute), reserved-capacity fleets from a prop, and the dependency caches' lifecycle rule.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import { Artifacts } from '../../infra/constructs/artifacts.ts';
import { Builds } from '../../infra/constructs/builds.ts';
import { nagFindings, newApp } from './support.ts';

function stackWith(props: Partial<ConstructorParameters<typeof Builds>[2]> = {}) {
  const app = newApp();
  const stack = new Stack(app, 'Compute');
  const artifacts = new Artifacts(stack, 'Artifacts', { cacheRetentionDays: 7 });
  const builds = new Builds(stack, 'Builds', { artifacts, ...props });
  return { stack, builds, template: Template.fromStack(stack) };
}

describe('the Lambda-compute project', () => {
  it('runs LINUX_LAMBDA_CONTAINER with a Lambda compute type, and sets no cache, timeout or privileged mode', () => {
    const { template } = stackWith();
    const projects = template.findResources('AWS::CodeBuild::Project', { Properties: { Environment: { Type: 'LINUX_LAMBDA_CONTAINER' } } });
    const list = Object.values(projects) as Array<{ Properties: Record<string, any> }>;
    assert.equal(list.length, 1);
    const p = list[0].Properties;
    assert.match(p.Environment.ComputeType, /^BUILD_LAMBDA_/);
    assert.match(p.Environment.Image, /lambda-standard/);
    assert.notEqual(p.Environment.PrivilegedMode, true);
    assert.equal(p.TimeoutInMinutes, undefined);
    assert.equal(p.QueuedTimeoutInMinutes, undefined);
    assert.ok(p.Cache === undefined || p.Cache.Type === 'NO_CACHE', JSON.stringify(p.Cache));
  });

  it('is named in SLIPWAY_BUILD_PROJECTS beside the EC2 classes, and can be left out', () => {
    const { stack, builds } = stackWith();
    assert.deepEqual(Object.keys(builds.projects).sort(), ['lambda', 'large', 'medium', 'small']);
    const without = stackWith({ lambdaCompute: false });
    assert.equal(without.builds.projects.lambda, undefined);
    without.template.resourcePropertiesCountIs('AWS::CodeBuild::Project', { Environment: { Type: 'LINUX_LAMBDA_CONTAINER' } }, 0);
  });
});

describe('reserved-capacity fleets', () => {
  it('the stack creates each fleet of the prop, by name, and none without it', () => {
    stackWith().template.resourceCountIs('AWS::CodeBuild::Fleet', 0);
    const { template, builds } = stackWith({ fleets: [{ name: 'reserved-x86', computeType: codebuild.FleetComputeType.MEDIUM, baseCapacity: 2 }] });
    template.resourceCountIs('AWS::CodeBuild::Fleet', 1);
    template.hasResourceProperties('AWS::CodeBuild::Fleet', { Name: 'reserved-x86', BaseCapacity: 2, ComputeType: 'BUILD_GENERAL1_MEDIUM', EnvironmentType: 'LINUX_CONTAINER' });
    assert.deepEqual(Object.keys(builds.fleets), ['reserved-x86']);
  });

  it('refuses a fleet name jobs could not give, naming it', () => {
    assert.throws(() => stackWith({ fleets: [{ name: 'bad name' }] }), /fleet name 'bad name'/);
  });
});

describe('dependency caches in the artifact bucket', () => {
  it('expire under cache/ by their own lifecycle rule', () => {
    const { template } = stackWith();
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-dependency-caches', Prefix: 'cache/', ExpirationInDays: 7, Status: 'Enabled' })]) },
    });
  });

  it('raise no unsuppressed cdk-nag finding', () => {
    const { stack } = stackWith({ fleets: [{ name: 'reserved-x86' }] });
    const { errors } = nagFindings(stack);
    assert.deepEqual(errors, []);
  });
});
