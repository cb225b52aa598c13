/**
 * The health checker's inline code (infra/constructs/health-checker.ts), run as Lambda would run
 * it: CommonJS, `exports.handler`, SLIPWAY_CHECK_PORT in the environment, Node's global fetch
 * (replaced here, so nothing leaves the machine).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEALTH_CHECKER_SOURCE } from '../../infra/constructs/health-checker.ts';

type Handler = (event: unknown) => Promise<any>;

function load(fetchImpl: (url: string) => Promise<Response>): Handler {
  const mod = { exports: {} as { handler?: Handler } };
  // eslint-disable-next-line no-new-func
  new Function('exports', 'process', 'fetch', 'AbortSignal', HEALTH_CHECKER_SOURCE)(mod.exports, { env: { SLIPWAY_CHECK_PORT: '8080' } }, fetchImpl, AbortSignal);
  return mod.exports.handler!;
}

test('GETs the path on each task and reports each status', async () => {
  const urls: string[] = [];
  const handler = load(async (url) => {
    urls.push(url);
    return new Response('ok', { status: url.startsWith('http://10.0.1.7') ? 503 : 200 });
  });
  const out = await handler({ targets: [{ ip: '10.0.0.5', port: 8080 }, { ip: '10.0.1.7', port: 8080 }], path: '/health?deep=1' });
  assert.deepEqual(urls.sort(), ['http://10.0.0.5:8080/health?deep=1', 'http://10.0.1.7:8080/health?deep=1']);
  assert.deepEqual(out, { results: [{ target: '10.0.0.5:8080', status: 200 }, { target: '10.0.1.7:8080', status: 503 }] });
});

test('a connection that fails is reported with its cause, not thrown', async () => {
  const handler = load(async () => {
    throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
  });
  assert.deepEqual(await handler({ targets: [{ ip: '172.16.3.4', port: 8080 }], path: '/health' }), { results: [{ target: '172.16.3.4:8080', error: 'ECONNREFUSED' }] });
});

test('reaches nothing but private addresses on the container port: not a proxy into the VPC', async () => {
  const urls: string[] = [];
  const handler = load(async (url) => {
    urls.push(url);
    return new Response('', { status: 200 });
  });
  const out = await handler({
    targets: [{ ip: '169.254.169.254', port: 8080 }, { ip: '8.8.8.8', port: 8080 }, { ip: '10.0.0.5', port: 22 }, { ip: '10.0.0.5/admin#', port: 8080 }],
    path: '/health',
  });
  assert.equal(urls.length, 0);
  assert.ok(out.results.every((r: { error?: string }) => /^refused/.test(r.error ?? '')));
  assert.deepEqual(await handler({ targets: [{ ip: '10.0.0.5', port: 8080 }], path: 'http://evil/' }), { error: 'path must be a URL path starting with /' });
  assert.deepEqual(await handler({ targets: [{ ip: '10.0.0.5', port: 8080 }], path: '/a b' }), { error: 'path must be a URL path starting with /' });
});
