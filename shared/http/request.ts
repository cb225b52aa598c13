/**
 * Reading an HTTP API (payload v2) request: the body (base64 or not, size-capped),
 * JSON with a clear 400 when malformed, query parameters and the IAM caller.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
// A namespace import, not `{ z }`: esbuild can drop what a namespace import never reads (zod's ~260 KB of locales), not what a re-exported namespace object holds.
import * as z from 'zod';
import { PayloadTooLargeError, ValidationError, type Problem } from '../domain/errors.ts';

/** Definitions and request bodies larger than this are refused with 413 (a run item lives in one 400 KB DynamoDB item). */
export const MAX_BODY_BYTES = 256 * 1024;

export function bodyText(event: APIGatewayProxyEventV2, maxBytes = MAX_BODY_BYTES): string {
  if (event.body === undefined || event.body === null || event.body === '') return '';
  const bytes = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (bytes.length > maxBytes) throw new PayloadTooLargeError(`request body is ${bytes.length} bytes; the limit is ${maxBytes}`);
  return bytes.toString('utf8');
}

export function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === wanted) return v;
  return undefined;
}

/** The media type without parameters, lower case; undefined when absent. */
export function mediaType(event: APIGatewayProxyEventV2): string | undefined {
  const ct = header(event, 'content-type');
  return ct ? ct.split(';', 1)[0].trim().toLowerCase() || undefined : undefined;
}

/** Parses a JSON body; an empty body is `{}` when `emptyIsObject`, so optional bodies stay optional. */
export function jsonBody(event: APIGatewayProxyEventV2, opts: { emptyIsObject?: boolean } = {}): unknown {
  const text = bodyText(event);
  if (text.trim() === '') {
    if (opts.emptyIsObject) return {};
    throw new ValidationError('request body is empty; a JSON object was expected');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Validates input against a schema; every issue becomes a problem with a dotted path (prefixed, e.g. `query.limit`). */
export function validate<T>(schema: z.ZodType<T>, value: unknown, what: string, prefix = ''): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(`invalid ${what}`, zodProblems(result.error, prefix));
}

export function zodProblems(error: z.ZodError, prefix = ''): Problem[] {
  return error.issues.flatMap((issue) => {
    const base = [...(prefix ? [prefix] : []), ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    // One problem per unknown key, at the key itself.
    if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => ({ path: dotted([...base, k]), message: `unknown key "${k}"` }));
    return [{ path: dotted(base), message: issue.message }];
  });
}

function dotted(parts: Array<string | number>): string {
  return parts.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}

/**
 * Who is calling: the IAM principal API Gateway verified (the stack authorises the API with IAM).
 * The user ARN is the most specific name there is (`...:user/alice`, `...:assumed-role/Deployer/alice@example.com`).
 */
export function callerIdentity(event: APIGatewayProxyEventV2): string | undefined {
  const ctx = event.requestContext as unknown as { authorizer?: { iam?: { userArn?: string; callerId?: string } } };
  const iam = ctx.authorizer?.iam;
  return iam?.userArn || iam?.callerId || consoleUser(event)?.principal || undefined;
}

/** The groups of a console user (the access token's `cognito:groups`); none for an IAM caller. */
export function callerGroups(event: APIGatewayProxyEventV2): string[] {
  return consoleUser(event)?.groups ?? [];
}

const COGNITO_ISSUER = /^https:\/\/cognito-idp\.[a-z0-9-]+\.amazonaws\.com\/([a-z]{2}(?:-[a-z]+)+-\d_[0-9A-Za-z]{1,60})$/;

/**
 * A person signed in to the console, from the claims API Gateway's JWT authorizer put on
 * the request after checking the token's signature, issuer and audience (client id);
 * present only on the `/console-api/` routes, which have that authorizer
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html).
 * Only access tokens count: an ID token carries the same client id in `aud` but is meant for
 * the page, not the API. The principal is `cognito:<poolId>:user/<username>` (principals.ts).
 */
export function consoleUser(event: APIGatewayProxyEventV2): { principal: string; groups: string[] } | undefined {
  const ctx = event.requestContext as unknown as { authorizer?: { jwt?: { claims?: Record<string, unknown> } } };
  const claims = ctx.authorizer?.jwt?.claims;
  if (!claims || claims.token_use !== 'access' || typeof claims.username !== 'string' || claims.username === '') return undefined;
  const pool = COGNITO_ISSUER.exec(String(claims.iss ?? ''));
  if (!pool) return undefined;
  return { principal: `cognito:${pool[1]}:user/${claims.username}`, groups: claimList(claims['cognito:groups']) };
}

/** HTTP APIs hand array claims to Lambda flattened to a string, `[a b]`; a test event may carry a real array. */
export function claimList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value !== 'string' || value.trim() === '') return [];
  const inner = value.trim().replace(/^\[/, '').replace(/\]$/, '');
  return inner.split(/[\s,]+/).filter((g) => g !== '');
}

export function requestIdOf(event: Partial<APIGatewayProxyEventV2>): string {
  return event.requestContext?.requestId ?? 'unknown';
}
