/**
 * The local mode serves the console from its own origin with a CSP that allows no other
 * host, and its API refuses pages of other origins even when they hold the token.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { admit } from '../../shared/local/front-door.ts';
import { CONSOLE_CSP, consoleAnswer } from '../../shared/local/console-files.ts';
import { buildConsole } from '../../scripts/build-console.mjs';

const TOKEN = 'tOkEn_0123456789abcdefghijklmnopqrstuv';
let dist: string;
let built: { firstLoadJsGzipBytes: number; firstLoadFiles: string[] };

before(async () => {
  dist = path.join(mkdtempSync(path.join(os.tmpdir(), 'slipway-console-')), 'console');
  built = await buildConsole(dist);
});

test('the console is served under /console/ with a CSP that names no other host, and config.json says how to authenticate', () => {
  const page = consoleAnswer('GET', '/console/', dist, { apiBase: '', auth: { kind: 'local-token' } })!;
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'], /text\/html/);
  assert.equal(page.headers['content-security-policy'], CONSOLE_CSP);
  assert.doesNotMatch(CONSOLE_CSP, /https?:|\*|unsafe-inline|unsafe-eval/, 'only \'self\': no other host, no inline script');
  assert.match(CONSOLE_CSP, /frame-ancestors 'none'/);
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.equal(page.headers['referrer-policy'], 'no-referrer');
  const js = consoleAnswer('GET', '/console/main.js', dist, {})!;
  assert.equal(js.status, 200);
  assert.match(js.headers['content-type'], /javascript/);
  const config = consoleAnswer('GET', '/console/config.json', dist, { apiBase: '', auth: { kind: 'local-token' } })!;
  assert.deepEqual(JSON.parse(String(config.body)), { apiBase: '', auth: { kind: 'local-token' } });
  assert.equal(consoleAnswer('GET', '/console', dist, {})!.status, 308);
  assert.equal(consoleAnswer('GET', '/pipelines', dist, {}), undefined, 'the API is not the console\'s');
});

test('no file outside the console folder is served, whatever the path says', () => {
  for (const p of ['/console/../package.json', '/console/%2e%2e/package.json', '/console/..%2f..%2fpackage.json', '/console/%ZZ', '/console/chunks/../../../README.md']) {
    const a = consoleAnswer('GET', p, dist, {})!;
    assert.equal(a.status, 404, p);
  }
  assert.equal(consoleAnswer('POST', '/console/index.html', dist, {})!.status, 405);
});

test('the page loads no script or style from another host, and nothing in the console uses innerHTML', () => {
  const html = readFileSync(path.join(dist, 'index.html'), 'utf8');
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'no absolute URL in the page');
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)/, 'no inline script (the CSP would block it)');
  for (const f of built.firstLoadFiles) assert.doesNotMatch(readFileSync(path.join(dist, f), 'utf8'), /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, f);
});

test('first-load JavaScript stays within its budget: 100 KB gzipped', () => {
  assert.ok(built.firstLoadJsGzipBytes > 1000, 'the measure measures something');
  assert.ok(built.firstLoadJsGzipBytes <= 100 * 1024, `first-load JS is ${built.firstLoadJsGzipBytes} bytes gzipped`);
});

test('the local API answers a page of its own origin and refuses any other, token or not', () => {
  const host = '127.0.0.1:4000';
  const auth = { authorization: `Bearer ${TOKEN}` };
  assert.deepEqual(admit({ host, origin: 'http://127.0.0.1:4000', ...auth }, false, TOKEN), { ok: true });
  assert.deepEqual(admit({ host, ...auth }, false, TOKEN), { ok: true }, 'the CLI sends no Origin');
  for (const origin of ['http://evil.example', 'http://127.0.0.1:4001', 'https://127.0.0.1:4000', 'null']) {
    const d = admit({ host, origin, ...auth }, false, TOKEN);
    assert.equal(d.ok, false, origin);
    if (!d.ok) assert.equal(d.status, 403);
  }
});
