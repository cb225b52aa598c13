import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { DELIVERY_PARTITION_PREFIX, TABLE_INDEXES, TABLE_KEYS, TTL_ATTRIBUTE, type TableIndex } from '../../shared/aws/table.ts';

export interface StateTableProps {
  /**
   * What happens to the table when the stack is deleted.
   * @default RemovalPolicy.RETAIN — pipelines, runs and release history outlive the stack
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The one DynamoDB table: pipelines, runs, deliveries, targets. Keys, indexes and the TTL
 * attribute come from shared/aws/table.ts, the layout the adapters (and the tests' tables) use.
 */
export class StateTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: StateTableProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: attribute(TABLE_KEYS.partitionKey),
      sortKey: attribute(TABLE_KEYS.sortKey),
      // On-demand: no capacity is paid for while idle.
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: TTL_ATTRIBUTE,
      // AWS managed key (aws/dynamodb): use of the key shows in CloudTrail, and there is no
      // $1/month customer key.
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    for (const index of Object.values(TABLE_INDEXES) as TableIndex[]) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: attribute(index.partitionKey),
        sortKey: attribute(index.sortKey),
        projectionType: index.projectionType as dynamodb.ProjectionType,
        nonKeyAttributes: index.nonKeyAttributes ? [...index.nonKeyAttributes] : undefined,
      });
    }
  }

  /** Item reads and writes (no table management, no streams). */
  grantReadWrite(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadWriteData(grantee);
  }

  grantRead(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadData(grantee);
  }

  /**
   * What the internet-facing webhook function needs, and nothing more: a Query on the
   * repository index (which pipelines a repository has) and a conditional put or a delete
   * of its own delivery records (partition keys `DELIVERY#...`: delivery ids and accepted
   * bodies). No Scan, no GetItem, no UpdateItem, no write to pipelines, runs or targets.
   * `dynamodb:LeadingKeys` is the partition key of the item the request touches.
   */
  grantWebhookIngest(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:Query'],
      resourceArns: [`${this.table.tableArn}/index/${TABLE_INDEXES.byRepository.indexName}`],
    });
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
      resources: [this.table.tableArn],
      conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${DELIVERY_PARTITION_PREFIX}*`] } },
    }));
  }
}

/**
 * A conditional put or a delete of delivery records only (partition keys `DELIVERY#...`): the
 * reconciler claims the heads of missed pushes there, as the webhook does when a push arrives.
 */
export function grantDeliveryClaims(table: dynamodb.ITable, grantee: iam.IGrantable): void {
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({
    actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
    resources: [table.tableArn],
    conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${DELIVERY_PARTITION_PREFIX}*`] } },
  }));
}

function attribute(key: { readonly name: string; readonly type: 'S' }): dynamodb.Attribute {
  return { name: key.name, type: key.type as dynamodb.AttributeType };
}
