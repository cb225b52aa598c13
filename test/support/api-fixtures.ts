/**
 * In-memory ports and request factories for the management API's unit tests.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ConflictError, NotFoundError, ValidationError } from '../../shared/domain/errors.ts';
import type { Provider } from '../../shared/domain/pipeline.ts';
import type { JobState, RunState } from '../../shared/domain/run.ts';
import type { EngineMessage } from '../../shared/ports/messages.ts';
import type { EventQueue, Page, PipelineRecord, PipelineStore, RunStore, RunSummary } from '../../shared/ports/index.ts';

export class MemoryPipelineStore implements PipelineStore {
  readonly versions = new Map<string, PipelineRecord[]>();
  puts = 0;

  async put(input: Omit<PipelineRecord, 'version' | 'createdAt'>): Promise<PipelineRecord> {
    this.puts++;
    const list = this.versions.get(input.id) ?? [];
    const record: PipelineRecord = structuredClone({ ...input, version: list.length + 1, createdAt: new Date(Date.UTC(2026, 0, 1, 0, list.length)).toISOString() });
    list.push(record);
    this.versions.set(input.id, list);
    return structuredClone(record);
  }

  async get(id: string, version?: number): Promise<PipelineRecord> {
    const list = this.versions.get(id);
    const found = list && (version === undefined ? list[list.length - 1] : list[version - 1]);
    if (!found) throw new NotFoundError(`pipeline ${id}${version ? ` version ${version}` : ''} not found`);
    return structuredClone(found);
  }

  async list(opts: { limit?: number; cursor?: string } = {}): Promise<Page<PipelineRecord>> {
    return paginate([...this.versions.keys()].sort().map((id) => this.versions.get(id)!.at(-1)!), opts);
  }

  async findByRepository(provider: Provider, repository: string): Promise<PipelineRecord[]> {
    return [...this.versions.values()].map((l) => l.at(-1)!).filter((r) => r.spec.source.provider === provider && r.spec.source.repository === repository);
  }
}

export class MemoryRunStore implements RunStore {
  readonly runs = new Map<string, RunState>();

  async create(run: RunState): Promise<void> {
    if (this.runs.has(run.runId)) throw new ConflictError(`run ${run.runId} exists`);
    this.runs.set(run.runId, structuredClone(run));
  }

  async get(runId: string): Promise<RunState> {
    const run = this.runs.get(runId);
    if (!run) throw new NotFoundError(`run ${runId} not found`);
    return structuredClone(run);
  }

  async save(run: RunState, expectedVersion: number): Promise<void> {
    if (this.runs.get(run.runId)?.version !== expectedVersion) throw new ConflictError('version moved');
    this.runs.set(run.runId, structuredClone(run));
  }

  async listByPipeline(pipelineId: string, opts: { limit?: number; cursor?: string } = {}): Promise<Page<RunSummary>> {
    const runs = [...this.runs.values()].filter((r) => r.pipelineId === pipelineId).sort((a, b) => (a.runId < b.runId ? 1 : -1));
    return paginate(runs.map((r) => ({ runId: r.runId, pipelineId: r.pipelineId, status: r.status, commit: r.trigger.commit, createdAt: r.createdAt, ...(r.trigger.branch ? { branch: r.trigger.branch } : {}) })), opts);
  }

  async listActive(pipelineId: string): Promise<RunSummary[]> {
    return (await this.listByPipeline(pipelineId, { limit: 1000 })).items.filter((r) => r.status === 'queued' || r.status === 'running').reverse();
  }
}

function paginate<T>(all: T[], opts: { limit?: number; cursor?: string }): Page<T> {
  const start = opts.cursor === undefined ? 0 : Number(opts.cursor);
  if (!Number.isInteger(start) || start < 0) throw new ValidationError('invalid cursor', [{ path: 'cursor', message: 'not a cursor this listing returned' }]);
  const limit = opts.limit ?? 20;
  const items = all.slice(start, start + limit);
  return { items, ...(start + limit < all.length ? { cursor: String(start + limit) } : {}) };
}

export class RecordingQueue implements EventQueue {
  readonly sent: EngineMessage[] = [];
  failWith?: Error;
  async send(messages: EngineMessage[]): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.sent.push(...structuredClone(messages));
  }
}

export const RUN_ID = '01JZ0000000000000000000001';
export const SHA = 'a'.repeat(40);

/** A running run of pipeline `shop` with a build job and an approval job waiting. */
export function runState(overrides: Partial<RunState> = {}, jobs: Record<string, Partial<JobState>> = {}): RunState {
  return {
    runId: RUN_ID,
    pipelineId: 'shop',
    pipelineVersion: 1,
    concurrency: 'superseded',
    trigger: { event: 'push', provider: 'github', repository: 'acme/shop', branch: 'main', commit: SHA },
    status: 'running',
    jobs: {
      build: { status: 'succeeded', attempt: 1, buildId: 'slipway-small:11111111-2222-3333-4444-555555555555', ...jobs.build },
      approve: { status: 'waiting_approval', attempt: 1, ...jobs.approve },
      deploy: { status: 'pending', attempt: 0, ...jobs.deploy },
    },
    plan: {
      build: { kind: 'build', needs: [], maxAttempts: 1 },
      approve: { kind: 'approval', needs: ['build'], maxAttempts: 1 },
      deploy: { kind: 'deploy', needs: ['approve'], maxAttempts: 1, target: 'prod' },
    },
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    version: 3,
    appliedEventIds: ['e1'],
    ...overrides,
  };
}

export const VALID_YAML = `name: shop
source:
  provider: github
  repository: acme/shop
jobs:
  build:
    template: node
  approve:
    kind: approval
    needs: [build]
    approval:
      approvers: ["arn:aws:iam::123456789012:user/alice", "arn:aws:iam::123456789012:role/Releasers"]
`;

export function httpEvent(input: {
  method: string;
  path: string;
  body?: string;
  base64?: boolean;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  userArn?: string;
  requestId?: string;
}): APIGatewayProxyEventV2 {
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: input.path,
    rawQueryString: new URLSearchParams(input.query ?? {}).toString(),
    headers: input.headers ?? {},
    ...(input.query ? { queryStringParameters: input.query } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method: input.method, path: input.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: input.requestId ?? 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: '01/Jan/2026:00:00:00 +0000',
      timeEpoch: 0,
      ...(input.userArn ? { authorizer: { iam: { userArn: input.userArn } } } : {}),
    },
    isBase64Encoded: input.base64 ?? false,
    ...(input.body !== undefined ? { body: input.base64 ? Buffer.from(input.body).toString('base64') : input.body } : {}),
  };
  return event as unknown as APIGatewayProxyEventV2;
}
