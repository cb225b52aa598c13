/**
 * `RunStore` on DynamoDB. A run and all its jobs are one item, so a job
 * transition is one conditional PutItem. The item carries, besides the state,
 * a few top-level summary attributes the indexes project (see table.ts), the
 * sparse active-run keys while the run is queued or running, and a TTL once it
 * has ended.
 */
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NotFoundError, ValidationError } from '../domain/errors.ts';
import { TERMINAL_RUN_STATUSES, type RunState } from '../domain/run.ts';
import type { Page, RunStore, RunSummary } from '../ports/index.ts';
import { batchDelete } from './pipeline-store.ts';
import { TABLE_INDEXES, TTL_ATTRIBUTE, keys, pageLimit, queryGsi1Page, queryPartition, dynamoError } from './table.ts';

export interface DynamoRunStoreOptions {
  /** Days a run is kept after it ends, then DynamoDB's TTL deletes it. @default 90 */
  retentionDays?: number;
  /** Clock for the TTL, in milliseconds since the epoch. @default Date.now */
  now?: () => number;
}

const GSI1 = TABLE_INDEXES.byPipeline;
const GSI3 = TABLE_INDEXES.activeRuns;
const DAY_SECONDS = 86_400;

export class DynamoRunStore implements RunStore {
  private readonly retentionDays: number;
  private readonly now: () => number;

  constructor(private readonly client: DynamoDBDocumentClient, private readonly tableName: string, opts: DynamoRunStoreOptions = {}) {
    this.retentionDays = opts.retentionDays ?? 90;
    if (!Number.isFinite(this.retentionDays) || this.retentionDays <= 0) {
      throw new ValidationError(`run retention must be a positive number of days, got ${opts.retentionDays}`);
    }
    this.now = opts.now ?? Date.now;
  }

  /** Stores the run as given, including its `version`; ConflictError if a run with this id exists. */
  async create(run: RunState): Promise<void> {
    try {
      await this.client.send(new PutCommand({
        TableName: this.tableName,
        Item: this.toItem(run, run.version),
        ConditionExpression: 'attribute_not_exists(PK)',
      }));
    } catch (err) {
      throw dynamoError(err, `run ${run.runId} already exists`);
    }
  }

  /** Strongly consistent, so a save right after a get does not fail on a stale copy. */
  async get(runId: string): Promise<RunState> {
    let item: Record<string, any> | undefined;
    try {
      ({ Item: item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: keys.run(runId), ConsistentRead: true })));
    } catch (err) {
      throw dynamoError(err, `run ${runId} changed while being read`);
    }
    if (!item) throw new NotFoundError(`run ${runId} does not exist`);
    return fromItem(item);
  }

  /**
   * Replaces the run only if the stored version is still `expectedVersion`, and
   * stores `expectedVersion + 1` (whatever `run.version` says: `decide` hands back
   * the version it was given). On success `run.version` is set to the stored
   * version, so the caller's object can be saved again; on a conflict it is left
   * untouched and a ConflictError is thrown. One PutItem, whatever changed.
   */
  async save(run: RunState, expectedVersion: number): Promise<void> {
    const next = expectedVersion + 1;
    try {
      await this.client.send(new PutCommand({
        TableName: this.tableName,
        Item: this.toItem(run, next),
        ConditionExpression: '#version = :expected',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':expected': expectedVersion },
      }));
    } catch (err) {
      throw dynamoError(err, `run ${run.runId} was changed by someone else (expected version ${expectedVersion}); reload and try again`);
    }
    run.version = next;
  }

  /** Newest first. The cursor is opaque (base64url) and only valid for the same pipeline. */
  async listByPipeline(pipelineId: string, opts: { limit?: number; cursor?: string } = {}): Promise<Page<RunSummary>> {
    const page = await queryGsi1Page(this.client, {
      tableName: this.tableName, partition: keys.pipelineRuns(pipelineId), limit: pageLimit(opts.limit), cursor: opts.cursor, newestFirst: true, what: 'listing runs',
    });
    return { items: page.items.map(toSummary), ...(page.cursor ? { cursor: page.cursor } : {}) };
  }

  /**
   * Queued and running runs, oldest first, from the sparse index. Index reads are
   * eventually consistent: a run that ended a moment ago may still be listed, so
   * callers treat the answer as a hint (admission is serialized per pipeline).
   */
  async listActive(pipelineId: string): Promise<RunSummary[]> {
    const items = await queryPartition(this.client, { tableName: this.tableName, index: GSI3, partition: keys.pipelineRuns(pipelineId), oldestFirst: true });
    return items.map(toSummary);
  }

  async removeByPipeline(pipelineId: string): Promise<number> {
    let removed = 0;
    let cursor: string | undefined;
    do {
      const page = await this.listByPipeline(pipelineId, { limit: 100, cursor });
      await batchDelete(this.client, this.tableName, page.items.map((r) => keys.run(r.runId)));
      removed += page.items.length;
      cursor = page.cursor;
    } while (cursor);
    return removed;
  }

  private toItem(run: RunState, version: number): Record<string, unknown> {
    const { version: _ignored, ...state } = run;
    const terminal = TERMINAL_RUN_STATUSES.has(run.status);
    const order = keys.runOrder(run.createdAt, run.runId);
    const item: Record<string, unknown> = {
      ...keys.run(run.runId),
      entity: 'run',
      version,
      state,
      runId: run.runId,
      pipelineId: run.pipelineId,
      status: run.status,
      branch: run.trigger.branch,
      commit: run.trigger.commit,
      createdAt: run.createdAt,
      finishedAt: run.finishedAt,
      [GSI1.partitionKey.name]: keys.pipelineRuns(run.pipelineId),
      [GSI1.sortKey.name]: order,
    };
    if (terminal) {
      // Retention counts from the end of the run; a put without the GSI3 keys drops it from the active index.
      const endedMs = run.finishedAt ? Date.parse(run.finishedAt) : NaN;
      const base = Number.isFinite(endedMs) ? endedMs : this.now();
      item[TTL_ATTRIBUTE] = Math.floor(base / 1000) + Math.round(this.retentionDays * DAY_SECONDS);
    } else {
      item[GSI3.partitionKey.name] = keys.pipelineRuns(run.pipelineId);
      item[GSI3.sortKey.name] = order;
    }
    return item;
  }
}

function fromItem(item: Record<string, any>): RunState {
  return { ...(item.state as Omit<RunState, 'version'>), version: item.version as number };
}

function toSummary(item: Record<string, any>): RunSummary {
  return {
    runId: item.runId,
    pipelineId: item.pipelineId,
    status: item.status,
    commit: item.commit,
    createdAt: item.createdAt,
    ...(item.branch !== undefined ? { branch: item.branch } : {}),
    ...(item.finishedAt !== undefined ? { finishedAt: item.finishedAt } : {}),
  };
}
