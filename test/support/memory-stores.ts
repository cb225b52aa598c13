/**
 * One in-memory fake per store and queue port, for unit tests and the bench.
 * The stores behave like their DynamoDB adapters in shared/aws: writes are
 * conditional (ConflictError), reads of what is not there are NotFoundError,
 * saves bump `version`, listings page with opaque cursors scoped to their
 * partition and refuse foreign ones (ValidationError). Each store passes the
 * same contract suite as its adapter (test/support/contracts/, run by
 * test/unit/*-store.contract.test.ts here and test/integration/*-store.test.ts
 * against DynamoDB Local), so a test that passes on a fake means the same on
 * the real table.
 *
 * Counters (`saves`, `gets`, ...) and seeding helpers (`register`) are for
 * tests; they are not part of the ports.
 */
import { ConflictError, NotFoundError, PayloadTooLargeError, ValidationError } from '../../shared/domain/errors.ts';
import { MAX_ITEM_BYTES, estimateItemSize, keys } from '../../shared/aws/table.ts';
import type { PipelineSpec, Provider } from '../../shared/domain/pipeline.ts';
import { newTargetState, type TargetConfig, type TargetState } from '../../shared/domain/release.ts';
import { TERMINAL_RUN_STATUSES, type RunState } from '../../shared/domain/run.ts';
import { validateTargetConfig } from '../../shared/domain/target-config.ts';
import type { EngineMessage, ReleaseMessage } from '../../shared/ports/messages.ts';
import type { DeliveryStore, EventQueue, Page, PipelineRecord, PipelineStore, ReleaseQueue, RunStore, RunSummary, TargetStore } from '../../shared/ports/index.ts';

// ---- paging, as shared/aws/table.ts does it -------------------------------------------

/** Page size: 1..100, default 20 (DynamoDB adapters: `pageLimit`). */
function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
    throw new ValidationError('invalid page size', [{ path: 'limit', message: `must be a whole number from 1 to 100, got ${limit}` }]);
  }
  return limit;
}

/**
 * One page of `sorted`, whose items sort by `key`; the cursor names the
 * partition and the last key handed out, so a cursor of another listing (or a
 * made-up one) is refused, as the adapters refuse them.
 */
function page<T>(partition: string, sorted: T[], key: (item: T) => string, opts: { limit?: number; cursor?: string }, descending = false): Page<T> {
  const limit = pageLimit(opts.limit);
  let start = 0;
  if (opts.cursor !== undefined) {
    const after = decodeCursor(opts.cursor, partition);
    start = sorted.findIndex((item) => (descending ? key(item) < after : key(item) > after));
    if (start < 0) start = sorted.length;
  }
  const items = sorted.slice(start, start + limit);
  const more = start + limit < sorted.length;
  return { items, ...(more ? { cursor: Buffer.from(JSON.stringify({ p: partition, k: key(items.at(-1)!) })).toString('base64url') } : {}) };
}

function decodeCursor(cursor: string, partition: string): string {
  const bad = new ValidationError('invalid cursor', [{ path: 'cursor', message: 'not a cursor this listing returned; start again without one' }]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad;
  }
  const c = parsed as { p?: unknown; k?: unknown } | null;
  if (!/^[A-Za-z0-9_-]+$/.test(cursor) || typeof c !== 'object' || c === null || c.p !== partition || typeof c.k !== 'string' || c.k === '') throw bad;
  return c.k;
}

// ---- pipelines -------------------------------------------------------------------------

/** As DynamoPipelineStore: ids become keys. */
const PIPELINE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class MemoryPipelineStore implements PipelineStore {
  /** Every version of every pipeline, oldest first; tests may seed or replace them. */
  readonly records = new Map<string, PipelineRecord[]>();
  puts = 0;
  gets = 0;
  finds = 0;

  constructor(private readonly now: () => Date = () => new Date('2026-11-27T00:00:00.000Z')) {}

  /** Registers a version at once (no await), for arranging a test. */
  register(id: string, spec: PipelineSpec, extra: Partial<Pick<PipelineRecord, 'definitionSource' | 'webhookSecretName' | 'tokenSecretName' | 'disabled'>> = {}): PipelineRecord {
    const list = this.records.get(id) ?? [];
    const record: PipelineRecord = structuredClone({ id, spec, definitionSource: { kind: 'registered' as const }, ...extra, version: list.length + 1, createdAt: this.now().toISOString() });
    list.push(record);
    this.records.set(id, list);
    // A registration replaces DynamoDB's LATEST item: a tombstone or a disabled mark goes with it.
    this.deleted.delete(id);
    this.latestDisabled.delete(id);
    return structuredClone(record);
  }

  /** Adds whole records (any version, any createdAt) as the latest of their pipelines. */
  seed(...records: PipelineRecord[]): this {
    for (const r of records) {
      this.records.set(r.id, [...(this.records.get(r.id) ?? []), structuredClone(r)]);
      this.deleted.delete(r.id);
      this.latestDisabled.delete(r.id);
    }
    return this;
  }

  async put(input: Omit<PipelineRecord, 'version' | 'createdAt'>): Promise<PipelineRecord> {
    if (!PIPELINE_ID.test(input.id)) {
      throw new ValidationError('invalid pipeline id', [{ path: 'id', message: 'use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit' }]);
    }
    this.puts++;
    // As DynamoPipelineStore: the store carries LATEST's disabled mark (not after a delete), whatever the input says.
    const { id, spec, disabled: _asked, ...extra } = input;
    const carried = this.records.has(id) && !this.deleted.has(id) ? this.latest(id).disabled : undefined;
    // The version is kept as registered; the mark stays the latest's (DynamoDB's LATEST item).
    const record = this.register(id, spec, extra);
    if (!carried) return record;
    this.latestDisabled.set(id, structuredClone(carried));
    return this.latest(id);
  }

  async get(id: string, version?: number): Promise<PipelineRecord> {
    this.gets++;
    if (version !== undefined && (!Number.isInteger(version) || version < 1)) {
      throw new ValidationError('invalid pipeline version', [{ path: 'version', message: `must be a whole number from 1, got ${version}` }]);
    }
    const list = this.records.get(id);
    const record = version === undefined ? list?.at(-1) : list?.find((r) => r.version === version);
    if (!record) throw new NotFoundError(version === undefined ? `pipeline ${id} does not exist` : `pipeline ${id} has no version ${version}`);
    if (version === undefined && this.deleted.has(id)) throw new NotFoundError(`pipeline ${id} was deleted (its runs were kept)`);
    return version === undefined ? this.latest(id) : structuredClone(record);
  }

  /** Pipelines deleted with their history kept (DynamoPipelineStore's tombstones). */
  readonly deleted = new Set<string>();
  /**
   * setDisabled's mark, by pipeline: DynamoPipelineStore writes it on the LATEST item only, so the
   * latest reads (get without a version, list, findByRepository) carry it and the version items
   * runs pin stay as registered. Undefined: enabled since the last registration.
   */
  private readonly latestDisabled = new Map<string, { by: string; at: string } | undefined>();

  /** The latest version as the LATEST item holds it: with setDisabled's mark, if any since. */
  private latest(id: string): PipelineRecord {
    const record = structuredClone(this.records.get(id)!.at(-1)!);
    if (this.latestDisabled.has(id)) {
      const mark = this.latestDisabled.get(id);
      if (mark) record.disabled = structuredClone(mark); else delete record.disabled;
    }
    return record;
  }

  async setDisabled(id: string, disabled: { by: string; at: string } | undefined): Promise<PipelineRecord> {
    await this.get(id);
    this.latestDisabled.set(id, disabled ? structuredClone(disabled) : undefined);
    return this.latest(id);
  }

  async remove(id: string, opts: { keepVersions: boolean }): Promise<void> {
    await this.get(id);
    if (opts.keepVersions) this.deleted.add(id);
    else {
      this.records.delete(id);
      this.latestDisabled.delete(id);
    }
  }

  /** Latest version of each pipeline, ordered by id. */
  async list(opts: { limit?: number; cursor?: string } = {}): Promise<Page<PipelineRecord>> {
    const latest = [...this.records.keys()].filter((id) => !this.deleted.has(id)).sort().map((id) => this.latest(id));
    return page('pipelines', latest, (r) => r.id, opts);
  }

  /** On the latest version's repository, case-insensitively, as git hosts treat names. */
  async findByRepository(provider: Provider, repository: string): Promise<PipelineRecord[]> {
    this.finds++;
    return [...this.records.entries()]
      .filter(([id]) => !this.deleted.has(id))
      .map(([id]) => this.latest(id))
      .filter((r) => r.spec.source.provider === provider && r.spec.source.repository.toLowerCase() === repository.toLowerCase());
  }
}

// ---- runs ------------------------------------------------------------------------------

export class MemoryRunStore implements RunStore {
  readonly items = new Map<string, RunState>();
  /** Successful writes (creates and saves). */
  saves = 0;

  /** DynamoDB refuses items over 400 KB; so does this store (by the same estimate the bench uses). */
  private checkSize(run: RunState): void {
    const size = estimateItemSize({ ...keys.run(run.runId), state: run });
    if (size > MAX_ITEM_BYTES) throw new PayloadTooLargeError(`the item exceeds DynamoDB's ${MAX_ITEM_BYTES / 1024} KB limit: ${size} bytes`);
  }

  /** Stores the run as given, including its `version`. */
  async create(run: RunState): Promise<void> {
    if (this.items.has(run.runId)) throw new ConflictError(`run ${run.runId} already exists`);
    this.checkSize(run);
    this.items.set(run.runId, structuredClone(run));
    this.saves++;
  }

  async get(runId: string): Promise<RunState> {
    const run = this.items.get(runId);
    if (!run) throw new NotFoundError(`run ${runId} does not exist`);
    return structuredClone(run);
  }

  /** Stores `expectedVersion + 1` and sets it on `run`; a conflict leaves `run` as it was. */
  async save(run: RunState, expectedVersion: number): Promise<void> {
    const current = this.items.get(run.runId);
    if (!current || current.version !== expectedVersion) {
      throw new ConflictError(`run ${run.runId} was changed by someone else (expected version ${expectedVersion}); reload and try again`);
    }
    this.checkSize(run);
    this.items.set(run.runId, structuredClone({ ...run, version: expectedVersion + 1 }));
    run.version = expectedVersion + 1;
    this.saves++;
  }

  /** Newest first (by createdAt, then run id); the cursor is only valid for the same pipeline. */
  async listByPipeline(pipelineId: string, opts: { limit?: number; cursor?: string } = {}): Promise<Page<RunSummary>> {
    return page(`runs:${pipelineId}`, this.summaries(pipelineId).reverse(), order, opts, true);
  }

  /** Queued and running runs, oldest first. */
  async listActive(pipelineId: string): Promise<RunSummary[]> {
    return this.summaries(pipelineId).filter((r) => !TERMINAL_RUN_STATUSES.has(r.status));
  }

  async removeByPipeline(pipelineId: string): Promise<number> {
    const ids = [...this.items.values()].filter((r) => r.pipelineId === pipelineId).map((r) => r.runId);
    for (const id of ids) this.items.delete(id);
    return ids.length;
  }

  /** Oldest first. */
  private summaries(pipelineId: string): RunSummary[] {
    return [...this.items.values()]
      .filter((r) => r.pipelineId === pipelineId)
      .map((r): RunSummary => ({
        runId: r.runId,
        pipelineId: r.pipelineId,
        status: r.status,
        commit: r.trigger.commit,
        createdAt: r.createdAt,
        ...(r.trigger.branch !== undefined ? { branch: r.trigger.branch } : {}),
        ...(r.finishedAt !== undefined ? { finishedAt: r.finishedAt } : {}),
      }))
      .sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  }
}

/** The run index's sort key: `<createdAt>#<runId>`. */
const order = (r: RunSummary) => keys.runOrder(r.createdAt, r.runId);

// ---- webhook deliveries ----------------------------------------------------------------

export class MemoryDeliveryStore implements DeliveryStore {
  /** `<provider>#<deliveryId>` -> expiry in epoch seconds. */
  private readonly records = new Map<string, number>();
  claims = 0;
  releases = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Keys of the claims held now, `<provider>#<deliveryId>`, in the order they were made. */
  get claimed(): Set<string> {
    const now = Math.floor(this.now() / 1000);
    return new Set([...this.records].filter(([, expires]) => expires > now).map(([k]) => k));
  }

  async claim(provider: Provider, deliveryId: string, ttlSeconds: number): Promise<boolean> {
    this.claims++;
    if (deliveryId.length === 0 || deliveryId.length > 256) {
      throw new ValidationError('invalid delivery id', [{ path: 'deliveryId', message: 'must be 1-256 characters' }]);
    }
    if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) {
      throw new ValidationError('invalid delivery TTL', [{ path: 'ttlSeconds', message: `must be a whole number of seconds from 1, got ${ttlSeconds}` }]);
    }
    // Like a conditional put: checked and set in one step, after an await, so racers interleave.
    await Promise.resolve();
    const key = `${provider}#${deliveryId}`;
    const now = Math.floor(this.now() / 1000);
    const expires = this.records.get(key);
    // An expired record TTL has not deleted yet does not count (as DynamoDeliveryStore's condition).
    if (expires !== undefined && expires > now) return false;
    this.records.delete(key);
    this.records.set(key, now + ttlSeconds);
    return true;
  }

  async release(provider: Provider, deliveryId: string): Promise<void> {
    this.releases++;
    this.records.delete(`${provider}#${deliveryId}`);
  }
}

// ---- release targets -------------------------------------------------------------------

export class MemoryTargetStore implements TargetStore {
  private readonly items = new Map<string, TargetState>();
  writes = 0;
  reads = 0;

  async create(config: TargetConfig, now: string): Promise<TargetState> {
    validateTargetConfig(config);
    if (this.items.has(config.name)) throw new ConflictError(`target ${config.name} already exists`);
    const state = { ...newTargetState(config, now), version: 1 };
    this.items.set(config.name, structuredClone(state));
    this.writes += 1;
    return structuredClone(state);
  }

  async get(name: string): Promise<TargetState> {
    this.reads += 1;
    const stored = this.items.get(name);
    if (!stored) throw new NotFoundError(`target ${name} is not registered`);
    return structuredClone(stored);
  }

  async save(state: TargetState, expectedVersion: number): Promise<TargetState> {
    this.writes += 1;
    const stored = this.items.get(state.name);
    if (!stored || stored.version !== expectedVersion) throw new ConflictError(`target ${state.name} changed since version ${expectedVersion}`);
    const next = { ...structuredClone(state), version: expectedVersion + 1 };
    this.items.set(state.name, next);
    return structuredClone(next);
  }

  async listNames(): Promise<string[]> {
    return [...this.items.keys()].sort();
  }
}

// ---- queues ----------------------------------------------------------------------------

/**
 * engine-events.fifo: records every message sent (`sent`); `take()` hands them
 * out in order, each id once, as the FIFO queue deduplicates by id.
 */
export class MemoryEventQueue implements EventQueue {
  readonly sent: EngineMessage[] = [];
  /** Successful sends. */
  batches = 0;
  /** Fail every send with this error while it is set. */
  failWith: Error | undefined;
  /** Fail the next n sends (an SQS-like error). */
  failNext = 0;
  private pending: EngineMessage[] = [];
  private readonly seen = new Set<string>();

  async send(messages: EngineMessage[]): Promise<void> {
    if (this.failWith) throw this.failWith;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('sqs unavailable');
    }
    this.batches++;
    for (const m of messages) {
      this.sent.push(structuredClone(m));
      if (this.seen.has(m.id)) continue;
      this.seen.add(m.id);
      this.pending.push(structuredClone(m));
    }
  }

  take(): EngineMessage | undefined {
    return this.pending.shift();
  }

  get size(): number {
    return this.pending.length;
  }
}

/** release-steps: records what was sent and with which delay. */
export class MemoryReleaseQueue implements ReleaseQueue {
  readonly sent: ReleaseMessage[] = [];
  readonly delays: Array<number | undefined> = [];
  async send(message: ReleaseMessage, delaySeconds?: number): Promise<void> {
    this.sent.push(structuredClone(message));
    this.delays.push(delaySeconds);
  }
}
