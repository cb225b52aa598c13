// `npm start`: installs what the local mode needs when it is missing, then runs `slipway dev`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { installDependencies } from './install-dependencies.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// javac too: a small launcher, compiled on first use, keeps DynamoDB Local on loopback (cli/dev/emulators.mjs).
const javac = process.env.SLIPWAY_DYNAMODB_ANY_INTERFACE === '1' || spawnSync('javac', ['-version'], { stdio: 'ignore' }).status === 0;
if (spawnSync('java', ['-version'], { stdio: 'ignore' }).status !== 0 || !javac) {
  console.error('The local mode runs DynamoDB Local, which needs Java 17 or newer, as a JDK (javac compiles the launcher that keeps it on this machine): install it (Debian/Ubuntu: sudo apt-get install openjdk-17-jdk-headless) and run npm start again (SLIPWAY_DYNAMODB_ANY_INTERFACE=1 starts without javac, DynamoDB Local then listening on every network interface).');
  process.exit(5);
}
if (!existsSync(path.join(root, 'node_modules', 'tsx'))) {
  const code = await installDependencies({ root });
  if (code !== 0) process.exit(code);
}
// The web console the local mode serves under /console/: built once, then by `npm run build`.
if (!existsSync(path.join(root, 'dist', 'console', 'index.html'))) {
  console.log('building the web console (node scripts/build-console.mjs)...');
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-console.mjs')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'cli', 'slipway.ts'), 'dev', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  // Lambda runs Node 24 (infra/constructs/handler.ts); the local mode runs on Node 20 or newer.
  env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
});
// Whoever stops `npm start` stops the local mode, which then stops its emulators and services.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
// `kill <pid of npm>`: npm exits without passing SIGTERM on, and this process is left to init. Its parent gone, it stops the local mode.
const parent = process.ppid;
const orphaned = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(orphaned);
  child.kill('SIGTERM');
}, 500);
orphaned.unref();
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
