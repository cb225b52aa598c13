/**
 * The local mode's ECS + ALB: a target's blue and green "services" are local
 * processes started from local process images (see build-runner.ts), and its
 * listener rules are WeightedProxy instances applying the same weights a
 * ModifyRule would. Implements the releaser's `ReleaseActions`, so the release
 * state machine and the releaser run unchanged.
 *
 * Service state (which task definition each service runs, and how many) is kept
 * in a JSON file in the data folder, so a restart brings the live colour back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ReleaseActions } from '../ports/releases.ts';
import { TARGET_TAG, type TargetOwnership } from '../ports/releases.ts';
import type { Problem } from '../domain/errors.ts';
import type { Observation, ObserveSpec, ServiceObservation, TargetConfig } from '../domain/release.ts';
import type { Colour, Weights } from '../domain/traffic.ts';
import { NotFoundError } from '../domain/errors.ts';
import { WeightedProxy } from './weighted-proxy.ts';

interface TaskDefinition { arn: string; image: string }
interface ServiceRecord { colour: Colour; taskDefinition?: string; desired: number }
interface Persisted { taskDefinitions: Record<string, TaskDefinition>; services: Record<string, ServiceRecord>; weights: Weights; testWeights?: Weights; next: number }

interface Running { child: ChildProcess; url: string; taskDefinition: string; exited?: number | null; output: string[] }

export interface LocalTargetOptions {
  name: string;
  /** Data folder: local images live in `<dataDir>/images`, state in `<dataDir>/targets`. */
  dataDir: string;
  /** Ports the production and test proxies listen on (0 = any free port). */
  port?: number;
  testPort?: number;
  /** Every process line and state change, for the terminal. */
  onLog?(line: string): void;
}

async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

export class LocalTarget implements ReleaseActions, TargetOwnership {
  readonly proxy = new WeightedProxy();
  readonly testProxy = new WeightedProxy();
  url = '';
  testUrl = '';
  private state: Persisted;
  private readonly running = new Map<string, Running>();
  private readonly file: string;

  constructor(private readonly opts: LocalTargetOptions) {
    this.file = path.join(opts.dataDir, 'targets', `${opts.name}.json`);
    this.state = existsSync(this.file)
      ? (JSON.parse(readFileSync(this.file, 'utf8')) as Persisted)
      : { taskDefinitions: {}, services: { [`${opts.name}-blue`]: { colour: 'blue', desired: 0 }, [`${opts.name}-green`]: { colour: 'green', desired: 0 } }, weights: { blue: 100, green: 0 }, next: 1 };
  }

  /** The TargetConfig to register with the releaser for this local target. */
  config(): TargetConfig {
    const n = this.opts.name;
    return {
      name: n,
      cluster: 'local',
      services: { blue: `${n}-blue`, green: `${n}-green` },
      targetGroups: { blue: `local:targetgroup/${n}-blue`, green: `local:targetgroup/${n}-green` },
      listenerRuleArn: `local:rule/${n}`,
      testListenerRuleArn: `local:rule/${n}-test`,
      testUrl: this.testUrl,
      desiredCount: 1,
      liveColour: 'blue',
      // Local processes start in a second: poll often so a release takes seconds, not minutes.
      timing: { pollSeconds: 1, healthyTimeoutSeconds: 30, deploymentTimeoutSeconds: 60 },
    };
  }

  /**
   * `TargetOwnership` for the local mode: this machine has exactly one target's processes,
   * proxies and "rules", all of them implicitly tagged `slipway:target=<its name>`;
   * anything else named does not exist here.
   */
  async verify(config: TargetConfig): Promise<Problem[]> {
    const own = this.config();
    const pairs: Array<[string, string | undefined, string | undefined]> = [
      ['cluster', config.cluster, own.cluster],
      ['services.blue', config.services?.blue, own.services.blue],
      ['services.green', config.services?.green, own.services.green],
      ['targetGroups.blue', config.targetGroups?.blue, own.targetGroups.blue],
      ['targetGroups.green', config.targetGroups?.green, own.targetGroups.green],
      ['listenerRuleArn', config.listenerRuleArn, own.listenerRuleArn],
      ...(config.testListenerRuleArn !== undefined ? [['testListenerRuleArn', config.testListenerRuleArn, own.testListenerRuleArn] as [string, string, string | undefined]] : []),
    ];
    const problems: Problem[] = [];
    for (const [p, given, mine] of pairs) {
      if (given !== mine) problems.push({ path: p, message: `${given} is not a resource of this machine's local target (its ${p} is ${mine})` });
      else if (config.name !== own.name) problems.push({ path: p, message: `${given} belongs to target "${own.name}" (${TARGET_TAG}=${own.name}), not "${config.name}"` });
    }
    return problems;
  }

  /** Starts the proxies and brings back every service that was running before a restart. */
  async start(): Promise<void> {
    // Services are child processes: they must not outlive the local mode, however it ends.
    process.once('exit', () => { for (const r of this.running.values()) if (r.exited === undefined) r.child.kill('SIGKILL'); });
    this.url = await this.proxy.listen(this.opts.port ?? 0);
    this.testUrl = await this.testProxy.listen(this.opts.testPort ?? 0);
    for (const [name, svc] of Object.entries(this.state.services)) {
      if (svc.desired > 0 && svc.taskDefinition) await this.launch(name, svc.taskDefinition);
    }
    this.applyWeights(this.proxy, this.state.weights);
    if (this.state.testWeights) this.applyWeights(this.testProxy, this.state.testWeights);
  }

  async stop(): Promise<void> {
    for (const name of [...this.running.keys()]) this.kill(name);
    await this.proxy.close();
    await this.testProxy.close();
  }

  /** Which colour serves what, for the terminal and the tests. */
  describe(): { url: string; weights: Weights; colours: Record<Colour, { image?: string; url?: string }> } {
    const colours = { blue: {}, green: {} } as Record<Colour, { image?: string; url?: string }>;
    for (const [name, svc] of Object.entries(this.state.services)) {
      const td = svc.taskDefinition ? this.state.taskDefinitions[svc.taskDefinition] : undefined;
      colours[svc.colour] = { image: svc.desired > 0 ? td?.image : undefined, url: this.running.get(name)?.url };
    }
    return { url: this.url, weights: { ...this.state.weights }, colours };
  }

  // ---- ReleaseActions ----

  async registerTaskDefinition(input: { cluster: string; fromService: string; image: string }): Promise<{ taskDefinition: string; previousTaskDefinition: string }> {
    const svc = this.service(input.fromService);
    this.imageDir(input.image); // fails early on an image the local mode never built
    const arn = `local:task-definition/${this.opts.name}:${this.state.next++}`;
    this.state.taskDefinitions[arn] = { arn, image: input.image };
    this.save();
    return { taskDefinition: arn, previousTaskDefinition: svc.taskDefinition ?? '' };
  }

  async updateService(input: { cluster: string; service: string; taskDefinition?: string; desiredCount?: number }): Promise<void> {
    const svc = this.service(input.service);
    const td = input.taskDefinition || svc.taskDefinition;
    const desired = input.desiredCount ?? svc.desired;
    const changed = td !== svc.taskDefinition || desired !== svc.desired;
    svc.taskDefinition = td;
    svc.desired = desired;
    this.save();
    if (!changed && (desired === 0 || this.running.has(input.service))) return;
    this.kill(input.service);
    if (desired > 0 && td) await this.launch(input.service, td);
    this.opts.onLog?.(`${input.service}: ${desired > 0 ? `running ${this.state.taskDefinitions[td!]?.image}` : 'scaled to 0'}`);
  }

  async modifyRule(input: { ruleArn: string; targetGroups: Record<Colour, string>; weights: Weights }): Promise<void> {
    const proxy = input.ruleArn.endsWith('-test') ? this.testProxy : this.proxy;
    this.applyWeights(proxy, input.weights);
    if (proxy === this.testProxy) {
      this.state.testWeights = { ...input.weights };
      this.save();
    } else {
      this.state.weights = { ...input.weights };
      this.save();
      this.opts.onLog?.(`traffic on ${this.opts.name}: blue ${input.weights.blue}% / green ${input.weights.green}%`);
    }
  }

  async observe(spec: ObserveSpec): Promise<Observation> {
    const out: Observation = {};
    if (spec.service) out.service = this.observeService(spec.service);
    if (spec.targetGroupArn) {
      const colour: Colour = spec.targetGroupArn.endsWith('-green') ? 'green' : 'blue';
      const name = Object.entries(this.state.services).find(([, s]) => s.colour === colour)?.[0];
      const r = name ? this.running.get(name) : undefined;
      if (!r || r.exited !== undefined) out.targets = { healthy: 0, total: r ? 1 : 0, unhealthyReasons: r ? ['process exited'] : [] };
      else {
        const res = await this.httpCheck(`${r.url}/health`);
        out.targets = res.status === 200 ? { healthy: 1, total: 1, unhealthyReasons: [] } : { healthy: 0, total: 1, unhealthyReasons: [res.error ?? `health check answered ${res.status}`] };
      }
    }
    // CloudWatch alarms do not exist locally: every named alarm reads OK.
    if (spec.alarms && spec.alarms.length > 0) out.alarms = { inAlarm: [], missing: [] };
    return out;
  }

  async httpCheck(url: string): Promise<{ status?: number; error?: string }> {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
      return { status: res.status };
    } catch (e) {
      return { error: (e as Error).message };
    }
  }

  // ---- internals ----

  private service(name: string): ServiceRecord {
    const svc = this.state.services[name];
    if (!svc) throw new NotFoundError(`local target ${this.opts.name} has no service ${name}`);
    return svc;
  }

  private observeService(name: string): ServiceObservation {
    const svc = this.service(name);
    const r = this.running.get(name);
    const failed = r && r.exited !== undefined ? [r.taskDefinition] : [];
    return {
      taskDefinition: svc.taskDefinition,
      rolloutState: svc.desired === 0 ? 'COMPLETED' : !r ? 'IN_PROGRESS' : r.exited !== undefined ? 'FAILED' : 'COMPLETED',
      ...(r && r.exited !== undefined ? { rolloutStateReason: `process exited with ${r.exited}: ${r.output.slice(-3).join(' | ')}` } : {}),
      deployments: 1,
      running: r && r.exited === undefined ? 1 : 0,
      desired: svc.desired,
      failedTaskDefinitions: failed,
    };
  }

  private imageDir(image: string): { dir: string; cmd: string[] } {
    const m = /^local\/([^:]+):[^@]+@sha256:([0-9a-f]{12})/.exec(image);
    if (!m) throw new NotFoundError(`image ${image} is not a local process image; the local mode runs images its own image jobs built`);
    const dir = path.join(this.opts.dataDir, 'images', m[1], m[2]);
    const manifest = path.join(dir, '.slipway-image.json');
    if (!existsSync(manifest)) throw new NotFoundError(`local image ${image} is missing from ${dir} (was the data folder reset?)`);
    return { dir, cmd: (JSON.parse(readFileSync(manifest, 'utf8')) as { cmd: string[] }).cmd };
  }

  private async launch(name: string, taskDefinition: string): Promise<void> {
    const td = this.state.taskDefinitions[taskDefinition];
    if (!td) throw new NotFoundError(`task definition ${taskDefinition} is unknown to local target ${this.opts.name}`);
    const { dir, cmd } = this.imageDir(td.image);
    const port = await freePort();
    const child = spawn(cmd[0], cmd.slice(1), { cwd: dir, env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const r: Running = { child, url: `http://127.0.0.1:${port}`, taskDefinition, output: [] };
    const onData = (b: Buffer) => { for (const l of b.toString().split('\n')) if (l) { r.output.push(l); if (r.output.length > 20) r.output.shift(); } };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => { if (this.running.get(name) === r) r.exited = code; });
    this.running.set(name, r);
    // Wait (briefly) until it listens, as ECS waits for the task to start.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && r.exited === undefined) {
      if ((await this.httpCheck(`${r.url}/`)).status !== undefined) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  private kill(name: string): void {
    const r = this.running.get(name);
    if (!r) return;
    this.running.delete(name);
    if (r.exited === undefined) r.child.kill('SIGTERM');
  }

  private applyWeights(proxy: WeightedProxy, weights: Weights): void {
    const urlOf = (c: Colour) => {
      const name = Object.entries(this.state.services).find(([, s]) => s.colour === c)?.[0];
      const r = name ? this.running.get(name) : undefined;
      return r && r.exited === undefined ? r.url : undefined;
    };
    const blue = urlOf('blue');
    const green = urlOf('green');
    // Before the first release nothing runs: keep the proxy answering 503 rather than refusing the weights.
    if ((weights.blue > 0 && !blue) || (weights.green > 0 && !green)) {
      proxy.setBackends({ blue: { url: blue ?? 'http://127.0.0.1:9', weight: weights.blue }, green: { url: green ?? 'http://127.0.0.1:9', weight: weights.green } });
      return;
    }
    proxy.setBackends({ blue: { url: blue, weight: weights.blue }, green: { url: green, weight: weights.green } });
  }

  private save(): void {
    mkdirSync(path.dirname(this.file), { recursive: true });
    writeFileSync(this.file, JSON.stringify(this.state, null, 2));
  }
}
