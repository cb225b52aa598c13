/**
 * How a Lambda handler gets its ports (stores, queues, clients) from its
 * environment: built at module load inside Lambda (AWS_LAMBDA_FUNCTION_NAME is
 * always set there), so a missing setting fails the cold start naming the
 * variable; built on first use anywhere else, so the local mode and the tests
 * can import the very same handler module and give it their own ports.
 */
export function portsFromEnv<T>(build: () => T): () => T {
  let ports: T | undefined;
  const get = (): T => (ports ??= build());
  if (process.env.AWS_LAMBDA_FUNCTION_NAME) get();
  return get;
}
