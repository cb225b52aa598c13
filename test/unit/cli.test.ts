/**
 * The `slipway` CLI as scripts see it: exit codes and output, against a
 * stand-in API over HTTP. Commands run in this process through `main` with
 * their own streams; one smoke test runs the real bin in a process of its own.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../cli/slipway.ts';

const requests: Array<{ method: string; url: string; body: string }> = [];
let api = '';
let server: http.Server;

const run = (status: string) => ({
  runId: `run-${status}`, pipelineId: 'shop', pipelineVersion: 2, concurrency: 'superseded', status, version: 3, appliedEventIds: [],
  trigger: { event: 'manual', branch: 'main', commit: 'abcdef1234567890' }, plan: {}, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:01:00Z',
  startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:01:00Z',
  jobs: { test: { status, attempt: 1, startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:30Z' } },
});

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      requests.push({ method: req.method!, url: req.url!, body });
      const send = (status: number, data: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(data));
      const key = `${req.method} ${req.url}`;
      if (key === 'GET /pipelines?limit=100') return send(200, { items: [{ id: 'shop' }] });
      if (key === 'GET /pipelines/shop') return send(200, { id: 'shop', spec: { name: 'shop', source: { provider: 'github', repository: 'acme/shop' }, jobs: { deploy: { name: 'deploy', kind: 'deploy', deploy: { target: 'staging' } } }, notifications: [] } });
      if (key === 'GET /targets') return send(200, { items: [] });
      if (key === 'GET /pipelines') return send(200, { items: [{ id: 'shop', version: 2, provider: 'github', repository: 'acme/shop' }] });
      if (key === 'PUT /pipelines/shop-api') return send(201, { id: 'shop-api', version: 1 });
      if (key === 'PUT /pipelines/broken') return send(400, { error: 'ValidationError', message: 'invalid pipeline', problems: [{ path: 'jobs.a.needs[0]', message: 'unknown job "b"' }] });
      if (key === 'POST /pipelines/ghost/runs') return send(404, { error: 'NotFound', message: 'pipeline ghost is not registered' });
      if (key === 'POST /pipelines/shop/runs') return send(202, { runId: 'run-succeeded' });
      if (key === 'POST /runs/run-succeeded/cancel') return send(409, { error: 'Conflict', message: 'run run-succeeded already ended (succeeded)' });
      if (key === 'GET /runs/run-succeeded') return send(200, run('succeeded'));
      if (key === 'GET /runs/run-failed') return send(200, run('failed'));
      if (key === 'GET /runs/run-failed/jobs/test/logs?attempt=1') return send(200, { events: [{ timestamp: 't', message: 'first try' }], cursor: '1', complete: false, attempt: 1, attempts: 2 });
      if (key === 'GET /runs/run-failed/jobs/test/logs?cursor=1&attempt=1') return send(200, { events: [], cursor: '1', complete: true, attempt: 1, attempts: 2 });
      return send(500, { error: 'InternalError', message: 'internal error' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

/** Runs one CLI command in this process, with its own output streams and environment. */
async function cli(args: string[], apiUrl = api): Promise<{ code: number | null; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (err += t) }, env: { SLIPWAY_API_URL: apiUrl } });
  return { code, out, err };
}
const slipway = (...args: string[]) => cli(args);

test('the slipway bin runs a command in its own process: argv and environment in, output and exit code out', async () => {
  const r = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/slipway.ts', 'run', 'ghost'], { env: { ...process.env, SLIPWAY_API_URL: api, NO_COLOR: '1' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) => resolve({ code, out, err }));
  });
  assert.equal(r.code, 3, r.err);
  assert.equal(r.out, '');
  assert.equal(r.err, 'slipway: pipeline ghost is not registered\n');
  assert.deepEqual(requests.at(-1), { method: 'POST', url: '/pipelines/ghost/runs', body: '{}' });
});

test('help exits 0 and no command is a usage error (2)', async () => {
  assert.equal((await slipway('--help')).code, 0);
  assert.equal((await slipway()).code, 2);
  assert.equal((await slipway('frobnicate')).code, 2);
});

test('pipelines list prints the repository, and --json prints what the API said', async () => {
  const human = (await slipway('pipelines', 'list'));
  assert.equal(human.code, 0);
  assert.match(human.out, /shop\s+2\s+github:acme\/shop/);
  assert.deepEqual(JSON.parse((await slipway('pipelines', 'list', '--json')).out).items[0].id, 'shop');
});

test('pipelines apply registers the file under the pipeline\'s own name; an API 400 lists every problem and exits 2', async () => {
  const ok = (await slipway('pipelines', 'apply', '-f', 'examples/pipelines/full.yml'));
  assert.equal(ok.code, 0, ok.err);
  assert.equal(requests.at(-1)?.url, '/pipelines/shop-api');
  assert.match(requests.at(-1)!.body, /name: shop-api/);
  const bad = (await slipway('pipelines', 'apply', '-f', 'examples/pipelines/full.yml', '--id', 'broken'));
  assert.equal(bad.code, 2);
  assert.match(bad.err, /jobs\.a\.needs\[0\]: unknown job "b"/);
});

test('exit codes: 3 for not found, 4 for a conflict, 5 when the API cannot be reached', async () => {
  assert.equal((await slipway('run', 'ghost')).code, 3);
  assert.equal((await slipway('cancel', 'run-succeeded')).code, 4);
  const down = await cli(['pipelines', 'list'], 'http://127.0.0.1:9');
  assert.equal(down.code, 5);
  assert.match(down.err, /cannot reach the Slipway API/);
});

test('status --watch exits 0 for a succeeded run and 1 for a failed one', async () => {
  const ok = (await slipway('status', 'run-succeeded', '--watch'));
  assert.equal(ok.code, 0);
  assert.match(ok.out, /test\s+succeeded\s+1\s+30s/);
  assert.equal((await slipway('status', 'run-failed', '--watch')).code, 1);
});

test('validate checks a file locally: every problem at once, exit 2', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-'));
  const file = path.join(dir, 'bad.yml');
  writeFileSync(file, 'name: x\nsource: { provider: github, repository: acme/x }\njobs:\n  a:\n    template: node\n    needs: [b, a]\n');
  const r = (await slipway('validate', '-f', file));
  assert.equal(r.code, 2);
  assert.match(r.err, /jobs\.a\.needs\[0\]: unknown job "b"/);
  assert.match(r.err, /jobs\.a\.needs\[1\]/);
  assert.equal((await slipway('validate', '-f', path.join(dir, 'missing.yml'))).code, 2);
});

test('logs --attempt N reads that attempt and says which one it is on stderr', async () => {
  const r = await slipway('logs', 'run-failed', 'test', '--attempt', '1');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'first try\n');
  assert.match(r.err, /test: attempt 1 of 2 \(others: --attempt N\)/);
  assert.equal((await slipway('logs', 'run-failed', 'test', '--attempt', 'zero')).code, 2);
});

test('init writes a starter pipeline that validates', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-'));
  const file = path.join(dir, 'slipway.yml');
  assert.equal((await slipway('init', '--template', 'go', '-o', file)).code, 0);
  assert.match(readFileSync(file, 'utf8'), /template: go/);
  assert.equal((await slipway('validate', '-f', file)).code, 0);
  assert.equal((await slipway('init', '--template', 'go', '-o', file)).code, 2, 'an existing file is not overwritten');
  assert.equal((await slipway('init', '--template', 'cobol')).code, 2);
});

test('init triggers on the repository\'s default branch, or the one given', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-'));
  spawnSync('git', ['-c', 'init.defaultBranch=trunk', 'init', '-q', dir]);
  assert.equal((await slipway('init', '--template', 'node', '-o', path.join(dir, 'a.yml'))).code, 0);
  const a = readFileSync(path.join(dir, 'a.yml'), 'utf8');
  assert.match(a, /branches: \["trunk"\]/);
  assert.doesNotMatch(a, /\bmain\b/);
  assert.equal((await slipway('init', '--template', 'node', '--branch', 'develop', '-o', path.join(dir, 'b.yml'))).code, 0);
  assert.match(readFileSync(path.join(dir, 'b.yml'), 'utf8'), /branches: \["develop"\]/);
});

test('doctor against the local mode: --json lists the checks, and a failed one exits 1', async () => {
  const r = await cli(['doctor', '--json']);
  assert.equal(r.code, 1, r.err);
  const report = JSON.parse(r.out) as { ok: boolean; checks: Array<{ name: string; ok: boolean; fix?: string }> };
  assert.equal(report.ok, false);
  assert.deepEqual(report.checks.map((c) => [c.name, c.ok]), [['management API', true], ['pipeline shop: target staging', false]]);
  assert.match(report.checks[1]!.fix!, /slipway targets apply staging/);
});
