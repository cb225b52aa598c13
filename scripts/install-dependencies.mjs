// The first `npm start` installs the dependencies (npm ci), which says nothing until it is done:
// about a minute and a half on a fresh machine. This reports how far it has got meanwhile, from the
// packages already in node_modules against the ones package-lock.json lists.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Top-level packages package-lock.json installs (node_modules/<name> or node_modules/@scope/<name>). */
export function lockedPackages(root) {
  try {
    const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
    return Object.keys(lock.packages ?? {}).filter((k) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(k)).length;
  } catch {
    return undefined;
  }
}

/** Top-level packages in node_modules so far. */
export function installedPackages(root) {
  const dir = path.join(root, 'node_modules');
  let n = 0;
  try {
    for (const name of readdirSync(dir)) {
      if (name.startsWith('.')) continue;
      if (name.startsWith('@')) { try { n += readdirSync(path.join(dir, name)).length; } catch { /* going */ } } else n += 1;
    }
  } catch { /* not there yet */ }
  return n;
}

/**
 * Runs the install command in `root`, printing a progress line every `tickMs` until it ends.
 * Resolves to its exit code.
 * @param {{ root: string, command?: string, args?: string[], tickMs?: number, print?: (line: string) => void }} opts
 */
export function installDependencies({ root, command = 'npm', args = ['ci', '--no-audit', '--no-fund'], tickMs = 10_000, print = (l) => console.log(l) }) {
  const total = lockedPackages(root);
  print(`installing dependencies (${[command, ...args].join(' ')}${total ? `, ${total} packages` : ''}; about 1-2 minutes the first time)...`);
  const t0 = Date.now();
  const seconds = () => Math.round((Date.now() - t0) / 1000);
  return new Promise((resolve) => {
    // stdin from /dev/null: nothing to answer, and a shell under it does not wait on the terminal.
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    const tick = setInterval(() => {
      const n = installedPackages(root);
      print(`  still installing: ${n}${total ? ` of ${total}` : ''} packages in node_modules after ${seconds()} s...`);
    }, tickMs);
    const done = (code) => {
      clearInterval(tick);
      if (code === 0) print(`installed in ${seconds()} s`);
      else print(`${command} ${args.join(' ')} failed (exit ${code}) after ${seconds()} s`);
      resolve(code);
    };
    child.on('error', (e) => { print(`cannot run ${command}: ${e.message}`); done(127); });
    child.on('exit', (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}
