/**
 * The console on AWS: a private bucket behind CloudFront (origin access control, HTTPS only,
 * security headers), a Cognito user pool whose access tokens the API accepts on its
 * `/console-api/` routes, and the IAM routes unchanged: no management route answers an
 * unsigned, unauthenticated request. One synthesis, cdk-nag clean.
 */
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { MANAGEMENT_ROUTES, WEBHOOK_ROUTE } from '../../infra/constructs/api.ts';
import { consoleConfigFromContext, engineConfigFromContext } from '../../infra/config.ts';
import { SlipwayStack } from '../../infra/slipway-stack.ts';
import { nagFindings, newApp } from './support.ts';

const app = newApp();
const stack = new SlipwayStack(app, 'Slipway', {
  engine: engineConfigFromContext((k) => app.node.tryGetContext(k)),
  console: { samlProvider: { name: 'IdentityCenter', metadataUrl: 'https://portal.sso.eu-west-1.amazonaws.com/saml/metadata/abc' } },
});
const template = Template.fromStack(stack);
const json = template.toJSON() as { Resources: Record<string, { Type: string; Properties: any; DependsOn?: unknown }>; Outputs: Record<string, any> };
const ofType = (type: string) => Object.entries(json.Resources).filter(([, r]) => r.Type === type);

describe('console hosting', () => {
  it('serves the files from a private, encrypted, TLS-only bucket that only the distribution reads (origin access control)', () => {
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', { OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' }) });
    const [bucketId, bucket] = ofType('AWS::S3::Bucket').find(([id]) => /ConsoleHostingFiles/.test(id))!;
    assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    assert.ok(bucket.Properties.BucketEncryption);
    const policy = ofType('AWS::S3::BucketPolicy').find(([, p]) => JSON.stringify(p.Properties.Bucket).includes(bucketId))![1];
    const statements = policy.Properties.PolicyDocument.Statement as Array<{ Effect: string; Principal: any; Action: unknown; Condition?: any }>;
    const allows = statements.filter((s) => s.Effect === 'Allow');
    assert.ok(allows.length > 0);
    for (const s of allows) {
      // Only CloudFront for this distribution (and CDK's deployment role, which writes the files).
      if (s.Principal?.Service === 'cloudfront.amazonaws.com') {
        assert.deepEqual(s.Action, 's3:GetObject');
        assert.ok(JSON.stringify(s.Condition).includes('AWS:SourceArn'), 'scoped to this distribution');
      } else assert.ok(JSON.stringify(s.Principal).includes('AWS'), JSON.stringify(s));
    }
    assert.ok(statements.some((s) => s.Effect === 'Deny' && JSON.stringify(s.Condition).includes('aws:SecureTransport')), 'TLS only');
    const [logId] = ofType('AWS::S3::Bucket').find(([id]) => /ConsoleHostingAccessLogs/.test(id))!;
    const logPolicy = ofType('AWS::S3::BucketPolicy').find(([, p]) => JSON.stringify(p.Properties.Bucket).includes(logId))![1];
    assert.ok(logPolicy.Properties.PolicyDocument.Statement.some((s: { Effect: string; Condition?: unknown }) => s.Effect === 'Deny' && JSON.stringify(s.Condition).includes('aws:SecureTransport')), 'the log bucket is TLS only too');
  });

  it('is HTTPS only, sends security headers with a CSP naming only its own origin and the sign-in domain, and forwards /console-api/* uncached', () => {
    const dist = ofType('AWS::CloudFront::Distribution')[0][1].Properties.DistributionConfig;
    assert.equal(dist.DefaultCacheBehavior.ViewerProtocolPolicy, 'redirect-to-https');
    assert.equal(dist.DefaultRootObject, 'index.html');
    const api = dist.CacheBehaviors.find((b: any) => b.PathPattern === '/console-api/*');
    assert.equal(api.ViewerProtocolPolicy, 'https-only');
    assert.equal(api.CachePolicyId, '4135ea2d-6df8-44a3-9df3-4b5a84be39ad', 'CachingDisabled');
    assert.equal(api.OriginRequestPolicyId, 'b689b0a8-53d0-40ab-baf2-68738e2966ac', 'AllViewerExceptHostHeader');
    const apiOrigin = dist.Origins.find((o: any) => o.Id === api.TargetOriginId);
    assert.equal(apiOrigin.CustomOriginConfig.OriginProtocolPolicy, 'https-only');
    assert.ok(dist.Logging, 'access logs');
    const headers = ofType('AWS::CloudFront::ResponseHeadersPolicy')[0][1].Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    const csp = JSON.stringify(headers.ContentSecurityPolicy.ContentSecurityPolicy);
    assert.match(csp, /default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' /);
    assert.match(csp, /amazoncognito\.com/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(headers.FrameOptions.FrameOption, 'DENY');
    assert.equal(headers.ReferrerPolicy.ReferrerPolicy, 'no-referrer');
    assert.equal(headers.ContentTypeOptions.Override, true);
    assert.ok(headers.StrictTransportSecurity.AccessControlMaxAgeSec >= 31536000);
    for (const b of [dist.DefaultCacheBehavior, api]) assert.ok(b.ResponseHeadersPolicyId, 'the headers apply to the page and the API answers');
  });

  it('deploys the built console with a config.json that points at /console-api and the sign-in domain', () => {
    const [, deployment] = ofType('Custom::CDKBucketDeployment')[0];
    assert.deepEqual(deployment.Properties.DistributionPaths, ['/*']);
    assert.equal(deployment.Properties.SourceObjectKeys.length, 2, 'the files and config.json');
    // config.json is an asset; what the deployment fills in at deploy time are the sign-in domain and the client id.
    const markers = JSON.stringify(deployment.Properties.SourceMarkers ?? []);
    assert.match(markers, /ConsoleSignInPeopleLogin/);
    assert.match(markers, /ConsoleSignInPeopleConsole/);
    const config = JSON.parse(readFileSync(path.join(app.outdir, `asset.${deployment.Properties.SourceObjectKeys[1].replace(/\.zip$/, '')}`, 'config.json'), 'utf8'));
    assert.equal(config.apiBase, '/console-api');
    assert.equal(config.auth.kind, 'cognito');
    assert.equal(config.auth.identityProvider, 'IdentityCenter');
    // The deployment handler (deploy time only) logs to a group with a retention.
    const groups = ofType('AWS::Logs::LogGroup').filter(([id]) => /ConsoleHostingDeployLogs/.test(id));
    assert.equal(groups.length, 1);
    assert.equal(groups[0][1].Properties.RetentionInDays, 30);
  });
});

describe('sign-in for people', () => {
  it('is a user pool without self sign-up, with MFA and a strong password policy, federating the SAML provider given', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
      Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 12, RequireSymbols: true }) },
      UserPoolTier: 'ESSENTIALS',
    });
    template.hasResourceProperties('AWS::Cognito::UserPoolIdentityProvider', { ProviderType: 'SAML', ProviderName: 'IdentityCenter', ProviderDetails: { MetadataURL: 'https://portal.sso.eu-west-1.amazonaws.com/saml/metadata/abc' } });
  });

  it('has one public app client: authorization code only (PKCE, no secret), back to the console\'s URL', () => {
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
    const client = ofType('AWS::Cognito::UserPoolClient')[0][1].Properties;
    assert.equal(client.GenerateSecret, false);
    assert.deepEqual(client.AllowedOAuthFlows, ['code']);
    assert.equal(client.AllowedOAuthFlowsUserPoolClient, true);
    assert.deepEqual(client.SupportedIdentityProviders, ['COGNITO', 'IdentityCenter']);
    assert.match(JSON.stringify(client.CallbackURLs), /ConsoleHostingCdn.*DomainName/);
    assert.deepEqual(client.ExplicitAuthFlows, ['ALLOW_REFRESH_TOKEN_AUTH'], 'no password flow reaches the page');
    assert.equal(client.PreventUserExistenceErrors, 'ENABLED');
  });
});

describe('the API for people and machines', () => {
  const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties as { RouteKey: string; AuthorizationType: string; AuthorizerId?: unknown });
  it('keeps every management route on IAM and adds each again under /console-api/ with the JWT authorizer; nothing else is open', () => {
    const byKey = new Map(routes.map((r) => [r.RouteKey, r]));
    for (const [method, path] of MANAGEMENT_ROUTES) {
      assert.equal(byKey.get(`${method} ${path}`)?.AuthorizationType, 'AWS_IAM', `${method} ${path}`);
      const person = byKey.get(`${method} /console-api${path}`);
      assert.equal(person?.AuthorizationType, 'JWT', `${method} /console-api${path}`);
      assert.ok(person.AuthorizerId);
    }
    const open = routes.filter((r) => r.AuthorizationType === 'NONE').map((r) => r.RouteKey);
    assert.deepEqual(open, [`${WEBHOOK_ROUTE[0]} ${WEBHOOK_ROUTE[1]}`], 'only the webhook route, which checks signatures itself');
    assert.equal(routes.length, 1 + 2 * MANAGEMENT_ROUTES.length);
  });

  it('the JWT authorizer accepts this pool\'s console client only', () => {
    const authorizers = ofType('AWS::ApiGatewayV2::Authorizer').map(([, a]) => a.Properties);
    assert.equal(authorizers.length, 1);
    const a = authorizers[0];
    assert.equal(a.AuthorizerType, 'JWT');
    assert.deepEqual(a.IdentitySource, ['$request.header.Authorization']);
    assert.match(JSON.stringify(a.JwtConfiguration.Issuer), /cognito-idp\..*ConsoleSignInPeople/);
    assert.match(JSON.stringify(a.JwtConfiguration.Audience), /ConsoleSignInPeopleConsole/);
  });

  it('outputs the console URL, the user pool and the sign-in domain', () => {
    for (const o of ['ConsoleUrl', 'ConsoleUserPoolId', 'ConsoleSignInDomain']) assert.ok(json.Outputs[o], o);
  });
});

it('cdk-nag finds nothing unsuppressed in the stack with the console', () => {
  const { errors, warnings } = nagFindings(stack);
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings, []);
});

it('the console can be left out, and SAML settings come in pairs', () => {
  assert.equal(consoleConfigFromContext(() => undefined).enabled, true);
  assert.equal(consoleConfigFromContext((k) => (k === 'slipway:console' ? 'false' : undefined)).enabled, false);
  assert.throws(() => consoleConfigFromContext((k) => (k === 'slipway:consoleSamlName' ? 'X' : undefined)), /go together/);
  assert.deepEqual(consoleConfigFromContext((k) => ({ 'slipway:consoleSamlName': 'IdC', 'slipway:consoleSamlMetadataUrl': 'https://x.example/m' } as Record<string, string>)[k]).samlProvider, { name: 'IdC', metadataUrl: 'https://x.example/m' });
});
