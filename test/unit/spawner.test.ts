import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Spawner } from '../../shared/local/spawner.ts';

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

test('a process started through the spawner gives its pid, its output on both streams and its exit code', async () => {
  const spawner = new Spawner();
  try {
    const r = await collect(spawner, 'bash', ['-c', 'echo "pid $$"; echo oops >&2; printf "%s" "$GREETING"; exit 3'], { env: { PATH: process.env.PATH, GREETING: 'héllo' } });
    assert.equal(r.code, 3);
    assert.equal(r.out, `pid ${r.pid}\nhéllo`, 'the pid given is the process\'s own, and only the env given reaches it');
    assert.equal(r.err, 'oops\n');
    assert.deepEqual(r.errors, []);
  } finally {
    spawner.close();
  }
});

test('a detached process leads its own process group, which can be signalled from here', async () => {
  const spawner = new Spawner();
  try {
    let pid: number | undefined;
    const ended = spawner.run({ cmd: 'bash', args: ['-c', 'sleep 30 & wait'], detached: true }, { onSpawn: (p) => { pid = p; } });
    while (pid === undefined) await new Promise((r) => setTimeout(r, 10));
    process.kill(-pid, 'SIGKILL');
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
  } finally {
    spawner.close();
  }
});

test('a program that does not exist ends with an error and no exit code, and the spawner goes on', async () => {
  const spawner = new Spawner();
  try {
    const missing = await collect(spawner, 'slipway-no-such-program', []);
    assert.equal(missing.code === null || missing.code < 0, true);
    assert.match(missing.errors.join('\n'), /ENOENT/);
    assert.equal((await collect(spawner, 'true', [])).code, 0);
  } finally {
    spawner.close();
  }
});

test('when the helper dies, what it was running ends instead of hanging, its process groups are killed, and the next process starts a new helper', async () => {
  const spawner = new Spawner();
  try {
    let pid: number | undefined;
    const errors: string[] = [];
    const running = spawner.run({ cmd: 'bash', args: ['-c', 'sleep 30 & wait'], detached: true }, { onSpawn: (p) => { pid = p; }, onError: (m) => errors.push(m) });
    while (pid === undefined) await new Promise((r) => setTimeout(r, 10));
    const helper = (spawner as unknown as { helper: { pid: number } }).helper;
    // A Ctrl-C in the terminal is not for the helper: it carries on.
    process.kill(helper.pid, 'SIGINT');
    await new Promise((r) => setTimeout(r, 100));
    process.kill(helper.pid, 0);
    process.kill(helper.pid, 'SIGKILL');
    const end = await running;
    assert.equal(end.code, null);
    assert.match(errors.join('\n'), /spawner exited/);
    assert.equal(await groupGone(pid), true, 'nothing would report the end of what the dead helper started: it is killed');
    assert.equal((await collect(spawner, 'bash', ['-c', 'echo again'])).out, 'again\n');
  } finally {
    spawner.close();
  }
});

test('a helper that goes away ends only what it was running, not what its successor runs', async () => {
  const spawner = new Spawner();
  try {
    const first = collect(spawner, 'sleep', ['30']);
    await new Promise((r) => setTimeout(r, 100));
    spawner.close();
    const second = await collect(spawner, 'bash', ['-c', 'sleep 0.3; echo two']);
    assert.equal(second.code, 0);
    assert.equal(second.out, 'two\n');
    assert.deepEqual(second.errors, []);
    assert.match((await first).errors.join('\n'), /spawner exited/);
  } finally {
    spawner.close();
  }
});

test('a step that writes faster than its output is taken waits on its pipe instead of filling the helper', async () => {
  const spawner = new Spawner();
  try {
    let bytes = 0;
    let peak = 0;
    let helperPid: number | undefined;
    const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    const end = await spawner.run({ cmd: 'head', args: ['-c', String(120 * 1024 * 1024), '/dev/zero'] }, {
      onSpawn: () => { helperPid = (spawner as unknown as { helper: { pid: number } }).helper.pid; },
      onStdout: (d) => {
        bytes += d.length;
        // A slow reader: the runner writes each line to the log file as it comes.
        const until = performance.now() + 0.3;
        while (performance.now() < until) { /* busy */ }
        if (helperPid !== undefined && bytes % (8 * 1024 * 1024) < d.length) peak = Math.max(peak, rssOf(helperPid));
      },
    });
    assert.equal(end.code, 0);
    assert.equal(bytes, 120 * 1024 * 1024);
    assert.ok(peak > 0 && peak < 100 * 1024 * 1024, `the helper held ${Math.round(peak / 1024 / 1024)} MB while 120 MB went through it`);
  } finally {
    spawner.close();
  }
});

async function groupGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try { process.kill(-pid, 0); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ESRCH') return true; }
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}
