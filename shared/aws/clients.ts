/**
 * SDK clients, created once per module from one typed config. In AWS the
 * endpoints are the defaults; the local mode and the tests point them at the
 * emulators on loopback (DynamoDB Local, fauxqs) with SLIPWAY_DYNAMODB_ENDPOINT
 * and SLIPWAY_AWS_ENDPOINT.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';

export interface AwsConfig {
  region: string;
  /** DynamoDB endpoint override (DynamoDB Local). */
  dynamoEndpoint?: string;
  /** SQS/S3/SNS endpoint override (fauxqs). */
  awsEndpoint?: string;
}

export function awsConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AwsConfig {
  return {
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    dynamoEndpoint: env.SLIPWAY_DYNAMODB_ENDPOINT || undefined,
    awsEndpoint: env.SLIPWAY_AWS_ENDPOINT || undefined,
  };
}

const localCredentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export function createDocumentClient(cfg: AwsConfig): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: cfg.region,
    ...(cfg.dynamoEndpoint ? { endpoint: cfg.dynamoEndpoint, credentials: localCredentials } : {}),
  });
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

export function createSqsClient(cfg: AwsConfig): SQSClient {
  return new SQSClient({ region: cfg.region, ...(cfg.awsEndpoint ? { endpoint: cfg.awsEndpoint, credentials: localCredentials } : {}) });
}

export function createS3Client(cfg: AwsConfig): S3Client {
  return new S3Client({
    region: cfg.region,
    ...(cfg.awsEndpoint ? { endpoint: cfg.awsEndpoint, credentials: localCredentials, forcePathStyle: true } : {}),
  });
}

export function createSnsClient(cfg: AwsConfig): SNSClient {
  return new SNSClient({ region: cfg.region, ...(cfg.awsEndpoint ? { endpoint: cfg.awsEndpoint, credentials: localCredentials } : {}) });
}
