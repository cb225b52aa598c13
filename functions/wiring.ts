/**
 * One pattern for every handler in functions/:
 *
 *   const fromEnv = portsFromEnv(() => ({ ...ports built from the environment... }));
 *   export function createHandler(ports: () => Ports = fromEnv) { return middy(...).use(...); }
 *   export const handler = createHandler();
 *
 * Ports are built from the environment (`readEnv` throws naming every missing
 * variable) at module load inside Lambda, where AWS_LAMBDA_FUNCTION_NAME is always
 * set, so a missing setting fails the cold start rather than the first message;
 * anywhere else they are built on first use, so tests and the local mode
 * (cli/dev/local-mode.ts) import the very same module and pass their own ports.
 */
export function portsFromEnv<T>(build: () => T): () => T {
  let ports: T | undefined;
  const get = (): T => (ports ??= build());
  if (process.env.AWS_LAMBDA_FUNCTION_NAME) get();
  return get;
}
