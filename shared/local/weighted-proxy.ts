/**
 * The local mode's stand-in for an ALB listener rule with weighted forwarding:
 * one HTTP port in front of the blue and green processes, splitting requests by
 * the same integer weights (summing to 100) the listener rule would carry.
 *
 * Selection is smooth weighted round-robin (as nginx does), so the split is
 * exact over any 100 consecutive requests rather than random, which makes the
 * traffic shift visible and testable.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Color = 'blue' | 'green';

export interface Backend {
  /** Base URL of the colour's process, e.g. http://127.0.0.1:41234; undefined while the colour runs nothing. */
  url?: string;
  weight: number;
}

export type Backends = Record<Color, Backend>;

export class WeightedProxy {
  private backends: Backends = { blue: { weight: 100 }, green: { weight: 0 } };
  private current: Record<Color, number> = { blue: 0, green: 0 };
  private server?: http.Server;
  /** Requests served per colour since start (shown by the CLI; used by tests). */
  readonly served: Record<Color, number> = { blue: 0, green: 0 };

  setBackends(next: Backends): void {
    const sum = next.blue.weight + next.green.weight;
    if (sum !== 100) throw new Error(`weights must add up to 100, got blue ${next.blue.weight} + green ${next.green.weight}`);
    for (const c of ['blue', 'green'] as const) {
      if (next[c].weight > 0 && !next[c].url) throw new Error(`cannot send ${next[c].weight}% of traffic to ${c}: it runs nothing`);
    }
    this.backends = { blue: { ...next.blue }, green: { ...next.green } };
    this.current = { blue: 0, green: 0 };
  }

  getBackends(): Backends {
    return { blue: { ...this.backends.blue }, green: { ...this.backends.green } };
  }

  /** Picks the colour for the next request. */
  pick(): Color {
    const b = this.backends;
    this.current.blue += b.blue.weight;
    this.current.green += b.green.weight;
    const chosen: Color = this.current.green > this.current.blue ? 'green' : 'blue';
    this.current[chosen] -= 100;
    return chosen;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = http.createServer((req, res) => this.forward(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    const addr = this.server.address() as AddressInfo;
    return `http://${host}:${addr.port}`;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const color = this.pick();
    const target = this.backends[color].url;
    if (!target) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('no healthy colour\n');
      return;
    }
    this.served[color] += 1;
    const url = new URL(req.url ?? '/', target);
    const upstream = http.request(url, { method: req.method, headers: { ...req.headers, host: url.host } }, (up) => {
      res.writeHead(up.statusCode ?? 502, { ...up.headers, 'x-slipway-color': color });
      up.pipe(res);
    });
    upstream.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain', 'x-slipway-color': color });
      res.end(`${color} did not answer: ${e.message}\n`);
    });
    req.pipe(upstream);
  }
}
