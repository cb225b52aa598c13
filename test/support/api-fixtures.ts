/**
 * Request and run factories for the management API's tests (the in-memory
 * ports are in memory-stores.ts).
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { JobState, RunState } from '../../shared/domain/run.ts';

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
