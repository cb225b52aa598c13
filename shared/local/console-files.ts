/**
 * The web console in the local mode: its static files under `/console/`, from the same
 * HTTP server as the API (one origin, so the page needs no CORS and the API answers no
 * other origin), with the headers CloudFront's response headers policy sets on AWS.
 * The files are the same for everyone and hold no secret: they need a loopback `Host`,
 * not the token; every API call the page makes carries the token.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';

export const CONSOLE_PATH = '/console/';

/**
 * No request to any host but this origin: scripts, styles and API calls from 'self' only,
 * no inline script, no framing, no form posts, no base-URI tricks.
 */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json; charset=utf-8' };

export interface ConsoleAnswer { status: number; headers: Record<string, string>; body: string | Buffer }

/**
 * The answer for a GET under /console/, or undefined for any other request. `config` is
 * the page's config.json (where the API is, how to authenticate).
 */
export function consoleAnswer(method: string, rawPath: string, distDir: string, config: unknown): ConsoleAnswer | undefined {
  if (rawPath === '/console') return { status: 308, headers: { location: CONSOLE_PATH, ...CONSOLE_HEADERS }, body: '' };
  if (!rawPath.startsWith(CONSOLE_PATH)) return undefined;
  if (method !== 'GET' && method !== 'HEAD') return { status: 405, headers: { allow: 'GET, HEAD', ...CONSOLE_HEADERS }, body: '' };
  const rel = decodeSafe(rawPath.slice(CONSOLE_PATH.length)) || 'index.html';
  if (rel === 'config.json') return { status: 200, headers: { 'content-type': TYPES['.json'], 'cache-control': 'no-store', ...CONSOLE_HEADERS }, body: JSON.stringify(config) };
  const file = path.resolve(distDir, rel);
  if (!file.startsWith(path.resolve(distDir) + path.sep) || !TYPES[path.extname(file)] || !existsSync(file) || !statSync(file).isFile()) {
    const missing = !existsSync(path.join(distDir, 'index.html'));
    return {
      status: 404, headers: { 'content-type': 'text/plain; charset=utf-8', ...CONSOLE_HEADERS },
      body: missing ? 'the console is not built: run `npm run build` (or `node scripts/build-console.mjs`)\n' : 'not found\n',
    };
  }
  return { status: 200, headers: { 'content-type': TYPES[path.extname(file)], 'cache-control': 'no-cache', ...CONSOLE_HEADERS }, body: readFileSync(file) };
}

function decodeSafe(s: string): string {
  try { return decodeURIComponent(s); } catch { return '\0'; }
}

export function writeAnswer(res: http.ServerResponse, a: ConsoleAnswer, head: boolean): void {
  res.writeHead(a.status, a.headers).end(head ? undefined : a.body);
}
