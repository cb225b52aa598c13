import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GitHostAccessError, gitBaseUrlsFromEnv, loadRepositoryDefinition, readFileAtCommit, resolveBranch, type GitHostOptions } from '../../shared/git/contents.ts';
import { NotFoundError, RetryableError, ValidationError } from '../../shared/domain/errors.ts';

const SHA = 'c'.repeat(40);
const DEFINITION = 'name: shop\njobs:\n  build:\n    template: node\n';

interface Seen { url: string; headers: IncomingMessage['headers'] }
type Reply = (req: IncomingMessage) => { status?: number; type?: string; body?: string | Buffer; headers?: Record<string, string>; hang?: boolean };

let server: Server;
let base: string;
let reply: Reply;
const seen: Seen[] = [];

before(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    const r = reply(req);
    if (r.hang) return; // never answers: the client's timeout must fire
    res.writeHead(r.status ?? 200, { 'content-type': r.type ?? 'text/plain', ...r.headers });
    res.end(r.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

function opts(secrets: Record<string, string> = { tok: 's3cret' }, timeoutMs = 2000): GitHostOptions {
  return {
    secrets: { get: async (name) => { if (!(name in secrets)) throw new NotFoundError(`secret ${name} not found`); return secrets[name]; } },
    baseUrls: { github: base, gitlab: base, bitbucket: `${base}/` },
    timeoutMs,
  };
}

function last(): Seen {
  return seen[seen.length - 1];
}

describe('reading a file at a commit', () => {
  test('GitHub: contents API with the raw media type and a bearer token', async () => {
    reply = () => ({ type: 'application/vnd.github.raw', body: DEFINITION });
    const text = await readFileAtCommit('github', 'acme/shop', '.slipway.yml', SHA, 'tok', opts());
    assert.equal(text, DEFINITION);
    assert.equal(last().url, `/repos/acme/shop/contents/.slipway.yml?ref=${SHA}`);
    assert.equal(last().headers.authorization, 'Bearer s3cret');
    assert.equal(last().headers.accept, 'application/vnd.github.raw+json');
    assert.equal(last().headers['x-github-api-version'], '2022-11-28');
  });

  test('GitHub: the base64 JSON form is decoded', async () => {
    reply = () => ({ type: 'application/json; charset=utf-8', body: JSON.stringify({ type: 'file', encoding: 'base64', content: Buffer.from(DEFINITION).toString('base64').replace(/(.{60})/g, '$1\n') }) });
    assert.equal(await readFileAtCommit('github', 'acme/shop', 'ci/pipeline.yml', SHA, 'tok', opts()), DEFINITION);
    assert.equal(last().url, `/repos/acme/shop/contents/ci/pipeline.yml?ref=${SHA}`);
  });

  test('GitHub: a directory is refused', async () => {
    reply = () => ({ type: 'application/json', body: JSON.stringify([{ name: 'a' }]) });
    await assert.rejects(readFileAtCommit('github', 'acme/shop', 'ci', SHA, 'tok', opts()), ValidationError);
  });

  test('GitLab: repository files raw API with the project and path url-encoded and a PRIVATE-TOKEN', async () => {
    reply = () => ({ body: DEFINITION });
    const text = await readFileAtCommit('gitlab', 'acme/platform/shop', 'ci/.slipway.yml', SHA, 'tok', opts({ tok: '{"token":"glpat-1"}' }));
    assert.equal(text, DEFINITION);
    assert.equal(last().url, `/api/v4/projects/acme%2Fplatform%2Fshop/repository/files/ci%2F.slipway.yml/raw?ref=${SHA}`);
    assert.equal(last().headers['private-token'], 'glpat-1');
    assert.equal(last().headers.authorization, undefined);
  });

  test('Bitbucket: src API at the commit, bearer for access tokens and basic for user:secret', async () => {
    reply = () => ({ body: DEFINITION });
    assert.equal(await readFileAtCommit('bitbucket', 'acme/shop', 'deploy/.slipway.yml', SHA, 'tok', opts()), DEFINITION);
    assert.equal(last().url, `/2.0/repositories/acme/shop/src/${SHA}/deploy/.slipway.yml`);
    assert.equal(last().headers.authorization, 'Bearer s3cret');
    await readFileAtCommit('bitbucket', 'acme/shop', '.slipway.yml', SHA, 'tok', opts({ tok: 'bob:app-pass' }));
    assert.equal(last().headers.authorization, `Basic ${Buffer.from('bob:app-pass').toString('base64')}`);
  });

  test('without a token secret the request is anonymous', async () => {
    reply = () => ({ body: DEFINITION });
    await readFileAtCommit('github', 'acme/shop', '.slipway.yml', SHA, undefined, opts());
    assert.equal(last().headers.authorization, undefined);
  });

  test('404 is NotFoundError', async () => {
    reply = () => ({ status: 404, type: 'application/json', body: '{"message":"Not Found"}' });
    await assert.rejects(readFileAtCommit('gitlab', 'acme/shop', '.slipway.yml', SHA, 'tok', opts()), NotFoundError);
  });

  test('401 and 403 name the token secret and are not retryable', async () => {
    for (const status of [401, 403]) {
      reply = () => ({ status, body: 'Bad credentials' });
      await assert.rejects(readFileAtCommit('github', 'acme/shop', '.slipway.yml', SHA, 'slipway/github-token', opts({ 'slipway/github-token': 'ghp_SECRETVALUE' })), (err: unknown) => {
        assert.ok(err instanceof GitHostAccessError);
        assert.match(err.message, /secret "slipway\/github-token"/);
        assert.match(err.message, new RegExp(`HTTP ${status}`));
        assert.doesNotMatch(err.message, /ghp_SECRETVALUE/); // never the token itself
        return true;
      });
    }
  });

  test('5xx, rate limits and timeouts are retryable', async () => {
    reply = () => ({ status: 502, body: 'bad gateway' });
    await assert.rejects(readFileAtCommit('bitbucket', 'acme/shop', '.slipway.yml', SHA, 'tok', opts()), RetryableError);
    reply = () => ({ status: 403, headers: { 'x-ratelimit-remaining': '0' } });
    await assert.rejects(readFileAtCommit('github', 'acme/shop', '.slipway.yml', SHA, 'tok', opts()), RetryableError);
    reply = () => ({ hang: true });
    await assert.rejects(readFileAtCommit('github', 'acme/shop', '.slipway.yml', SHA, 'tok', opts(undefined, 100)), (err: unknown) => err instanceof RetryableError && /timed out after 100 ms/.test(err.message));
  });

  test('paths that climb out of the repository are refused before any request', async () => {
    const before = seen.length;
    await assert.rejects(readFileAtCommit('github', 'acme/shop', '../etc/passwd', SHA, 'tok', opts()), ValidationError);
    assert.equal(seen.length, before);
  });
});

describe('a definition kept in the repository', () => {
  test('is parsed and validated, with the source defaulting to the repository it was read from', async () => {
    reply = () => ({ body: DEFINITION });
    const spec = await loadRepositoryDefinition('gitlab', 'acme/shop', '.slipway.yml', SHA, 'tok', opts());
    assert.equal(spec.name, 'shop');
    assert.deepEqual([spec.source.provider, spec.source.repository], ['gitlab', 'acme/shop']);
    assert.equal(spec.jobs.build.kind, 'build');
  });

  test('a JSON definition read raw from GitHub is parsed as it is', async () => {
    reply = () => ({ type: 'application/vnd.github.raw+json', body: JSON.stringify({ name: 'shop', jobs: { build: { template: 'go' } } }) });
    const spec = await loadRepositoryDefinition('github', 'acme/shop', 'ci/slipway.json', SHA, 'tok', opts());
    assert.equal(spec.jobs.build.template, 'go');
  });

  test('an invalid file throws a ValidationError listing every problem', async () => {
    reply = () => ({ body: 'name: shop\nconcurrency: sometimes\njobs:\n  build:\n    kind: compile\n  deploy:\n    needs: [ghost]\n' });
    await assert.rejects(loadRepositoryDefinition('github', 'acme/shop', '.slipway.yml', SHA, 'tok', opts()), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      const paths = err.problems.map((p) => p.path);
      assert.ok(paths.includes('concurrency') && paths.includes('jobs.build.kind'), paths.join());
      assert.match(err.message, /\.slipway\.yml at c+ is not a valid pipeline definition/);
      return true;
    });
  });

  test('a YAML syntax error is reported as a problem', async () => {
    reply = () => ({ body: 'name: [shop\n' });
    await assert.rejects(loadRepositoryDefinition('github', 'acme/shop', '.slipway.yml', SHA, 'tok', opts()), (err: unknown) => err instanceof ValidationError && err.problems.length > 0);
  });
});

describe('resolving a branch', () => {
  test('GitHub answers the sha as text for the sha media type', async () => {
    reply = () => ({ body: `${SHA}\n` });
    assert.equal(await resolveBranch('github', 'acme/shop', 'feature/x', 'tok', opts()), SHA);
    assert.equal(last().url, '/repos/acme/shop/commits/feature/x');
    assert.equal(last().headers.accept, 'application/vnd.github.sha');
  });

  test('GitLab and Bitbucket read the head commit from their branch resources', async () => {
    reply = () => ({ type: 'application/json', body: JSON.stringify({ name: 'feature/x', commit: { id: SHA } }) });
    assert.equal(await resolveBranch('gitlab', 'acme/shop', 'feature/x', 'tok', opts()), SHA);
    assert.equal(last().url, '/api/v4/projects/acme%2Fshop/repository/branches/feature%2Fx');
    reply = () => ({ type: 'application/json', body: JSON.stringify({ name: 'main', target: { hash: SHA.toUpperCase() } }) });
    assert.equal(await resolveBranch('bitbucket', 'acme/shop', 'main', 'tok', opts()), SHA);
    assert.equal(last().url, '/2.0/repositories/acme/shop/refs/branches/main');
  });

  test('an unknown branch is NotFoundError', async () => {
    reply = () => ({ status: 404 });
    await assert.rejects(resolveBranch('bitbucket', 'acme/shop', 'gone', 'tok', opts()), NotFoundError);
  });
});

describe('self-hosted git hosts', () => {
  test('API roots come from SLIPWAY_GIT_API_URLS, and a malformed value names the variable', () => {
    assert.deepEqual(gitBaseUrlsFromEnv({}), {});
    assert.deepEqual(gitBaseUrlsFromEnv({ SLIPWAY_GIT_API_URLS: '{"github":"https://ghe.example.com/api/v3"}' }), { github: 'https://ghe.example.com/api/v3' });
    for (const bad of ['nope', '[]', '{"svn":"https://x"}', '{"gitlab":"ftp://x"}']) assert.throws(() => gitBaseUrlsFromEnv({ SLIPWAY_GIT_API_URLS: bad }), /SLIPWAY_GIT_API_URLS/);
  });
});
