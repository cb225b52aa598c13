/**
 * Commit statuses at the HTTP boundary: a local server stands in for GitHub,
 * GitLab and Bitbucket; the paths, auth headers and payloads are what each API
 * documents.
 */
import { after, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NotificationMessage } from '../../shared/ports/messages.ts';
import { handleNotification } from '../../shared/notify/notifier.ts';
import { bitbucketKey } from '../../shared/notify/commit-status.ts';
import { startHttpStub, type HttpStub } from '../support/http-stub.ts';
import { notificationMessage, notifySetup, SHA } from '../support/notify-fixtures.ts';

let host: HttpStub;
before(async () => { host = await startHttpStub(); });
after(() => host.close());
beforeEach(() => { host.requests.length = 0; host.answer({ status: 201, body: {} }); });

function setup(provider: 'github' | 'gitlab' | 'bitbucket', token = 'tok-123', publicApiUrl: string | null = 'https://api.example.com/') {
  return notifySetup({
    tokenSecretName: 'slipway/web/token',
    secrets: { 'slipway/web/token': token },
    deps: { gitBaseUrls: { [provider]: host.url }, ...(publicApiUrl ? { publicApiUrl } : {}) },
  });
}

const forProvider = (provider: 'github' | 'gitlab' | 'bitbucket', repository: string, kind: NotificationMessage['kind'] = 'run_started') =>
  notificationMessage({ kind, id: `R1:${kind}`, trigger: { event: 'push', provider, repository, branch: 'main', commit: SHA } });

test('GitHub: a started run posts a pending status with the token, the context slipway/<pipeline> and a link to the run', async () => {
  const { deps, events } = setup('github');
  const out = await handleNotification(deps, forProvider('github', 'acme/web'));

  assert.deepEqual(out, { delivered: ['github commit status (acme/web)'], retrying: [], failed: [] });
  assert.equal(host.requests.length, 1);
  const [req] = host.requests;
  assert.equal(req.method, 'POST');
  assert.equal(req.url, `/repos/acme/web/statuses/${SHA}`);
  assert.equal(req.headers.authorization, 'Bearer tok-123');
  assert.equal(req.headers['x-github-api-version'], '2022-11-28');
  assert.equal(req.headers.accept, 'application/vnd.github+json');
  assert.deepEqual(req.json, { state: 'pending', context: 'slipway/web', description: 'Running (run R1)', target_url: 'https://api.example.com/runs/R1' });
  assert.equal(events.sent.length, 0);
});

test('GitHub: the end of a run is success, failure (with the reason) or error for a cancelled run', async () => {
  const { deps } = setup('github');
  await handleNotification(deps, forProvider('github', 'acme/web', 'run_succeeded'));
  await handleNotification(deps, notificationMessage({ kind: 'run_failed' }));
  await handleNotification(deps, forProvider('github', 'acme/web', 'run_cancelled'));
  await handleNotification(deps, forProvider('github', 'acme/web', 'run_superseded'));
  assert.deepEqual(host.requests.map((r) => r.json.state), ['success', 'failure', 'error', 'error']);
  assert.equal(host.requests[1].json.description, 'Failed: job "test" failed: build failed');
  assert.equal(host.requests[0].json.description, 'Succeeded in 2m 05s');
});

test('GitHub: a description longer than 140 characters is cut, and no link is sent without SLIPWAY_PUBLIC_API_URL', async () => {
  const { deps } = setup('github', 'tok', null);
  await handleNotification(deps, notificationMessage({ reason: 'x'.repeat(500) }));
  const body = host.requests[0].json;
  assert.equal(body.description.length, 140);
  assert.ok(body.description.endsWith('...'));
  assert.equal('target_url' in body, false);
});

test('GitLab: the project path is URL-encoded, the token goes in PRIVATE-TOKEN, states are running/success/failed/canceled', async () => {
  const { deps } = setup('gitlab', '{"token":"glpat-abc"}');
  for (const kind of ['run_started', 'run_succeeded', 'run_failed', 'run_cancelled'] as const) {
    await handleNotification(deps, forProvider('gitlab', 'group/sub/web', kind));
  }
  assert.deepEqual(host.requests.map((r) => r.url), Array(4).fill(`/api/v4/projects/group%2Fsub%2Fweb/statuses/${SHA}`));
  assert.equal(host.requests[0].headers['private-token'], 'glpat-abc');
  assert.equal(host.requests[0].headers.authorization, undefined);
  assert.deepEqual(host.requests.map((r) => r.json.state), ['running', 'success', 'failed', 'canceled']);
  assert.deepEqual(host.requests[0].json, { state: 'running', name: 'slipway/web', description: 'Running (run R1)', ref: 'main', target_url: 'https://api.example.com/runs/R1' });
});

test('GitLab: "Cannot transition status" (the state is already set, as on a redelivery) counts as delivered', async () => {
  const { deps, events, queue } = setup('gitlab');
  host.answer({ status: 400, body: { message: 'Cannot transition status via :run from :running (status_event=run)' } });
  const out = await handleNotification(deps, forProvider('gitlab', 'group/web'));
  assert.deepEqual(out.delivered, ['gitlab commit status (group/web)']);
  assert.equal(host.requests.length, 1);
  assert.equal(events.sent.length + queue.sent.length, 0);
});

test('Bitbucket: build status with key, INPROGRESS/SUCCESSFUL/FAILED/STOPPED, Basic auth for user:app-password', async () => {
  const { deps } = setup('bitbucket', 'ada:app-pass');
  for (const kind of ['run_started', 'run_succeeded', 'run_failed', 'run_cancelled'] as const) {
    await handleNotification(deps, forProvider('bitbucket', 'acme/web', kind));
  }
  assert.equal(host.requests[0].url, `/2.0/repositories/acme/web/commit/${SHA}/statuses/build`);
  assert.equal(host.requests[0].headers.authorization, `Basic ${Buffer.from('ada:app-pass').toString('base64')}`);
  assert.deepEqual(host.requests.map((r) => r.json.state), ['INPROGRESS', 'SUCCESSFUL', 'FAILED', 'STOPPED']);
  assert.deepEqual(host.requests[0].json, { key: 'slipway-web', state: 'INPROGRESS', name: 'Slipway web', description: 'Running (run R1)', url: 'https://api.example.com/runs/R1' });
});

test('Bitbucket: without a public API URL the required url is the commit page; a bearer token is sent as Bearer', async () => {
  const { deps } = setup('bitbucket', 'access-token', null);
  await handleNotification(deps, forProvider('bitbucket', 'acme/web'));
  assert.equal(host.requests[0].json.url, `https://bitbucket.org/acme/web/commits/${SHA}`);
  assert.equal(host.requests[0].headers.authorization, 'Bearer access-token');
});

test('Bitbucket keys stay within 40 characters and differ per pipeline', () => {
  assert.equal(bitbucketKey('web'), 'slipway-web');
  const long = bitbucketKey('a-very-long-pipeline-identifier-for-the-payments-service');
  assert.equal(long.length, 40);
  assert.notEqual(long, bitbucketKey('a-very-long-pipeline-identifier-for-the-payments-servicf'));
});

test('a pipeline without a git host token gets no commit status (no host takes anonymous status writes)', async () => {
  const { deps } = notifySetup({ deps: { gitBaseUrls: { github: host.url } } });
  const out = await handleNotification(deps, forProvider('github', 'acme/web'));
  assert.deepEqual(out, { delivered: [], retrying: [], failed: [] });
  assert.equal(host.requests.length, 0);
});

test('a run cancelled or superseded while still queued leaves no status on its commit', async () => {
  const { deps } = setup('github');
  const { startedAt: _, ...queued } = notificationMessage({ kind: 'run_superseded', id: 'R1:run_superseded', status: 'superseded' });
  await handleNotification(deps, queued);
  assert.equal(host.requests.length, 0);
});

test('a redirect is reported as such, not followed with the token', async () => {
  const { deps, events } = setup('github');
  host.answer({ status: 301, body: '', headers: { location: 'https://elsewhere.example/' } });
  await handleNotification(deps, forProvider('github', 'acme/web'));
  assert.equal(host.requests.length, 1);
  assert.match((events.sent[0] as { message: string }).message, /answered HTTP 301/);
});

test('notifications about a job (approval, release) post no commit status', async () => {
  const { deps } = setup('github');
  await handleNotification(deps, notificationMessage({ kind: 'released', id: 'R1:released:deploy', job: 'deploy' }));
  assert.equal(host.requests.length, 0);
});
