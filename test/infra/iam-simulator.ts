/**
 * Evaluates the identity policies a synthesized template gives a role with an offline
 * IAM policy simulator (@cloud-copilot/iam-simulate), so tests ask "may this role do X
 * to Y?" the way IAM would answer, not whether a string appears in a policy.
 *
 * Intrinsic functions are resolved to concrete values first: pseudo parameters to a
 * fixed account and region, `Ref`/`Fn::GetAtt` of the template's own resources to
 * names and ARNs derived from their logical ids (as CloudFormation would name them).
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';

type Resources = Record<string, { Type: string; Properties?: any }>;

/** A concrete name for a resource of the template, and its ARN for the types tests need. */
function resolveRef(resources: Resources, id: string): string {
  if (id === 'AWS::Partition') return 'aws';
  if (id === 'AWS::AccountId') return ACCOUNT;
  if (id === 'AWS::Region') return REGION;
  if (id === 'AWS::URLSuffix') return 'amazonaws.com';
  const r = resources[id];
  if (!r) throw new Error(`unresolvable Ref ${id}`);
  switch (r.Type) {
    case 'AWS::SQS::Queue': return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${id.toLowerCase()}`;
    case 'AWS::SNS::Topic': return `arn:aws:sns:${REGION}:${ACCOUNT}:${id.toLowerCase()}`;
    default: return id.toLowerCase();
  }
}

function resolveAtt(resources: Resources, id: string, attr: string): string {
  const r = resources[id];
  if (!r) throw new Error(`unresolvable Fn::GetAtt ${id}.${attr}`);
  const name = id.toLowerCase();
  if (attr === 'Arn') {
    switch (r.Type) {
      case 'AWS::S3::Bucket': return `arn:aws:s3:::${name}`;
      case 'AWS::IAM::Role': return `arn:aws:iam::${ACCOUNT}:role/${name}`;
      case 'AWS::DynamoDB::Table': return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
      case 'AWS::SQS::Queue': return `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`;
      case 'AWS::Logs::LogGroup': return `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${name}:*`;
      case 'AWS::CodeBuild::Project': return `arn:aws:codebuild:${REGION}:${ACCOUNT}:project/${name}`;
      case 'AWS::Lambda::Function': return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
      case 'AWS::ECR::Repository': return `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${name}`;
      default: return `arn:aws:${r.Type.split('::')[1].toLowerCase()}:${REGION}:${ACCOUNT}:${name}`;
    }
  }
  return name;
}

export function resolve(resources: Resources, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(resources, v));
  if (value && typeof value === 'object') {
    const v = value as Record<string, any>;
    if ('Ref' in v) return resolveRef(resources, v.Ref);
    if ('Fn::GetAtt' in v) {
      const [id, attr] = typeof v['Fn::GetAtt'] === 'string' ? v['Fn::GetAtt'].split('.') : v['Fn::GetAtt'];
      return resolveAtt(resources, id, attr);
    }
    if ('Fn::Join' in v) return (resolve(resources, v['Fn::Join'][1]) as unknown[]).join(v['Fn::Join'][0]);
    if ('Fn::Sub' in v) {
      const text = typeof v['Fn::Sub'] === 'string' ? v['Fn::Sub'] : v['Fn::Sub'][0];
      return text.replace(/\$\{([^}]+)\}/g, (_: string, ref: string) => (ref.includes('.') ? resolveAtt(resources, ...(ref.split('.') as [string, string])) : resolveRef(resources, ref)));
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(resources, x)]));
  }
  return value;
}

/** Every identity policy document attached to the role with this logical id, resolved. */
export function rolePolicies(template: { Resources: Resources }, roleId: string): Array<{ name: string; policy: unknown }> {
  const out: Array<{ name: string; policy: unknown }> = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    if ((r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') && (r.Properties.Roles ?? []).some((x: any) => x?.Ref === roleId)) {
      out.push({ name: id, policy: resolve(template.Resources, r.Properties.PolicyDocument) });
    }
    if (id === roleId && r.Type === 'AWS::IAM::Role') {
      for (const p of r.Properties.Policies ?? []) out.push({ name: `${id}/${p.PolicyName}`, policy: resolve(template.Resources, p.PolicyDocument) });
    }
  }
  if (out.length === 0) throw new Error(`no identity policy is attached to ${roleId}`);
  return out;
}

/** IAM's answer for one request by the role: 'Allowed', 'ImplicitlyDenied' or 'ExplicitlyDenied'. */
export async function simulate(
  template: { Resources: Resources },
  roleId: string,
  action: string,
  resource: string,
  context: Record<string, string | string[]> = {},
): Promise<string> {
  const result = await runSimulation(
    {
      identityPolicies: rolePolicies(template, roleId) as any,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: { principal: `arn:aws:iam::${ACCOUNT}:role/${roleId.toLowerCase()}`, action, resource: { resource, accountId: ACCOUNT }, contextVariables: context },
    },
    {},
  );
  if (result.resultType !== 'single') throw new Error(`simulation of ${action} on ${resource} failed: ${JSON.stringify(result).slice(0, 500)}`);
  return result.result.analysis.result;
}
