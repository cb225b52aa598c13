/**
 * The one DynamoDB table's layout: keys, indexes, TTL, and how item keys are
 * built. The CDK stack (infra/) and `ensureTable` both read the constants here,
 * so the deployed table and the one the tests create cannot drift apart.
 *
 * | item              | PK                                | SK           | index attributes |
 * |-------------------|-----------------------------------|--------------|------------------|
 * | pipeline version  | `PIPELINE#<id>`                   | `V#<n>` (n zero-padded, so a Query lists versions in order) | — |
 * | pipeline latest   | `PIPELINE#<id>`                   | `LATEST`     | GSI1 (`PIPELINES`, `PIPELINE#<id>`): list pipelines; GSI2 (`REPO#<provider>#<repository>`, `PIPELINE#<id>`): webhook matching |
 * | run               | `RUN#<runId>`                     | `RUN`        | GSI1 (`PIPELINE#<id>`, `<createdAt>#<runId>`): a pipeline's runs newest first; GSI3 (same values, only while queued/running): active runs |
 * | delivery          | `DELIVERY#<provider>#<deliveryId>`| `DELIVERY`   | — (TTL) |
 *
 * Why the indexes project only a few attributes: a run item holds every job and
 * can weigh a few hundred KB; projecting it ALL would copy it into two indexes on
 * every job transition. The run summary attributes and the pipeline record are
 * the only non-key attributes projected (GSI2 is sparse — LATEST items only — so
 * projecting ALL there costs nothing per run).
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PayloadTooLargeError, ValidationError } from '../domain/errors.ts';
import { toDomainError } from './errors.ts';
import type { Provider } from '../domain/pipeline.ts';

// ---- layout (imported by infra/) ---------------------------------------------

/** String attribute type, spelled as CloudFormation and `aws-cdk-lib`'s `AttributeType.STRING` spell it. */
export type KeyAttribute = { readonly name: string; readonly type: 'S' };

/** Primary key of the table: generic, every entity puts its own prefix in it. */
export const TABLE_KEYS = {
  partitionKey: { name: 'PK', type: 'S' },
  sortKey: { name: 'SK', type: 'S' },
} as const satisfies { partitionKey: KeyAttribute; sortKey: KeyAttribute };

/** Attributes a run item carries at the top level so that the indexes can project them without the jobs. */
export const RUN_SUMMARY_ATTRIBUTES = ['runId', 'pipelineId', 'status', 'branch', 'commit', 'createdAt', 'finishedAt'] as const;

/** Attribute of the pipeline items holding the `PipelineRecord`. */
export const PIPELINE_RECORD_ATTRIBUTE = 'record';

export interface TableIndex {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey: KeyAttribute;
  /** As `aws-cdk-lib`'s `ProjectionType`. */
  readonly projectionType: 'ALL' | 'INCLUDE' | 'KEYS_ONLY';
  readonly nonKeyAttributes?: readonly string[];
}

/**
 * Global secondary indexes. Field names follow `aws-cdk-lib`'s
 * `GlobalSecondaryIndexProps`, so infra/ can pass each one to
 * `table.addGlobalSecondaryIndex` (casting the string literals to the CDK enums).
 */
export const TABLE_INDEXES = {
  /** A pipeline's runs, newest first (`ScanIndexForward: false`); also the list of pipelines (partition `PIPELINES`). */
  byPipeline: {
    indexName: 'GSI1',
    partitionKey: { name: 'GSI1PK', type: 'S' },
    sortKey: { name: 'GSI1SK', type: 'S' },
    projectionType: 'INCLUDE',
    nonKeyAttributes: [...RUN_SUMMARY_ATTRIBUTES, PIPELINE_RECORD_ATTRIBUTE],
  },
  /** Pipelines registered for a repository (LATEST items only). */
  byRepository: {
    indexName: 'GSI2',
    partitionKey: { name: 'GSI2PK', type: 'S' },
    sortKey: { name: 'GSI2SK', type: 'S' },
    projectionType: 'ALL',
  },
  /**
   * Sparse: a run has these attributes only while it is queued or running, so
   * `listActive` reads a handful of items however many runs a pipeline has had.
   */
  activeRuns: {
    indexName: 'GSI3',
    partitionKey: { name: 'GSI3PK', type: 'S' },
    sortKey: { name: 'GSI3SK', type: 'S' },
    projectionType: 'INCLUDE',
    nonKeyAttributes: [...RUN_SUMMARY_ATTRIBUTES],
  },
} as const satisfies Record<string, TableIndex>;

/** Epoch seconds after which DynamoDB deletes the item (terminal runs, deliveries). */
export const TTL_ATTRIBUTE = 'expiresAt';

/** On-demand capacity: a table nobody uses costs nothing but its storage. */
export const BILLING_MODE = 'PAY_PER_REQUEST';

/** DynamoDB's hard limit on one item, in bytes. */
export const MAX_ITEM_BYTES = 400 * 1024;

// ---- keys --------------------------------------------------------------------

/** Every delivery record's partition key starts so; the webhook function may write these only (infra/). */
export const DELIVERY_PARTITION_PREFIX = 'DELIVERY#';

export const keys = {
  run: (runId: string) => ({ PK: `RUN#${runId}`, SK: 'RUN' }),
  pipelineVersion: (id: string, version: number) => ({ PK: `PIPELINE#${id}`, SK: `V#${String(version).padStart(10, '0')}` }),
  pipelineLatest: (id: string) => ({ PK: `PIPELINE#${id}`, SK: 'LATEST' }),
  delivery: (provider: Provider, deliveryId: string) => ({ PK: `${DELIVERY_PARTITION_PREFIX}${provider}#${deliveryId}`, SK: 'DELIVERY' }),
  /** Partition of GSI1 holding a pipeline's runs. */
  pipelineRuns: (pipelineId: string) => `PIPELINE#${pipelineId}`,
  /** Partition of GSI1 holding one LATEST item per pipeline. */
  allPipelines: 'PIPELINES',
  /** Partition of GSI1 holding every release target (sort key: its name). */
  allTargets: 'TARGETS',
  /** Repository names are case-insensitive on every supported host, so the key is lower-cased. */
  repository: (provider: Provider, repository: string) => `REPO#${provider}#${repository.toLowerCase()}`,
  /** `<createdAt>#<runId>`: ISO-8601 timestamps sort as strings; the ULID breaks ties. */
  runOrder: (createdAt: string, runId: string) => `${createdAt}#${runId}`,
} as const;

// ---- cursors -----------------------------------------------------------------

/** Opaque page cursor: the index position as base64url JSON. */
export function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/**
 * Reads a cursor back, accepting only the exact key attributes expected and,
 * where given, the expected values (a cursor of another pipeline is refused).
 */
export function decodeCursor(cursor: string, attributes: readonly string[], expected: Record<string, string> = {}): Record<string, string> {
  const bad = () => new ValidationError('invalid cursor', [{ path: 'cursor', message: 'not a cursor this listing returned; start again without one' }]);
  if (!/^[A-Za-z0-9_-]{1,2048}$/.test(cursor)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad();
  const obj = parsed as Record<string, unknown>;
  const names = Object.keys(obj).sort();
  if (names.length !== attributes.length || names.join('\0') !== [...attributes].sort().join('\0')) throw bad();
  for (const a of attributes) if (typeof obj[a] !== 'string' || obj[a] === '') throw bad();
  for (const [k, v] of Object.entries(expected)) if (obj[k] !== v) throw bad();
  return obj as Record<string, string>;
}

/** Page size: 1..100, default 20. */
export function pageLimit(limit: number | undefined, fallback = 20): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new ValidationError('invalid page size', [{ path: 'limit', message: `must be a whole number from 1 to 100, got ${limit}` }]);
  }
  return limit;
}

// ---- errors at the edge --------------------------------------------------------

/** A DynamoDB error as a domain error (shared/aws/errors.ts); `conflict` is the message for a failed condition. */
export function dynamoError(err: unknown, conflict: string): Error {
  return toDomainError(err, 'DynamoDB', { conflict, as: { 'too-large': (message) => new PayloadTooLargeError(`the item exceeds DynamoDB's ${MAX_ITEM_BYTES / 1024} KB limit: ${message}`) } });
}

/**
 * Approximate stored size of an item by DynamoDB's rules (attribute names count;
 * strings in UTF-8; numbers about one byte per two digits; 3 bytes per list or
 * map plus 1 per element). Used to keep headroom under the 400 KB limit.
 */
export function estimateItemSize(item: Record<string, unknown>): number {
  let total = 0;
  for (const [name, value] of Object.entries(item)) {
    if (value === undefined) continue;
    total += Buffer.byteLength(name, 'utf8') + valueSize(value);
  }
  return total;
}

function valueSize(value: unknown): number {
  if (value === null || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number') return Math.ceil(String(Math.abs(value)).replace(/[.-]/g, '').length / 2) + 1;
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value)) return 3 + value.reduce((n: number, v) => n + 1 + valueSize(v), 0);
  if (typeof value === 'object') {
    let n = 3;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      n += 1 + Buffer.byteLength(k, 'utf8') + valueSize(v);
    }
    return n;
  }
  return 0;
}

// ---- table creation (tests, local mode) ----------------------------------------

export function createTableInput(tableName: string): CreateTableCommandInput {
  const indexes = Object.values(TABLE_INDEXES) as TableIndex[];
  const attributeNames = new Set<string>([TABLE_KEYS.partitionKey.name, TABLE_KEYS.sortKey.name]);
  for (const ix of indexes) {
    attributeNames.add(ix.partitionKey.name);
    attributeNames.add(ix.sortKey.name);
  }
  return {
    TableName: tableName,
    BillingMode: BILLING_MODE,
    AttributeDefinitions: [...attributeNames].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
    KeySchema: [
      { AttributeName: TABLE_KEYS.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: TABLE_KEYS.sortKey.name, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: indexes.map((ix) => ({
      IndexName: ix.indexName,
      KeySchema: [
        { AttributeName: ix.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: ix.sortKey.name, KeyType: 'RANGE' },
      ],
      Projection: {
        ProjectionType: ix.projectionType,
        ...(ix.nonKeyAttributes ? { NonKeyAttributes: [...ix.nonKeyAttributes] } : {}),
      },
    })),
  };
}

type AnyDynamoClient = DynamoDBClient | DynamoDBDocumentClient;

/**
 * Creates the table with the layout above unless it exists, enables TTL, and
 * waits until the table and its indexes are ACTIVE. Safe to call concurrently.
 */
export async function ensureTable(client: AnyDynamoClient, tableName: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const send = client.send.bind(client) as (cmd: unknown) => Promise<any>;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  try {
    await send(new CreateTableCommand(createTableInput(tableName)));
  } catch (err) {
    // Already there (or being created by a concurrent caller): wait for it below.
    if ((err as { name?: string }).name !== 'ResourceInUseException') throw err;
  }
  for (;;) {
    const { Table } = await send(new DescribeTableCommand({ TableName: tableName }));
    const ready = Table?.TableStatus === 'ACTIVE' && (Table.GlobalSecondaryIndexes ?? []).every((g: { IndexStatus?: string }) => g.IndexStatus === 'ACTIVE');
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`table ${tableName} did not become ACTIVE in time (status ${Table?.TableStatus})`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const ttl = await send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const status = ttl.TimeToLiveDescription?.TimeToLiveStatus;
  if (status !== 'ENABLED' && status !== 'ENABLING') {
    try {
      await send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true } }));
    } catch (err) {
      // A concurrent caller enabled it first.
      if (!/already enabled/i.test((err as Error).message ?? '')) throw err;
    }
  }
}

/**
 * Every item one index partition holds, following `LastEvaluatedKey` page by page
 * (for the small partitions: a repository's pipelines, a pipeline's active runs,
 * the targets). SDK errors become domain errors.
 */
export async function queryPartition(
  client: DynamoDBDocumentClient,
  input: { tableName: string; index: TableIndex; partition: string; oldestFirst?: boolean },
): Promise<Array<Record<string, unknown>>> {
  const items: Array<Record<string, unknown>> = [];
  let start: Record<string, unknown> | undefined;
  do {
    let out;
    try {
      out = await client.send(new QueryCommand({
        TableName: input.tableName,
        IndexName: input.index.indexName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': input.index.partitionKey.name },
        ExpressionAttributeValues: { ':pk': input.partition },
        ...(input.oldestFirst ? { ScanIndexForward: true } : {}),
        ...(start ? { ExclusiveStartKey: start } : {}),
      }));
    } catch (err) {
      throw dynamoError(err, `reading ${input.partition} changed while it was read`);
    }
    items.push(...(out.Items ?? []));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * One page of a GSI1 partition (a pipeline's runs, or the pipelines), with an
 * opaque cursor that is only valid for that partition. One item more than asked
 * is read: if it comes back there is a next page, if not there is no cursor (so
 * no empty last page).
 */
export async function queryGsi1Page(
  client: DynamoDBDocumentClient,
  input: { tableName: string; partition: string; limit: number; cursor?: string; expect?: Record<string, string>; newestFirst?: boolean; what: string },
): Promise<{ items: Array<Record<string, any>>; cursor?: string }> {
  const GSI1 = TABLE_INDEXES.byPipeline;
  const position = ['PK', 'SK', GSI1.partitionKey.name, GSI1.sortKey.name];
  const start = input.cursor ? decodeCursor(input.cursor, position, { [GSI1.partitionKey.name]: input.partition, ...input.expect }) : undefined;
  let out;
  try {
    out = await client.send(new QueryCommand({
      TableName: input.tableName,
      IndexName: GSI1.indexName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': GSI1.partitionKey.name },
      ExpressionAttributeValues: { ':pk': input.partition },
      ...(input.newestFirst ? { ScanIndexForward: false } : {}),
      Limit: input.limit + 1,
      ...(start ? { ExclusiveStartKey: start } : {}),
    }));
  } catch (err) {
    throw dynamoError(err, `${input.what} failed`);
  }
  const items = out.Items ?? [];
  const page = items.slice(0, input.limit);
  let cursor: string | undefined;
  if (items.length > input.limit) {
    const last = page[page.length - 1]!;
    cursor = encodeCursor(Object.fromEntries(position.map((a) => [a, last[a]])));
  } else if (out.LastEvaluatedKey) {
    cursor = encodeCursor(out.LastEvaluatedKey); // stopped at 1 MB before the limit
  }
  return { items: page, ...(cursor ? { cursor } : {}) };
}
