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
   * see SlipwayProps.alarmTopic)
   */
  readonly masterKey?: kms.IKey;
}

/** The SNS topic run notifications are published to (email and other subscriptions). */
export class Notifications extends Construct {
  readonly topic: sns.Topic;
  private readonly customKey?: kms.IKey;

  constructor(scope: Construct, id: string, props: NotificationsProps = {}) {
    super(scope, id);
    this.customKey = props.masterKey;
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Slipway run notifications',
      masterKey: props.masterKey ?? kms.Alias.fromAliasName(this, 'AwsManagedSnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
  }

  /**
   * sns:Publish on this topic. With the AWS managed key (the default) publishers need no key grant:
   * its key policy admits every principal of the account through SNS. `topic.grantPublish` would,
   * under the `@aws-cdk/aws-sns:...` grant flags of newer apps, add kms:GenerateDataKey* on
   * `key/*` for an alias it cannot resolve, so the grant is written out here. A customer key
   * (`masterKey`) gets its own grant.
   */
  grantPublish(grantee: iam.IGrantable): iam.Grant {
    const grant = iam.Grant.addToPrincipal({ grantee, actions: ['sns:Publish'], resourceArns: [this.topic.topicArn] });
    if (this.customKey) this.customKey.grant(grantee, 'kms:Decrypt', 'kms:GenerateDataKey*');
    return grant;
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
