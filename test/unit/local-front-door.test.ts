/**
 * Issue 14, finding 2: the local mode's API ran any request from any local process, or
 * from a web page through DNS rebinding. Now it needs this start's token and a loopback
 * `Host`. The whole local mode is checked end to end in test/e2e/local-mode.test.ts;
 * here the rule itself, and the CLI sending the token from .slipway/dev.json.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../cli/slipway.ts';
import { admit, hostName } from '../../shared/local/front-door.ts';

const TOKEN = 'tOkEn_0123456789abcdefghijklmnopqrstuv';
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

test('a management request without the token, or with another, is a 401 that says where the token is', () => {
  for (const headers of [{ host: '127.0.0.1:4000' }, { host: '127.0.0.1:4000', ...bearer('x'.repeat(40)) }, { host: 'localhost', authorization: TOKEN }, { host: 'localhost', authorization: `Basic ${TOKEN}` }]) {
    const d = admit(headers, false, TOKEN);
    assert.equal(d.ok, false, JSON.stringify(headers));
    if (!d.ok) {
      assert.equal(d.status, 401);
      assert.match(d.message, /\.slipway\/dev\.json/);
    }
  }
  assert.deepEqual(admit({ host: '127.0.0.1:4000', ...bearer(TOKEN) }, false, TOKEN), { ok: true });
});

test('DNS rebinding: a page\'s own name in Host is refused with 403, token or not, webhook or not', () => {
  for (const host of ['evil.example', 'evil.example:4000', '127.0.0.1.evil.example', 'localhost.evil.example:80', '0.0.0.0:4000', '', 'a b']) {
    for (const isWebhook of [false, true]) {
      const d = admit({ host, ...bearer(TOKEN) }, isWebhook, TOKEN);
      assert.equal(d.ok, false, host);
      if (!d.ok) assert.equal(d.status, 403);
    }
  }
  assert.equal(admit({ ...bearer(TOKEN) }, false, TOKEN).ok, false, 'no Host at all');
});

test('loopback names pass with any port; webhooks need no token (their signature is checked)', () => {
  for (const host of ['127.0.0.1', '127.0.0.1:4000', 'localhost:4000', 'LOCALHOST', '[::1]:4000']) {
    assert.deepEqual(admit({ host, ...bearer(TOKEN) }, false, TOKEN), { ok: true }, host);
    assert.deepEqual(admit({ host }, true, TOKEN), { ok: true }, host);
  }
  assert.equal(hostName('[::1]:80'), '[::1]');
  assert.equal(hostName('evil.example:80:90'), undefined);
});

// ---- the CLI sends the token of .slipway/dev.json to the local API, and only there ----

const seen: Array<{ url: string; authorization?: string }> = [];
let server: http.Server;
let url = '';
let dir = '';

before(async () => {
  server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
    const ok = req.headers.authorization === `Bearer ${TOKEN}`;
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(JSON.stringify(ok ? { items: [] } : { error: 'Unauthorized', message: 'the local API needs this start\'s token' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-'));
  mkdirSync(path.join(dir, '.slipway'));
});
after(() => { server.close(); rmSync(dir, { recursive: true, force: true }); });

/** `slipway pipelines list` run in this process, in `dir`, with no SLIPWAY_API_URL. */
async function cli(env: Record<string, string> = {}): Promise<{ code: number | null; err: string }> {
  let err = '';
  const code = await main(['pipelines', 'list'], { stdout: { write: () => true }, stderr: { write: (t: string) => (err += t) }, env: { SLIPWAY_API_URL: '', ...env }, cwd: dir });
  return { code, err };
}

test('the CLI reads apiUrl and apiToken from .slipway/dev.json and sends the token as a bearer token', async () => {
  writeFileSync(path.join(dir, '.slipway', 'dev.json'), JSON.stringify({ apiUrl: url, apiToken: TOKEN }));
  seen.length = 0;
  const res = await cli();
  assert.equal(res.code, 0, res.err);
  assert.deepEqual(seen, [{ url: '/pipelines', authorization: `Bearer ${TOKEN}` }]);
});

test('a stale token (the local mode restarted) is a clear error, not a crash', async () => {
  writeFileSync(path.join(dir, '.slipway', 'dev.json'), JSON.stringify({ apiUrl: url, apiToken: 'stale_0123456789abcdef' }));
  const res = await cli();
  assert.notEqual(res.code, 0);
  assert.match(res.err, /tokens change at every start/);
});
