import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Spawner } from '../../shared/local/spawner.ts';

/** A spawner closed when the test ends. */
const spawnerFor = (t: TestContext) => {
  const spawner = new Spawner();
  t.after(() => spawner.close());
  return spawner;
};

const until = async (done: () => boolean) => { while (!done()) await new Promise((r) => setTimeout(r, 10)); };

const collect = async (spawner: Spawner, cmd: string, args: string[], opts: { detached?: boolean; env?: NodeJS.ProcessEnv } = {}) => {
  let out = '';
  let err = '';
  let pid: number | undefined;
  const errors: string[] = [];
  const end = await spawner.run({ cmd, args, ...opts }, {
    onSpawn: (p) => { pid = p; },
    onStdout: (d) => { out += d.toString(); },
    onStderr: (d) => { err += d.toString(); },
    onError: (m) => errors.push(m),
  });
  return { ...end, out, err, pid, errors };
};

test('a process started through the spawner gives its pid, its output on both streams and its exit code', async (t) => {
  const spawner = spawnerFor(t);
  const r = await collect(spawner, 'bash', ['-c', 'echo "pid $$"; echo oops >&2; printf "%s" "$GREETING"; exit 3'], { env: { PATH: process.env.PATH, GREETING: 'héllo' } });
  assert.equal(r.code, 3);
  assert.equal(r.out, `pid ${r.pid}\nhéllo`, 'the pid given is the process\'s own, and only the env given reaches it');
  assert.equal(r.err, 'oops\n');
  assert.deepEqual(r.errors, []);
});

test('a detached process leads its own process group, which can be signalled from here', async (t) => {
  const spawner = spawnerFor(t);
  let pid: number | undefined;
  const ended = spawner.run({ cmd: 'bash', args: ['-c', 'sleep 30 & wait'], detached: true }, { onSpawn: (p) => { pid = p; } });
  await until(() => pid !== undefined);
  process.kill(-pid!, 'SIGKILL');
  const end = await ended;
  assert.equal(end.signal, 'SIGKILL');
  // The group's last member (sleep, now init's child) is gone once it is reaped.
  const gone = async () => {
    for (let i = 0; i < 100; i++) {
      try { process.kill(-pid!, 0); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ESRCH') return true; }
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  };
  assert.equal(await gone(), true, 'the whole group (sleep included) is gone');
});

test('a program that does not exist ends with an error and no exit code, and the spawner goes on', async (t) => {
  const spawner = spawnerFor(t);
  const missing = await collect(spawner, 'slipway-no-such-program', []);
  assert.equal(missing.code === null || missing.code < 0, true);
  assert.match(missing.errors.join('\n'), /ENOENT/);
  assert.equal((await collect(spawner, 'true', [])).code, 0);
});

test('when the helper dies, what it was running ends instead of hanging, its process groups are killed, and the next process starts a new helper', async (t) => {
  const spawner = spawnerFor(t);
  let pid: number | undefined;
  const errors: string[] = [];
  const running = spawner.run({ cmd: 'bash', args: ['-c', 'sleep 30 & wait'], detached: true }, { onSpawn: (p) => { pid = p; }, onError: (m) => errors.push(m) });
  await until(() => pid !== undefined);
  const helper = (spawner as unknown as { helper: { pid: number } }).helper;
  // A Ctrl-C in the terminal is not for the helper: it carries on.
  process.kill(helper.pid, 'SIGINT');
  await new Promise((r) => setTimeout(r, 100));
  process.kill(helper.pid, 0);
  process.kill(helper.pid, 'SIGKILL');
  const end = await running;
  assert.equal(end.code, null);
  assert.match(errors.join('\n'), /spawner exited/);
  assert.equal(await groupGone(pid!), true, 'nothing would report the end of what the dead helper started: it is killed');
  assert.equal((await collect(spawner, 'bash', ['-c', 'echo again'])).out, 'again\n');
});

test('a helper that goes away kills what it was running, and ends only its own requests, not its successor\'s', async (t) => {
  const spawner = spawnerFor(t);
  let pid: number | undefined;
  const errors: string[] = [];
  const first = spawner.run({ cmd: 'sleep', args: ['30'] }, { onSpawn: (p) => { pid = p; }, onError: (m) => errors.push(m) });
  await until(() => pid !== undefined);
  spawner.close();
  const second = await collect(spawner, 'bash', ['-c', 'sleep 0.3; echo two']);
  assert.equal(second.code, 0);
  assert.equal(second.out, 'two\n');
  assert.deepEqual(second.errors, []);
  const end = await first;
  assert.ok(end.code === null, `the first run ended with ${JSON.stringify(end)}`);
  assert.equal(await gone(pid!), true, 'the sleep the old helper ran does not outlive it');
});

test('when the runner\'s process dies (crash, SIGKILL), the helper kills what it ran before it goes', async () => {
  const script = `import { Spawner } from ${JSON.stringify(new URL('../../shared/local/spawner.ts', import.meta.url).href)};
const s = new Spawner();
s.run({ cmd: 'sleep', args: ['30'] }, { onSpawn: (p) => console.log('command ' + p) });
s.run({ cmd: 'bash', args: ['-c', 'sleep 30 & wait'], detached: true }, { onSpawn: (p) => console.log('step ' + p) });`;
  const runner = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  runner.stdout!.on('data', (d) => { out += d; });
  while (!/command \d+\n[\s\S]*step \d+|step \d+\n[\s\S]*command \d+/.test(out)) await new Promise((r) => setTimeout(r, 20));
  const command = Number(/command (\d+)/.exec(out)![1]);
  const step = Number(/step (\d+)/.exec(out)![1]);
  runner.kill('SIGKILL');
  assert.equal(await gone(command), true, 'the command is killed');
  assert.equal(await groupGone(step), true, 'the step\'s whole group is killed');
});

test('stopping the commands ends those without a process group of their own at once, and leaves the builds\' steps to the runner', async (t) => {
  const spawner = spawnerFor(t);
  const pids: Record<string, number> = {};
  const command = spawner.run({ cmd: 'sleep', args: ['30'] }, { onSpawn: (p) => { pids.command = p!; } });
  const step = spawner.run({ cmd: 'sleep', args: ['30'], detached: true }, { onSpawn: (p) => { pids.step = p!; } });
  await until(() => pids.command !== undefined && pids.step !== undefined);
  spawner.stopCommands();
  assert.equal((await command).signal, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  process.kill(pids.step, 0);
  process.kill(-pids.step, 'SIGKILL');
  assert.equal((await step).signal, 'SIGKILL');
});

test('a step that writes faster than its output is taken waits on its pipe instead of filling the helper', async (t) => {
  const spawner = spawnerFor(t);
  let bytes = 0;
  let peak = 0;
  let helperPid: number | undefined;
  const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  const end = await spawner.run({ cmd: 'head', args: ['-c', String(120 * 1024 * 1024), '/dev/zero'] }, {
    onSpawn: () => { helperPid = (spawner as unknown as { helper: { pid: number } }).helper.pid; },
    onStdout: (d) => {
      bytes += d.length;
      // A slow reader: the runner writes each line to the log file as it comes.
      const busyUntil = performance.now() + 0.3;
      while (performance.now() < busyUntil) { /* busy */ }
      if (helperPid !== undefined && bytes % (8 * 1024 * 1024) < d.length) peak = Math.max(peak, rssOf(helperPid));
    },
  });
  assert.equal(end.code, 0);
  assert.equal(bytes, 120 * 1024 * 1024);
  assert.ok(peak > 0 && peak < 100 * 1024 * 1024, `the helper held ${Math.round(peak / 1024 / 1024)} MB while 120 MB went through it`);
});

/** Whether a process is gone (a zombie waiting for init to reap it counts as gone). */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    let stat = '';
    try { stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return true; }
    if (stat.split(') ')[1]?.startsWith('Z')) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

async function groupGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try { process.kill(-pid, 0); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ESRCH') return true; }
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}
