/**
 * The local mode's CodeBuild: each job attempt gets a fresh workspace cloned
 * from a git repository on disk at the run's commit, its declared inputs
 * downloaded from the artifact bucket, its template's install steps and commands
 * run with bash, its outputs uploaded, and its state changes reported in the
 * same shape as CodeBuild's EventBridge events, so `build-events` handles both.
 *
 * What a job sees is what it would see in CodeBuild, not the developer's shell:
 * - its own `HOME` per pipeline (`<dataDir>/homes/<pipeline>`), so npm, pip, Go
 *   and Maven caches stay out of the developer's and build on each other;
 * - only PATH, HOME, the locale, the job's variables and SLIPWAY_* (no AWS_*,
 *   npm_*, tokens or anything else of the process that started the local mode);
 * - one shell whose state (working directory, exported variables) carries from
 *   one command to the next, as buildspec 0.2's does
 *   (https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-cmd.html);
 * - the template's tools checked first, every one named with what to install;
 *   the runtime version asked and got stated, and a version the project declares
 *   unsupported refused;
 * - outputs by the buildspec's rules (a pattern matching nothing fails the job,
 *   executable bits survive the trip through the bucket).
 *
 * Like CodeBuild, `start` is idempotent on the request's token.
 */
import { spawnSync } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { rm } from 'node:fs/promises';
import { Spawner } from './spawner.ts';
import { checkout } from './checkout.ts';
import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync, chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { JobSpec } from '../domain/pipeline.ts';
import { RetryableError } from '../domain/errors.ts';
import { TEMPLATES, type ToolRequirement } from '../domain/templates.ts';
import { DECLARATION_FILES, declaredRequirement, judgeRuntime } from '../domain/runtime-versions.ts';
import { ARTIFACT_ROOTS } from '../domain/run.ts';
import { retryDelayFor } from '../domain/run-effects.ts';
import type { BuildRequest, BuildRunner } from '../ports/index.ts';
import { BUILD_ENV, parameterEnv } from '../aws/codebuild-runner.ts';
import { artifactPrefix, cacheExports, executablesKey } from '../services/buildspec.ts';
import { cacheKeys, DEFAULT_CACHE_MAX_BYTES, DEPENDENCY_CACHES, INSTALLED_RESTORED, lockHashInput, type DependencyCache, type InstalledTree } from '../domain/dependency-cache.ts';
import type { BuildStateChangeEvent } from '../services/build-events.ts';

/** Is `command` run by one of these steps (as a word, not inside another one)? */
function runs(steps: string[], command: string): boolean {
  const word = new RegExp(`(^|[\\s;&|('"\`/])${command.replace(/[.+]/g, '\\$&')}(?=$|[\\s;&|)'"\`])`, 'm');
  return steps.some((s) => word.test(s));
}

/**
 * The tools a job's template needs that this machine lacks, given the job's
 * actual steps (an overridden step that no longer runs a tool does not need it)
 * and the checkout (a committed wrapper replaces Maven or Gradle).
 */
export function missingTools(spec: Pick<JobSpec, 'template' | 'install' | 'commands'>, workspace: string, has: (t: ToolRequirement) => boolean): ToolRequirement[] {
  if (!spec.template) return [];
  const steps = [...spec.install, ...spec.commands];
  return TEMPLATES[spec.template].tools.filter((t) => (t.neededBy ?? [t.command]).some((c) => runs(steps, c)) && !(t.unlessFile && existsSync(path.join(workspace, t.unlessFile))) && !has(t));
}

/** Variables of the developer's environment a job keeps: the locale. PATH and HOME are set separately. */
const LOCALE = /^(LANG|LANGUAGE|LC_[A-Z]+|TZ)$/;

/**
 * The environment a job starts with: PATH (without the node_modules/.bin that
 * `npm start` puts in front of it), its own HOME, the locale, then the job's own.
 */
export function jobEnvironment(base: NodeJS.ProcessEnv, home: string, own: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && LOCALE.test(k)) env[k] = v;
  const pathDirs = (base.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter((d) => d !== '' && !/node_modules[\\/]\.bin$|node-gyp-bin$/.test(d));
  env.PATH = pathDirs.join(':');
  env.HOME = home;
  return { ...env, ...own };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-?]*[ -\/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/** A line as stored: without colour and cursor codes (they belong to a terminal, not to a log file). */
export function stripAnsi(line: string): string {
  return line.replace(ANSI, '');
}

export interface LocalBuildRunnerOptions {
  /** Folder for workspaces, logs and local images (inside the local data folder). */
  dataDir: string;
  /** Where the git repository of `provider/repository` lives on disk. */
  repositoryPath(request: BuildRequest): string;
  s3: S3Client;
  artifactBucket: string;
  /** Receives every state change, CodeBuild-shaped. */
  onStateChange(event: BuildStateChangeEvent): Promise<void> | void;
  /** Each log line as it is written (the terminal view), with the build it is from. */
  onLog?(buildId: string, line: string, build: { runId: string; job: string; attempt: number; running: boolean }): void;
  /** Is a tool on this machine (on PATH, and its probe passes)? Injected by tests. */
  hasTool?(tool: ToolRequirement, env: Record<string, string>): boolean;
  /** A dependency cache entry over this size is not saved. @default DEFAULT_CACHE_MAX_BYTES */
  cacheMaxBytes?: number;
}

/** What a build restored of its dependency cache, for the save after it. */
interface CacheUse {
  deps: DependencyCache;
  dir: string;
  keys: ReturnType<typeof cacheKeys>;
  hit?: string;
  write: boolean;
  /** What the installed tree must have been built for (`uname -sm` and the runtime), when the template has one. */
  builtFor?: string;
  /** The restore put the installed tree back (the install step reads SLIPWAY_INSTALLED_RESTORED). */
  installedRestored?: boolean;
  /** An exact hit whose installed tree was for another runtime, or missing: saved again after the build. */
  installedStale?: boolean;
  /** The checkout has a lock file: without one every commit hashes alike, so no installed tree is kept or put back. */
  locked: boolean;
}

interface LocalBuild {
  id: string;
  request: BuildRequest;
  /** The running step's process (its pid leads its process group). */
  child?: { pid?: number };
  stopped: boolean;
  exported: Record<string, string>;
  done: Promise<void>;
  /** Milliseconds spent inside the job's own install steps and commands. */
  commandMs: number;
  /** When the build reported IN_PROGRESS, and milliseconds from then to its end (performance.now()). */
  startedMs?: number;
  wallMs?: number;
  /** Ends a retry's wait early (the build was stopped). */
  wake?: () => void;
  /** IN_PROGRESS was reported (before, a retry waits out its backoff). */
  running?: boolean;
  /** Its final state was reported. */
  ended?: boolean;
}

/** `uname -sm` and its newline, asked once: the machine does not change under a running local mode. */
let machine: Promise<string> | undefined;
function machineName(): Promise<string> {
  machine ??= exec('uname', ['-sm']).then((r) => r.stdout);
  return machine;
}

/** Checkouts kept for the next jobs of a run (see sourceAt), and how long one must be unused before it may go. */
const SOURCE_SNAPSHOTS = 4;
const SOURCE_IDLE_MS = 10 * 60_000;

/** Tools found, by command, probe and PATH: found once, a tool is taken to stay (a missing one is asked again, so installing it helps at once). */
const foundTools = new Set<string>();

function toolExists(tool: ToolRequirement, env: Record<string, string>): boolean {
  const test = `command -v ${tool.command} >/dev/null 2>&1${tool.probe ? ` && ${tool.probe} >/dev/null 2>&1` : ''}`;
  const key = `${test}\0${env.PATH ?? ''}`;
  if (foundTools.has(key)) return true;
  const found = spawnSync('bash', ['-c', test], { stdio: 'ignore', env }).status === 0;
  if (found) foundTools.add(key);
  return found;
}

/** Runs one step in the job's shell, then saves what buildspec 0.2 carries to the next one: exported variables and the directory. */
// bash builtins only (compgen, printf): the same on Linux and macOS, whatever `env` the machine has.
const STEP = 'trap \'rc=$?; for __v in $(compgen -e); do printf "%s=%s\\0" "$__v" "${!__v}"; done > "$SLIPWAY_STEP_STATE.env"; pwd > "$SLIPWAY_STEP_STATE.cwd"; exit $rc\' EXIT; set -eo pipefail; eval "$1"';
/** Variables bash sets itself, or that only make sense to the step that saved them. */
const SHELL_OWN = new Set(['_', 'SHLVL', 'PWD', 'OLDPWD', 'SLIPWAY_STEP_STATE']);

/** How long a stopped build's processes have to end on SIGTERM before they are killed. */
export const STOP_GRACE_MS = 2000;

export class LocalBuildRunner implements BuildRunner {
  private readonly byToken = new Map<string, LocalBuild>();
  private readonly byId = new Map<string, LocalBuild>();
  private readonly hasTool: (t: ToolRequirement, env: Record<string, string>) => boolean;

  constructor(private readonly opts: LocalBuildRunnerOptions) {
    this.hasTool = opts.hasTool ?? toolExists;
    mkdirSync(this.logDir, { recursive: true });
    // However the local mode ends, no build's processes outlive it (each runs in its own process group).
    process.once('exit', () => {
      for (const b of this.byId.values()) if (b.child?.pid) { try { process.kill(-b.child.pid, 'SIGKILL'); } catch { /* gone */ } }
    });
  }

  /** The pipeline's HOME: its tool caches (npm, pip, Go, Maven), shared by its jobs and kept between runs. */
  homeDir(pipelineId: string): string {
    return path.join(this.opts.dataDir, 'homes', pipelineId.replace(/[^A-Za-z0-9._-]/g, '_'));
  }

  /** Dependency caches, one directory per key (`cache/<pipeline>/<job>/<branch>/<lock hash>`), as the bucket's `cache/` holds archives. */
  get cacheDir(): string {
    return path.join(this.opts.dataDir, 'cache');
  }

  get logDir(): string {
    return path.join(this.opts.dataDir, 'logs');
  }

  logFile(buildId: string): string {
    return path.join(this.logDir, `${buildId.replace(/[^A-Za-z0-9._-]/g, '_')}.log`);
  }

  async start(request: BuildRequest): Promise<{ buildId: string }> {
    const seen = this.byToken.get(request.token);
    if (seen) return { buildId: seen.id };
    // A handler still at work when the local mode stops starts nothing: the message comes back after the next start.
    if (this.stopping) throw new RetryableError(`the local mode is stopping: ${request.job} (attempt ${request.attempt}) of run ${request.runId} starts after the next start`);
    const id = `local:${randomUUID()}`;
    const build: LocalBuild = { id, request, stopped: false, exported: {}, done: Promise.resolve(), commandMs: 0 };
    this.byToken.set(request.token, build);
    this.byId.set(id, build);
    build.done = this.run(build).catch(async (e) => {
      const message = e instanceof Error ? e.message : String(e);
      this.log(build, `runner error: ${message}`);
      // A build must end: as CodeBuild reports its own faults (FAILED with a FAULT phase), never silence.
      if (!build.ended) await this.emit(build, 'FAILED', { phase: 'FINALIZING', phaseStatus: 'FAULT', context: `the local build runner failed: ${message}` }).catch(() => undefined);
    });
    return { buildId: id };
  }

  async stop(buildId: string): Promise<void> {
    const b = this.byId.get(buildId);
    if (!b) return;
    b.stopped = true;
    b.wake?.();
    if (b.child?.pid) {
      const pid = b.child.pid;
      try { process.kill(-pid, 'SIGTERM'); } catch { /* already gone */ }
      // A step that ignores SIGTERM (npm ci finishing its tree, a test runner) must not hold up a stop: CodeBuild's StopBuild does not wait either.
      setTimeout(() => { try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ } }, STOP_GRACE_MS).unref();
    }
  }

  /** Exported variables of a finished build (imageUri, imageDigest for image jobs). */
  async exportedVariables(buildId: string): Promise<Record<string, string>> {
    return { ...(this.byId.get(buildId)?.exported ?? {}) };
  }

  /** Time a build spent in its own install steps and commands (benchmark: engine overhead = the rest). */
  commandMs(buildId: string): number {
    return this.byId.get(buildId)?.commandMs ?? 0;
  }

  /** Milliseconds from IN_PROGRESS to the build's end: its commands plus what the runner did around them (checkout, toolchain checks, caches, artifacts, packaging). */
  wallMs(buildId: string): number {
    return this.byId.get(buildId)?.wallMs ?? 0;
  }

  /** When the build reported IN_PROGRESS (milliseconds since the epoch), or undefined before. */
  startedAtMs(buildId: string): number | undefined {
    const started = this.byId.get(buildId)?.startedMs;
    return started === undefined ? undefined : performance.timeOrigin + started;
  }

  /** Stops every build still running (the local mode is stopping): each ends STOPPED, unreported (see emit), its processes signalled. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.byId.keys()].map((id) => this.stop(id)));
    // A checkout or copy under way would otherwise hold the stop until it finished.
    spawner.stopCommands();
  }

  /** Resolves when every build started so far has ended (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.byId.values()].map((b) => b.done));
  }

  private log(b: LocalBuild, raw: string): void {
    const line = stripAnsi(raw).replace(/\r/g, '');
    const stamped = `${new Date().toISOString()} ${line}`;
    appendFileSync(this.logFile(b.id), `${stamped}\n`);
    this.opts.onLog?.(b.id, line, { runId: b.request.runId, job: b.request.job, attempt: b.request.attempt, running: b.running === true });
  }

  /** Reports a state change as CodeBuild's EventBridge event would; `phaseStatus` tells a timeout from a failure. */
  private async emit(b: LocalBuild, status: string, extra: { phase?: string; phaseStatus?: string; context?: string } = {}): Promise<void> {
    // A build the local mode's stop ends is not reported STOPPED: handled during the stop, that
    // would fail its attempt and start the retry as the local mode goes. The next start's
    // recovery reports it (a FAULT, the job's retries applying).
    if (this.stopping && status === 'STOPPED') {
      b.ended = true;
      return;
    }
    if (status === 'IN_PROGRESS') b.startedMs = performance.now();
    else if (b.startedMs !== undefined) b.wallMs = performance.now() - b.startedMs;
    const r = b.request;
    const vars: Record<string, string> = {
      [BUILD_ENV.runId]: r.runId, [BUILD_ENV.pipelineId]: r.pipelineId, [BUILD_ENV.job]: r.job, [BUILD_ENV.jobKind]: r.spec.kind,
      [BUILD_ENV.attempt]: String(r.attempt), [BUILD_ENV.commit]: r.commit, [BUILD_ENV.artifactBucket]: this.opts.artifactBucket,
      ...(r.branch ? { [BUILD_ENV.branch]: r.branch } : {}),
    };
    const done = status !== 'IN_PROGRESS';
    await this.opts.onStateChange({
      'detail-type': 'CodeBuild Build State Change',
      source: 'aws.codebuild',
      time: new Date().toISOString(),
      detail: {
        'build-status': status,
        'build-id': b.id,
        'project-name': 'slipway-local',
        'additional-information': {
          environment: { 'environment-variables': Object.entries(vars).map(([name, value]) => ({ name, value, type: 'PLAINTEXT' })) },
          ...(done ? { 'exported-environment-variables': Object.entries(b.exported).map(([name, value]) => ({ name, value })) } : {}),
          ...(extra.phase ? { phases: [{ 'phase-type': extra.phase, 'phase-status': extra.phaseStatus ?? status, 'phase-context': extra.context ? [extra.context] : [] }] } : {}),
        },
      },
    });
    // Only once it was reported: a final state that could not be reported gets the runner's FAULT instead.
    if (done) b.ended = true;
  }

  private async run(b: LocalBuild): Promise<void> {
    const { request: r } = b;
    const spec = r.spec;
    const ws = path.join(this.opts.dataDir, 'work', b.id.replace(/[^A-Za-z0-9._-]/g, '_'));
    const state = `${ws}.step`;
    const delay = retryDelayFor(spec.retryDelaySeconds, r.attempt);
    if (delay > 0) {
      // A retry waits (the job's retryDelay, doubling per attempt) before it starts, as it does on CodeBuild.
      this.log(b, `attempt ${r.attempt}: waiting ${delay}s before starting (retry backoff)`);
      await new Promise<void>((resolve) => { const t = setTimeout(resolve, delay * 1000); b.wake = () => { clearTimeout(t); resolve(); }; });
      if (b.stopped) return await this.finish(b, 'STOPPED');
    }
    await this.emit(b, 'IN_PROGRESS');
    b.running = true;
    this.log(b, `== ${r.job} (attempt ${r.attempt} of ${spec.retries + 1}) of run ${r.runId} at ${r.commit.slice(0, 12)}`);
    let cache: CacheUse | undefined;
    try {
      // 1. source
      const repo = this.opts.repositoryPath(r);
      mkdirSync(path.dirname(ws), { recursive: true });
      const source = await this.sourceAt(repo, r.commit);
      if ('problem' in source) return await this.fail(b, 'DOWNLOAD_SOURCE', source.problem);
      // 2. the job's environment: nothing of the developer's but PATH and the locale
      const root = ARTIFACT_ROOTS[r.lane ?? 'release'];
      const home = this.homeDir(r.pipelineId);
      mkdirSync(home, { recursive: true });
      let env = jobEnvironment(process.env, home, {
        CI: 'true', ...spec.env,
        [BUILD_ENV.runId]: r.runId, [BUILD_ENV.pipelineId]: r.pipelineId, [BUILD_ENV.job]: r.job, [BUILD_ENV.jobKind]: spec.kind,
        [BUILD_ENV.attempt]: String(r.attempt), [BUILD_ENV.commit]: r.commit, [BUILD_ENV.branch]: r.branch ?? '',
        [BUILD_ENV.artifactBucket]: this.opts.artifactBucket,
        [BUILD_ENV.artifactRoot]: root, [BUILD_ENV.trust]: r.lane === 'fork' ? 'untrusted' : 'trusted',
        ...parameterEnv(r.parameters),
      });
      // The runtime's version, asked once per job (the runtime check and the dependency cache both
      // want it), in the pristine checkout while the workspace is being copied from it (the same
      // files, so a version manager reading .nvmrc or .tool-versions answers the same).
      const versions = new Map<string, Promise<{ status: number | null; stdout: string; stderr: string }>>();
      const versionOf = (cmd: string) => {
        if (!versions.has(cmd)) versions.set(cmd, exec('bash', ['-c', cmd], { cwd: source.dir, env }));
        return versions.get(cmd)!;
      };
      const runtime = spec.template ? TEMPLATES[spec.template].runtime : undefined;
      const asked = runtime && spec.template ? TEMPLATES[spec.template].runtimeVersions[runtime.name] : undefined;
      const early = runtime && asked ? versionOf(runtime.versionCommand) : undefined;
      const [copy] = await Promise.all([exec('cp', ['-a', source.dir, ws]), early]);
      if (copy.status !== 0) return await this.fail(b, 'DOWNLOAD_SOURCE', `copying the checkout of ${r.commit} failed: ${copy.stderr.trim()}`);
      // 3. toolchain: every tool the steps run, all missing ones named at once
      const missing = missingTools(spec, ws, (t) => this.hasTool(t, env));
      if (missing.length > 0) {
        const list = missing.map((t) => `\`${t.command}\` (install ${t.install})`).join('; ');
        return await this.fail(b, 'INSTALL', `the ${spec.template} template needs ${list}, not found on this machine; install it, or run this job on AWS (CodeBuild's image has it)`);
      }
      // 4. runtime: the version asked, the version got, and whether the project accepts it
      if (runtime && asked) {
        const got = await versionOf(runtime.versionCommand);
        const file = DECLARATION_FILES[runtime.declaredIn];
        const text = file && existsSync(path.join(ws, file)) ? readFileSync(path.join(ws, file), 'utf8') : undefined;
        const verdict = judgeRuntime(runtime.name, asked, `${got.stdout}${got.stderr}`, declaredRequirement(runtime.declaredIn, text));
        this.log(b, verdict.message);
        if (!verdict.ok) return await this.fail(b, 'INSTALL', verdict.message);
      }
      // 5. the dependency cache, restored into the job's cache directory before the install steps
      if (spec.kind === 'build' && spec.template && r.cache) {
        cache = await this.restoreCache(b, ws, DEPENDENCY_CACHES[spec.template], versionOf);
        env = { ...env, SLIPWAY_CACHE_DIR: cache.dir, ...(cache.installedRestored ? { [INSTALLED_RESTORED]: '1' } : {}) };
        const plain = cache.deps.variables.every((v) => !(v.value ?? '').includes('$'));
        if (plain) {
          // Plain paths need no shell (one process fewer per job); MAVEN_OPTS and the ccache launchers do.
          for (const v of cache.deps.variables) env[v.name] = (v.value ?? '{dir}').replace('{dir}', `${cache.dir}/${v.dir}`);
        } else {
          const res = await this.sh(b, cacheExports(cache.deps), ws, { ...env, SLIPWAY_STEP_STATE: state }, Date.now() + 60_000);
          if (res === 0) ({ env } = readStepState(state, env, ws));
        }
      }
      // 6. inputs
      for (const input of spec.inputs) {
        const n = await this.download(r.runId, input, ws, root);
        this.log(b, `input ${input}: ${n} file(s)`);
      }
      // 7. install + commands, in one shell state as buildspec 0.2
      let cwd = ws;
      const deadline = Date.now() + spec.timeoutMinutes * 60_000;
      for (const [phase, cmds] of [['INSTALL', spec.install], ['BUILD', spec.commands]] as const) {
        for (const cmd of cmds) {
          if (b.stopped) return await this.finish(b, 'STOPPED');
          this.log(b, `$ ${cmd}`);
          const t = Date.now();
          const res = await this.sh(b, cmd, cwd, { ...env, SLIPWAY_STEP_STATE: state }, deadline);
          b.commandMs += Date.now() - t;
          if (res === 'timeout') return await this.finish(b, 'FAILED', { phase, context: `timed out after ${spec.timeoutMinutes} minutes`, timedOut: true });
          if (b.stopped) return await this.finish(b, 'STOPPED');
          if (res !== 0) return await this.fail(b, phase, `\`${cmd}\` exited with ${res}`);
          ({ env, cwd } = readStepState(state, env, cwd));
        }
      }
      // 8. image jobs: no Docker engine here
      if (spec.kind === 'image' && spec.image) this.packageImage(b, ws);
      // 9. outputs, by the buildspec's rules
      if (spec.outputs.length > 0) {
        const out = await this.upload(r.runId, r.job, ws, spec.outputs, root);
        if ('unmatched' in out) return await this.fail(b, 'POST_BUILD', `output ${JSON.stringify(out.unmatched)} matched no file`);
        this.log(b, `outputs: ${out.files} file(s) to s3://${this.opts.artifactBucket}/${artifactPrefix(r.runId, r.job, root)}`);
      }
      // 10. the dependency cache, saved after a successful build only
      if (cache) await this.saveCache(b, ws, cache);
      await this.finish(b, 'SUCCEEDED');
    } finally {
      // Off the event loop: a workspace with node_modules takes long to delete, and the engine, API
      // and console share this process (the build's end is being handled meanwhile).
      await Promise.all([ws, ...(cache ? [cache.dir] : []), `${state}.env`, `${state}.cwd`].map((p) => rm(p, { recursive: true, force: true }).catch(() => undefined)));
    }
  }

  /**
   * A pristine checkout of `commit`, made once and copied into each job's workspace: the jobs of a
   * run share a commit, and a checkout costs more than the copy (git's work on every file). Made in
   * a temporary folder and renamed into place, so a checkout that exists is whole; never built in.
   * It borrows the repository's objects (see checkout.ts), so its .git is small; the newest
   * SOURCE_SNAPSHOTS are kept.
   */
  private sourceAt(repo: string, commit: string): Promise<{ dir: string } | { problem: string }> {
    const dir = path.join(this.opts.dataDir, 'sources', `${createHash('sha256').update(repo).digest('hex').slice(0, 12)}-${commit}`);
    // One checkout at a time per commit: a job arriving while it is made waits for it.
    const making = this.makingSources.get(dir);
    if (making) return making;
    const made = this.makeSource(repo, commit, dir).finally(() => this.makingSources.delete(dir));
    this.makingSources.set(dir, made);
    return made;
  }

  /**
   * Starts the checkout of a commit a run was just requested for, so its first job finds it made
   * (the engine plans the run meanwhile). Failures are left for the job to report.
   */
  prepare(repositoryPath: string, commit: string): void {
    if (!/^[0-9a-f]{40}$/.test(commit)) return;
    this.sourceAt(repositoryPath, commit).catch(() => undefined);
  }

  /** Set by stopAll: no build starts after it, and the builds it ends report nothing. */
  private stopping = false;

  private readonly makingSources = new Map<string, Promise<{ dir: string } | { problem: string }>>();

  private async makeSource(repo: string, commit: string, dir: string): Promise<{ dir: string } | { problem: string }> {
    const root = path.dirname(dir);
    if (existsSync(dir)) {
      // Used now: pruning goes by last use.
      const now = new Date();
      try { utimesSync(dir, now, now); } catch { /* pruned this instant: made again below */ }
      if (existsSync(dir)) return { dir };
    }
    mkdirSync(root, { recursive: true });
    const tmp = `${dir}.${randomUUID()}.tmp`;
    try {
      const problem = await checkout(exec, repo, commit, tmp);
      if (problem !== undefined) return { problem };
      try { renameSync(tmp, dir); } catch { /* another job of the run made it first */ }
      this.pruneSources(root, dir);
      return { dir };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  private pruneSources(root: string, keep: string): void {
    const dirs = readdirSync(root).filter((n) => !n.endsWith('.tmp')).map((n) => path.join(root, n)).filter((d) => d !== keep);
    // Beyond the newest few, and unused for a while: a job copies its checkout within seconds of asking for it.
    const idle = Date.now() - SOURCE_IDLE_MS;
    const old = dirs.map((d) => ({ d, t: statSync(d, { throwIfNoEntry: false })?.mtimeMs ?? 0 })).sort((a, b) => b.t - a.t).slice(SOURCE_SNAPSHOTS - 1).filter((x) => x.t < idle);
    for (const { d } of old) rmSync(d, { recursive: true, force: true });
  }

  /** The local directory of a cache key; a branch's `latest` is a pointer file naming its newest hash. */
  private cacheEntry(key: string): string | undefined {
    const rel = key.replace(/\.tar\.gz$/, '');
    if (path.basename(rel) !== 'latest') return path.join(this.opts.dataDir, rel);
    try {
      const hash = readFileSync(path.join(this.opts.dataDir, `${rel}`), 'utf8').trim();
      return /^[0-9a-f]{16}$/.test(hash) ? path.join(this.opts.dataDir, path.dirname(rel), hash) : undefined;
    } catch {
      return undefined;
    }
  }

  /** As the buildspec's restore: the lock files' hash, then the first key found, copied into the job's cache directory. */
  private async restoreCache(b: LocalBuild, ws: string, deps: DependencyCache, versionOf: (cmd: string) => Promise<{ stdout: string; stderr: string }>): Promise<CacheUse> {
    const r = b.request;
    const matchers = deps.lockFiles.map((g) => picomatch(g, { dot: true }));
    const names = deps.lockFiles.some((g) => g.includes('/'))
      ? listFiles(ws).filter((f) => matchers.some((m) => m(f)))
      : readdirSync(ws).filter((f) => matchers.some((m) => m(f)) && statSync(path.join(ws, f)).isFile());
    const hash = createHash('sha256');
    for (const content of lockHashInput(names.map((name) => ({ name, content: readFileSync(path.join(ws, name)) })))) hash.update(content);
    const lockHash = hash.digest('hex').slice(0, 16);
    const keys = cacheKeys(r.pipelineId, r.job, r.cache!, lockHash);
    const dir = `${ws}.cache`;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const use: CacheUse = { deps, dir, keys, write: r.cache!.write && r.lane !== 'fork', locked: names.length > 0 };
    if (deps.installed) {
      // What builtForCommand prints, from the answers the job already has: `uname -sm`, the image (`local`), the runtime's version.
      const got = await versionOf(deps.installed.builtFor);
      use.builtFor = `${await machineName()}local\n${got.stdout}${got.stderr}`;
    }
    const t = Date.now();
    const key = keys.restore.find((k) => { const e = this.cacheEntry(k); return e !== undefined && existsSync(e); });
    if (key !== undefined) {
      const entry = this.cacheEntry(key)!;
      use.hit = key;
      // The package manager's cache and, on an exact hit, the installed tree, copied side by side
      // (`cp -a`: Node's own recursive copy took three times as long on npm's cache of 340 packages).
      try {
        await Promise.all([
          ...readdirSync(entry).filter((n) => n !== 'installed').map((n) => copyTree(path.join(entry, n), path.join(dir, n))),
          ...(deps.installed && use.locked && keys.exact.includes(key) ? [this.restoreInstalled(b, ws, use, deps.installed, path.join(entry, 'installed'))] : []),
        ]);
      } catch (err) {
        // As the buildspec's restore, never the build's failure (a save replacing the entry meanwhile): a cold install.
        this.log(b, `dependency cache ${key} could not be restored (${err instanceof Error ? err.message : String(err)}); installing without it`);
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        for (const d of deps.installed?.dirs ?? []) if (use.installedRestored) rmSync(path.join(ws, d), { recursive: true, force: true });
        return { deps, dir, keys, write: use.write, locked: use.locked, ...(use.builtFor !== undefined ? { builtFor: use.builtFor } : {}) };
      }
    }
    this.log(b, `dependency cache ${key ? `${key} restored in ${Date.now() - t} ms` : 'miss'} (lock hash ${lockHash})`);
    return use;
  }

  /** As the buildspec's: on an exact hit built for this OS, CPU and runtime, the installed tree is copied into the workspace. */
  private async restoreInstalled(b: LocalBuild, ws: string, c: CacheUse, tree: InstalledTree, from: string): Promise<void> {
    const t = Date.now();
    const stamp = path.join(from, '.built-for');
    // An entry saved without a tree (the build made none) has nothing to put back.
    if (!existsSync(stamp)) return;
    if (readFileSync(stamp, 'utf8') !== c.builtFor) {
      // Saved again after this build, so the next one on this runtime finds its tree.
      c.installedStale = true;
      return this.log(b, 'the cached installed tree was built for another runtime; not used (saved again after this build)');
    }
    const copied = tree.dirs.filter((d) => existsSync(path.join(from, d)) && !existsSync(path.join(ws, d)));
    for (const d of copied) await copyTree(path.join(from, d), path.join(ws, d));
    if (copied.length > 0) c.installedRestored = true;
    this.log(b, copied.length > 0 ? `installed ${copied.join(', ')} restored in ${Date.now() - t} ms` : `installed ${tree.dirs.join(', ')} not restored (already in the checkout)`);
  }

  /** As the buildspec's save: unless the restore hit this lock hash, the run may not write, or the entry is over the cap. */
  private async saveCache(b: LocalBuild, ws: string, c: CacheUse): Promise<void> {
    if (!c.write) return this.log(b, 'dependency cache: a fork\'s run reads the shared caches and never writes them');
    if (c.hit !== undefined && c.keys.exact.includes(c.hit) && !c.installedStale) return this.log(b, 'dependency cache hit on its lock hash, nothing to save');
    const t = Date.now();
    const target = path.join(this.opts.dataDir, c.keys.save.replace(/\.tar\.gz$/, ''));
    const staging = path.join(this.opts.dataDir, 'cache-staging', randomUUID());
    mkdirSync(path.dirname(staging), { recursive: true });
    try {
      await copyTree(c.dir, staging);
      // The installed tree goes in as installed/<dir>, beside what it was built for.
      const tree = c.deps.installed;
      const kept = tree && c.locked && c.builtFor !== undefined ? tree.dirs.filter((d) => existsSync(path.join(ws, d))) : [];
      if (kept.length > 0) {
        mkdirSync(path.join(staging, 'installed'), { recursive: true });
        writeFileSync(path.join(staging, 'installed', '.built-for'), c.builtFor!);
        for (const d of kept) await copyTree(path.join(ws, d), path.join(staging, 'installed', d));
      }
      let size = dirSize(staging);
      const max = this.opts.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES;
      if (size > max && kept.length > 0) {
        // The package manager's cache alone may fit: better than nothing.
        rmSync(path.join(staging, 'installed'), { recursive: true, force: true });
        this.log(b, `dependency cache with ${kept.join(', ')} is ${size} bytes, over the cap of ${max}; saving it without them`);
        kept.length = 0;
        size = dirSize(staging);
      }
      if (size > max) return this.log(b, `dependency cache of ${size} bytes is over the cap of ${max}; not saved`);
      mkdirSync(path.dirname(target), { recursive: true });
      rmSync(target, { recursive: true, force: true });
      renameSync(staging, target);
      writeFileSync(path.join(this.opts.dataDir, c.keys.latest.replace(/\.tar\.gz$/, '')), path.basename(target));
      this.log(b, `dependency cache saved as ${c.keys.save} (${size} bytes${kept.length > 0 ? `, with ${kept.join(', ')}` : ''}, ${Date.now() - t} ms)`);
    } catch (err) {
      // As the buildspec's save, never the build's failure.
      this.log(b, `dependency cache not saved: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }

  private async fail(b: LocalBuild, phase: string, context: string): Promise<void> {
    this.log(b, `FAILED in ${phase}: ${context}`);
    await this.emit(b, 'FAILED', { phase, context });
  }

  private async finish(b: LocalBuild, status: 'SUCCEEDED' | 'FAILED' | 'STOPPED', extra: { phase?: string; context?: string; timedOut?: boolean } = {}): Promise<void> {
    this.log(b, `== ${status}${extra.context ? `: ${extra.context}` : ''}`);
    await this.emit(b, status, { ...extra, ...(extra.timedOut ? { phaseStatus: 'TIMED_OUT' } : {}) });
  }

  private sh(b: LocalBuild, cmd: string, cwd: string, env: Record<string, string>, deadline: number): Promise<number | 'timeout'> {
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const logLine = (line: string) => this.log(b, line);
    const out = wholeLines(logLine);
    const err = wholeLines(logLine);
    const ended = spawner.run({ cmd: 'bash', args: ['-c', STEP, 'slipway-step', cmd], cwd, env, detached: true }, {
      onSpawn: (pid) => {
        b.child = { pid };
        timer = setTimeout(() => {
          timedOut = true;
          try { process.kill(-pid!, 'SIGKILL'); } catch { /* gone */ }
        }, Math.max(0, deadline - Date.now()));
        // Stopped while the step was being started (the stop found no process to signal): it has done nothing yet.
        if (b.stopped) { try { process.kill(-pid!, 'SIGKILL'); } catch { /* gone */ } }
      },
      onStdout: out.data,
      onStderr: err.data,
      onError: (message) => this.log(b, message),
    });
    return ended.then(({ code }) => {
      out.end();
      err.end();
      clearTimeout(timer);
      b.child = undefined;
      return timedOut ? 'timeout' : code ?? 1;
    });
  }

  /**
   * Without a Docker engine, an image job packages its build context as a local
   * "process image": the files plus the Dockerfile's CMD, which the local target
   * runs directly. The same pipeline file builds and pushes a real image on AWS.
   */
  private packageImage(b: LocalBuild, ws: string): void {
    const img = b.request.spec.image!;
    const context = path.join(ws, img.context);
    const dockerfile = path.join(ws, img.dockerfile);
    if (!existsSync(dockerfile)) throw new Error(`${img.dockerfile} not found in the repository`);
    const cmd = dockerCmd(readFileSync(dockerfile, 'utf8'));
    if (!cmd) throw new Error(`${img.dockerfile} has no CMD the local mode can run`);
    const files = listFiles(context).filter((f) => !f.startsWith('.git/') && !f.startsWith('node_modules/'));
    const hash = createHash('sha256');
    for (const f of files) hash.update(f).update(readFileSync(path.join(context, f)));
    const digest = `sha256:${hash.digest('hex')}`;
    const dir = path.join(this.opts.dataDir, 'images', img.repository, digest.slice(7, 19));
    mkdirSync(dir, { recursive: true });
    for (const f of files) cpSync(path.join(context, f), path.join(dir, f), { recursive: true });
    writeFileSync(path.join(dir, '.slipway-image.json'), JSON.stringify({ repository: img.repository, commit: b.request.commit, cmd, digest }, null, 2));
    b.exported = { imageUri: `local/${img.repository}:${b.request.commit.slice(0, 12)}@${digest}`, imageDigest: digest };
    this.log(b, `no Docker engine on this machine: packaged ${img.context} as local process image ${b.exported.imageUri} (runs: ${cmd.join(' ')}); on AWS this job runs docker build -f ${img.dockerfile} and pushes to ECR`);
  }

  /** An input's files where they were uploaded from, executable again where they were (see executablesKey). */
  private async download(runId: string, job: string, ws: string, root: string): Promise<number> {
    const prefix = artifactPrefix(runId, job, root);
    let token: string | undefined;
    let n = 0;
    do {
      const page = await this.opts.s3.send(new ListObjectsV2Command({ Bucket: this.opts.artifactBucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const rel = o.Key!.slice(prefix.length);
        const obj = await this.opts.s3.send(new GetObjectCommand({ Bucket: this.opts.artifactBucket, Key: o.Key! }));
        const dest = path.join(ws, rel);
        mkdirSync(path.dirname(dest), { recursive: true });
        writeFileSync(dest, await obj.Body!.transformToByteArray());
        n += 1;
      }
      token = page.NextContinuationToken;
    } while (token);
    let list: string;
    try {
      const obj = await this.opts.s3.send(new GetObjectCommand({ Bucket: this.opts.artifactBucket, Key: executablesKey(runId, job, root) }));
      list = await obj.Body!.transformToString();
    } catch {
      return n; // no list: a job whose outputs were not uploaded
    }
    for (const f of list.split('\n').filter(Boolean)) {
      const file = path.join(ws, f);
      if (file.startsWith(ws + path.sep) && existsSync(file)) chmodSync(file, statSync(file).mode | 0o111);
    }
    return n;
  }

  /**
   * Uploads the outputs by the buildspec's rules: a wildcard pattern takes the
   * files it matches (`**` crosses directories), a plain path a file or a whole
   * directory; a pattern that matches nothing fails the job.
   */
  private async upload(runId: string, job: string, ws: string, patterns: string[], root: string): Promise<{ files: number } | { unmatched: string }> {
    const matched = matchOutputs(listFiles(ws, '', true), patterns, (rel) => existsSync(path.join(ws, rel)) && statSync(path.join(ws, rel)).isDirectory());
    if ('unmatched' in matched) return matched;
    const executables: string[] = [];
    for (const f of matched.files) {
      const file = path.join(ws, f);
      await this.opts.s3.send(new PutObjectCommand({ Bucket: this.opts.artifactBucket, Key: `${artifactPrefix(runId, job, root)}${f}`, Body: readFileSync(file) }));
      if (statSync(file).mode & 0o100) executables.push(f);
    }
    await this.opts.s3.send(new PutObjectCommand({ Bucket: this.opts.artifactBucket, Key: executablesKey(runId, job, root), Body: executables.map((f) => `${f}\n`).join('') }));
    return { files: matched.files.length };
  }
}


/** Bytes of the files under `dir`. */
/**
 * A directory tree copied as `cp -a` does: symbolic links kept as they are (node_modules/.bin holds
 * relative ones, which Node's cpSync would make absolute, pointing back into the cache).
 */
async function copyTree(from: string, to: string): Promise<void> {
  const r = await exec('cp', ['-a', from, to]);
  if (r.status !== 0) throw new Error(`copying ${from} to ${to} failed: ${r.stderr.trim()}`);
}

/**
 * A program's exit status and output, without blocking the event loop (the local mode's engine,
 * releaser and API share this process: a synchronous git clone held every queue hop behind it).
 * stdin is /dev/null, as CodeBuild's: Debian's bash reads ~/.bashrc when stdin is a socket.
 */
function exec(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const out = new StringDecoder('utf8');
  const err = new StringDecoder('utf8');
  let stdout = '';
  let stderr = '';
  let failed: string | undefined;
  return spawner.run({ cmd, args, ...opts }, {
    onStdout: (d) => { stdout += out.write(d); },
    onStderr: (d) => { stderr += err.write(d); },
    onError: (message) => { failed ??= message; },
  }).then(({ code }) => {
    stdout += out.end();
    stderr += err.end();
    return failed !== undefined ? { status: null, stdout, stderr: `${stderr}${failed}` } : { status: code, stdout, stderr };
  });
}

/** A stream's non-empty lines, whole: decoded across chunk boundaries (a character or a line may arrive in two reads). */
function wholeLines(onLine: (line: string) => void): { data: (chunk: Buffer) => void; end: () => void } {
  const decoder = new StringDecoder('utf8');
  let partial = '';
  const emit = (text: string, final: boolean) => {
    const parts = (partial + text).split('\n');
    partial = final ? '' : parts.pop()!;
    for (const line of parts) if (line !== '') onLine(line);
  };
  return { data: (chunk) => emit(decoder.write(chunk), false), end: () => emit(decoder.end(), true) };
}

/** The processes builds run, started from a small helper so that no fork stalls this event loop (see spawner.ts). */
const spawner = new Spawner();

function dirSize(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const st = lstatSync(path.join(dir, name), { throwIfNoEntry: false });
    if (st?.isFile()) n += st.size;
  }
  return n;
}

/** Reads what the step left for the next one (see STEP); the previous state when it left nothing. */
function readStepState(state: string, env: Record<string, string>, cwd: string): { env: Record<string, string>; cwd: string } {
  try {
    const next: Record<string, string> = {};
    for (const entry of readFileSync(`${state}.env`, 'utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0 && !SHELL_OWN.has(entry.slice(0, eq))) next[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    const dir = readFileSync(`${state}.cwd`, 'utf8').trim();
    return { env: next, cwd: dir && existsSync(dir) ? dir : cwd };
  } catch {
    return { env, cwd };
  }
}

/**
 * The files a job's outputs take, by the buildspec's rules (see uploadOutput in
 * shared/services/buildspec.ts): bash globs with globstar and dotglob, where a
 * directory matched by a wildcard is skipped (its files are matched themselves)
 * and a directory named plainly is taken whole.
 */
export function matchOutputs(files: string[], patterns: string[], isDirectory: (rel: string) => boolean): { files: string[] } | { unmatched: string } {
  const out = new Set<string>();
  for (const raw of patterns) {
    const pattern = raw.replace(/^(\.\/)+/, '');
    if (/[*?[]/.test(pattern)) {
      const match = picomatch(pattern, { dot: true });
      const hits = files.filter((f) => match(f));
      // A wildcard that matches only directories still matched something (the build does not fail on it).
      const dirHit = hits.length === 0 && dirsOf(files).some((d) => match(d));
      if (hits.length === 0 && !dirHit) return { unmatched: raw };
      for (const f of hits) out.add(f);
    } else {
      const p = pattern.replace(/\/+$/, '');
      if (isDirectory(p)) {
        const under = files.filter((f) => f.startsWith(`${p}/`));
        if (under.length === 0) return { unmatched: raw };
        for (const f of under) out.add(f);
      } else if (files.includes(p)) out.add(p);
      else return { unmatched: raw };
    }
  }
  return { files: [...out].sort() };
}

function dirsOf(files: string[]): string[] {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs];
}

/** The CMD of a Dockerfile, exec form (`["node","server.mjs"]`) or shell form. */
export function dockerCmd(dockerfile: string): string[] | undefined {
  const lines = dockerfile.split('\n').map((l) => l.trim()).filter((l) => /^CMD\s/i.test(l));
  const last = lines.at(-1);
  if (!last) return undefined;
  const arg = last.replace(/^CMD\s+/i, '');
  if (arg.startsWith('[')) {
    try { return JSON.parse(arg) as string[]; } catch { return undefined; }
  }
  return ['sh', '-c', arg];
}

/** Files under `root`, relative; without `.git/` and, unless `withDependencies`, without `node_modules/`. */
function listFiles(root: string, rel = '', withDependencies = false): string[] {
  const out: string[] = [];
  const dir = path.join(root, rel);
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const r = rel ? `${rel}/${name}` : name;
    const st = statSync(path.join(root, r), { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) {
      if (name === '.git' || (name === 'node_modules' && !withDependencies)) continue;
      out.push(...listFiles(root, r, withDependencies));
    } else out.push(r);
  }
  return out;
}
