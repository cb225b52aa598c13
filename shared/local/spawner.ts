/**
 * Starts the local build runner's processes from a small helper process instead of this one.
 *
 * Node starts a child by forking the whole process, and the fork holds the event loop for as long
 * as the kernel takes to copy the page tables: 5 ms for a 47 MB process, 8 ms for the local mode at
 * its usual 175 MB, 21 ms at 350 MB (measured here, `spawn('true')`). A job starts a dozen
 * processes (checkout, copy, runtime checks, one bash per step, packaging) and the engine, the
 * releaser, the API and the console share this event loop, so every build stalled them all. The
 * helper (spawner-child.mjs) is a bare Node process: its forks are cheap and stall nothing here.
 * What comes back is the same as from child_process: the pid (builds run in their own process
 * group, which the runner signals directly), stdout and stderr as they come, the exit code.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface SpawnRequest {
  cmd: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** In a process group of its own (the runner stops a build's whole tree with it). */
  detached?: boolean;
}

export interface SpawnHandlers {
  /** Once the process exists (its pid: `process.kill(-pid)` signals its group when detached). */
  onSpawn?: (pid: number | undefined) => void;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  onError?: (message: string) => void;
}

export interface SpawnEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

type Message =
  | { op: 'spawned'; id: number; pid?: number }
  | { op: 'out' | 'err'; id: number; data: Uint8Array }
  | { op: 'error'; id: number; message: string }
  | { op: 'close'; id: number; code: number | null; signal: NodeJS.Signals | null };

const HELPER = fileURLToPath(new URL('./spawner-child.mjs', import.meta.url));

export class Spawner {
  private helper?: ChildProcess;
  private nextId = 1;
  /** Runs under way: who is told, which helper started them, and their pid (a detached one's leads its group). */
  private readonly pending = new Map<number, { handlers: SpawnHandlers; done: (end: SpawnEnd) => void; helper: ChildProcess; detached: boolean; pid?: number }>();

  /** Runs `cmd` to its end; output and the pid arrive through `handlers`. Never rejects: a process that cannot start ends with code null after onError. */
  run(request: SpawnRequest, handlers: SpawnHandlers = {}): Promise<SpawnEnd> {
    const helper = this.ensureHelper();
    const id = this.nextId++;
    return new Promise<SpawnEnd>((resolve) => {
      this.pending.set(id, { handlers, done: resolve, helper, detached: request.detached === true });
      // While something runs, the helper keeps this process alive (as a child's pipes would).
      helper.ref();
      helper.channel?.ref();
      helper.send({ op: 'spawn', id, cmd: request.cmd, args: request.args, cwd: request.cwd, env: request.env, detached: request.detached === true }, (err) => {
        if (err) this.end(id, { code: null, signal: null }, `could not hand ${request.cmd} to the spawner: ${err.message}`);
      });
    });
  }

  /**
   * Ends the commands that are not builds' own steps (requests without `detached`: checkouts,
   * copies, version checks) at once, as a Ctrl-C ended them when they shared the runner's process
   * group. Steps (detached) are left to the runner's stop, which gives them their grace period.
   */
  stopCommands(): void {
    if (this.helper?.connected) this.helper.send({ op: 'stopCommands' });
  }

  /** Stops the helper, which kills whatever it still runs (nothing would report its end). */
  close(): void {
    this.helper?.disconnect();
    this.helper = undefined;
  }

  private ensureHelper(): ChildProcess {
    if (this.helper && this.helper.connected) return this.helper;
    // No --import tsx or other flags of this process: the helper is plain JavaScript. In a process
    // group of its own, so a Ctrl-C in the terminal reaches the runner (which stops the builds
    // first) and not the helper that relays their ends.
    const helper = fork(HELPER, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
    helper.on('message', (m: Message) => this.receive(m));
    // A helper that dies takes no build down silently: what it was running ends with the reason, and
    // is killed (nothing would report its end any more).
    helper.on('exit', (code, signal) => {
      if (this.helper === helper) this.helper = undefined;
      for (const [id, p] of [...this.pending]) {
        if (p.helper !== helper) continue;
        if (p.pid !== undefined) { try { process.kill(p.detached ? -p.pid : p.pid, 'SIGKILL'); } catch { /* gone */ } }
        this.end(id, { code: null, signal: null }, `the build runner's spawner exited (${signal ?? code})`);
      }
    });
    helper.on('error', () => undefined);
    helper.unref();
    helper.channel?.unref();
    this.helper = helper;
    return helper;
  }

  private receive(m: Message): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    switch (m.op) {
      case 'spawned':
        p.pid = m.pid;
        return p.handlers.onSpawn?.(m.pid);
      case 'out': return p.handlers.onStdout?.(Buffer.from(m.data));
      case 'err': return p.handlers.onStderr?.(Buffer.from(m.data));
      case 'error': return p.handlers.onError?.(m.message);
      case 'close': return this.end(m.id, { code: m.code, signal: m.signal });
    }
  }

  private end(id: number, end: SpawnEnd, error?: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (error) p.handlers.onError?.(error);
    p.done(end);
    if (this.pending.size === 0) {
      this.helper?.unref();
      this.helper?.channel?.unref();
    }
  }
}
