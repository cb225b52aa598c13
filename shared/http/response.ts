/**
 * JSON responses and the mapping of Slipway's error hierarchy to HTTP statuses.
 * Known errors (`SlipwayError` with a status below 500) show their message;
 * anything else becomes a plain 500 that reveals nothing internal.
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { RetryableError, SlipwayError, ValidationError, type Problem } from '../domain/errors.ts';

export type HttpResponse = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

export interface ErrorBody {
  error: string;
  message: string;
  requestId: string;
  problems?: Problem[];
}

/** The error has been logged by the caller when `internal` is true (a 5xx worth an alarm). */
export interface MappedError {
  response: HttpResponse;
  internal: boolean;
}

export function errorResponse(err: unknown, requestId: string): MappedError {
  if (err instanceof ValidationError) {
    // The message of a ValidationError repeats its problems; the body carries them as a list instead.
    const firstLine = err.message.split('\n', 1)[0];
    return { response: json(400, { error: err.code, message: firstLine, problems: err.problems, requestId } satisfies ErrorBody), internal: false };
  }
  if (err instanceof RetryableError) {
    // A dependency is throttling or down: worth retrying, but its details stay in the logs.
    return {
      response: json(503, { error: 'ServiceUnavailable', message: 'a dependency is temporarily unavailable; retry later', requestId } satisfies ErrorBody, { 'retry-after': '2' }),
      internal: true,
    };
  }
  if (err instanceof HttpError || (err instanceof SlipwayError && (err.status < 500 || err.status === 501))) {
    return { response: json(err.status, { error: err.code, message: err.message, requestId } satisfies ErrorBody), internal: false };
  }
  return { response: json(500, { error: 'InternalError', message: 'internal error', requestId } satisfies ErrorBody), internal: true };
}

/** HTTP-only conditions the domain has no word for (unknown route, wrong method, unsupported media type, not implemented). */
export class HttpError extends SlipwayError {
  constructor(override readonly status: number, override readonly code: string, message: string) {
    super(message);
    this.name = 'HttpError';
  }
}
