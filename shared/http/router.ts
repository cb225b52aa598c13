/**
 * A tiny router for HTTP API (payload v2) events. Routes are written as API
 * Gateway route keys (`GET /runs/{id}`); an event is matched by its routeKey
 * when the stack declares the same routes, and by method + rawPath otherwise
 * (a `$default` route, or the local mode). Handlers throw the errors of
 * `shared/domain/errors.ts`; the router turns them into JSON responses.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { errorResponse, HttpError, json, type HttpResponse } from './response.ts';
import { requestIdOf } from './request.ts';
import { conditional } from './conditional.ts';

export interface RouteRequest {
  event: APIGatewayProxyEventV2;
  params: Record<string, string>;
  query: Record<string, string>;
  requestId: string;
}

/**
 * The same routes again under this prefix, for people: on AWS they carry the console's
 * JWT authorizer instead of IAM (API Gateway authorizes per route), and CloudFront
 * forwards the console's `/console-api/*` to them. Handlers see the route without it.
 */
export const CONSOLE_API_PREFIX = '/console-api';

function withoutConsolePrefix(event: APIGatewayProxyEventV2): APIGatewayProxyEventV2 {
  const strip = (p: string) => (p.startsWith(`${CONSOLE_API_PREFIX}/`) ? p.slice(CONSOLE_API_PREFIX.length) : p);
  const [method, path] = (event.routeKey ?? '').split(' ');
  const rawPath = event.rawPath ?? '';
  if (!rawPath.startsWith(`${CONSOLE_API_PREFIX}/`)) return event;
  return { ...event, rawPath: strip(rawPath), ...(path ? { routeKey: `${method} ${strip(path)}` } : {}) };
}

export type RouteHandler = (req: RouteRequest) => Promise<HttpResponse>;

interface CompiledRoute {
  method: string;
  key: string;
  pattern: RegExp;
  names: string[];
  handler: RouteHandler;
}

export interface RouterOptions {
  /** Called for errors that became a 5xx, so they can be logged with the request id. */
  onInternalError?: (err: unknown, requestId: string) => void;
}

export function createRouter(routes: Record<string, RouteHandler>, options: RouterOptions = {}) {
  const compiled: CompiledRoute[] = Object.entries(routes).map(([key, handler]) => {
    const [method, path] = key.split(' ');
    const names: string[] = [];
    const source = path
      .split('/')
      .map((seg) => {
        const m = /^\{(\w+)(\+?)\}$/.exec(seg);
        if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(m[1]);
        // `{name+}` is API Gateway's greedy parameter: the rest of the path, slashes included.
        return m[2] ? '(.+)' : '([^/]+)';
      })
      .join('/');
    return { method, key, pattern: new RegExp(`^${source}/?$`), names, handler };
  });
  const byKey = new Map(compiled.map((r) => [r.key, r]));

  function match(event: APIGatewayProxyEventV2): { route: CompiledRoute; params: Record<string, string> } | { allowed: string[] } {
    const direct = event.routeKey ? byKey.get(event.routeKey) : undefined;
    if (direct && event.pathParameters) {
      const params: Record<string, string> = {};
      for (const n of direct.names) params[n] = event.pathParameters[n] ?? event.pathParameters[`${n}+`] ?? '';
      return { route: direct, params };
    }
    const method = event.requestContext?.http?.method?.toUpperCase() ?? '';
    const path = event.rawPath ?? '';
    const allowed: string[] = [];
    for (const r of compiled) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      if (r.method !== method) {
        allowed.push(r.method);
        continue;
      }
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => (params[n] = m[i + 1].split('/').map(safeDecode).join('/')));
      return { route: r, params };
    }
    return { allowed };
  }

  return async function route(original: APIGatewayProxyEventV2): Promise<HttpResponse> {
    const event = withoutConsolePrefix(original);
    const requestId = requestIdOf(event);
    try {
      const found = match(event);
      if (!('route' in found)) {
        if (found.allowed.length > 0) {
          const res = errorResponse(new HttpError(405, 'MethodNotAllowed', `method not allowed; use ${found.allowed.join(', ')}`), requestId).response;
          return { ...res, headers: { ...res.headers, allow: found.allowed.join(', ') } };
        }
        throw new HttpError(404, 'NotFound', `no route for ${event.requestContext?.http?.method ?? ''} ${event.rawPath ?? ''}`.trim());
      }
      const query: Record<string, string> = {};
      for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) query[k] = v;
      return conditional(event, await found.route.handler({ event, params: found.params, query, requestId }));
    } catch (err) {
      const mapped = errorResponse(err, requestId);
      if (mapped.internal) options.onInternalError?.(err, requestId);
      return mapped.response;
    }
  };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export { json };
