/**
 * Release targets on DynamoDB: one item per target (`TARGET#<name>` / `TARGET`)
 * holding its configuration, live colour, weights, the current release (the
 * lock), the waiting list, the last release and the saved step. Every write is
 * conditional on the item's `version`, so two releasers never both win.
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NotFoundError } from '../domain/errors.ts';
import { newTargetState, type TargetConfig, type TargetState } from '../domain/release.ts';
import { validateTargetConfig } from '../domain/target-config.ts';
import type { TargetStore } from '../ports/index.ts';
import { keys, queryPartition, TABLE_INDEXES, dynamoError } from './table.ts';

export const targetKey = (name: string) => ({ PK: `TARGET#${name}`, SK: 'TARGET' });

/** Every target item is also filed in GSI1 under one partition, so targets can be listed without a scan. */
const targetIndexKeys = (name: string) => ({ GSI1PK: keys.allTargets, GSI1SK: name });

export class DynamoTargetStore implements TargetStore {
  constructor(private readonly client: DynamoDBDocumentClient, private readonly tableName: string) {}

  async create(config: TargetConfig, now: string): Promise<TargetState> {
    validateTargetConfig(config);
    const state = { ...newTargetState(config, now), version: 1 };
    try {
      await this.client.send(new PutCommand({
        TableName: this.tableName,
        Item: { ...targetKey(config.name), ...targetIndexKeys(config.name), version: state.version, state: withoutVersion(state) },
        ConditionExpression: 'attribute_not_exists(PK)',
      }));
    } catch (err) {
      throw dynamoError(err, `target ${config.name} already exists`);
    }
    return state;
  }

  async get(name: string): Promise<TargetState> {
    let item: Record<string, any> | undefined;
    try {
      ({ Item: item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: targetKey(name), ConsistentRead: true })));
    } catch (err) {
      throw dynamoError(err, `target ${name} changed while being read`);
    }
    if (!item) throw new NotFoundError(`target ${name} is not registered`);
    return { ...(item.state as Omit<TargetState, 'version'>), version: item.version as number };
  }

  async save(state: TargetState, expectedVersion: number): Promise<TargetState> {
    const next = { ...state, version: expectedVersion + 1 };
    try {
      await this.client.send(new PutCommand({
        TableName: this.tableName,
        Item: { ...targetKey(state.name), ...targetIndexKeys(state.name), version: next.version, state: withoutVersion(next) },
        ConditionExpression: 'version = :v',
        ExpressionAttributeValues: { ':v': expectedVersion },
      }));
    } catch (err) {
      throw dynamoError(err, `target ${state.name} changed since version ${expectedVersion}`);
    }
    return next;
  }

  async listNames(): Promise<string[]> {
    const items = await queryPartition(this.client, { tableName: this.tableName, index: TABLE_INDEXES.byPipeline, partition: keys.allTargets });
    return items.map((item) => String(item.GSI1SK));
  }
}

function withoutVersion(s: TargetState): Omit<TargetState, 'version'> {
  const { version: _v, ...rest } = s;
  return rest;
}
