#!/usr/bin/env node
/**
 * `slipway`: the local mode (`slipway dev`) and a client for Slipway's
 * management API, local or deployed.
 *
 * Exit codes scripts can rely on:
 *   0 done (a watched run succeeded)   1 a watched run ended failed/cancelled/superseded
 *   2 bad usage or rejected input (400)   3 not found (404)   4 conflict (409)
 *   5 API unreachable or internal error   6 refused (401/403)
 *   (doctor: 1 when a check fails; the list is USAGE's, which the README repeats)
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ApiClient, ApiError } from './client.ts';
import { runView, status, table } from './format.ts';
import { watchRun as watchRunView } from './watch.ts';
import { artifactsCommand, CommandUsageError, pipelineAdminCommand, rerunCommand, schemaCommand } from './commands.ts';
import { localStateFile, userDir } from './user-paths.ts';
import { parsePipeline } from '../shared/domain/definition.ts';
import type { RunState } from '../shared/domain/run.ts';

const USAGE = `usage: slipway <command> [options]

Local mode
  dev [--reset] [--repo PATH]       Slipway on this machine (\`npm start\`);
                                    --repo: run your own repository's pipeline
Writing pipelines
  init [--template LANG] [-o FILE] [--branch B]
                                    write slipway.yml for this repository: its
                                    language detected (java, java-gradle, node,
                                    python, php, go, cpp), triggered on B
  validate -f FILE                  check a pipeline file: every problem at once
  schema                            print the pipeline format's JSON Schema
Pipelines
  pipelines apply -f FILE [--id ID] register or update a pipeline
  pipelines list
  pipelines disable ID | enable ID  stop (or resume) starting runs
  pipelines delete ID [--history keep|delete]
                                    remove it; keep its runs (default) or not
Runs
  run PIPELINE [--branch B | --commit SHA] [--watch]
                                    start a run (default: the default branch)
  runs PIPELINE                     list runs, newest first
  status RUN [--watch]              show a run; --watch follows it to the end
  rerun RUN [--failed] [--watch]    run again: same commit and pipeline version;
                                    --failed: only failed (and skipped) jobs
  logs RUN JOB [--attempt N] [--follow]
                                    a build job's log (the last attempt or N)
  artifacts RUN JOB [--download DIR]
                                    a job's artifacts; --download: into DIR
  approve RUN JOB | reject RUN JOB  answer an approval job
  cancel RUN
Releases
  targets [NAME]                    targets; or one's colours and releases
  targets apply NAME -f FILE        register or change a target (a JSON file)
  rollback TARGET                   put traffic back on the previous colour
  doctor [--prefix P] [--connection ARN]
                                    check what a first release on AWS needs

Options: --api URL (default: $SLIPWAY_API_URL, else the running local mode),
         --json (machine-readable output; errors as JSON on stderr), -h, --help

Exit codes: 0 done; 1 a watched run did not succeed (doctor: a check failed);
  2 bad usage or input (400); 3 not found (404); 4 conflict (409);
  5 API unreachable or internal error; 6 refused (401/403: who you are may not
  do this, e.g. approve a job that names other approvers)`;

export class UsageError extends Error {}

export const LOCAL_STATE_FILE = path.join('.slipway', 'dev.json');

/** Where the CLI reads and writes: the process's own streams, environment and folder, or a test's. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
  /** Read for SLIPWAY_API_URL. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Relative files and `.slipway/dev.json` are found from here. @default process.cwd() */
  cwd?: string;
}

function resolveApi(io: Required<CliIo>, flag?: string): ApiClient {
  let url = flag ?? io.env.SLIPWAY_API_URL;
  const here = path.resolve(io.cwd, LOCAL_STATE_FILE);
  // Here, else the running local mode's (SLIPWAY_DATA_DIR, or Slipway's own folder): the CLI finds it from any folder.
  const stateFile = existsSync(here) ? here : localStateFile(io.env);
  const state = stateFile && existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as { apiUrl?: string; apiToken?: string }) : {};
  if (!url) url = state.apiUrl;
  if (!url) throw new UsageError('no Slipway API to talk to: start the local mode with `npm start`, or set SLIPWAY_API_URL to your stack\'s ApiUrl output');
  const host = new URL(url).hostname;
  const local = host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]';
  // The local mode's token of its current start; sent to loopback only, never to a deployed stack.
  return new ApiClient({ url, sign: !local, ...(local && state.apiToken ? { token: state.apiToken } : {}) });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** --watch (cli/watch.ts): redrawn in place in a terminal, fitted to its width; status changes when piped. */
function watchRun(io: Required<CliIo>, api: ApiClient, runId: string, json: boolean): Promise<number> {
  const tty = io.stdout as { isTTY?: boolean; columns?: number; rows?: number };
  return watchRunView(api, runId, json, { write: (t) => io.stdout.write(t), isTTY: tty.isTTY === true, ...(tty.columns ? { columns: tty.columns } : {}), ...(tty.rows ? { rows: tty.rows } : {}) });
}

const println = (stream: CliIo['stdout'], text: string) => stream.write(`${text}\n`);

/**
 * Runs one command and returns its exit code; errors are reported on `io.stderr`
 * (as JSON with --json) and become the exit codes above. The `slipway` bin is
 * this with the process's streams.
 */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  // The user's folder: `npm run slipway` runs in Slipway's own, and npm keeps the user's in INIT_CWD.
  const full: Required<CliIo> = { env: process.env, cwd: userDir(io.env ?? process.env), ...io };
  try {
    return await command(argv, full);
  } catch (e) {
    const err = e as Error;
    const body = e instanceof ApiError && e.body && typeof e.body === 'object' && 'problems' in e.body ? (e.body as { problems: Array<{ path: string; message: string }> }).problems : [];
    if (argv.includes('--json')) println(io.stderr, JSON.stringify({ error: e instanceof ApiError ? e.code : err.name, message: err.message, ...(body.length > 0 ? { problems: body } : {}) }));
    else {
      println(io.stderr, `slipway: ${err.message}`);
      for (const p of body) println(io.stderr, `  ${p.path ? `${p.path}: ` : ''}${p.message}`);
    }
    return exitCodeFor(e);
  }
}

async function command(argv: string[], io: Required<CliIo>): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      api: { type: 'string' }, json: { type: 'boolean', default: false }, watch: { type: 'boolean', short: 'w', default: false },
      follow: { type: 'boolean', default: false }, file: { type: 'string', short: 'f' }, id: { type: 'string' },
      branch: { type: 'string' }, commit: { type: 'string' }, template: { type: 'string' }, output: { type: 'string', short: 'o' },
      reset: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false }, repository: { type: 'string' },
      attempt: { type: 'string' },
      prefix: { type: 'string' }, connection: { type: 'string' },
      failed: { type: 'boolean', default: false }, download: { type: 'string' }, history: { type: 'string' }, repo: { type: 'string' },
    },
  });
  const [cmd, ...rest] = positionals;
  const json = values.json ?? false;
  const out = (human: string, data: unknown) => println(io.stdout, json ? JSON.stringify(data, null, 2) : human);
  const readText = (file: string) => readFileText(path.resolve(io.cwd, file), file);
  if (!cmd || values.help) { println(io.stdout, USAGE); return values.help ? 0 : 2; }

  switch (cmd) {
    case 'dev': {
      // The handlers' structured logs are for CloudWatch; locally the terminal shows progress instead.
      process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
      // ...and their metrics are for CloudWatch (EMF lines on stdout): off unless asked for.
      process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
      const { runDev } = await import('./dev/local-mode.ts');
      return runDev({ reset: values.reset ?? false, ...(values.repo ? { repo: path.resolve(io.cwd, values.repo) } : {}) });
    }
    case 'validate': {
      const file = values.file ?? rest[0];
      if (!file) throw new UsageError('validate needs -f FILE');
      const parsed = parsePipeline(readText(file), { filename: file });
      if (parsed.ok) {
        out(`${file}: pipeline ${parsed.spec.name} is valid (${Object.keys(parsed.spec.jobs).join(', ')})`, { ok: true, name: parsed.spec.name, jobs: Object.keys(parsed.spec.jobs) });
        return 0;
      }
      // The same shape and stream as a 400 from `pipelines apply --json`: errors go to stderr.
      if (json) println(io.stderr, JSON.stringify({ error: 'ValidationError', message: `${file}: invalid pipeline definition (${parsed.problems.length} problem(s))`, problems: parsed.problems }));
      else for (const p of parsed.problems) println(io.stderr, `${file}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
      return 2;
    }
    case 'init': {
      const { initPipeline, InitError } = await import('./init.ts');
      const file = values.output ?? 'slipway.yml';
      const target = path.resolve(io.cwd, file);
      const branch = values.branch ?? defaultBranchHere(path.dirname(target));
      try {
        const r = await initPipeline({ file: target, template: values.template, branch, repository: values.repository, interactive: Boolean(process.stdin.isTTY && io.stdout.isTTY && !json) });
        const how = r.detected ? `detected from ${r.detected}` : 'as asked';
        out(`wrote ${file} (template ${r.template}, ${how}; ${r.repository}, branch ${branch}${r.image ? '' : '; no Dockerfile, so no image or deploy jobs yet'}); register it with: slipway pipelines apply -f ${file}`, { file, template: r.template, branch, repository: r.repository, ...(r.detected ? { detectedFrom: r.detected } : {}), image: r.image });
        return 0;
      } catch (e) {
        if (e instanceof InitError) throw new UsageError(e.message);
        throw e;
      }
    }
    case 'pipelines': {
      const api = resolveApi(io, values.api);
      const [sub] = rest;
      if (sub === 'apply') {
        const file = values.file ?? rest[1];
        if (!file) throw new UsageError('pipelines apply needs -f FILE');
        const text = readText(file);
        // The pipeline's id defaults to its name, so `apply -f slipway.yml` registers what the file calls itself.
        const parsed = parsePipeline(text, { filename: file });
        const id = values.id ?? (parsed.ok ? parsed.spec.name : path.basename(file).replace(/\.(ya?ml|json)$/, '').replace(/[^a-z0-9-]/gi, '-').toLowerCase());
        const type = file.endsWith('.json') ? 'application/json' : 'application/yaml';
        const res = await api.request<{ id: string; version: number }>('PUT', `/pipelines/${encodeURIComponent(id)}`, text, type);
        out(`pipeline ${res.id ?? id} registered, version ${res.version}`, res);
        return 0;
      }
      if (sub === 'list') {
        const res = await api.request<{ items: Array<{ id: string; version: number; provider: string; repository: string }> }>('GET', '/pipelines');
        out(table([['PIPELINE', 'VERSION', 'REPOSITORY'], ...res.items.map((p) => [p.id, String(p.version), `${p.provider}:${p.repository}`])]), res);
        return 0;
      }
      if (sub === 'disable' || sub === 'enable' || sub === 'delete') return pipelineAdminCommand(api, { sub, id: rest[1], history: values.history }, out);
      throw new UsageError('pipelines apply -f FILE | list | disable ID | enable ID | delete ID [--history keep|delete]');
    }
    case 'run': {
      const api = resolveApi(io, values.api);
      const [pipeline] = rest;
      if (!pipeline) throw new UsageError('run needs a PIPELINE');
      if (values.branch && values.commit) throw new UsageError('give --branch or --commit, not both');
      // Without --branch or --commit, the API runs the repository's default branch.
      const body = values.commit ? { commit: values.commit } : values.branch ? { branch: values.branch } : {};
      const res = await api.request<{ runId: string; branch?: string; commit?: string }>('POST', `/pipelines/${encodeURIComponent(pipeline)}/runs`, body);
      if (!values.watch) { out(`run ${res.runId} requested (${res.branch ?? ''}@${res.commit?.slice(0, 8) ?? ''}); follow it with: slipway status ${res.runId} --watch`, res); return 0; }
      return watchRun(io, api, res.runId, json);
    }
    case 'runs': {
      const api = resolveApi(io, values.api);
      const [pipeline] = rest;
      if (!pipeline) throw new UsageError('runs needs a PIPELINE');
      const res = await api.request<{ items: Array<{ runId: string; status: string; branch?: string; commit: string; createdAt: string }> }>('GET', `/pipelines/${encodeURIComponent(pipeline)}/runs`);
      out(table([['RUN', 'STATUS', 'REF', 'CREATED'], ...res.items.map((r) => [r.runId, status(r.status), `${r.branch ?? ''}@${r.commit.slice(0, 8)}`, r.createdAt])]), res);
      return 0;
    }
    case 'status': {
      const api = resolveApi(io, values.api);
      const [runId] = rest;
      if (!runId) throw new UsageError('status needs a RUN id');
      if (values.watch) return watchRun(io, api, runId, json);
      const run = await api.request<RunState>('GET', `/runs/${encodeURIComponent(runId)}`);
      out(runView(run), run);
      return 0;
    }
    case 'logs': {
      const api = resolveApi(io, values.api);
      const [runId, job] = rest;
      if (!runId || !job) throw new UsageError('logs needs RUN and JOB');
      const attempt = values.attempt === undefined ? undefined : Number(values.attempt);
      if (attempt !== undefined && !(Number.isInteger(attempt) && attempt >= 1)) throw new UsageError('--attempt takes an attempt number: 1, 2, ...');
      let cursor: string | undefined;
      let shown = false;
      for (;;) {
        const q = new URLSearchParams({ ...(cursor ? { cursor } : {}), ...(attempt ? { attempt: String(attempt) } : {}) }).toString();
        const page = await api.request<{ events: Array<{ timestamp: string; message: string }>; cursor?: string; complete: boolean; attempt?: number; attempts?: number }>('GET', `/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(job)}/logs${q ? `?${q}` : ''}`);
        // Which attempt this is, once, on stderr: stdout stays the log itself.
        if (!shown && !json && page.attempt !== undefined) {
          println(io.stderr, `${job}: attempt ${page.attempt} of ${page.attempts}${(page.attempts ?? 1) > 1 ? ` (others: --attempt N)` : ''}`);
          shown = true;
        }
        for (const e of page.events ?? []) {
          if (json) println(io.stdout, JSON.stringify(e));
          else io.stdout.write(e.message.endsWith('\n') ? e.message : `${e.message}\n`);
        }
        cursor = page.cursor ?? cursor;
        if ((page.events?.length ?? 0) > 0) continue;
        if (!values.follow || page.complete) return 0;
        await sleep(1000);
      }
    }
    case 'approve':
    case 'reject': {
      const api = resolveApi(io, values.api);
      const [runId, job] = rest;
      if (!runId || !job) throw new UsageError(`${cmd} needs RUN and JOB`);
      const res = await api.request('POST', `/runs/${encodeURIComponent(runId)}/jobs/${encodeURIComponent(job)}/${cmd}`, {});
      out(`${job} ${cmd === 'approve' ? 'approved' : 'rejected'}`, res);
      return 0;
    }
    case 'cancel': {
      const api = resolveApi(io, values.api);
      const [runId] = rest;
      if (!runId) throw new UsageError('cancel needs a RUN id');
      const res = await api.request('POST', `/runs/${encodeURIComponent(runId)}/cancel`, {});
      out(`cancel requested for ${runId}`, res);
      return 0;
    }
    case 'targets': {
      const api = resolveApi(io, values.api);
      const [sub, name] = rest;
      if (sub === 'apply') {
        const file = values.file;
        if (!file || !name) throw new UsageError('targets apply NAME -f FILE (a JSON file: cluster, services, targetGroups, listenerRuleArn, desiredCount...)');
        let config: unknown;
        try { config = JSON.parse(readText(file)); } catch (e) { throw new UsageError(`${file} is not JSON: ${(e as Error).message}`); }
        const res = await api.request<{ name: string }>('PUT', `/targets/${encodeURIComponent(name)}`, config);
        out(`target ${name} registered`, res);
        return 0;
      }
      if (!sub) {
        const res = await api.request<{ items: Array<{ name: string; liveColour: string; weights: { blue: number; green: number }; current?: { phase: string; image: string } }> }>('GET', '/targets');
        out(table([['TARGET', 'LIVE', 'WEIGHTS (blue/green)', 'RELEASE'], ...res.items.map((t) => [t.name, liveText(t), `${t.weights.blue}/${t.weights.green}`, t.current ? `${t.current.phase} ${t.current.image}` : ''])]), res);
        return 0;
      }
      const res = await api.request<{ name: string; liveColour: string; weights: { blue: number; green: number }; current?: { phase: string; image: string; percent?: number }; last?: { outcome?: string; image: string; finishedAt?: string; reason?: string }; rollback?: { colour: string; until: string } }>('GET', `/targets/${encodeURIComponent(sub)}`);
      const lines = [
        `target ${res.name}: ${liveText(res)}, blue ${res.weights.blue}% / green ${res.weights.green}%`,
        res.current ? `  releasing ${res.current.image}: ${res.current.phase}${res.current.percent !== undefined ? ` at ${res.current.percent}%` : ''}` : '  no release in progress',
        ...(res.last ? [`  last: ${res.last.outcome ?? ''} ${res.last.image} ${res.last.finishedAt ?? ''}`, ...(res.last.reason ? [`        ${res.last.reason}`] : [])] : []),
        ...(res.rollback ? [`  rollback to ${res.rollback.colour} possible until ${res.rollback.until}: slipway rollback ${res.name}`] : []),
      ];
      out(lines.join('\n'), res);
      return 0;
    }
    case 'rollback': {
      const api = resolveApi(io, values.api);
      const [name] = rest;
      if (!name) throw new UsageError('rollback needs a TARGET');
      const res = await api.request('POST', `/targets/${encodeURIComponent(name)}/rollback`, {});
      out(`rollback of ${name} requested`, res);
      return 0;
    }
    case 'rerun': return rerunCommand(resolveApi(io, values.api), { runId: rest[0], failed: values.failed ?? false, watch: values.watch ?? false, json }, out, (id) => watchRun(io, resolveApi(io, values.api), id, json));
    case 'artifacts': return artifactsCommand(resolveApi(io, values.api), { runId: rest[0], job: rest[1], download: values.download === undefined ? undefined : path.resolve(io.cwd, values.download), shownAs: values.download }, out);
    case 'schema': return schemaCommand((text) => println(io.stdout, text));
    case 'doctor': {
      const api = resolveApi(io, values.api);
      const { doctorDepsFor, formatChecks, runDoctor } = await import('./doctor.ts');
      const checks = await runDoctor(await doctorDepsFor(api, { prefix: values.prefix, connection: values.connection }));
      out(formatChecks(checks), { ok: checks.every((c) => c.ok), checks });
      return checks.every((c) => c.ok) ? 0 : 1;
    }
    default:
      throw new UsageError(`unknown command "${cmd}"\n\n${USAGE}`);
  }
}

/**
 * The default branch of the repository `dir` is in: what origin's HEAD names,
 * else the branch checked out, else git's init.defaultBranch, else main.
 */
export function defaultBranchHere(dir: string): string {
  const git = (...args: string[]) => {
    const r = spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : '';
  };
  const origin = git('symbolic-ref', '--short', 'refs/remotes/origin/HEAD');
  if (origin) return origin.replace(/^origin\//, '');
  return git('symbolic-ref', '--short', 'HEAD') || git('config', 'init.defaultBranch') || 'main';
}

/** The file at `resolved`, named `file` in errors. */
function readFileText(resolved: string, file: string): string {
  try {
    return readFileSync(resolved, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/**
 * Which colour is live. During a release the new colour can take all the traffic
 * (bake) before it becomes the live one (when the release succeeds): say so, rather
 * than "live blue" beside "green 100%".
 */
function liveText(t: { liveColour: string; weights: { blue: number; green: number }; current?: { phase: string } }): string {
  const serving = t.weights.green > t.weights.blue ? 'green' : 'blue';
  if (!t.current || serving === t.liveColour) return `live ${t.liveColour}`;
  return `live ${t.liveColour} until the release ends (${t.current.phase}: ${serving} serves ${t.weights[serving]}%)`;
}

export function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError || e instanceof CommandUsageError) return 2;
  if (e instanceof ApiError) return e.status === 400 || e.status === 413 ? 2 : e.status === 404 ? 3 : e.status === 409 ? 4 : e.status === 401 || e.status === 403 ? 6 : 5;
  if (e instanceof TypeError && /parseArgs|Unknown option|ERR_PARSE_ARGS/.test(`${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`)) return 2;
  return 5;
}

// The bin: the process's streams in, its exit code out.
if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('cli/slipway.ts')) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
