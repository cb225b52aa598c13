/**
 * The engine's small error hierarchy. Handlers map these to HTTP statuses
 * (400/401/404/409/413); anything else is an internal error shown as a plain 500.
 */

export interface Problem {
  /** Dotted path to the offending field, e.g. `jobs.deploy.needs[0]`; empty for the whole document. */
  path: string;
  message: string;
}

export class SlipwayError extends Error {
  readonly status: number = 500;
  readonly code: string = 'InternalError';
}

export class ValidationError extends SlipwayError {
  override readonly status = 400;
  override readonly code = 'ValidationError';
  constructor(message: string, readonly problems: Problem[] = []) {
    super(problems.length > 0 ? `${message}\n${problems.map(formatProblem).join('\n')}` : message);
    this.name = 'ValidationError';
  }
}

export class UnauthorizedError extends SlipwayError {
  override readonly status = 401;
  override readonly code = 'Unauthorized';
  constructor(message: string) { super(message); this.name = 'UnauthorizedError'; }
}

export class NotFoundError extends SlipwayError {
  override readonly status = 404;
  override readonly code = 'NotFound';
  constructor(message: string) { super(message); this.name = 'NotFoundError'; }
}

export class ConflictError extends SlipwayError {
  override readonly status = 409;
  override readonly code = 'Conflict';
  constructor(message: string) { super(message); this.name = 'ConflictError'; }
}

export class PayloadTooLargeError extends SlipwayError {
  override readonly status = 413;
  override readonly code = 'PayloadTooLarge';
  constructor(message: string) { super(message); this.name = 'PayloadTooLargeError'; }
}

/** A dependency failed in a way worth retrying (throttling, timeouts, 5xx). Queue consumers retry these. */
export class RetryableError extends SlipwayError {
  override readonly code = 'Retryable';
  constructor(message: string, options?: { cause?: unknown }) { super(message, options); this.name = 'RetryableError'; }
}

/**
 * A dependency refused Slipway's own role (AccessDenied, a KMS key it may not use...). Permanent:
 * no retry grants a permission, so queue consumers do not treat it as an outage. Shown as a plain
 * 500 (the deployment is misconfigured, not the request); the message names what was refused.
 */
export class PermissionError extends SlipwayError {
  override readonly code = 'PermissionDenied';
  constructor(message: string, options?: { cause?: unknown }) { super(message, options); this.name = 'PermissionError'; }
}

export function formatProblem(p: Problem): string {
  return p.path ? `${p.path}: ${p.message}` : p.message;
}
