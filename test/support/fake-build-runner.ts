/**
 * A BuildRunner that, like CodeBuild, answers a repeated token with the build it
 * started for it, for 5 minutes of its clock (CodeBuild's idempotency window);
 * later, the same token starts another build. `builds` keeps the first build of
 * each token under the token, later ones under `<token>#<n>`.
 */
import type { BuildRequest, BuildRunner } from '../../shared/ports/index.ts';
export class FakeBuildRunner implements BuildRunner {
  readonly builds = new Map<string, { buildId: string; request: BuildRequest; startedAt: number }>();
  readonly startCalls: BuildRequest[] = [];
  readonly stopped: string[] = [];
  /** Throw this once from the next start, after which starts succeed again. */
  failNextStart: Error | undefined;
  private counter = 0;

  constructor(readonly now: () => number = Date.now) {}

  async start(request: BuildRequest): Promise<{ buildId: string }> {
    this.startCalls.push(request);
    if (this.failNextStart) {
      const err = this.failNextStart;
      this.failNextStart = undefined;
      throw err;
    }
    const now = this.now();
    const known = [...this.builds.values()].reverse().find((b) => b.request.token === request.token && now - b.startedAt < 5 * 60_000);
    if (known) return { buildId: known.buildId };
    const buildId = `slipway-${request.spec.compute}:build-${++this.counter}`;
    let key = request.token;
    for (let n = 2; this.builds.has(key); n++) key = `${request.token}#${n}`;
    this.builds.set(key, { buildId, request, startedAt: now });
    return { buildId };
  }

  async find(request: BuildRequest, since: Date): Promise<{ buildId: string } | undefined> {
    const found = [...this.builds.values()].find((b) => b.request.runId === request.runId && b.request.job === request.job && b.request.attempt === request.attempt && b.startedAt >= since.getTime());
    return found ? { buildId: found.buildId } : undefined;
  }

  async stop(buildId: string): Promise<void> {
    this.stopped.push(buildId);
  }
}
