// `npm test`: runs every test file under test/ with node's test runner.
// `node scripts/test.mjs <file or folder>...` (the test:unit, test:integration,
// test:infra and test:e2e scripts) runs those only. The emulators (DynamoDB Local,
// fauxqs) are started once, and stopped whatever happens, only when an
// integration test is among the files: the other tiers need none (the local-mode
// tests in e2e/ start their own through the local mode). Unit files run together in
// one process (scripts/in-process-tests.mjs) unless they mock AWS SDK clients; every
// other file gets a process of its own, two at a time.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { startEmulators } from '../cli/dev/emulators.mjs';

function findTests(dir) {
  let out = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out = out.concat(findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

const only = process.argv.slice(2);
const files = (only.length > 0 ? only : ['test']).flatMap((p) => (statSync(p).isDirectory() ? findTests(p) : [p]));
if (files.length === 0) {
  console.error(`no test files found under ${only.join(' ') || 'test/'}`);
  process.exit(1);
}

const needsEmulators = files.some((f) => path.resolve(f).startsWith(path.resolve('test', 'integration') + path.sep));
const emu = needsEmulators ? await startEmulators() : undefined;
const unitDir = path.resolve('test', 'unit') + path.sep;
const sharesProcess = (f) => path.resolve(f).startsWith(unitDir) && !readFileSync(f, 'utf8').includes('mockClient(');
const together = files.filter(sharesProcess);
const apart = files.filter((f) => !sharesProcess(f));
const env = {
  ...process.env,
  ...(emu ? { SLIPWAY_TEST_DYNAMODB_ENDPOINT: emu.dynamoEndpoint, SLIPWAY_TEST_AWS_ENDPOINT: emu.awsEndpoint } : {}),
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  CDK_DISABLE_CLI_TELEMETRY: '1',
  // Lambda runs Node 22; this machine's Node 20 is only for development and tests.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  // Handlers' structured INFO logs are for CloudWatch; tests show warnings and errors only.
  POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
  POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
};
let current;
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => current?.kill(sig));
function run(args) {
  current = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: 'inherit', env });
  return new Promise((resolve) => current.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
}
let code = 0;
try {
  if (together.length > 0) code = Math.max(code, await run([path.join('scripts', 'in-process-tests.mjs'), ...together]));
  if (apart.length > 0) code = Math.max(code, await run(['--test', '--test-concurrency=2', ...apart]));
} finally {
  await emu?.stop();
}
process.exit(code);
