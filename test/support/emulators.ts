/**
 * Endpoints of the emulators `npm test` started (scripts/test.mjs). A test file
 * run on its own (`node --import tsx --test file`) without them fails with a
 * message that says how to run it.
 */
import type { AwsConfig } from '../../shared/aws/clients.ts';

export function emulatorConfig(): AwsConfig {
  const dynamoEndpoint = process.env.SLIPWAY_TEST_DYNAMODB_ENDPOINT;
  const awsEndpoint = process.env.SLIPWAY_TEST_AWS_ENDPOINT;
  if (!dynamoEndpoint || !awsEndpoint) {
    throw new Error('integration tests need the emulators: run them with `npm test` or `node scripts/test.mjs <file>`');
  }
  return { region: 'us-east-1', dynamoEndpoint, awsEndpoint };
}

/** A name no other test file uses, so files can run in parallel against one emulator. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}
