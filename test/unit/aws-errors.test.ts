/**
 * The one SDK-error classifier (shared/aws/errors.ts), over errors built the way the
 * SDK builds them: modeled exceptions from each client's constructor (with `$fault`
 * and `$metadata`), service errors the SDK has no class for (`ServiceException` with a
 * name), and Node's socket errors, which carry a `code` and no `$metadata`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessDeniedException as LogsAccessDenied, ResourceNotFoundException as LogsNotFound, ServiceUnavailableException } from '@aws-sdk/client-cloudwatch-logs';
import { AccountLimitExceededException, InvalidInputException } from '@aws-sdk/client-codebuild';
import { ConditionalCheckFailedException, DynamoDBServiceException, ProvisionedThroughputExceededException, ThrottlingException, TransactionConflictException } from '@aws-sdk/client-dynamodb';
import { ClusterNotFoundException, ServerException, ServiceNotFoundException } from '@aws-sdk/client-ecs';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { ResourceNotFoundException as SecretNotFound, SecretsManagerClient, GetSecretValueCommand, SecretsManagerServiceException } from '@aws-sdk/client-secrets-manager';
import { AuthorizationErrorException, KMSAccessDeniedException, KMSDisabledException, ThrottledException } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { classify, toDomainError, toReleaseError, type SdkErrorKind } from '../../shared/aws/errors.ts';
import { SecretsManagerSecretSource } from '../../shared/aws/secrets.ts';
import { ConflictError, NotFoundError, PayloadTooLargeError, PermissionError, RetryableError, SlipwayError } from '../../shared/domain/errors.ts';
import { ReleaseActionError } from '../../shared/ports/releases.ts';

const meta = (httpStatusCode?: number) => ({ $metadata: httpStatusCode === undefined ? {} : { httpStatusCode } });

/** A socket error as Node raises it: an Error with a `code`, no SDK fields. */
function socketError(code: string): Error {
  return Object.assign(new Error(`read ${code}`), { code, errno: -104, syscall: 'read' });
}

const cases: Array<[string, unknown, SdkErrorKind]> = [
  ['DynamoDB ConditionalCheckFailedException', new ConditionalCheckFailedException({ message: 'The conditional request failed', ...meta(400) }), 'conflict'],
  ['DynamoDB ThrottlingException', new ThrottlingException({ message: 'Rate exceeded', ...meta(400) }), 'retryable'],
  ['DynamoDB ProvisionedThroughputExceededException', new ProvisionedThroughputExceededException({ message: 'slow down', ...meta(400) }), 'retryable'],
  ['DynamoDB TransactionConflictException', new TransactionConflictException({ message: 'conflict', ...meta(400) }), 'retryable'],
  ['DynamoDB item too large', new DynamoDBServiceException({ name: 'ValidationException', $fault: 'client', message: 'Item size has exceeded the maximum allowed size', ...meta(400) }), 'too-large'],
  ['DynamoDB other ValidationException', new DynamoDBServiceException({ name: 'ValidationException', $fault: 'client', message: 'One or more parameter values were invalid', ...meta(400) }), 'invalid'],
  ['an unmodeled error the SDK marked $retryable', Object.assign(new DynamoDBServiceException({ name: 'SomethingNew', $fault: 'client', message: 'x', ...meta(400) }), { $retryable: { throttling: true } }), 'retryable'],
  ['a 5xx with an unknown name', new DynamoDBServiceException({ name: 'Unknown', $fault: 'server', message: 'boom', ...meta(502) }), 'retryable'],
  ['a server fault without a status', new DynamoDBServiceException({ name: 'Unknown', $fault: 'server', message: 'boom', ...meta() }), 'retryable'],
  ['HTTP 429 with an unknown name', new DynamoDBServiceException({ name: 'Unknown', $fault: 'client', message: 'x', ...meta(429) }), 'retryable'],
  ['ECS ServerException', new ServerException({ message: 'internal', ...meta(500) }), 'retryable'],
  ['ECS ServiceNotFoundException', new ServiceNotFoundException({ message: 'Service not found.', ...meta(400) }), 'not-found'],
  ['ECS ClusterNotFoundException', new ClusterNotFoundException({ message: 'Cluster not found.', ...meta(400) }), 'not-found'],
  ['CodeBuild AccountLimitExceededException', new AccountLimitExceededException({ message: 'too many builds', ...meta(400) }), 'retryable'],
  ['CodeBuild InvalidInputException', new InvalidInputException({ message: 'Invalid buildspec', ...meta(400) }), 'invalid'],
  ['CloudWatch Logs AccessDeniedException ($fault client)', new LogsAccessDenied({ message: 'User is not authorized to perform: logs:GetLogEvents', ...meta(400) }), 'permission'],
  ['CloudWatch Logs ResourceNotFoundException', new LogsNotFound({ message: 'The specified log stream does not exist.', ...meta(400) }), 'not-found'],
  ['CloudWatch Logs ServiceUnavailableException', new ServiceUnavailableException({ message: 'down', ...meta(503) }), 'retryable'],
  ['Secrets Manager ResourceNotFoundException', new SecretNotFound({ message: 'Secrets Manager can\'t find the specified secret.', ...meta(400) }), 'not-found'],
  ['Secrets Manager AccessDeniedException (unmodeled)', new SecretsManagerServiceException({ name: 'AccessDeniedException', $fault: 'client', message: 'not authorized to perform: secretsmanager:GetSecretValue', ...meta(400) }), 'permission'],
  ['SNS AuthorizationErrorException', new AuthorizationErrorException({ message: 'not authorized', ...meta(403) }), 'permission'],
  ['SNS KMSAccessDeniedException', new KMSAccessDeniedException({ message: 'kms', ...meta(400) }), 'permission'],
  ['SNS KMSDisabledException', new KMSDisabledException({ message: 'disabled', ...meta(400) }), 'invalid'],
  ['SNS ThrottledException', new ThrottledException({ message: 'Rate exceeded', ...meta(400) }), 'retryable'],
  ['S3 NotFound (HeadObject)', new S3ServiceException({ name: 'NotFound', $fault: 'client', message: 'Not Found', ...meta(404) }), 'not-found'],
  ['S3 AccessDenied (403)', new S3ServiceException({ name: 'AccessDenied', $fault: 'client', message: 'Access Denied', ...meta(403) }), 'permission'],
  ['S3 SlowDown (503)', new S3ServiceException({ name: 'SlowDown', $fault: 'server', message: 'Please reduce your request rate.', ...meta(503) }), 'retryable'],
  ['a 403 with an unknown name', new S3ServiceException({ name: 'Whatever', $fault: 'client', message: 'x', ...meta(403) }), 'permission'],
  ['a 409 with an unknown name', new S3ServiceException({ name: 'Whatever', $fault: 'client', message: 'x', ...meta(409) }), 'conflict'],
  ['a client fault with an unknown name', new S3ServiceException({ name: 'Whatever', $fault: 'client', message: 'x', ...meta(400) }), 'invalid'],
  ['ECONNRESET', socketError('ECONNRESET'), 'retryable'],
  ['ETIMEDOUT', socketError('ETIMEDOUT'), 'retryable'],
  ['ENOTFOUND (DNS)', socketError('ENOTFOUND'), 'retryable'],
  ['a socket error known only by its message', new Error('read ECONNRESET'), 'retryable'],
  ['the SDK\'s TimeoutError', Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' }), 'retryable'],
  ['an error with no answer from the service at all', new Error('something broke before the response'), 'retryable'],
];

for (const [what, err, kind] of cases) {
  test(`classify: ${what} is ${kind}`, () => {
    assert.equal(classify(err), kind);
  });
}

const domain: Array<[SdkErrorKind, new (...a: any[]) => Error]> = [
  ['retryable', RetryableError],
  ['conflict', ConflictError],
  ['not-found', NotFoundError],
  ['permission', PermissionError],
  ['too-large', PayloadTooLargeError],
];

test('toDomainError turns every kind into its domain error, and names the call and the SDK error', () => {
  for (const [kind, Type] of domain) {
    const [, err] = cases.find(([, , k]) => k === kind)!;
    const out = toDomainError(err, 'reading run R1');
    assert.ok(out instanceof Type, `${kind} -> ${Type.name}, got ${out.constructor.name}`);
    if (kind === 'retryable' || kind === 'permission' || kind === 'too-large') {
      assert.match(out.message, /^reading run R1: /);
      assert.ok(out.message.includes((err as Error).message), out.message);
      if (kind !== 'too-large') assert.equal((out as Error & { cause?: unknown }).cause, err, 'the SDK error stays the cause');
    }
  }
});

test('toDomainError: a permission error is permanent, never retryable', () => {
  const denied = new LogsAccessDenied({ message: 'User: arn:aws:sts::1:assumed-role/x is not authorized to perform: logs:GetLogEvents', ...meta(400) });
  const out = toDomainError(denied, 'reading the build log');
  assert.ok(out instanceof PermissionError);
  assert.ok(!(out instanceof RetryableError));
  assert.match(out.message, /permission denied: AccessDeniedException: .*logs:GetLogEvents/);
});

test('toDomainError: a request the service refuses stays the SDK error unless the caller says what it is', () => {
  const invalid = new InvalidInputException({ message: 'Invalid buildspec', ...meta(400) });
  assert.equal(toDomainError(invalid, 'StartBuild'), invalid);
  const custom = toDomainError(invalid, 'StartBuild', { as: { invalid: (m) => new SlipwayError(m) } });
  assert.equal(custom.constructor, SlipwayError);
  assert.equal(custom.message, 'StartBuild: InvalidInputException: Invalid buildspec');
});

test('toDomainError: the conflict and not-found messages the caller gives; a SlipwayError passes through', () => {
  const conflict = toDomainError(new ConditionalCheckFailedException({ message: 'The conditional request failed', ...meta(400) }), 'DynamoDB', { conflict: 'run R1 already exists' });
  assert.ok(conflict instanceof ConflictError);
  assert.equal(conflict.message, 'run R1 already exists');
  const missing = toDomainError(new S3ServiceException({ name: 'NoSuchKey', $fault: 'client', message: 'The specified key does not exist.', ...meta(404) }), 'artifact a.txt', { notFound: 'artifact a.txt not found' });
  assert.ok(missing instanceof NotFoundError);
  assert.equal(missing.message, 'artifact a.txt not found');
  const own = new RetryableError('already ours');
  assert.equal(toDomainError(own, 'x'), own);
});

test('toReleaseError: retryable stays retryable; every permanent kind fails the release (ReleaseActionError)', () => {
  assert.ok(toReleaseError(new ServerException({ message: 'internal', ...meta(500) }), 'updating service web-green') instanceof RetryableError);
  for (const err of [
    new ServiceNotFoundException({ message: 'Service not found.', ...meta(400) }),
    new LogsAccessDenied({ message: 'not authorized', ...meta(400) }),
    new InvalidInputException({ message: 'bad', ...meta(400) }),
  ]) {
    const out = toReleaseError(err, 'updating service web-green');
    assert.ok(out instanceof ReleaseActionError, `${err.name} -> ${out.constructor.name}`);
    assert.match(out.message, new RegExp(`^updating service web-green: ${err.name}: `));
  }
});

test('secrets: a role that may not read the secret is a permanent PermissionError naming the secret and the permission, remembered like a missing one', async () => {
  const sm = mockClient(SecretsManagerClient);
  try {
    let clock = 1_000_000;
    const source = new SecretsManagerSecretSource(new SecretsManagerClient({ region: 'us-east-1' }), { now: () => clock });
    sm.on(GetSecretValueCommand).rejects(new SecretsManagerServiceException({
      name: 'AccessDeniedException', $fault: 'client', ...meta(400),
      message: 'User: arn:aws:sts::123456789012:assumed-role/slipway-notifier is not authorized to perform: secretsmanager:GetSecretValue',
    }));
    await assert.rejects(source.get('slipway/web/slack'), (e: unknown) => {
      assert.ok(e instanceof PermissionError, `got ${(e as Error).constructor.name}`);
      assert.ok(!(e instanceof RetryableError));
      assert.match(e.message, /secret 'slipway\/web\/slack'/);
      assert.match(e.message, /secretsmanager:GetSecretValue/);
      return true;
    });
    clock += 30_000;
    await assert.rejects(source.get('slipway/web/slack'), PermissionError);
    assert.equal(sm.commandCalls(GetSecretValueCommand).length, 1, 'not asked again within the minute');
  } finally {
    sm.restore();
  }
});

test('a notification whose secret the role may not read fails for good, not after five deliveries', async () => {
  const { readSecret, DeliveryError } = await import('../../shared/notify/http.ts');
  const denied = { get: async () => { throw new PermissionError("could not read secret 'slipway/web/slack': access denied"); } };
  await assert.rejects(readSecret(denied, 'slipway/web/slack'), (e: unknown) => e instanceof DeliveryError && e.permanent && /access denied/.test(e.message));
  const throttled = { get: async () => { throw new RetryableError('throttled'); } };
  await assert.rejects(readSecret(throttled, 'slipway/web/slack'), (e: unknown) => e instanceof DeliveryError && !e.permanent);
});
