export function freePort(): Promise<number>;
export function startEmulators(opts?: { dataDir?: string; dynamoPort?: number; fauxqsPort?: number; quiet?: boolean; detached?: boolean; loopbackOnly?: boolean }): Promise<{
  dynamoEndpoint: string;
  awsEndpoint: string;
  stop: () => Promise<void>;
  children: import('node:child_process').ChildProcess[];
}>;
