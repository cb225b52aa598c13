/**
 * Defect 7b: the first `npm start` said nothing for about 85 s while npm ci ran. It now reports
 * how far the install has got while it runs. Fake installers (real processes, no registry).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installDependencies } from '../../scripts/install-dependencies.mjs';

const SCRIPTS = path.join(import.meta.dirname, '..', '..', 'scripts');

/** A project folder whose package-lock.json installs `names` (and one nested package, not counted). */
function project(names: string[]): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'slipway-install-'));
  const packages: Record<string, object> = { '': { name: 'x' } };
  for (const n of names) packages[`node_modules/${n}`] = { version: '1.0.0' };
  packages['node_modules/a/node_modules/nested'] = { version: '1.0.0' };
  writeFileSync(path.join(root, 'package-lock.json'), JSON.stringify({ lockfileVersion: 3, packages }));
  return root;
}

/** An installer that says nothing, puts one package in node_modules every `everyMs`, then exits with `code`. */
const slowInstaller = (names: string[], everyMs: number, code = 0) => [
  '-e',
  `const fs = require('node:fs'); const names = ${JSON.stringify(names)}; let i = 0;
   const t = setInterval(() => { if (i === names.length) { clearInterval(t); process.exit(${code}); } fs.mkdirSync('node_modules/' + names[i++], { recursive: true }); }, ${everyMs});`,
];

test('while the install runs, progress lines say how many of the locked packages are in node_modules', { timeout: 30_000 }, async () => {
  const names = ['a', 'b', '@scope/c', '@scope/d', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'];
  const root = project(names);
  const lines: Array<{ at: number; line: string }> = [];
  const t0 = Date.now();
  const code = await installDependencies({ root, command: process.execPath, args: slowInstaller(names, 150), tickMs: 300, print: (line) => lines.push({ at: Date.now(), line }) });
  const finished = Date.now();
  assert.equal(code, 0);
  assert.match(lines[0].line, /^installing dependencies \([\s\S]* 12 packages; about 1-2 minutes the first time\)\.\.\.$/);
  assert.ok(lines[0].at - t0 < 200, 'the first line comes at once');
  const progress = lines.filter((l) => l.line.startsWith('  still installing'));
  assert.ok(progress.length >= 3, `progress while it ran:\n${lines.map((l) => l.line).join('\n')}`);
  const counts = progress.map((p) => {
    const m = /^ {2}still installing: (\d+) of 12 packages in node_modules after \d+ s\.\.\.$/.exec(p.line);
    assert.ok(m, p.line);
    assert.ok(p.at < finished);
    return Number(m[1]);
  });
  assert.deepEqual(counts, [...counts].sort((x, y) => x - y), 'the count only grows');
  assert.ok(counts.some((n) => n > 0 && n < 12), `a count part of the way: ${counts}`);
  assert.match(lines.at(-1)!.line, /^installed in \d+ s$/);
  const before = lines.length;
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(lines.length, before, 'no progress line after the end');
});

test('a failed install is reported with its exit code, and so is an installer that is not there', { timeout: 30_000 }, async () => {
  const root = project(['a']);
  const lines: string[] = [];
  assert.equal(await installDependencies({ root, command: process.execPath, args: slowInstaller(['a'], 10, 3), tickMs: 5000, print: (l) => lines.push(l) }), 3);
  assert.match(lines.at(-1)!, /failed \(exit 3\) after \d+ s$/);
  assert.equal(await installDependencies({ root, command: path.join(root, 'no-such-npm'), tickMs: 5000, print: (l) => lines.push(l) }), 127);
  assert.match(lines.join('\n'), /cannot run .*no-such-npm: spawn .* ENOENT/);
});

test('npm start without node_modules runs npm ci in the project folder and says so before npm does', { timeout: 60_000 }, async (t) => {
  const root = project(['tsx']);
  mkdirSync(path.join(root, 'scripts'));
  for (const f of ['start.mjs', 'install-dependencies.mjs']) copyFileSync(path.join(SCRIPTS, f), path.join(root, 'scripts', f));
  // `npm` on PATH is this stand-in: it records how it was run and installs tsx after a second.
  const bin = mkdtempSync(path.join(os.tmpdir(), 'slipway-fake-npm-'));
  writeFileSync(path.join(bin, 'npm'), `#!/bin/sh\necho "$PWD $*" > "${bin}/ran"\nsleep 1\nmkdir -p node_modules/tsx\necho "fake npm: added 1 package"\n`);
  chmodSync(path.join(bin, 'npm'), 0o755);
  const out = await new Promise<string>((resolve) => {
    const child = spawn(process.execPath, [path.join(root, 'scripts', 'start.mjs')], { cwd: root, env: { ...process.env, PATH: `${bin}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (c) => (text += c));
    child.stderr.on('data', (c) => (text += c));
    // After the install it goes on to build the console, which this bare folder cannot: it ends there.
    child.on('close', () => resolve(text));
  });
  if (/needs Java 17/.test(out)) { t.skip('start.mjs stops first without Java on this machine'); return; }
  assert.equal(readFileSync(path.join(bin, 'ran'), 'utf8').trim(), `${root} ci --no-audit --no-fund`);
  const said = out.indexOf('installing dependencies (npm ci --no-audit --no-fund, 1 packages');
  assert.ok(said >= 0 && said < out.indexOf('fake npm: added 1 package') && out.indexOf('fake npm: added 1 package') < out.indexOf('installed in'), out);
});
