import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

export interface NotificationsProps {
  /**
   * Key the topic is encrypted with.
   * @default the AWS managed key alias/aws/sns (no monthly key charge; only AWS services acting
   * for a principal of this account, such as the handlers, can publish — CloudWatch alarms cannot,
   * see SlipwayEngineProps.alarmTopic)
   */
  readonly masterKey?: kms.IKey;
}

/** The SNS topic run notifications are published to (email and other subscriptions). */
export class Notifications extends Construct {
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: NotificationsProps = {}) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Slipway run notifications',
      masterKey: props.masterKey ?? kms.Alias.fromAliasName(this, 'AwsManagedSnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
  }

  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.topic.grantPublish(grantee);
  }
}
