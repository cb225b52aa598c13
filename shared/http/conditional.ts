/**
 * Conditional GETs (RFC 9110 §13.1.2): every 200 answer to a GET carries an ETag, a hash
 * of its body; a request whose `If-None-Match` names it gets `304 Not Modified` with no
 * body. The console polls live views every second this way: the answer is a few bytes
 * unless something changed. The handler still reads the item (a run is one DynamoDB item),
 * so this saves transfer and rendering, not the read.
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { header } from './request.ts';
import type { HttpResponse } from './response.ts';

export function etagOf(body: string): string {
  return `"${createHash('sha256').update(body, 'utf8').digest('base64url').slice(0, 27)}"`;
}

/** Whether an `If-None-Match` value names this ETag (weak comparison: `W/` is ignored; `*` matches any). */
export function matchesIfNoneMatch(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const strip = (t: string) => t.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => t.trim() === '*' || strip(t) === strip(etag));
}

export function conditional(event: APIGatewayProxyEventV2, res: HttpResponse): HttpResponse {
  const method = event.requestContext?.http?.method?.toUpperCase();
  if ((method !== 'GET' && method !== 'HEAD') || res.statusCode !== 200) return res;
  const etag = etagOf(res.body);
  const headers: Record<string, string | number | boolean> = { ...(res.headers ?? {}), etag };
  if (matchesIfNoneMatch(header(event, 'if-none-match'), etag)) {
    const { 'content-type': _type, ...rest } = headers;
    return { ...res, statusCode: 304, headers: rest, body: '' };
  }
  return { ...res, headers };
}
