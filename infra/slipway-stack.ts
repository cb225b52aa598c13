import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ConsoleHosting } from './constructs/console-hosting.ts';
import { ConsoleSignIn, type ConsoleSamlProvider } from './constructs/console-sign-in.ts';
import { Slipway, type SlipwayProps } from './constructs/slipway.ts';

/** The web console: hosting (CloudFront + S3) and sign-in for people (Cognito). */
export interface SlipwayConsoleProps {
  /** @default true */
  readonly enabled?: boolean;
  /** See ConsoleSignInProps.domainPrefix. @default `slipway-<account id>` */
  readonly domainPrefix?: string;
  /** See ConsoleSignInProps.samlProvider. @default none */
  readonly samlProvider?: ConsoleSamlProvider;
}

export interface SlipwayStackProps extends StackProps {
  /** Passed through to Slipway. @default Slipway's defaults */
  readonly engine?: SlipwayProps;
  /** @default the console on, people are users of a new pool */
  readonly console?: SlipwayConsoleProps;
}

/** The stack `npx cdk deploy` creates: Slipway and its outputs. Environment-agnostic, no lookups. */
export class SlipwayStack extends Stack {
  readonly engine: Slipway;
  readonly consoleHosting?: ConsoleHosting;
  readonly consoleSignIn?: ConsoleSignIn;

  constructor(scope: Construct, id: string, props: SlipwayStackProps = {}) {
    super(scope, id, props);
    this.engine = new Slipway(this, 'Slipway', props.engine);
    new CfnOutput(this, 'WebhookUrl', {
      value: this.engine.api.webhookUrl,
      description: 'Point git host webhooks at <WebhookUrl>/github, /gitlab or /bitbucket',
    });
    new CfnOutput(this, 'ApiUrl', { value: this.engine.api.url, description: 'Management API (SigV4, execute-api)' });
    new CfnOutput(this, 'ArtifactBucketName', { value: this.engine.artifacts.bucket.bucketName });
    new CfnOutput(this, 'TableName', { value: this.engine.table.table.tableName });
    new CfnOutput(this, 'NotificationTopicArn', { value: this.engine.notifications.topic.topicArn });
    new CfnOutput(this, 'BuildLogGroupName', { value: this.engine.builds.logGroup.logGroupName });
    if (props.console?.enabled === false) return;
    // Hosting first: the app client's callback URL is the distribution's. The page's CSP names the
    // sign-in domain by its prefix, so the distribution never depends on the pool (no cycle).
    const hosting = new ConsoleHosting(this, 'ConsoleHosting', {
      apiEndpoint: this.engine.api.url,
      ...(props.engine?.logRetention ? { logRetention: props.engine.logRetention } : {}),
      signInDomainUrl: `https://${props.console?.domainPrefix ?? `slipway-${this.account}`}.auth.${this.region}.amazoncognito.com`,
    });
    const signIn = new ConsoleSignIn(this, 'ConsoleSignIn', { consoleUrl: hosting.url, domainPrefix: props.console?.domainPrefix, samlProvider: props.console?.samlProvider });
    this.engine.api.addConsoleRoutes(signIn.authorizer);
    hosting.deploy({
      apiBase: '/console-api',
      auth: { kind: 'cognito', domain: signIn.domainUrl, clientId: signIn.client.userPoolClientId, ...(signIn.identityProvider ? { identityProvider: signIn.identityProvider } : {}) },
    });
    this.consoleHosting = hosting;
    this.consoleSignIn = signIn;
    new CfnOutput(this, 'ConsoleUrl', { value: hosting.url, description: 'The web console; people sign in with the user pool below' });
    new CfnOutput(this, 'ConsoleUserPoolId', { value: signIn.userPool.userPoolId, description: 'Create people here (aws cognito-idp admin-create-user); approvers name them cognito:<pool id>:user/<username>' });
    new CfnOutput(this, 'ConsoleSignInDomain', { value: signIn.domainUrl });
  }
}
