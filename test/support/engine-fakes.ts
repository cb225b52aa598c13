/**
 * In-memory ports for the engine's unit tests: stores with the same contracts as
 * the DynamoDB adapters (conditional saves, NotFound/Conflict errors), queues that
 * record what was sent, and a build runner that honours the idempotency token the
 * way CodeBuild does.
 */
import { ConflictError, NotFoundError, PayloadTooLargeError } from '../../shared/domain/errors.ts';
import { MAX_ITEM_BYTES, estimateItemSize, keys } from '../../shared/aws/table.ts';
import type { PipelineSpec } from '../../shared/domain/pipeline.ts';
import type { RunState } from '../../shared/domain/run.ts';
import type { EngineMessage, ReleaseMessage } from '../../shared/ports/messages.ts';
import type { BuildRequest, BuildRunner, EventQueue, Page, PipelineRecord, PipelineStore, ReleaseQueue, RunStore, RunSummary } from '../../shared/ports/index.ts';

export class MemoryRunStore implements RunStore {
  readonly items = new Map<string, RunState>();
  saves = 0;

  /** DynamoDB refuses items over 400 KB; so does this store (by the same estimate the bench uses). */
  private checkSize(run: RunState): void {
    const size = estimateItemSize({ ...keys.run(run.runId), state: run });
    if (size > MAX_ITEM_BYTES) throw new PayloadTooLargeError(`the item exceeds DynamoDB's ${MAX_ITEM_BYTES / 1024} KB limit: ${size} bytes`);
  }

  async create(run: RunState): Promise<void> {
    if (this.items.has(run.runId)) throw new ConflictError(`run ${run.runId} exists`);
    this.checkSize(run);
    this.items.set(run.runId, structuredClone(run));
    this.saves++;
  }

  async get(runId: string): Promise<RunState> {
    const run = this.items.get(runId);
    if (!run) throw new NotFoundError(`run ${runId} not found`);
    return structuredClone(run);
  }

  async save(run: RunState, expectedVersion: number): Promise<void> {
    const current = this.items.get(run.runId);
    if (!current || current.version !== expectedVersion) throw new ConflictError(`run ${run.runId} changed`);
    this.checkSize(run);
    this.items.set(run.runId, structuredClone({ ...run, version: expectedVersion + 1 }));
    run.version = expectedVersion + 1;
    this.saves++;
  }

  async listByPipeline(pipelineId: string): Promise<Page<RunSummary>> {
    return { items: this.summaries(pipelineId).reverse() };
  }

  async listActive(pipelineId: string): Promise<RunSummary[]> {
    return this.summaries(pipelineId).filter((r) => r.status === 'queued' || r.status === 'running');
  }

  private summaries(pipelineId: string): RunSummary[] {
    return [...this.items.values()]
      .filter((r) => r.pipelineId === pipelineId)
      .sort((a, b) => (a.createdAt === b.createdAt ? a.runId.localeCompare(b.runId) : a.createdAt.localeCompare(b.createdAt)))
      .map((r) => ({ runId: r.runId, pipelineId: r.pipelineId, status: r.status, branch: r.trigger.branch, commit: r.trigger.commit, createdAt: r.createdAt, finishedAt: r.finishedAt }));
  }
}

export class MemoryPipelineStore implements PipelineStore {
  readonly records = new Map<string, PipelineRecord[]>();
  gets = 0;

  register(id: string, spec: PipelineSpec): PipelineRecord {
    const list = this.records.get(id) ?? [];
    const record: PipelineRecord = { id, version: list.length + 1, spec, definitionSource: { kind: 'registered' }, createdAt: '2026-11-27T00:00:00Z' };
    list.push(record);
    this.records.set(id, list);
    return record;
  }

  async put(input: Omit<PipelineRecord, 'version' | 'createdAt'>): Promise<PipelineRecord> {
    return this.register(input.id, input.spec);
  }

  async get(id: string, version?: number): Promise<PipelineRecord> {
    this.gets++;
    const list = this.records.get(id);
    const record = version === undefined ? list?.at(-1) : list?.find((r) => r.version === version);
    if (!record) throw new NotFoundError(`pipeline ${id}${version === undefined ? '' : ` version ${version}`} not found`);
    return structuredClone(record);
  }

  async list(): Promise<Page<PipelineRecord>> {
    return { items: [...this.records.values()].map((l) => l.at(-1)!) };
  }

  async findByRepository(): Promise<PipelineRecord[]> {
    return [];
  }
}

/** Records messages; `take()` hands them out FIFO and forgets them, deduplicated by id like the FIFO queue. */
export class MemoryEventQueue implements EventQueue {
  readonly sent: EngineMessage[] = [];
  private pending: EngineMessage[] = [];
  private readonly seen = new Set<string>();

  async send(messages: EngineMessage[]): Promise<void> {
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

export class MemoryReleaseQueue implements ReleaseQueue {
  readonly sent: ReleaseMessage[] = [];
  async send(message: ReleaseMessage): Promise<void> {
    this.sent.push(structuredClone(message));
  }
}

/**
 * A BuildRunner that, like CodeBuild, answers a repeated token with the build it
 * started for it, for 5 minutes of its clock (CodeBuild's idempotency window);
 * later, the same token starts another build. `builds` keeps the first build of
 * each token under the token, later ones under `<token>#<n>`.
 */
export class FakeBuildRunner implements BuildRunner {
  readonly builds = new Map<string, { buildId: string; request: BuildRequest; startedAt: number }>();
  readonly startCalls: BuildRequest[] = [];
  readonly stopped: string[] = [];
  /** Throw this once from the next start, after which starts succeed again. */
  failNextStart: Error | undefined;
  private counter = 0;

  constructor(readonly now: () => number = Date.now) {}

  async start(request: BuildRequest): Promise<{ buildId: string }> {
    this.startCalls.push(request);
    if (this.failNextStart) {
      const err = this.failNextStart;
      this.failNextStart = undefined;
      throw err;
    }
    const now = this.now();
    const known = [...this.builds.values()].reverse().find((b) => b.request.token === request.token && now - b.startedAt < 5 * 60_000);
    if (known) return { buildId: known.buildId };
    const buildId = `slipway-${request.spec.compute}:build-${++this.counter}`;
    let key = request.token;
    for (let n = 2; this.builds.has(key); n++) key = `${request.token}#${n}`;
    this.builds.set(key, { buildId, request, startedAt: now });
    return { buildId };
  }

  async find(request: BuildRequest, since: Date): Promise<{ buildId: string } | undefined> {
    const found = [...this.builds.values()].find((b) => b.request.runId === request.runId && b.request.job === request.job && b.request.attempt === request.attempt && b.startedAt >= since.getTime());
    return found ? { buildId: found.buildId } : undefined;
  }

  async stop(buildId: string): Promise<void> {
    this.stopped.push(buildId);
  }
}
