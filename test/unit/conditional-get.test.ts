/**
 * Live views poll with If-None-Match: an unchanged resource answers 304 without a body,
 * a changed one 200 with a new ETag; writes and errors carry none.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createRouter, json } from '../../shared/http/router.ts';
import { matchesIfNoneMatch } from '../../shared/http/conditional.ts';

let state = { status: 'running' };
const route = createRouter({
  'GET /runs/{id}': async () => json(200, state),
  'POST /runs/{id}/cancel': async () => json(202, { ok: true }),
  'GET /missing/{id}': async () => { throw Object.assign(new Error('x')); },
});
const req = (method: string, rawPath: string, headers: Record<string, string> = {}) =>
  route({ version: '2.0', routeKey: '$default', rawPath, headers, requestContext: { requestId: 'r', http: { method, path: rawPath } } } as unknown as APIGatewayProxyEventV2);

test('an unchanged resource answers 304 with no body; a change answers 200 with a new ETag', async () => {
  const first = await req('GET', '/runs/R1');
  assert.equal(first.statusCode, 200);
  const etag = String(first.headers?.etag);
  assert.match(etag, /^"[A-Za-z0-9_-]+"$/);
  const again = await req('GET', '/runs/R1', { 'If-None-Match': etag });
  assert.equal(again.statusCode, 304);
  assert.equal(again.body, '');
  assert.equal(again.headers?.etag, etag);
  state = { status: 'succeeded' };
  const changed = await req('GET', '/runs/R1', { 'if-none-match': etag });
  assert.equal(changed.statusCode, 200);
  assert.notEqual(changed.headers?.etag, etag);
  assert.equal(JSON.parse(changed.body).status, 'succeeded');
});

test('writes and errors carry no ETag and never answer 304', async () => {
  const post = await req('POST', '/runs/R1/cancel', { 'if-none-match': '*' });
  assert.equal(post.statusCode, 202);
  assert.equal(post.headers?.etag, undefined);
  const err = await req('GET', '/missing/x', { 'if-none-match': '*' });
  assert.equal(err.statusCode, 500);
});

test('If-None-Match lists and weak tags compare weakly', () => {
  assert.equal(matchesIfNoneMatch('W/"a", "b"', '"b"'), true);
  assert.equal(matchesIfNoneMatch('W/"a"', '"a"'), true);
  assert.equal(matchesIfNoneMatch('"a"', '"b"'), false);
  assert.equal(matchesIfNoneMatch(undefined, '"b"'), false);
});
