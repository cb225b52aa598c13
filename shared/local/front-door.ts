/**
 * The local mode's HTTP front door: API Gateway's part on one machine. It hands the
 * webhook route and the management API to their handlers, after two checks API Gateway
 * and IAM make in AWS:
 *
 * - `Host` must be a loopback name (`127.0.0.1`, `localhost`, `[::1]`, any port). A web
 *   page that rebinds its own DNS name to 127.0.0.1 reaches this server with its own
 *   name in `Host`: refused (403) before anything runs.
 * - Every management request carries the token of this start of the local mode, as
 *   `Authorization: Bearer <token>` (the CLI reads it from `.slipway/dev.json`). Without
 *   it any local process or page could register a pipeline whose commands run as the
 *   developer. Webhooks are exempt, as in AWS: each delivery is verified against its
 *   pipeline's secret.
 * - A request a browser sent from a page carries `Origin`; only the local mode's own
 *   origin (the console at /console/) may call the API. A cross-origin page cannot send
 *   the `Authorization` header without a CORS preflight this server never answers, so
 *   this is a second wall against cross-site requests, not the first.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type http from 'node:http';

export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The host name of a `Host` header value (`name[:port]`, `[v6][:port]`), lower-cased; undefined if malformed. */
export function hostName(hostHeader: string | undefined): string | undefined {
  if (!hostHeader) return undefined;
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(hostHeader.trim());
  return m ? m[1].toLowerCase() : undefined;
}

export type FrontDoorDecision = { ok: true } | { ok: false; status: 401 | 403; error: string; message: string };

/** Whether a request may pass: loopback `Host` for everything, and the token for all but webhooks. */
export function admit(headers: http.IncomingHttpHeaders, isWebhook: boolean, token: string): FrontDoorDecision {
  const host = hostName(headers.host);
  if (!host || !LOOPBACK_HOSTS.has(host)) {
    return { ok: false, status: 403, error: 'Forbidden', message: `the local API answers only requests addressed to a loopback name (127.0.0.1, localhost, [::1]), not Host "${String(headers.host ?? '').slice(0, 100)}"` };
  }
  if (isWebhook) return { ok: true };
  const origin = headers.origin;
  if (origin !== undefined && origin !== `http://${String(headers.host).trim().toLowerCase()}`) {
    return { ok: false, status: 403, error: 'Forbidden', message: `the local API answers pages of its own origin only (http://${String(headers.host)}), not ${String(origin).slice(0, 100)}` };
  }
  const auth = headers.authorization;
  const presented = typeof auth === 'string' && /^Bearer [A-Za-z0-9_-]{16,200}$/.test(auth) ? auth.slice('Bearer '.length) : undefined;
  if (!presented || !sameToken(presented, token)) {
    return { ok: false, status: 401, error: 'Unauthorized', message: 'the local API needs this start\'s token: Authorization: Bearer <apiToken from .slipway/dev.json> (`npm run slipway` sends it)' };
  }
  return { ok: true };
}

/** Constant-time, whatever the lengths. */
function sameToken(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(h(a), h(b));
}
