/**
 * A local HTTP server standing in for a provider (GitHub, GitLab, Bitbucket,
 * Slack, DingTalk, Teams): it records every request and answers from a script,
 * one answer per request, the last one repeated. An answer of `'hang'` never
 * responds, like a provider that times out.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

export type Answer = { status: number; body?: unknown; headers?: Record<string, string> } | 'hang';

export interface HttpStub {
  url: string;
  requests: RecordedRequest[];
  /** Replaces the script. */
  answer(...answers: Answer[]): void;
  close(): Promise<void>;
}

export async function startHttpStub(...answers: Answer[]): Promise<HttpStub> {
  let script: Answer[] = answers.length > 0 ? answers : [{ status: 200, body: 'ok' }];
  let served = 0;
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try { json = JSON.parse(body); } catch { json = undefined; }
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, json });
      const answer = script[Math.min(served++, script.length - 1)];
      if (answer === 'hang') return;
      const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body ?? {});
      res.writeHead(answer.status, { 'content-type': typeof answer.body === 'string' ? 'text/plain' : 'application/json', ...answer.headers });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    answer(...next: Answer[]) {
      script = next;
      served = 0;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
