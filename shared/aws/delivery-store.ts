/**
 * `DeliveryStore` on DynamoDB: one conditional PutItem per webhook delivery.
 * DynamoDB's TTL deletes expired records only eventually (up to days later, and
 * DynamoDB Local never does), so the condition also accepts a record whose
 * `expiresAt` has passed instead of trusting that it is gone.
 */
import { DeleteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../domain/errors.ts';
import type { Provider } from '../domain/pipeline.ts';
import type { DeliveryStore } from '../ports/index.ts';
import { TTL_ATTRIBUTE, keys, dynamoError } from './table.ts';

export interface DynamoDeliveryStoreOptions {
  /** Clock in milliseconds since the epoch. @default Date.now */
  now?: () => number;
}

export class DynamoDeliveryStore implements DeliveryStore {
  private readonly now: () => number;

  constructor(private readonly client: DynamoDBDocumentClient, private readonly tableName: string, opts: DynamoDeliveryStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  async claim(provider: Provider, deliveryId: string, ttlSeconds: number): Promise<boolean> {
    if (deliveryId.length === 0 || deliveryId.length > 256) {
      throw new ValidationError('invalid delivery id', [{ path: 'deliveryId', message: 'must be 1-256 characters' }]);
    }
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new ValidationError('invalid delivery TTL', [{ path: 'ttlSeconds', message: `must be a whole number of seconds from 1, got ${ttlSeconds}` }]);
    }
    const nowSeconds = Math.floor(this.now() / 1000);
    try {
      await this.client.send(new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.delivery(provider, deliveryId), entity: 'delivery', provider, deliveryId, [TTL_ATTRIBUTE]: nowSeconds + ttlSeconds },
        ConditionExpression: 'attribute_not_exists(PK) OR #ttl <= :now',
        ExpressionAttributeNames: { '#ttl': TTL_ATTRIBUTE },
        ExpressionAttributeValues: { ':now': nowSeconds },
      }));
      return true;
    } catch (err) {
      if ((err as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw dynamoError(err, `delivery ${deliveryId} could not be recorded`);
    }
  }

  /** Forgets a claim whose run could not be enqueued, so the provider's redelivery starts it. */
  async release(provider: Provider, deliveryId: string): Promise<void> {
    try {
      await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: keys.delivery(provider, deliveryId) }));
    } catch (err) {
      throw dynamoError(err, `delivery ${deliveryId} could not be released`);
    }
  }
}
