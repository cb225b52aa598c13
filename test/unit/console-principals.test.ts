/**
 * People signed in to the console (a Cognito user pool) as approvers: how `approvers`
 * name them, how the API reads who is calling from the JWT authorizer's claims, and
 * that a name the caller could choose never matches.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { cognitoUserPrincipal, isApprover, parseApprover } from '../../shared/domain/principals.ts';
import { callerGroups, callerIdentity, claimList } from '../../shared/http/request.ts';

const POOL = 'eu-west-1_AbC123xyz';
const alice = `cognito:${POOL}:user/alice`;

function jwtEvent(claims: Record<string, unknown>): APIGatewayProxyEventV2 {
  return { requestContext: { authorizer: { jwt: { claims, scopes: null } } } } as unknown as APIGatewayProxyEventV2;
}
const accessClaims = (over: Record<string, unknown> = {}) => ({
  iss: `https://cognito-idp.eu-west-1.amazonaws.com/${POOL}`, token_use: 'access', username: 'alice', client_id: 'client', sub: '8f3c-uuid', ...over,
});

test('approvers may name a console user or a group of the user pool', () => {
  assert.deepEqual(parseApprover(alice), { ok: true, approver: { kind: 'cognito-user', userPoolId: POOL, username: 'alice' } });
  assert.deepEqual(parseApprover(`cognito:${POOL}:group/Releasers`), { ok: true, approver: { kind: 'cognito-group', userPoolId: POOL, group: 'Releasers' } });
  assert.equal(cognitoUserPrincipal(POOL, 'alice'), alice);
  for (const bad of ['cognito:alice', `cognito:${POOL}/alice`, `cognito:${POOL}:role/alice`, 'cognito:not-a-pool:user/alice', `cognito:${POOL}:user/al ice`]) {
    const parsed = parseApprover(bad);
    assert.equal(parsed.ok, false, bad);
    if (!parsed.ok) assert.match(parsed.message, /cognito:eu-west-1_AbC123:user\/alice/, 'the message shows the form to write');
  }
});

test('a console user matches their own entry and their groups, in that pool only, and never an IAM entry', () => {
  assert.equal(isApprover([alice], alice), true);
  assert.equal(isApprover([`cognito:${POOL}:user/Alice`], alice), false, 'usernames compare exactly');
  assert.equal(isApprover([`cognito:eu-west-1_Other999:user/alice`], alice), false, 'another pool\'s alice is someone else');
  assert.equal(isApprover([`cognito:${POOL}:group/Releasers`], alice, ['Releasers']), true);
  assert.equal(isApprover([`cognito:${POOL}:group/Releasers`], alice, ['Viewers']), false);
  assert.equal(isApprover([`cognito:${POOL}:group/Releasers`], alice), false);
  assert.equal(isApprover(['arn:aws:iam::123456789012:user/alice', 'arn:aws:iam::123456789012:role/alice'], alice), false);
  assert.equal(isApprover([alice], 'arn:aws:iam::123456789012:user/alice'), false, 'an IAM user named alice is not the console user');
  assert.equal(isApprover([`cognito:${POOL}:group/Releasers`], 'arn:aws:sts::123456789012:assumed-role/Releasers/x', ['Releasers']), false);
});

test('the API names a console caller from the access token claims the JWT authorizer verified', () => {
  assert.equal(callerIdentity(jwtEvent(accessClaims())), alice);
  assert.deepEqual(callerGroups(jwtEvent(accessClaims({ 'cognito:groups': '[Releasers Viewers]' }))), ['Releasers', 'Viewers']);
  assert.equal(callerIdentity(jwtEvent(accessClaims({ token_use: 'id' }))), undefined, 'an ID token is for the page, not the API');
  assert.equal(callerIdentity(jwtEvent(accessClaims({ iss: 'https://evil.example/eu-west-1_AbC123xyz' }))), undefined, 'only a Cognito issuer');
  assert.equal(callerIdentity(jwtEvent(accessClaims({ username: '' }))), undefined);
  // Without an authorizer's claims (an IAM route, or the local mode) there is no console user.
  assert.equal(callerIdentity({ requestContext: {} } as unknown as APIGatewayProxyEventV2), undefined);
  // IAM wins where both could appear: the IAM route's authorizer.
  const both = { requestContext: { authorizer: { iam: { userArn: 'arn:aws:iam::123456789012:user/bob' }, jwt: { claims: accessClaims() } } } } as unknown as APIGatewayProxyEventV2;
  assert.equal(callerIdentity(both), 'arn:aws:iam::123456789012:user/bob');
});

test('array claims arrive flattened as "[a b]" on HTTP APIs, or as arrays', () => {
  assert.deepEqual(claimList('[a b]'), ['a', 'b']);
  assert.deepEqual(claimList(['a', 'b']), ['a', 'b']);
  assert.deepEqual(claimList('solo'), ['solo']);
  assert.deepEqual(claimList(undefined), []);
  assert.deepEqual(claimList('[]'), []);
});

test('an approval given from the console records the person, through the API route, and a person not listed is refused', async () => {
  const { ApiService } = await import('../../shared/services/api-service.ts');
  const { apiRoutes } = await import('../../shared/http/api-routes.ts');
  const { createRouter } = await import('../../shared/http/router.ts');
  const { MemoryEventQueue, MemoryPipelineStore, MemoryRunStore } = await import('../support/memory-stores.ts');
  const { jobSpec, pipelineSpec } = await import('../support/engine-fixtures.ts');
  const pipelines = new MemoryPipelineStore();
  const runs = new MemoryRunStore();
  const queue = new MemoryEventQueue();
  pipelines.register('web', pipelineSpec([jobSpec('approve', { kind: 'approval', approval: { approvers: [`cognito:${POOL}:group/Releasers`], timeoutMinutes: 60 } })]));
  const runId = '01JABCDEFGHJKMNPQRSTVWXYZ0';
  await runs.create({
    runId, pipelineId: 'web', pipelineVersion: 1, concurrency: 'superseded', trigger: { event: 'push', commit: 'c1', branch: 'main' }, status: 'running',
    jobs: { approve: { status: 'waiting_approval', attempt: 1 } }, plan: { approve: { kind: 'approval', needs: [], maxAttempts: 1 } },
    createdAt: '2026-11-30T00:00:00Z', updatedAt: '2026-11-30T00:00:00Z', version: 1, appliedEventIds: [],
  });
  const route = createRouter(apiRoutes(new ApiService({ pipelines, runs, queue })));
  const post = (claims: Record<string, unknown>) => route({
    version: '2.0', routeKey: 'POST /console-api/runs/{id}/jobs/{job}/approve', rawPath: `/console-api/runs/${runId}/jobs/approve/approve`, headers: {},
    requestContext: { requestId: 'r', http: { method: 'POST', path: '' }, authorizer: { jwt: { claims } } },
  } as unknown as APIGatewayProxyEventV2);
  const refused = await post(accessClaims({ username: 'bob', 'cognito:groups': '[Viewers]' }));
  assert.equal(refused.statusCode, 403, refused.body);
  assert.equal(queue.sent.length, 0);
  const ok = await post(accessClaims({ 'cognito:groups': '[Releasers]' }));
  assert.equal(ok.statusCode, 202, ok.body);
  assert.equal((queue.sent[0] as { by: string }).by, alice, 'the run records the person as approvedBy');
});
