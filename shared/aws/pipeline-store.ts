/**
 * `PipelineStore` on DynamoDB. Every registration writes a new immutable version
 * item (`V#<n>`) and moves the `LATEST` pointer in one transaction: the version
 * item must not exist and the pointer must still name the previous version, so
 * two concurrent registrations can never both become version n. The LATEST item
 * carries a copy of the latest record (one read for `get(id)`) and the index
 * attributes for listing pipelines (GSI1) and webhook matching (GSI2).
 */
import { BatchWriteCommand, GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConflictError, NotFoundError, RetryableError, ValidationError } from '../domain/errors.ts';
import type { Provider } from '../domain/pipeline.ts';
import type { Page, PipelineRecord, PipelineStore } from '../ports/index.ts';
import { PIPELINE_RECORD_ATTRIBUTE, TABLE_INDEXES, keys, pageLimit, queryGsi1Page, queryPartition, dynamoError } from './table.ts';
import { PIPELINE_ID, isValidName, nameMessage } from '../domain/names.ts';

export interface DynamoPipelineStoreOptions {
  /** Registrations that lose a race re-read the pointer and try the next version, this many times in all. @default 8 */
  maxAttempts?: number;
  /** Clock for `createdAt`. @default () => new Date() */
  now?: () => Date;
}

const GSI1 = TABLE_INDEXES.byPipeline;
const GSI2 = TABLE_INDEXES.byRepository;

export class DynamoPipelineStore implements PipelineStore {
  private readonly maxAttempts: number;
  private readonly now: () => Date;

  constructor(private readonly client: DynamoDBDocumentClient, private readonly tableName: string, opts: DynamoPipelineStoreOptions = {}) {
    this.maxAttempts = opts.maxAttempts ?? 8;
    this.now = opts.now ?? (() => new Date());
  }

  async put(input: Omit<PipelineRecord, 'version' | 'createdAt'>): Promise<PipelineRecord> {
    if (!isValidName(PIPELINE_ID, input.id)) {
      throw new ValidationError('invalid pipeline id', [{ path: 'id', message: nameMessage(PIPELINE_ID) }]);
    }
    for (let attempt = 1; ; attempt++) {
      // The disabled mark lives on LATEST and is the store's to carry: a registration racing a
      // disable must not write LATEST back without it (the condition below sees the mark it read).
      const { version: previous, disabled } = await this.latestState(input.id);
      const { disabled: _asked, ...fields } = input;
      const record: PipelineRecord = { ...fields, ...(disabled ? { disabled } : {}), version: previous + 1, createdAt: this.now().toISOString() };
      try {
        await this.client.send(new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                // The version as registered: the disabled mark is the pipeline's state, kept on LATEST only.
                Item: { ...keys.pipelineVersion(input.id, record.version), entity: 'pipelineVersion', [PIPELINE_RECORD_ATTRIBUTE]: asRegistered(record) },
                ConditionExpression: 'attribute_not_exists(PK)',
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  ...keys.pipelineLatest(input.id),
                  entity: 'pipeline',
                  latestVersion: record.version,
                  [PIPELINE_RECORD_ATTRIBUTE]: record,
                  [GSI1.partitionKey.name]: keys.allPipelines,
                  [GSI1.sortKey.name]: `PIPELINE#${input.id}`,
                  [GSI2.partitionKey.name]: keys.repository(record.spec.source.provider, record.spec.source.repository),
                  [GSI2.sortKey.name]: `PIPELINE#${input.id}`,
                },
                ...(previous === 0
                  ? { ConditionExpression: 'attribute_not_exists(PK)' }
                  : disabled
                    ? {
                        ConditionExpression: 'latestVersion = :previous AND attribute_not_exists(deleted) AND #r.disabled.#at = :at',
                        ExpressionAttributeNames: { '#r': PIPELINE_RECORD_ATTRIBUTE, '#at': 'at' },
                        ExpressionAttributeValues: { ':previous': previous, ':at': disabled.at },
                      }
                    : {
                        ConditionExpression: 'latestVersion = :previous AND (attribute_exists(deleted) OR attribute_not_exists(#r.disabled))',
                        ExpressionAttributeNames: { '#r': PIPELINE_RECORD_ATTRIBUTE },
                        ExpressionAttributeValues: { ':previous': previous },
                      }),
              },
            },
          ],
        }));
        return record;
      } catch (err) {
        if (!lostRace(err)) throw dynamoError(err, `pipeline ${input.id} changed while being registered`);
        if (attempt >= this.maxAttempts) {
          throw new ConflictError(`pipeline ${input.id} is being registered concurrently; ${attempt} attempts lost the race, try again`);
        }
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 10 * 2 ** attempt)));
      }
    }
  }

  async get(id: string, version?: number): Promise<PipelineRecord> {
    if (version !== undefined && (!Number.isInteger(version) || version < 1)) {
      throw new ValidationError('invalid pipeline version', [{ path: 'version', message: `must be a whole number from 1, got ${version}` }]);
    }
    const key = version === undefined ? keys.pipelineLatest(id) : keys.pipelineVersion(id, version);
    let item;
    try {
      ({ Item: item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: key })));
    } catch (err) {
      throw dynamoError(err, `pipeline ${id} could not be read`);
    }
    if (!item) throw new NotFoundError(version === undefined ? `pipeline ${id} does not exist` : `pipeline ${id} has no version ${version}`);
    if (item.deleted === true) throw new NotFoundError(`pipeline ${id} was deleted (its runs were kept)`);
    return item[PIPELINE_RECORD_ATTRIBUTE] as PipelineRecord;
  }

  async setDisabled(id: string, disabled: { by: string; at: string } | undefined): Promise<PipelineRecord> {
    try {
      const out = await this.client.send(new UpdateCommand({
        TableName: this.tableName,
        Key: keys.pipelineLatest(id),
        ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(deleted)',
        ...(disabled
          ? { UpdateExpression: 'SET #r.disabled = :d', ExpressionAttributeValues: { ':d': disabled } }
          : { UpdateExpression: 'REMOVE #r.disabled' }),
        ExpressionAttributeNames: { '#r': PIPELINE_RECORD_ATTRIBUTE },
        ReturnValues: 'ALL_NEW',
      }));
      return out.Attributes![PIPELINE_RECORD_ATTRIBUTE] as PipelineRecord;
    } catch (err) {
      if ((err as { name?: string }).name === 'ConditionalCheckFailedException') throw new NotFoundError(`pipeline ${id} does not exist`);
      throw dynamoError(err, `pipeline ${id} changed while being ${disabled ? 'disabled' : 'enabled'}`);
    }
  }

  /**
   * Keeping versions leaves a tombstone at LATEST (marked deleted, out of both indexes), so the
   * version counter survives and a later registration under the same id becomes the next version.
   */
  async remove(id: string, opts: { keepVersions: boolean }): Promise<void> {
    await this.get(id);
    if (opts.keepVersions) {
      try {
        await this.client.send(new UpdateCommand({
          TableName: this.tableName,
          Key: keys.pipelineLatest(id),
          ConditionExpression: 'attribute_exists(PK)',
          UpdateExpression: 'SET deleted = :t REMOVE #g1p, #g1s, #g2p, #g2s',
          ExpressionAttributeNames: { '#g1p': GSI1.partitionKey.name, '#g1s': GSI1.sortKey!.name, '#g2p': GSI2.partitionKey.name, '#g2s': GSI2.sortKey!.name },
          ExpressionAttributeValues: { ':t': true },
        }));
      } catch (err) {
        throw dynamoError(err, `pipeline ${id} changed while being deleted`);
      }
      return;
    }
    const keysOf: Array<Record<string, unknown>> = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(new QueryCommand({
        TableName: this.tableName, KeyConditionExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': `PIPELINE#${id}` },
        ProjectionExpression: 'PK, SK', ...(start ? { ExclusiveStartKey: start } : {}),
      }));
      keysOf.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    await batchDelete(this.client, this.tableName, keysOf.map((k) => ({ PK: k.PK, SK: k.SK })));
  }

  /** Latest version of each pipeline, ordered by id. */
  async list(opts: { limit?: number; cursor?: string } = {}): Promise<Page<PipelineRecord>> {
    const page = await queryGsi1Page(this.client, {
      tableName: this.tableName, partition: keys.allPipelines, limit: pageLimit(opts.limit), cursor: opts.cursor, expect: { SK: 'LATEST' }, what: 'listing pipelines',
    });
    return { items: page.items.map((i) => i[PIPELINE_RECORD_ATTRIBUTE] as PipelineRecord), ...(page.cursor ? { cursor: page.cursor } : {}) };
  }

  /** Matches on the latest version's repository, case-insensitively (git hosts treat names that way). */
  async findByRepository(provider: Provider, repository: string): Promise<PipelineRecord[]> {
    const items = await queryPartition(this.client, { tableName: this.tableName, index: GSI2, partition: keys.repository(provider, repository) });
    return items.map((item) => item[PIPELINE_RECORD_ATTRIBUTE] as PipelineRecord);
  }

  /** 0 when the pipeline does not exist yet. Strongly consistent: the next version is computed from it. */
  /** The version counter and, unless the pipeline was deleted (a registration after a delete starts enabled), the disabled mark. */
  private async latestState(id: string): Promise<{ version: number; disabled?: { by: string; at: string } }> {
    try {
      const { Item } = await this.client.send(new GetCommand({
        TableName: this.tableName,
        Key: keys.pipelineLatest(id),
        ProjectionExpression: 'latestVersion, deleted, #r.disabled',
        ExpressionAttributeNames: { '#r': PIPELINE_RECORD_ATTRIBUTE },
        ConsistentRead: true,
      }));
      const version = (Item?.latestVersion as number | undefined) ?? 0;
      const disabled = Item?.deleted === undefined ? (Item?.[PIPELINE_RECORD_ATTRIBUTE] as { disabled?: { by: string; at: string } } | undefined)?.disabled : undefined;
      return { version, ...(disabled ? { disabled } : {}) };
    } catch (err) {
      throw dynamoError(err, `pipeline ${id} could not be read`);
    }
  }
}

function asRegistered(record: PipelineRecord): PipelineRecord {
  const { disabled: _mark, ...rest } = record;
  return rest;
}

/** Deletes items 25 at a time (BatchWriteItem's limit), retrying what DynamoDB leaves unprocessed. */
export async function batchDelete(client: DynamoDBDocumentClient, tableName: string, itemKeys: Array<Record<string, unknown>>): Promise<void> {
  for (let i = 0; i < itemKeys.length; i += 25) {
    let requests: Array<{ DeleteRequest: { Key: Record<string, unknown> } }> | undefined = itemKeys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
    for (let attempt = 0; requests && requests.length > 0; attempt++) {
      if (attempt > 8) throw new RetryableError(`DynamoDB left ${requests.length} deletions unprocessed; try again`);
      const out = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
      requests = out.UnprocessedItems?.[tableName] as typeof requests;
      if (requests && requests.length > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    }
  }
}

/** A transaction cancelled by a failed condition or a concurrent transaction: someone else registered first. */
function lostRace(err: unknown): boolean {
  const e = err as { name?: string; CancellationReasons?: Array<{ Code?: string }> };
  if (e?.name === 'TransactionConflictException') return true;
  if (e?.name !== 'TransactionCanceledException') return false;
  const codes = (e.CancellationReasons ?? []).map((r) => r.Code ?? 'None');
  return codes.some((c) => c === 'ConditionalCheckFailed' || c === 'TransactionConflict') && codes.every((c) => c === 'None' || c === 'ConditionalCheckFailed' || c === 'TransactionConflict');
}
