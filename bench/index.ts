/**
 * `npm run bench`: prints every figure the issues ask for. Starts the emulators
 * once for the benchmarks that need them. Figures, not assertions: these
 * machines are shared, so read medians and ratios. BENCH_LARGE=1 adds the
 * 200-job DynamoDB run (about a minute and a half on DynamoDB Local).
 */
import { startEmulators } from '../cli/dev/emulators.mjs';
import { benchBundles } from './bundles.ts';
import { benchConsole } from './console.ts';
import { benchDecide } from './decide.ts';
import { benchDependencyCache } from './dependency-cache.ts';
import { benchStartLatency } from './start-latency.ts';
import { benchDynamo } from './dynamo.ts';
import { benchLocalMode } from './local-mode.ts';
import { benchRedelivery } from './redelivery.ts';
import { benchRelease } from './release.ts';
import { benchWebhook } from './webhook.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
console.log(`Slipway benchmarks, node ${process.version}, ${new Date().toISOString()}`);
await benchDecide();
await benchRelease();
await benchRedelivery();
const emu = await startEmulators();
try {
  process.env.SLIPWAY_DYNAMODB_ENDPOINT = emu.dynamoEndpoint;
  process.env.SLIPWAY_AWS_ENDPOINT = emu.awsEndpoint;
  await benchDynamo({ region: 'us-east-1', dynamoEndpoint: emu.dynamoEndpoint, awsEndpoint: emu.awsEndpoint }, { largeRunStages: process.env.BENCH_LARGE ? 10 : 0 });
  await benchWebhook();
} finally {
  await emu.stop();
  delete process.env.SLIPWAY_DYNAMODB_ENDPOINT;
  delete process.env.SLIPWAY_AWS_ENDPOINT;
}
await benchBundles();
await benchConsole();
await benchLocalMode();
benchStartLatency();
// Needs the npm registry; BENCH_NO_NETWORK=1 leaves it out.
if (!process.env.BENCH_NO_NETWORK) await benchDependencyCache();
process.exit(0);
