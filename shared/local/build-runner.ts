/**
 * The local mode's CodeBuild: each job attempt gets a fresh workspace cloned
 * from a git repository on disk at the run's commit, its declared inputs
 * downloaded from the artifact bucket, its template's install steps and commands
 * run with bash, its outputs uploaded, and its state changes reported in the
 * same shape as CodeBuild's EventBridge events, so `build-events` handles both.
 *
 * Like CodeBuild, `start` is idempotent on the request's token.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { TemplateName } from '../domain/pipeline.ts';
import type { BuildRequest, BuildRunner } from '../ports.ts';
import { BUILD_ENV, parameterEnv } from '../aws/codebuild-runner.ts';
import { artifactPrefix } from '../engine/buildspec.ts';
import type { BuildStateChangeEvent } from '../engine/build-events.ts';

/** Commands each template needs on this machine; the first missing one is named in the failure. */
export const TOOLCHAINS: Record<TemplateName, string[]> = {
  node: ['node', 'npm'],
  python: ['python3'],
  php: ['php'],
  go: ['go'],
  java: ['java', 'mvn'],
  'java-gradle': ['java', 'gradle'],
  cpp: ['g++', 'cmake'],
};

export interface LocalBuildRunnerOptions {
  /** Folder for workspaces, logs and local images (inside the local data folder). */
  dataDir: string;
  /** Where the git repository of `provider/repository` lives on disk. */
  repositoryPath(request: BuildRequest): string;
  s3: S3Client;
  artifactBucket: string;
  /** Receives every state change, CodeBuild-shaped. */
  onStateChange(event: BuildStateChangeEvent): Promise<void> | void;
  /** Each log line as it is written (the terminal view). */
  onLog?(buildId: string, line: string): void;
  /** Is a command on PATH? Injected by tests. */
  hasCommand?(command: string): boolean;
}

interface LocalBuild {
  id: string;
  request: BuildRequest;
  child?: ChildProcess;
  stopped: boolean;
  exported: Record<string, string>;
  done: Promise<void>;
  /** Milliseconds spent inside the job's own install steps and commands. */
  commandMs: number;
}

function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

export class LocalBuildRunner implements BuildRunner {
  private readonly byToken = new Map<string, LocalBuild>();
  private readonly byId = new Map<string, LocalBuild>();
  private readonly hasCommand: (c: string) => boolean;

  constructor(private readonly opts: LocalBuildRunnerOptions) {
    this.hasCommand = opts.hasCommand ?? commandExists;
    mkdirSync(this.logDir, { recursive: true });
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
    const id = `local:${randomUUID()}`;
    const build: LocalBuild = { id, request, stopped: false, exported: {}, done: Promise.resolve(), commandMs: 0 };
    this.byToken.set(request.token, build);
    this.byId.set(id, build);
    build.done = this.run(build).catch((e) => this.log(build, `runner error: ${(e as Error).message}`));
    return { buildId: id };
  }

  async stop(buildId: string): Promise<void> {
    const b = this.byId.get(buildId);
    if (!b) return;
    b.stopped = true;
    if (b.child?.pid) {
      try { process.kill(-b.child.pid, 'SIGTERM'); } catch { /* already gone */ }
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

  /** Resolves when every build started so far has ended (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.byId.values()].map((b) => b.done));
  }

  private log(b: LocalBuild, line: string): void {
    const stamped = `${new Date().toISOString()} ${line}`;
    appendFileSync(this.logFile(b.id), `${stamped}\n`);
    this.opts.onLog?.(b.id, line);
  }

  /** Reports a state change as CodeBuild's EventBridge event would; `phaseStatus` tells a timeout from a failure. */
  private async emit(b: LocalBuild, status: string, extra: { phase?: string; phaseStatus?: string; context?: string } = {}): Promise<void> {
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
  }

  private async run(b: LocalBuild): Promise<void> {
    const { request: r } = b;
    const spec = r.spec;
    const ws = path.join(this.opts.dataDir, 'work', b.id.replace(/[^A-Za-z0-9._-]/g, '_'));
    await this.emit(b, 'IN_PROGRESS');
    this.log(b, `== ${r.job} (attempt ${r.attempt}) of run ${r.runId} at ${r.commit.slice(0, 12)}`);
    try {
      // 1. toolchain
      if (spec.template) {
        const missing = TOOLCHAINS[spec.template].find((c) => !this.hasCommand(c));
        if (missing) return await this.fail(b, 'INSTALL', `the ${spec.template} template needs \`${missing}\`, which is not installed on this machine; install it or run this job on AWS (CodeBuild images have it)`);
      }
      // 2. source
      const repo = this.opts.repositoryPath(r);
      mkdirSync(path.dirname(ws), { recursive: true });
      const clone = spawnSync('git', ['clone', '-q', repo, ws], { encoding: 'utf8' });
      if (clone.status !== 0) return await this.fail(b, 'DOWNLOAD_SOURCE', `git clone ${repo} failed: ${clone.stderr.trim()}`);
      const co = spawnSync('git', ['-C', ws, 'checkout', '-q', r.commit], { encoding: 'utf8' });
      if (co.status !== 0) return await this.fail(b, 'DOWNLOAD_SOURCE', `commit ${r.commit} not found in ${repo}: ${co.stderr.trim()}`);
      // 3. inputs
      for (const input of spec.inputs) {
        const n = await this.download(r.runId, input, ws);
        this.log(b, `input ${input}: ${n} file(s)`);
      }
      // 4. install + commands
      const env: NodeJS.ProcessEnv = {
        ...process.env, ...spec.env,
        [BUILD_ENV.runId]: r.runId, [BUILD_ENV.pipelineId]: r.pipelineId, [BUILD_ENV.job]: r.job, [BUILD_ENV.jobKind]: spec.kind,
        [BUILD_ENV.attempt]: String(r.attempt), [BUILD_ENV.commit]: r.commit, [BUILD_ENV.branch]: r.branch ?? '', CI: 'true',
        ...parameterEnv(r.parameters),
      };
      const deadline = Date.now() + spec.timeoutMinutes * 60_000;
      for (const [phase, cmds] of [['INSTALL', spec.install], ['BUILD', spec.commands]] as const) {
        for (const cmd of cmds) {
          if (b.stopped) return await this.finish(b, 'STOPPED');
          this.log(b, `$ ${cmd}`);
          const t = Date.now();
          const res = await this.sh(b, cmd, ws, env, deadline);
          b.commandMs += Date.now() - t;
          if (res === 'timeout') return await this.finish(b, 'FAILED', { phase, context: `timed out after ${spec.timeoutMinutes} minutes`, timedOut: true });
          if (b.stopped) return await this.finish(b, 'STOPPED');
          if (res !== 0) return await this.fail(b, phase, `\`${cmd}\` exited with ${res}`);
        }
      }
      // 5. image jobs: no Docker engine here
      if (spec.kind === 'image' && spec.image) this.packageImage(b, ws);
      // 6. outputs
      if (spec.outputs.length > 0) {
        const n = await this.upload(r.runId, r.job, ws, spec.outputs);
        this.log(b, `outputs: ${n} file(s) to s3://${this.opts.artifactBucket}/${artifactPrefix(r.runId, r.job)}`);
      }
      await this.finish(b, 'SUCCEEDED');
    } finally {
      rmSync(ws, { recursive: true, force: true });
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

  private sh(b: LocalBuild, cmd: string, cwd: string, env: NodeJS.ProcessEnv, deadline: number): Promise<number | 'timeout'> {
    return new Promise((resolve) => {
      const child = spawn('bash', ['-eo', 'pipefail', '-c', cmd], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      b.child = child;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
      }, Math.max(0, deadline - Date.now()));
      const onData = (buf: Buffer) => { for (const line of buf.toString('utf8').split('\n')) if (line !== '') this.log(b, line); };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.on('error', (e) => { this.log(b, e.message); });
      child.on('close', (code) => {
        clearTimeout(timer);
        b.child = undefined;
        resolve(timedOut ? 'timeout' : code ?? 1);
      });
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

  private async download(runId: string, job: string, ws: string): Promise<number> {
    const prefix = artifactPrefix(runId, job);
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
    return n;
  }

  private async upload(runId: string, job: string, ws: string, globs: string[]): Promise<number> {
    const match = picomatch(globs, { dot: true });
    const files = listFiles(ws).filter((f) => !f.startsWith('.git/') && match(f));
    for (const f of files) {
      await this.opts.s3.send(new PutObjectCommand({ Bucket: this.opts.artifactBucket, Key: `${artifactPrefix(runId, job)}${f}`, Body: readFileSync(path.join(ws, f)) }));
    }
    return files.length;
  }
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

function listFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  const dir = path.join(root, rel);
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const r = rel ? `${rel}/${name}` : name;
    if (statSync(path.join(root, r)).isDirectory()) {
      if (name === '.git' || name === 'node_modules') continue;
      out.push(...listFiles(root, r));
    } else out.push(r);
  }
  return out;
}
