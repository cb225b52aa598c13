/**
 * What a synthesized stack costs while nobody uses it, read from cdk.out:
 *  (a) resources billed whether or not there is traffic — by the hour (NAT gateways, load
 *      balancers, running Fargate services, provisioned concurrency, ...) or by the month
 *      (KMS customer keys, alarms, dashboards, secrets, hosted zones); storage separately;
 *  (b) each Lambda function's bundle as synthesized (index.mjs, its source map, gzip size).
 *
 *   npm run synth && node --import tsx scripts/idle-resources.ts [cdk.out] [StackName]
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

type Resource = { Type: string; Properties?: Record<string, any>; Metadata?: Record<string, any> };
export type Template = { Resources: Record<string, Resource> };

export interface IdleItem {
  id: string;
  type: string;
  why: string;
}

export interface IdleReport {
  /** Billed by the hour regardless of traffic. */
  hourly: IdleItem[];
  /** Billed per month regardless of traffic. */
  monthly: IdleItem[];
  /** Billed for what they store (zero when empty). */
  storage: IdleItem[];
}

const HOURLY: Record<string, string> = {
  'AWS::EC2::NatGateway': 'NAT gateway, ~$0.045/hour',
  'AWS::ElasticLoadBalancingV2::LoadBalancer': 'load balancer, ~$0.0225/hour + LCUs',
  'AWS::ElasticLoadBalancing::LoadBalancer': 'classic load balancer, hourly',
  'AWS::EC2::Instance': 'EC2 instance, hourly',
  'AWS::EC2::EIP': 'public IPv4 address, $0.005/hour',
  'AWS::RDS::DBInstance': 'database instance, hourly',
  'AWS::RDS::DBCluster': 'database cluster, hourly (unless serverless v2 at 0 ACU)',
  'AWS::ElastiCache::CacheCluster': 'cache node, hourly',
  'AWS::ElastiCache::ReplicationGroup': 'cache nodes, hourly',
  'AWS::OpenSearchService::Domain': 'search instances, hourly',
  'AWS::MSK::Cluster': 'brokers, hourly',
  'AWS::CodeBuild::Fleet': 'reserved CodeBuild capacity, hourly',
  'AWS::AutoScaling::AutoScalingGroup': 'instances, hourly (when min > 0)',
  'AWS::EKS::Cluster': 'control plane, $0.10/hour',
  'AWS::EC2::TransitGatewayAttachment': 'attachment, hourly',
  'AWS::EC2::ClientVpnEndpoint': 'endpoint association, hourly',
};

const MONTHLY: Record<string, string> = {
  'AWS::KMS::Key': 'customer managed KMS key, $1/month',
  'AWS::CloudWatch::Alarm': 'standard alarm, $0.10/month (first 10 per account free)',
  'AWS::CloudWatch::CompositeAlarm': 'composite alarm, $0.50/month',
  'AWS::CloudWatch::Dashboard': 'dashboard, $3/month (first 3 per account free)',
  'AWS::SecretsManager::Secret': 'secret, $0.40/month',
  'AWS::Route53::HostedZone': 'hosted zone, $0.50/month',
};

const STORAGE: Record<string, string> = {
  'AWS::S3::Bucket': 'objects stored',
  'AWS::DynamoDB::Table': 'items stored (+ PITR per GB)',
  'AWS::DynamoDB::GlobalTable': 'items stored',
  'AWS::Logs::LogGroup': 'log data stored',
  'AWS::ECR::Repository': 'images stored',
};

export function idleReport(template: Template): IdleReport {
  const report: IdleReport = { hourly: [], monthly: [], storage: [] };
  for (const [id, r] of Object.entries(template.Resources)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::ECS::Service') {
      const count = p.DesiredCount;
      if (count !== 0) report.hourly.push({ id, type: r.Type, why: `${p.LaunchType ?? 'ECS'} service, ${count ?? 1} task(s) running, billed per vCPU/GB-hour` });
      continue;
    }
    if (r.Type === 'AWS::EC2::VPCEndpoint') {
      if (p.VpcEndpointType === 'Interface' || p.VpcEndpointType === 'GatewayLoadBalancer') report.hourly.push({ id, type: r.Type, why: 'interface endpoint, ~$0.01/hour per AZ' });
      continue;
    }
    if ((r.Type === 'AWS::Lambda::Alias' || r.Type === 'AWS::Lambda::Version') && p.ProvisionedConcurrencyConfig) {
      report.hourly.push({ id, type: r.Type, why: 'provisioned concurrency, billed per GB-second while configured' });
      continue;
    }
    if (r.Type === 'AWS::DynamoDB::Table' && p.BillingMode !== 'PAY_PER_REQUEST') {
      report.hourly.push({ id, type: r.Type, why: 'provisioned capacity, hourly' });
      continue;
    }
    if (HOURLY[r.Type]) report.hourly.push({ id, type: r.Type, why: HOURLY[r.Type] });
    else if (MONTHLY[r.Type]) report.monthly.push({ id, type: r.Type, why: MONTHLY[r.Type] });
    else if (STORAGE[r.Type]) report.storage.push({ id, type: r.Type, why: STORAGE[r.Type] });
  }
  return report;
}

export interface BundleSize {
  function: string;
  asset: string;
  codeBytes: number;
  gzipBytes: number;
  sourceMapBytes: number;
}

/** Sizes of the code each function deploys (assets referenced by the template only). */
export function bundleSizes(template: Template, outDir: string): BundleSize[] {
  const out: BundleSize[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const asset = r.Metadata?.['aws:asset:path'];
    if (!asset) continue;
    const dir = path.join(outDir, asset);
    let codeBytes = 0;
    let sourceMapBytes = 0;
    const gz: Buffer[] = [];
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      if (!statSync(file).isFile()) continue;
      if (name.endsWith('.map')) sourceMapBytes += statSync(file).size;
      else {
        const buf = readFileSync(file);
        codeBytes += buf.length;
        gz.push(buf);
      }
    }
    out.push({ function: id, asset, codeBytes, gzipBytes: gzipSync(Buffer.concat(gz)).length, sourceMapBytes });
  }
  return out;
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

function main(): void {
  const outDir = process.argv[2] ?? 'cdk.out';
  const stackName = process.argv[3] ?? 'Slipway';
  const file = path.join(outDir, `${stackName}.template.json`);
  if (!existsSync(file)) {
    console.error(`${file} not found; run \`npm run synth\` first`);
    process.exit(1);
  }
  const template = JSON.parse(readFileSync(file, 'utf8')) as Template;
  const report = idleReport(template);
  const list = (items: IdleItem[]) => (items.length ? items.map((i) => `  - ${i.id} (${i.type}): ${i.why}`).join('\n') : '  (none)');
  console.log(`Stack ${stackName}: ${Object.keys(template.Resources).length} resources`);
  console.log(`\n(a) always-on while idle: ${report.hourly.length + report.monthly.length}`);
  console.log(`  billed by the hour: ${report.hourly.length}`);
  console.log(list(report.hourly));
  console.log(`  billed by the month: ${report.monthly.length}`);
  console.log(list(report.monthly));
  console.log(`  storage (billed for what is stored, nothing when empty): ${report.storage.length}`);
  console.log(list(report.storage));
  console.log('\n(b) function bundles (index.mjs; gzip ~ deployed zip; source map shipped beside it)');
  for (const b of bundleSizes(template, outDir)) {
    console.log(`  - ${b.function}: ${kb(b.codeBytes)} (gzip ${kb(b.gzipBytes)}), map ${kb(b.sourceMapBytes)}`);
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href) main();
