/**
 * The console's view logic (console/src/logic): the DAG layout, run lists, the traffic
 * bar and rollback, who may approve, definition problems at their lines, sign-in helpers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutDag, NODE } from '../../console/src/logic/dag.ts';
import { filterRuns, lastRunPerBranch, mergeRunPages, branchesOf } from '../../console/src/logic/runs.ts';
import { releaseHistory, rollbackAvailability, weightsBar, type ReleaseLike } from '../../console/src/logic/target.ts';
import { describePrincipal, whoMayApprove } from '../../console/src/logic/approval.ts';
import { checkDefinition, lineOfPath, locateProblems, pathSegments, toYaml } from '../../console/src/logic/definition.ts';
import { ago, duration, statusLabel } from '../../console/src/logic/format.ts';
import { authorizeUrl, expiresSoon, jwtClaims, tokenRequestBody } from '../../console/src/logic/cognito.ts';

test('the DAG puts each job one column after the longest chain it needs, rows in name order, an edge per need', () => {
  const layout = layoutDag({ test: { needs: [] }, lint: { needs: [] }, image: { needs: ['test'] }, deploy: { needs: ['image', 'lint'] }, notify: { needs: ['test', 'deploy'] } });
  const at = Object.fromEntries(layout.nodes.map((n) => [n.name, [n.column, n.row]]));
  assert.deepEqual(at, { lint: [0, 0], test: [0, 1], image: [1, 0], deploy: [2, 0], notify: [3, 0] });
  assert.deepEqual(layout.nodes.map((n) => n.name), ['lint', 'test', 'image', 'deploy', 'notify'], 'column by column');
  assert.deepEqual(layout.edges.map((e) => `${e.from}>${e.to}`), ['test>image', 'image>deploy', 'lint>deploy', 'test>notify', 'deploy>notify']);
  assert.equal(layout.width, NODE.pad * 2 + 4 * NODE.width + 3 * NODE.gapX);
  assert.equal(layout.height, NODE.pad * 2 + 2 * NODE.height + NODE.gapY);
  // Every edge runs from the right side of its source to the left side of its target.
  for (const e of layout.edges) {
    const from = layout.nodes.find((n) => n.name === e.from)!;
    const to = layout.nodes.find((n) => n.name === e.to)!;
    assert.ok(e.path.startsWith(`M${from.x + NODE.width},`) && e.path.endsWith(` ${to.x},${to.y + NODE.height / 2}`), e.path);
  }
});

test('a need on an unknown job or a cycle is drawn, not looped on', () => {
  const layout = layoutDag({ a: { needs: ['b', 'ghost'] }, b: { needs: ['a'] } });
  assert.equal(layout.nodes.length, 2);
  assert.equal(layout.edges.length, 2);
});

const run = (runId: string, branch: string | undefined, status: string, createdAt = '2026-11-30T10:00:00Z') => ({ runId, pipelineId: 'p', status, branch, commit: 'c'.repeat(40), createdAt });

test('the pipelines page shows the newest run of each branch; the runs page filters and pages without duplicates', () => {
  const newestFirst = [run('R5', 'main', 'running'), run('R4', 'feature/x', 'failed'), run('R3', 'main', 'succeeded'), run('R2', undefined, 'succeeded'), run('R1', 'feature/x', 'succeeded')];
  assert.deepEqual(lastRunPerBranch(newestFirst).map((r) => r.runId), ['R5', 'R4', 'R2']);
  assert.deepEqual(filterRuns(newestFirst, { branch: 'main' }).map((r) => r.runId), ['R5', 'R3']);
  assert.deepEqual(filterRuns(newestFirst, { status: 'succeeded' }).map((r) => r.runId), ['R3', 'R2', 'R1']);
  assert.deepEqual(filterRuns(newestFirst, { status: 'active' }).map((r) => r.runId), ['R5']);
  assert.deepEqual(filterRuns(newestFirst, { branch: 'feature/x', status: 'failed' }).map((r) => r.runId), ['R4']);
  // A new run arrived at the top of page 1: the run that slid to page 2 is not shown twice.
  const page1 = [run('R6', 'main', 'queued'), ...newestFirst.slice(0, 2)];
  assert.deepEqual(mergeRunPages(page1, newestFirst.slice(2 - 0)).map((r) => r.runId), ['R6', 'R5', 'R4', 'R3', 'R2', 'R1']);
  assert.deepEqual(branchesOf(newestFirst), ['feature/x', 'main']);
});

const release = (over: Partial<ReleaseLike> = {}): ReleaseLike => ({
  releaseId: 'R:deploy:1', runId: 'R', pipelineId: 'hello', job: 'deploy', image: 'img', strategy: 'blue-green', phase: 'shifting',
  fromColour: 'blue', toColour: 'green', percent: 50, startedAt: '2026-11-30T10:00:00Z', history: [], ...over,
});

test('the traffic bar shows each colour\'s share, always adding up to 100, and says when a release is moving it', () => {
  assert.deepEqual(weightsBar({ weights: { blue: 90, green: 10 }, current: release() }), { blue: 90, green: 10, label: 'traffic: blue 90%, green 10% (release in progress: shifting)', shifting: true });
  assert.deepEqual(weightsBar({ weights: { blue: 0, green: 100 } }), { blue: 0, green: 100, label: 'traffic: blue 0%, green 100%', shifting: false });
  assert.equal(weightsBar({ weights: { blue: 140, green: -40 } }).blue, 100);
  assert.equal(weightsBar({ weights: { blue: 100, green: 0 }, current: release({ phase: 'deploying' }) }).shifting, false, 'no traffic moves while the new colour deploys');
});

test('rollback is offered while the window is open and no release runs; otherwise the reason is given', () => {
  const now = Date.parse('2026-11-30T10:00:00Z');
  assert.deepEqual(rollbackAvailability({ rollback: { colour: 'blue', until: '2026-11-30T10:30:00Z', releaseId: 'x' } }, now), { possible: true, colour: 'blue', until: '2026-11-30T10:30:00Z' });
  const closed = rollbackAvailability({ rollback: { colour: 'blue', until: '2026-11-30T09:59:59Z', releaseId: 'x' } }, now);
  assert.equal(closed.possible, false);
  assert.match((closed as { reason: string }).reason, /window closed/);
  assert.match((rollbackAvailability({}, now) as { reason: string }).reason, /no previous colour/);
  assert.match((rollbackAvailability({ current: release(), rollback: { colour: 'blue', until: '2026-11-30T11:00:00Z', releaseId: 'x' } }, now) as { reason: string }).reason, /in progress \(shifting\)/);
  assert.deepEqual(releaseHistory({ current: release({ releaseId: 'b' }), last: release({ releaseId: 'a', outcome: 'succeeded' }) }).map((r) => r.releaseId), ['b', 'a']);
});

test('who may approve is said before the button is pressed, in words', () => {
  const spec = { jobs: { gate: { approval: { approvers: ['arn:aws:iam::123456789012:user/alice', 'cognito:eu-west-1_Abc:group/Releasers'] } }, open: { approval: { approvers: [] } } }, pullRequests: { approvers: ['arn:aws:iam::123456789012:role/Maintainers'] } };
  assert.equal(whoMayApprove(spec, { kind: 'registered' }, 'gate', false), 'IAM user alice (123456789012), console group Releasers');
  assert.equal(whoMayApprove(spec, { kind: 'registered' }, 'open', false), 'anyone allowed to call the API');
  assert.equal(whoMayApprove(spec, { kind: 'registered' }, 'fork-approval', false), 'anyone in role Maintainers (123456789012)');
  assert.match(whoMayApprove(spec, { kind: 'repository' }, 'gate', false), /repository's pipeline file/);
  assert.match(whoMayApprove(spec, { kind: 'registered' }, 'gate', true), /local mode/);
  assert.equal(describePrincipal('arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Deploy_0a1b2c3d/alice@acme.example'), 'Identity Center user alice@acme.example (Deploy)');
  assert.equal(describePrincipal('cognito:eu-west-1_Abc:user/bob'), 'console user bob');
});

const DEFINITION = `name: hello
source:
  provider: github
  repository: acme/hello
jobs:
  test:
    commands: [npm test]
  deploy:
    kind: deploy
    needs: [imgae]
    deploy:
      target: staging
`;

test('definition problems are found with the API\'s own rules and shown at the line of their path', () => {
  assert.deepEqual(pathSegments('jobs.deploy.needs[0]'), ['jobs', 'deploy', 'needs', 0]);
  assert.deepEqual(pathSegments('a[1][2].b'), ['a', 1, 2, 'b']);
  assert.equal(lineOfPath(DEFINITION, 'jobs.deploy.needs[0]'), 10);
  assert.equal(lineOfPath(DEFINITION, 'jobs.deploy.deploy.strategy'), 11, 'a missing key points at its parent');
  assert.equal(lineOfPath(DEFINITION, ''), undefined);
  const problems = checkDefinition(DEFINITION);
  const needs = problems.find((p) => p.path === 'jobs.deploy.needs[0]');
  assert.ok(needs, JSON.stringify(problems));
  assert.match(needs.message, /imgae/);
  assert.equal(needs.line, 10);
  assert.deepEqual(checkDefinition(DEFINITION.replace('[imgae]', '[test]')).filter((p) => p.path === 'jobs.deploy.needs[0]'), [], 'fixed, the problem goes');
  // The API's problems in an envelope carry a `definition.` prefix.
  assert.equal(locateProblems(DEFINITION, [{ path: 'definition.jobs.deploy.needs[0]', message: 'x' }], 'definition.')[0].line, 10);
  assert.match(toYaml({ name: 'hello', jobs: { a: { needs: ['b'] } } }), /^name: hello\njobs:\n {2}a:\n {4}needs:\n {6}- b\n$/);
});

test('durations, labels and ages read as people say them', () => {
  const now = Date.parse('2026-11-30T10:00:00Z');
  assert.equal(duration('2026-11-30T09:59:58.800Z', undefined, now), '1.2s');
  assert.equal(duration('2026-11-30T09:58:55Z', '2026-11-30T10:00:00Z', now), '1m 05s');
  assert.equal(duration('2026-11-30T07:56:00Z', undefined, now), '2h 04m');
  assert.equal(duration(undefined, undefined, now), '');
  assert.equal(statusLabel('waiting_approval'), 'waiting for approval');
  assert.equal(ago('2026-11-30T09:57:00Z', now), '3 min ago');
});

test('sign-in on AWS: authorization code with PKCE, and the token\'s claims read for display', () => {
  const c = { domain: 'https://slipway-acme.auth.eu-west-1.amazoncognito.com', clientId: 'abc123', redirectUri: 'https://d111.cloudfront.net/' };
  const url = new URL(authorizeUrl({ ...c, identityProvider: 'IdentityCenter' }, 'CHALLENGE', 'STATE'));
  assert.equal(url.origin + url.pathname, `${c.domain}/oauth2/authorize`);
  assert.deepEqual(Object.fromEntries(url.searchParams), {
    response_type: 'code', client_id: 'abc123', redirect_uri: c.redirectUri, scope: 'openid email profile', code_challenge_method: 'S256', code_challenge: 'CHALLENGE', state: 'STATE', identity_provider: 'IdentityCenter',
  });
  assert.deepEqual(Object.fromEntries(new URLSearchParams(tokenRequestBody(c, { code: 'CODE', verifier: 'V' }))), { grant_type: 'authorization_code', client_id: 'abc123', code: 'CODE', redirect_uri: c.redirectUri, code_verifier: 'V' });
  const payload = Buffer.from(JSON.stringify({ username: 'zoë', exp: 2_000_000_000 })).toString('base64url');
  assert.deepEqual(jwtClaims(`h.${payload}.s`), { username: 'zoë', exp: 2_000_000_000 });
  assert.equal(jwtClaims('garbage'), undefined);
  assert.equal(expiresSoon(`h.${payload}.s`, Date.parse('2026-11-30T10:00:00Z')), false);
  assert.equal(expiresSoon(`h.${payload}.s`, 2_000_000_000_000), true);
});
