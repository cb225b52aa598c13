import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Slipway, type SlipwayProps } from './constructs/slipway.ts';

export interface SlipwayStackProps extends StackProps {
  /** Passed through to Slipway. @default Slipway's defaults */
  readonly engine?: SlipwayProps;
}

/** The stack `npx cdk deploy` creates: Slipway and its outputs. Environment-agnostic, no lookups. */
export class SlipwayStack extends Stack {
  readonly engine: Slipway;

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
  }
}
