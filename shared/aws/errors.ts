/**
 * The one place that reads AWS SDK errors. Every adapter in shared/aws (and the SNS
 * e-mail channel) asks `classify` what kind of failure an SDK call had, and turns it
 * into a domain error with `toDomainError`; nothing else looks at `$retryable`,
 * `$fault`, `$metadata` or SDK error names.
 *
 * The rules follow the SDK's own retry classification (@smithy/service-error-classification:
 * throttling and transient names, 429 and 5xx, Node's socket error codes), plus the
 * names that mean "missing", "conflict" or "no permission" across the services Slipway calls:
 *
 * 1. a name Slipway knows (below) decides;
 * 2. the SDK marked the error `$retryable`, or it is a socket/timeout error: retryable;
 * 3. the HTTP status: 429 and 5xx retryable, 403 permission, 404 not found, 409 conflict,
 *    413 too large, any other 4xx invalid;
 * 4. `$fault`: `server` retryable, `client` invalid;
 * 5. no answer from the service at all (no status, no fault): retryable; a consumer's receive
 *    limit ends it if it never succeeds.
 *
 * Permission errors are permanent: no retry grants a permission, and treating one as an
 * outage hides a misconfigured role behind retries.
 */
import { ConflictError, NotFoundError, PayloadTooLargeError, PermissionError, RetryableError, SlipwayError } from '../domain/errors.ts';
import { ReleaseActionError } from '../ports/releases.ts';

export type SdkErrorKind = 'retryable' | 'conflict' | 'not-found' | 'permission' | 'too-large' | 'invalid';

/** The kinds no retry can fix. */
export const PERMANENT_KINDS = ['conflict', 'not-found', 'permission', 'too-large', 'invalid'] as const satisfies readonly SdkErrorKind[];

const RETRYABLE_NAMES = new Set([
  // @smithy/service-error-classification THROTTLING_ERROR_CODES
  'BandwidthLimitExceeded', 'EC2ThrottledException', 'LimitExceededException', 'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException', 'RequestLimitExceeded', 'RequestThrottled', 'RequestThrottledException',
  'SlowDown', 'ThrottledException', 'Throttling', 'ThrottlingException', 'TooManyRequestsException',
  'TransactionInProgressException',
  // TRANSIENT_ERROR_CODES
  'TimeoutError', 'RequestTimeout', 'RequestTimeoutException',
  // Service-specific outages and limits that pass with time.
  'AccountLimitExceededException', // CodeBuild: too many concurrent builds
  'TransactionConflictException', // DynamoDB: another transaction holds the item
  'InternalServerError', 'InternalFailure', 'InternalError', 'InternalErrorException', 'InternalServiceError',
  'InternalServiceErrorException', 'ServerException', 'ServiceUnavailable', 'ServiceUnavailableException',
  'InternalServerException', 'ServiceException', 'KMSThrottlingException',
]);

/** Node's socket errors (@smithy/service-error-classification NODEJS_TIMEOUT_ERROR_CODES and NODEJS_NETWORK_ERROR_CODES), plus DNS's try-again. */
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const NETWORK_MESSAGE = /\b(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)\b|socket hang up/;

const CONFLICT_NAMES = new Set(['ConditionalCheckFailedException', 'ResourceConflictException', 'ConflictException', 'ResourceInUseException']);

const PERMISSION_NAMES = new Set([
  'AccessDenied', 'AccessDeniedException', 'AccessDeniedFault', 'AuthorizationErrorException', 'UnauthorizedOperation',
  'UnauthorizedException', 'UnrecognizedClientException', 'InvalidClientTokenId', 'KMSAccessDeniedException',
  'InvalidSecurityException', 'ForbiddenException',
]);

const INVALID_NAMES = new Set([
  'ValidationException', 'ValidationError', 'InvalidParameterException', 'InvalidParameterValueException', 'InvalidParameterCombination',
  'InvalidInputException', 'InvalidRequestException', 'InvalidArgument', 'SerializationException', 'ClientException',
  'OAuthProviderException', 'KMSDisabledException', 'KMSInvalidStateException',
]);

const TOO_LARGE_NAMES = new Set(['EntityTooLarge', 'RequestEntityTooLargeException', 'ItemCollectionSizeLimitExceededException']);

/** What kind of failure an SDK call had (see the module's rules). */
export function classify(err: unknown): SdkErrorKind {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown; message?: unknown; code?: unknown; $retryable?: unknown; $fault?: unknown; $metadata?: { httpStatusCode?: unknown };
  };
  const name = typeof e.name === 'string' ? e.name : '';
  const message = typeof e.message === 'string' ? e.message : typeof err === 'string' ? err : '';

  if (CONFLICT_NAMES.has(name)) return 'conflict';
  if (PERMISSION_NAMES.has(name)) return 'permission';
  if (TOO_LARGE_NAMES.has(name) || (name === 'ValidationException' && /item size/i.test(message))) return 'too-large';
  if (RETRYABLE_NAMES.has(name) || /Throttl/.test(name)) return 'retryable';
  if (/NotFound|NoSuch/.test(name)) return 'not-found';
  if (INVALID_NAMES.has(name)) return 'invalid';

  if (e.$retryable !== undefined && e.$retryable !== null && e.$retryable !== false) return 'retryable';
  if ((typeof e.code === 'string' && NETWORK_CODES.has(e.code)) || name === 'AbortError' || NETWORK_MESSAGE.test(message)) return 'retryable';

  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  if (status !== undefined) {
    if (status === 429 || status >= 500) return 'retryable';
    if (status === 403) return 'permission';
    if (status === 404) return 'not-found';
    if (status === 409) return 'conflict';
    if (status === 413) return 'too-large';
    if (status >= 400) return 'invalid';
  }
  if (e.$fault === 'server') return 'retryable';
  if (e.$fault === 'client') return 'invalid';
  return 'retryable';
}

export function isRetryable(err: unknown): boolean {
  return classify(err) === 'retryable';
}

/** Builds the domain error for one kind: the message already names the call and the SDK error. */
export type ErrorFactory = (message: string, cause: unknown) => Error;

export interface DomainErrorOptions {
  /** Message of the ConflictError a failed condition becomes. @default `${what}: <name>: <message>` */
  conflict?: string;
  /** Message of the NotFoundError. @default `${what}: not found` */
  notFound?: string;
  /**
   * The error a kind becomes instead of the default (retryable: RetryableError, conflict: ConflictError,
   * not-found: NotFoundError, permission: PermissionError, too-large: PayloadTooLargeError,
   * invalid: the SDK error itself, which handlers show as a plain 500).
   * E.g. the releaser's adapters build ReleaseActionError for every permanent kind (`permanentAs`).
   */
  as?: Partial<Record<SdkErrorKind, ErrorFactory>>;
}

/** Every permanent kind becomes `make`'s error: for callers that only tell retryable from permanent. */
export function permanentAs(make: ErrorFactory): Partial<Record<SdkErrorKind, ErrorFactory>> {
  return Object.fromEntries(PERMANENT_KINDS.map((k) => [k, make]));
}

/**
 * An SDK error as a domain error, with the message `<what>: <name>: <message>`: `what`
 * names the call (e.g. `StartBuild for build (attempt 1) of run R1`). A SlipwayError passes through.
 */
export function toDomainError(err: unknown, what: string, opts: DomainErrorOptions = {}): Error {
  if (err instanceof SlipwayError) return err;
  const kind = classify(err);
  const message = `${what}: ${describe(err)}`;
  const make = opts.as?.[kind];
  if (make) return make(message, err);
  switch (kind) {
    case 'retryable': return new RetryableError(message, { cause: err });
    case 'conflict': return new ConflictError(opts.conflict ?? message);
    case 'not-found': return new NotFoundError(opts.notFound ?? `${what}: not found`);
    case 'permission': return new PermissionError(`${what}: permission denied: ${describe(err)} (Slipway's role lacks the permission this names; no retry will help)`, { cause: err });
    case 'too-large': return new PayloadTooLargeError(message);
    case 'invalid': return err instanceof Error ? err : new Error(message);
  }
}

/** `<name>: <message>` of an SDK error, or the message alone when the name says nothing. */
export function describe(err: unknown): string {
  const name = (err as { name?: unknown } | null)?.name;
  const message = (err as { message?: unknown } | null)?.message;
  const text = typeof message === 'string' ? message : String(err);
  return typeof name === 'string' && name !== '' && name !== 'Error' ? `${name}: ${text}` : text;
}

/**
 * For the releaser's adapters (ECS, ELBv2, CloudWatch, Lambda, ECR): retryable stays RetryableError,
 * every permanent kind is a ReleaseActionError, which fails the release (and rolls it back).
 */
export function toReleaseError(err: unknown, what: string): Error {
  return toDomainError(err, what, { as: permanentAs((message, cause) => new ReleaseActionError(message, { cause })) });
}
