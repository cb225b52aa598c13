/**
 * Builds the apps under test the way `cdk synth` does: the context of cdk.json (feature flags
 * and defaults) and the cdk-nag AwsSolutions checks as an Aspect. Synthesizing bundles every
 * handler with esbuild, so each test file builds its app once at module level.
 */
import { readFileSync } from 'node:fs';
import { App, Aspects, type Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';

export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };
  return cdkJson.context;
}

export function newApp(extraContext: Record<string, unknown> = {}): App {
  const app = new App({ context: { ...cdkJsonContext(), ...extraContext } });
  Aspects.of(app).add(new AwsSolutionsChecks());
  return app;
}

export interface Finding {
  path: string;
  message: string;
}

const NAG = Match.stringLikeRegexp('AwsSolutions-.*');

/** Unsuppressed cdk-nag findings, by level. */
export function nagFindings(stack: Stack): { errors: Finding[]; warnings: Finding[] } {
  const a = Annotations.fromStack(stack);
  const map = (xs: ReadonlyArray<{ id: string; entry: { data?: unknown } }>) => xs.map((x) => ({ path: x.id, message: String(x.entry.data).replace(/: The .*$/s, '') }));
  return { errors: map(a.findError('*', NAG)), warnings: map(a.findWarning('*', NAG)) };
}

export interface Statement {
  policy: string;
  Effect: string;
  Action: string[];
  Resource: unknown[];
  Condition?: Record<string, unknown>;
}

/** Every statement of every identity policy in the template (AWS::IAM::Policy and inline role policies). */
export function iamStatements(template: { Resources: Record<string, { Type: string; Properties?: any }> }): Statement[] {
  const out: Statement[] = [];
  const add = (policy: string, doc: { Statement: any[] }) => {
    for (const st of doc.Statement) {
      out.push({
        policy,
        Effect: st.Effect,
        Action: ([] as string[]).concat(st.Action ?? []),
        Resource: ([] as unknown[]).concat(st.Resource ?? []),
        Condition: st.Condition,
      });
    }
  };
  for (const [id, r] of Object.entries(template.Resources)) {
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') add(id, r.Properties.PolicyDocument);
    if (r.Type === 'AWS::IAM::Role') for (const p of r.Properties.Policies ?? []) add(`${id}/${p.PolicyName}`, p.PolicyDocument);
  }
  return out;
}

/** Resolves a Fn::Join of literals and references into a readable string (`<Ref>` for references). */
export function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, any>;
    if ('Fn::Join' in v) return (v['Fn::Join'][1] as unknown[]).map(flatten).join(v['Fn::Join'][0]);
    if ('Ref' in v) return `<${v.Ref}>`;
    if ('Fn::GetAtt' in v) return `<${([] as string[]).concat(v['Fn::GetAtt']).join('.')}>`;
  }
  return JSON.stringify(value);
}
