/** The idle-cost figure: what counts as always-on, what as storage. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { idleReport } from '../../scripts/idle-resources.ts';

describe('idle resources', () => {
  it('counts NAT gateways, load balancers, running services and customer keys as always-on, an idle service not', () => {
    const report = idleReport({
      Resources: {
        Nat: { Type: 'AWS::EC2::NatGateway' },
        Alb: { Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer' },
        Blue: { Type: 'AWS::ECS::Service', Properties: { LaunchType: 'FARGATE', DesiredCount: 2 } },
        Green: { Type: 'AWS::ECS::Service', Properties: { LaunchType: 'FARGATE', DesiredCount: 0 } },
        Warm: { Type: 'AWS::Lambda::Alias', Properties: { ProvisionedConcurrencyConfig: { ProvisionedConcurrentExecutions: 1 } } },
        Key: { Type: 'AWS::KMS::Key' },
        Fn: { Type: 'AWS::Lambda::Function' },
      },
    });
    assert.deepEqual(report.hourly.map((i) => i.id), ['Nat', 'Alb', 'Blue', 'Warm']);
    assert.deepEqual(report.monthly.map((i) => i.id), ['Key']);
  });

  it('puts on-demand tables and buckets under storage, provisioned tables under hourly', () => {
    const report = idleReport({
      Resources: {
        OnDemand: { Type: 'AWS::DynamoDB::Table', Properties: { BillingMode: 'PAY_PER_REQUEST' } },
        Provisioned: { Type: 'AWS::DynamoDB::Table', Properties: { ProvisionedThroughput: { ReadCapacityUnits: 5 } } },
        Bucket: { Type: 'AWS::S3::Bucket' },
      },
    });
    assert.deepEqual(report.storage.map((i) => i.id), ['OnDemand', 'Bucket']);
    assert.deepEqual(report.hourly.map((i) => i.id), ['Provisioned']);
  });
});
