/**
 * The CLI's everyday rough edges, each as a user met it, in real processes against a
 * stand-in API: `-f` on targets apply, refusals' exit code, --help equal to the README,
 * relative paths under `npm run`, --watch in a narrow pseudo-terminal and piped, init
 * detecting the language, artifacts downloaded, re-run and pipeline administration.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { detectLanguage } from '../../cli/init.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const CLI = path.join(ROOT, 'cli', 'slipway.ts');
const TSX = import.meta.resolve('tsx');
const requests: Array<{ method: string; url: string; body: string }> = [];
let api = '';
let server: http.Server;
let polls = 0;
const LONG = `pushed sha256:${'ab'.repeat(32)} to 123456789012.dkr.ecr.eu-west-1.amazonaws.com/slipway/hello-with-a-long-name:${'c'.repeat(40)} and verified it`;

const run = (status: string, jobStatus: Record<string, string>) => ({
  runId: '01JZ0000000000000000000001', pipelineId: 'hello', pipelineVersion: 3, concurrency: 'superseded', status, version: 3,
  trigger: { event: 'push', branch: 'main', commit: 'abcdef1234567890abcdef1234567890abcdef12' }, createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:01:00Z', startedAt: '2026-01-01T00:00:00Z',
  ...(status === 'running' ? {} : { finishedAt: '2026-01-01T00:02:00Z' }),
  plan: { test: { kind: 'build', needs: [] }, image: { kind: 'image', needs: ['test'] }, deploy: { kind: 'deploy', needs: ['image'], target: 'staging' } },
  jobs: Object.fromEntries(Object.entries(jobStatus).map(([j, s]) => [j, { status: s, attempt: s === 'pending' ? 0 : 1, startedAt: '2026-01-01T00:00:00Z', ...(j === 'image' ? { reason: LONG } : {}) }])),
});

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      requests.push({ method: req.method!, url: req.url!, body });
      const send = (status: number, data: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(data));
      const key = `${req.method} ${req.url}`;
      if (key === 'PUT /targets/staging') return send(201, { name: 'staging' });
      if (key === 'POST /runs/01JZ0000000000000000000001/jobs/approve/approve') return send(403, { error: 'Forbidden', message: 'arn:aws:iam::1:user/bob may not answer job "approve"; it may be approved or rejected only by: arn:aws:iam::1:user/alice' });
      if (key === 'GET /runs/01JZ0000000000000000000001') {
        polls += 1;
        if (polls <= 2) return send(200, run('running', { test: 'succeeded', image: 'running', deploy: 'pending' }));
        return send(200, run('succeeded', { test: 'succeeded', image: 'succeeded', deploy: 'succeeded' }));
      }
      if (key === 'POST /runs/01JZ0000000000000000000001/rerun') return send(202, { runId: '01JZ0000000000000000000002', rerunOf: '01JZ0000000000000000000001', pipelineVersion: 3, commit: 'abcdef1234567890', reused: JSON.parse(body).failedOnly ? ['test'] : [] });
      if (key === 'POST /pipelines/hello/disable') return send(200, { id: 'hello', disabled: { by: 'me', at: 'now' } });
      if (key === 'DELETE /pipelines/hello?history=delete') return send(200, { id: 'hello', deleted: true, runsDeleted: 4 });
      if (key === 'GET /runs/01JZ0000000000000000000001/jobs/build/artifacts') return send(200, { artifacts: [{ path: 'dist/app.js', size: 11, url: `${api}/download/app.js` }, { path: '../escape.txt', size: 1, url: `${api}/download/app.js` }] });
      if (key === 'GET /runs/01JZ0000000000000000000001/jobs/package/artifacts') return send(200, { artifacts: [{ path: 'bin/tool', size: 11, url: `${api}/download/app.js`, executable: true }, { path: 'README', size: 11, url: `${api}/download/app.js` }] });
      if (key === 'GET /download/app.js') return res.writeHead(200).end('console.log');
      return send(500, { error: 'InternalError', message: `no stand-in for ${key}` });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

function proc(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, SLIPWAY_API_URL: api, NO_COLOR: '1', ...opts.env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}
const slipway = (...args: string[]) => proc(process.execPath, ['--import', TSX, CLI, ...args]);

test('defect 1: `targets apply NAME -f FILE`, as the README shows it, registers the target', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-'));
  const file = path.join(dir, 'staging.json');
  writeFileSync(file, JSON.stringify({ cluster: 'c', desiredCount: 1 }));
  const r = await slipway('targets', 'apply', 'staging', '-f', file);
  assert.equal(r.code, 0, r.err);
  assert.equal(requests.at(-1)?.method, 'PUT');
  assert.equal(requests.at(-1)?.url, '/targets/staging');
  assert.deepEqual(JSON.parse(requests.at(-1)!.body), { cluster: 'c', desiredCount: 1 });
  assert.match(r.out, /target staging registered/);
});

test('defect 2: a refusal (403) exits 6 with the reason, not 5 ("unreachable")', async () => {
  const r = await slipway('approve', '01JZ0000000000000000000001', 'approve');
  assert.equal(r.code, 6);
  assert.match(r.err, /may be approved or rejected only by: arn:aws:iam::1:user\/alice/);
  const help = await slipway('--help');
  assert.match(help.out, /6 refused \(401\/403/);
});

test('the README\'s CLI section is exactly what --help prints', async () => {
  const help = (await slipway('--help')).out.trimEnd();
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /<!-- slipway --help -->\n```text\n([\s\S]*?)\n```\n<!-- \/slipway --help -->/.exec(readme);
  assert.ok(block, 'the README has the --help block');
  assert.equal(block[1], help);
  // Every command of the help is in the block (the block is the table), including the new ones.
  for (const cmd of ['validate -f FILE', 'rerun RUN', 'artifacts RUN JOB', 'pipelines delete ID', 'schema', 'dev [--reset] [--repo PATH]']) assert.ok(block[1].includes(cmd), cmd);
});

test('defect 6: relative paths are the user\'s, with `npm run slipway` too (validate -f from examples/, init -o into the current folder)', async () => {
  const v = await proc('npm', ['run', '-s', 'slipway', '--', 'validate', '-f', 'pipelines/go.yml'], { cwd: path.join(ROOT, 'examples') });
  assert.equal(v.code, 0, v.err);
  assert.match(v.out, /pipelines\/go\.yml: pipeline .* is valid/);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-init-'));
  writeFileSync(path.join(dir, 'go.mod'), 'module example.com/x\n\ngo 1.23\n');
  const i = await proc('npm', ['--prefix', ROOT, 'run', '-s', 'slipway', '--', 'init', '-o', 'x.yml'], { cwd: dir });
  assert.equal(i.code, 0, i.err);
  assert.ok(existsSync(path.join(dir, 'x.yml')), 'written where the user was');
  assert.ok(!existsSync(path.join(ROOT, 'x.yml')), 'not into Slipway\'s folder');
  assert.match(readFileSync(path.join(dir, 'x.yml'), 'utf8'), /template: go/);
});

test('defect 4: --watch in a 60-column pseudo-terminal redraws in place: no frame line wraps', async () => {
  polls = 0;
  const cmd = `stty cols 60 rows 30; exec ${JSON.stringify(process.execPath)} --import ${TSX} ${JSON.stringify(CLI)} status 01JZ0000000000000000000001 --watch`;
  const r = await proc('script', ['-qefc', cmd, '/dev/null'], { env: { NO_COLOR: '' } });
  assert.equal(r.code, 0, r.err + r.out);
  // eslint-disable-next-line no-control-regex
  const frames = r.out.replace(/\r/g, '').split(/\x1b\[\d+A\x1b\[J/);
  assert.ok(frames.length >= 3, `redrawn in place (${frames.length} frames)`);
  for (const frame of frames.slice(0, -1)) {
    // eslint-disable-next-line no-control-regex
    for (const line of frame.split('\n')) assert.ok(line.replace(/\x1b\[[0-9;]*m/g, '').length < 60, `a line wider than the terminal: ${line}`);
  }
  // Each redraw moves up exactly the lines the frame before it drew.
  // eslint-disable-next-line no-control-regex
  const ups = [...r.out.matchAll(/\x1b\[(\d+)A/g)].map((m) => Number(m[1]));
  frames.slice(0, ups.length).forEach((f, i) => assert.equal(ups[i], f.replace(/\n$/, '').split('\n').length));
  assert.match(frames.at(-1)!, /succeeded/);
});

test('defect 4: --watch piped prints each status change as it happens, then the whole run', async () => {
  polls = 0;
  const r = await slipway('status', '01JZ0000000000000000000001', '--watch');
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split('\n');
  const firstImage = lines.findIndex((l) => /^\d\d:\d\d:\d\d {2}image running/.test(l));
  const imageDone = lines.findIndex((l) => /^\d\d:\d\d:\d\d {2}image succeeded/.test(l));
  assert.ok(firstImage >= 0 && imageDone > firstImage, r.out);
  assert.match(r.out, /^run 01JZ0000000000000000000001 {2}succeeded/m);
});

test('init detects the language of a repository from its build files', () => {
  const cases: Array<[string[], string]> = [
    [['package.json'], 'node'], [['pom.xml'], 'java'], [['build.gradle'], 'java-gradle'], [['build.gradle.kts'], 'java-gradle'],
    [['go.mod'], 'go'], [['pyproject.toml'], 'python'], [['requirements.txt'], 'python'], [['requirements-dev.txt'], 'python'],
    [['composer.json'], 'php'], [['CMakeLists.txt'], 'cpp'],
    // A Java service with a frontend's package.json is built by Maven.
    [['pom.xml', 'package.json'], 'java'],
  ];
  for (const [files, template] of cases) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-detect-'));
    for (const f of files) writeFileSync(path.join(dir, f), '');
    assert.equal(detectLanguage(dir)?.template, template, files.join(', '));
  }
  assert.equal(detectLanguage(mkdtempSync(path.join(os.tmpdir(), 'slipway-detect-'))), undefined);
});

test('init in a repository writes a pipeline for its language that validates; with a Dockerfile it builds and deploys an image', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-init-'));
  writeFileSync(path.join(dir, 'pyproject.toml'), '[project]\nname = "x"\n');
  const r = await proc(process.execPath, ['--import', TSX, CLI, 'init'], { cwd: dir });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /template python, detected from pyproject\.toml/);
  assert.equal((await slipway('validate', '-f', path.join(dir, 'slipway.yml'))).code, 0);
  assert.doesNotMatch(readFileSync(path.join(dir, 'slipway.yml'), 'utf8'), /kind: image/);
  const withDocker = mkdtempSync(path.join(os.tmpdir(), 'slipway-init-'));
  writeFileSync(path.join(withDocker, 'package.json'), '{}');
  writeFileSync(path.join(withDocker, 'Dockerfile'), 'FROM node:22\n');
  assert.equal((await proc(process.execPath, ['--import', TSX, CLI, 'init'], { cwd: withDocker })).code, 0);
  assert.match(readFileSync(path.join(withDocker, 'slipway.yml'), 'utf8'), /template: node[\s\S]*kind: image[\s\S]*kind: deploy/);
  // Nothing to detect and no terminal to ask in: a usage error naming what it looked for.
  const empty = await proc(process.execPath, ['--import', TSX, CLI, 'init'], { cwd: mkdtempSync(path.join(os.tmpdir(), 'slipway-init-')) });
  assert.equal(empty.code, 2);
  assert.match(empty.err, /cannot tell the language .* give --template/);
});

/** `slipway init` in a pseudo-terminal (util-linux `script`), in `dir`, typing `answer` once the template is asked for. */
function initInTerminal(dir: string, answer: string): Promise<{ code: number | null; out: string; asked: boolean }> {
  return new Promise((resolve) => {
    const cmd = `exec ${JSON.stringify(process.execPath)} --import ${TSX} ${JSON.stringify(CLI)} init`;
    const child = spawn('script', ['-qefc', cmd, '/dev/null'], { cwd: dir, env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    let asked = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (c) => {
      out += c;
      if (!asked && /Template \(java, java-gradle, node, python, php, go, cpp\): /.test(out)) {
        asked = true;
        child.stdin.write(answer.startsWith('\x04') ? answer : `${answer}\r`);
      }
    });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, out: out.replace(/\r/g, ''), asked }); });
  });
}

test('init in a terminal asks for the template it cannot detect, and writes the pipeline the answer names', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-init-'));
  const r = await initInTerminal(dir, '  python ');
  assert.equal(r.code, 0, r.out);
  assert.ok(r.asked, r.out);
  assert.match(r.out, /No build file found in .*\(package\.json, pom\.xml/);
  assert.match(r.out, /wrote slipway\.yml \(template python, as asked;/);
  const text = readFileSync(path.join(dir, 'slipway.yml'), 'utf8');
  assert.match(text, /^ {4}template: python$/m);
  assert.doesNotMatch(text, /template: (?!python)/);
  const valid = await slipway('validate', '-f', path.join(dir, 'slipway.yml'));
  assert.equal(valid.code, 0, valid.err);
});

test('init in a terminal refuses an answer that is no template, and Ctrl-D, writing nothing; what it can detect it does not ask', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-init-'));
  const bad = await initInTerminal(dir, 'rust');
  assert.ok(bad.asked, bad.out);
  assert.equal(bad.code, 2, bad.out);
  assert.match(bad.out, /"rust" is not one of: java, java-gradle, node, python, php, go, cpp/);
  assert.equal(existsSync(path.join(dir, 'slipway.yml')), false);
  // Ctrl-D (end of input) instead of an answer: a usage error that says so, not an internal one.
  const none = await initInTerminal(dir, '\x04');
  assert.ok(none.asked, none.out);
  assert.equal(none.code, 2, none.out);
  assert.match(none.out, /no template chosen \(Ctrl\+D\); nothing written\. Choose one with --template: java,/);
  assert.equal(existsSync(path.join(dir, 'slipway.yml')), false);

  writeFileSync(path.join(dir, 'go.mod'), 'module example.com/x\n\ngo 1.23\n');
  const detected = await initInTerminal(dir, 'python');
  assert.equal(detected.code, 0, detected.out);
  assert.equal(detected.asked, false, detected.out);
  assert.match(detected.out, /wrote slipway\.yml \(template go, detected from go\.mod;/);
  assert.match(readFileSync(path.join(dir, 'slipway.yml'), 'utf8'), /^ {4}template: go$/m);
});

test('defect 8: init --template rust says rust is not a template, not that a template is needed', async () => {
  const r = await slipway('init', '--template', 'rust', '-o', path.join(mkdtempSync(path.join(os.tmpdir(), 'slipway-init-')), 'x.yml'));
  assert.equal(r.code, 2);
  assert.match(r.err, /"rust" is not a template Slipway has; choose one of: java, java-gradle, node/);
});

test('defect 8: validate --json puts problems where pipelines apply --json does (stderr, the same shape)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-cli-'));
  const file = path.join(dir, 'bad.yml');
  writeFileSync(file, 'name: x\nsource: { provider: github, repository: acme/x }\njobs:\n  a:\n    needs: [b]\n');
  const r = await slipway('validate', '-f', file, '--json');
  assert.equal(r.code, 2);
  assert.equal(r.out, '');
  const err = JSON.parse(r.err);
  assert.equal(err.error, 'ValidationError');
  assert.match(err.problems[0].message, /unknown job "b"/);
});

test('artifacts RUN JOB --download DIR fetches each artifact into DIR (and nothing outside it)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-art-'));
  const r = await proc(process.execPath, ['--import', TSX, CLI, 'artifacts', '01JZ0000000000000000000001', 'build', '--download', 'out'], { cwd: dir });
  assert.equal(r.code, 0, r.err);
  assert.equal(readFileSync(path.join(dir, 'out', 'dist', 'app.js'), 'utf8'), 'console.log');
  assert.ok(!existsSync(path.join(dir, 'escape.txt')));
  const list = await slipway('artifacts', '01JZ0000000000000000000001', 'build');
  assert.match(list.out, /dist\/app\.js\s+11/);
});

test('artifacts --download makes executable what the build left executable, and only that', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-art-'));
  const r = await proc(process.execPath, ['--import', TSX, CLI, 'artifacts', '01JZ0000000000000000000001', 'package', '--download', 'out'], { cwd: dir });
  assert.equal(r.code, 0, r.err);
  assert.equal(statSync(path.join(dir, 'out', 'bin', 'tool')).mode & 0o111, 0o111);
  assert.equal(statSync(path.join(dir, 'out', 'README')).mode & 0o111, 0);
});

test('rerun asks the API for a re-run (failed jobs only with --failed); pipelines disable and delete --history delete', async () => {
  const whole = await slipway('rerun', '01JZ0000000000000000000001');
  assert.equal(whole.code, 0, whole.err);
  assert.deepEqual(JSON.parse(requests.at(-1)!.body), { failedOnly: false });
  assert.match(whole.out, /run 01JZ0000000000000000000002 requested: a re-run of 01JZ0000000000000000000001 \(pipeline v3/);
  const failed = await slipway('rerun', '01JZ0000000000000000000001', '--failed');
  assert.deepEqual(JSON.parse(requests.at(-1)!.body), { failedOnly: true });
  assert.match(failed.out, /kept from 01JZ0000000000000000000001: test/);
  assert.equal((await slipway('pipelines', 'disable', 'hello')).code, 0);
  const del = await slipway('pipelines', 'delete', 'hello', '--history', 'delete');
  assert.equal(del.code, 0, del.err);
  assert.match(del.out, /deleted with its 4 run\(s\)/);
  assert.equal((await slipway('pipelines', 'delete', 'hello', '--history', 'maybe')).code, 2);
});

test('schema prints the JSON Schema editors use', async () => {
  const r = await slipway('schema');
  assert.equal(r.code, 0);
  const schema = JSON.parse(r.out);
  assert.equal(schema.title, 'Slipway pipeline');
  assert.deepEqual(schema.required, ['name', 'source', 'jobs']);
});
