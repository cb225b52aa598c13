/**
 * The local mode end to end: real processes, real HTTP, real emulators. A
 * pipeline runs from commit to blue-green release; the weighted proxy is
 * checked before, during and after the shift; a release whose health check
 * fails ends rolled back with the old version still answering; a signed
 * GitHub webhook starts a run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { followRun } from '../../cli/dev/follow.ts';
import { SAMPLE, startLocalMode, type LocalMode } from '../../cli/dev/local-mode.ts';

let mode: LocalMode;
const RUN_TIMEOUT_MS = 120_000;
const TEST = { timeout: 180_000 };
let dataDir: string;
const lines: string[] = [];
/** Commits the build runner was asked to check out while the engine planned their run. */
const prepared: string[] = [];

async function version(url: string): Promise<string> {
  const res = await fetch(url);
  return ((await res.json()) as { version: string }).version;
}

async function runOnMain(): Promise<{ runId: string; status: string; versionsSeen: string[] }> {
  const { runId } = await mode.api.requestRun(SAMPLE.pipelineId, { branch: 'main' }, { by: 'e2e', requestId: randomUUID() });
  // Sample the proxy while the run goes on: what answers, in order.
  const versionsSeen: string[] = [];
  let done = false;
  const sampler = (async () => {
    while (!done) {
      try { versionsSeen.push(await version(mode.targetUrl)); } catch { versionsSeen.push('unreachable'); }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const run = await followRun(mode.api, runId, () => {}, RUN_TIMEOUT_MS);
  done = true;
  await sampler;
  return { runId, status: run.status, versionsSeen };
}

before(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'slipway-e2e-'));
  // The early checkout is on by default only with more than 2 cores: on here, so it is tested on any machine.
  mode = await startLocalMode({ dataDir, reset: true, quiet: true, onLog: (l) => lines.push(l), earlyCheckout: true });
  const prepare = mode.builds.prepare.bind(mode.builds);
  mode.builds.prepare = (repo, commit) => {
    prepared.push(commit);
    prepare(repo, commit);
  };
}, { timeout: 120_000 });

after(async () => {
  await mode?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('the first run takes the sample service from commit to a live release', TEST, async () => {
  const { runId, status } = await runOnMain();
  assert.equal(status, 'succeeded', lines.slice(-30).join('\n'));
  assert.deepEqual(prepared, [(await mode.api.getRun(runId)).trigger.commit], 'its commit was checked out while the run was planned');
  assert.equal(await version(mode.targetUrl), '1.0.0');
  const d = mode.target.describe();
  assert.equal(d.weights.blue + d.weights.green, 100);
});

test('a new commit is released blue-green: the old version answers before the shift, the new one after', TEST, async () => {
  const live = mode.target.describe();
  const liveColour = live.weights.blue === 100 ? 'blue' : 'green';
  const newColour = liveColour === 'blue' ? 'green' : 'blue';
  const logFrom = lines.length;
  mode.commit({ VERSION: '1.1.0\n' }, 'hello 1.1.0');
  const { runId, status, versionsSeen } = await runOnMain();
  assert.equal(status, 'succeeded', lines.slice(-30).join('\n'));
  const steps = (await mode.api.getRun(runId)).jobs.deploy.steps?.map((st) => st.detail) ?? [];
  assert.ok(steps.some((d) => /100%/.test(d)), `the run shows the release's steps: ${steps.join(' | ')}`);
  assert.equal(versionsSeen[0], '1.0.0', 'the old version answers while the new one is built and verified');
  assert.ok(versionsSeen.includes('1.1.0'), 'the new version takes traffic');
  assert.ok(!versionsSeen.includes('unreachable'), 'no request failed during the shift');
  // The weighted proxy moved in the configured steps toward the new colour, and only forward.
  const shifts = lines.slice(logFrom).map((l) => /traffic on staging: blue (\d+)% \/ green (\d+)%/.exec(l)).filter((m) => m !== null).map((m) => Number(newColour === 'blue' ? m![1] : m![2]));
  assert.deepEqual(shifts, [10, 50, 100], `traffic on the new colour, step by step: ${shifts.join(', ')}`);
  // Once the old version stopped answering, it never came back.
  const lastOld = versionsSeen.lastIndexOf('1.0.0');
  assert.ok(versionsSeen.slice(lastOld + 1).every((v) => v === '1.1.0'), 'after the last old answer, only the new version');
  for (let i = 0; i < 20; i++) assert.equal(await version(mode.targetUrl), '1.1.0');
  const now = mode.target.describe();
  assert.equal(now.weights[liveColour], 0, 'traffic left the previously live colour');
});

test('a release whose health check fails is rolled back and the old version keeps answering', TEST, async () => {
  mode.commit({ VERSION: '1.2.0-unhealthy\n' }, 'hello 1.2.0, broken');
  const { runId, status, versionsSeen } = await runOnMain();
  assert.equal(status, 'failed');
  const run = await mode.api.getRun(runId);
  assert.equal(run.jobs.deploy.status, 'failed');
  assert.equal(run.jobs.deploy.outputs?.releaseOutcome, 'rolled_back', run.jobs.deploy.reason);
  assert.ok(versionsSeen.every((v) => v === '1.1.0'), `only the old version answered: ${[...new Set(versionsSeen)].join(', ')}`);
  for (let i = 0; i < 10; i++) assert.equal(await version(mode.targetUrl), '1.1.0');
});

test('a signed GitHub push webhook starts a run; a wrong signature starts nothing', TEST, async () => {
  const sha = mode.commit({ VERSION: '1.3.0\n' }, 'hello 1.3.0');
  const body = JSON.stringify({ ref: 'refs/heads/main', after: sha, repository: { full_name: SAMPLE.repository }, head_commit: { id: sha, message: 'hello 1.3.0' }, commits: [{ modified: ['VERSION'] }] });
  const sign = (secret: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  const post = (signature: string) => fetch(`${mode.apiUrl}/webhooks/github`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signature },
  });
  const bad = await post(sign('not-the-secret'));
  assert.equal(bad.status, 401);
  const res = await post(sign(mode.webhookSecret));
  assert.equal(res.status, 202);
  const out = (await res.json()) as { runs: Array<{ pipeline: string; runId: string }> };
  assert.equal(out.runs.length, 1);
  const run = await followRun(mode.api, out.runs[0].runId, () => {}, RUN_TIMEOUT_MS);
  assert.equal(run.status, 'succeeded');
  assert.equal(run.trigger.commit, sha);
  assert.equal(await version(mode.targetUrl), '1.3.0');
});

/** A raw request, so that `Host` can be anything (fetch always sends the URL's). */
function raw(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  const url = new URL(mode.apiUrl);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('the local API needs this start\'s token and a loopback Host; a rebinding page or another process registers nothing (issue 14, finding 2)', TEST, async () => {
  const state = JSON.parse(readFileSync(path.join(dataDir, 'dev.json'), 'utf8')) as { apiToken: string; apiUrl: string };
  assert.equal(state.apiToken, mode.apiToken);
  assert.equal(statSync(path.join(dataDir, 'dev.json')).mode & 0o077, 0, 'dev.json is readable by its owner only');
  const host = new URL(mode.apiUrl).host;
  const evilPipeline = 'name: pwn\nsource: { provider: github, repository: acme/hello }\njobs:\n  pwn:\n    commands: [id]\n';
  const put = (headers: Record<string, string>) => raw('PUT', '/pipelines/pwn', { 'content-type': 'application/yaml', ...headers }, evilPipeline);
  const noToken = await put({ host });
  assert.equal(noToken.status, 401);
  assert.match(JSON.parse(noToken.body).message, /dev\.json/);
  assert.equal((await put({ host, authorization: 'Bearer not-the-token-0123456789' })).status, 401);
  // DNS rebinding: the page's origin is its own name, even though it resolved to 127.0.0.1.
  assert.equal((await put({ host: 'rebind.evil.example:80', authorization: `Bearer ${mode.apiToken}` })).status, 403);
  assert.equal((await raw('POST', '/webhooks/github', { host: 'rebind.evil.example', 'content-type': 'application/json' }, '{}')).status, 403);
  const read = await raw('GET', '/pipelines/pwn', { host, authorization: `Bearer ${mode.apiToken}` });
  assert.equal(read.status, 404, 'nothing was registered');
  const ok = await fetch(`${mode.apiUrl}/pipelines/${SAMPLE.pipelineId}`, { headers: { authorization: `Bearer ${mode.apiToken}` } });
  assert.equal(ok.status, 200);
});

test('a restart in the middle of a release resumes it from the saved step, with state kept on disk', TEST, async () => {
  mode.commit({ VERSION: '1.4.0\n' }, 'hello 1.4.0');
  const { runId } = await mode.api.requestRun(SAMPLE.pipelineId, { branch: 'main' }, { by: 'e2e', requestId: randomUUID() });
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  for (;;) {
    const run = await mode.api.getRun(runId).catch(() => undefined);
    if (run?.jobs.deploy.status === 'running') break;
    assert.ok(Date.now() < deadline, 'the deploy job started');
    await new Promise((r) => setTimeout(r, 100));
  }
  await mode.stop();
  mode = await startLocalMode({ dataDir, quiet: true, onLog: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /resumes from step/.test(l)), 'the release in progress was picked up again');
  const run = await followRun(mode.api, runId, () => {}, RUN_TIMEOUT_MS);
  assert.equal(run.status, 'succeeded', run.jobs.deploy.reason);
  assert.equal(await version(mode.targetUrl), '1.4.0');
});

test("a signed pull_request webhook from a fork waits for approval, then runs only its build jobs", TEST, async () => {
  // The fork's commit, as the git host makes it reachable in the base repository.
  const sha = mode.commit({ VERSION: '6.6.6\n', 'server.mjs': 'process.exit(1)\n' }, 'fork: take over');
  const pr = {
    action: 'opened',
    number: 42,
    pull_request: {
      number: 42,
      title: 'Improve things',
      user: { login: 'mallory' },
      head: { ref: 'feature', sha, repo: { id: 2002, full_name: 'mallory/hello' } },
      base: { ref: 'main', sha: sha, repo: { id: 1001, full_name: SAMPLE.repository } },
    },
    repository: { id: 1001, full_name: SAMPLE.repository },
    sender: { login: 'mallory' },
  };
  const body = JSON.stringify(pr);
  const res = await fetch(`${mode.apiUrl}/webhooks/github`, {
    method: 'POST', body,
    headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': `sha256=${createHmac('sha256', mode.webhookSecret).update(body).digest('hex')}` },
  });
  assert.equal(res.status, 202);
  const out = (await res.json()) as { runs: Array<{ runId: string }> };
  assert.equal(out.runs.length, 1);
  const runId = out.runs[0].runId;
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  let run = await mode.api.getRun(runId).catch(() => undefined);
  while (run?.jobs['fork-approval']?.status !== 'waiting_approval') {
    assert.ok(Date.now() < deadline, `the fork's run waits for approval: ${JSON.stringify(run?.jobs ?? {})}`);
    await new Promise((r) => setTimeout(r, 100));
    run = await mode.api.getRun(runId).catch(() => undefined);
  }
  assert.equal(run.trigger.trust, 'untrusted');
  assert.equal(run.trigger.headRepository, 'mallory/hello');
  assert.equal(run.jobs.test.status, 'pending', 'nothing ran before a person approved');
  await mode.api.answerApproval(runId, 'fork-approval', 'approve', { by: 'unknown', requestId: randomUUID() });
  run = await followRun(mode.api, runId, () => {}, RUN_TIMEOUT_MS);
  assert.equal(run.jobs.test.status, 'succeeded', run.jobs.test.reason);
  assert.equal(run.jobs.image.status, 'skipped');
  assert.match(run.jobs.image.reason ?? '', /a pull request from a fork never runs image jobs/);
  assert.equal(run.jobs.deploy.status, 'skipped');
  assert.match(run.jobs['fork-approval'].approvedBy ?? '', /^local developer /);
  assert.equal(await version(mode.targetUrl), '1.4.0', 'the live release is untouched');
});
