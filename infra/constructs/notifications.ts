import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
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

  /**
   * sns:Publish on every topic of this account and region. A pipeline's e-mail channel names
   * any topic ARN its team chose, so no list of ARNs exists at deploy time; the account and
   * region bound it: a pipeline definition cannot make Slipway publish anywhere else. Topics
   * encrypted with a customer-managed key also need a key grant, given where the key lives.
   */
  grantPublishToAccountTopics(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['sns:Publish'],
      resourceArns: [Stack.of(this).formatArn({ service: 'sns', resource: '*', arnFormat: ArnFormat.NO_RESOURCE_NAME })],
    });
  }
}
