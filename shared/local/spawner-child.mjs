// The local build runner's spawner (see spawner.ts): starts the processes it is asked for and
// relays their output and end over the IPC channel. Plain JavaScript with no imports but Node's,
// so it stays small: forking it costs little, and forking from it costs little.
import { spawn } from 'node:child_process';

const send = (m) => { if (process.connected) process.send(m); };
/** What runs now, by request id: nothing it started may outlive the runner. */
const running = new Map();

/** Signals a request's process: its whole group when it has one of its own. */
function signal(entry, sig) {
  try {
    if (entry.detached) process.kill(-entry.child.pid, sig);
    else entry.child.kill(sig);
  } catch { /* gone */ }
}

process.on('message', (m) => {
  if (!m) return;
  // The runner is stopping: the commands around the builds (checkout, copies, version checks) end now;
  // the builds' own steps are the runner's to stop (SIGTERM, then SIGKILL after its grace period).
  if (m.op === 'stopCommands') {
    for (const entry of running.values()) if (!entry.detached) signal(entry, 'SIGKILL');
    return;
  }
  if (m.op !== 'spawn') return;
  const { id } = m;
  let child;
  try {
    child = spawn(m.cmd, m.args, { cwd: m.cwd, env: m.env, detached: m.detached === true, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    send({ op: 'error', id, message: e instanceof Error ? e.message : String(e) });
    send({ op: 'close', id, code: null, signal: null });
    return;
  }
  if (child.pid !== undefined) running.set(id, { child, detached: m.detached === true });
  send({ op: 'spawned', id, pid: child.pid });
  // One chunk per stream on its way at a time: a step that writes faster than the runner logs
  // waits on its pipe, as it would with the runner as its parent, instead of filling this process.
  const relay = (stream, op) => stream.on('data', (data) => {
    if (!process.connected) return;
    stream.pause();
    process.send({ op, id, data }, () => stream.resume());
  });
  relay(child.stdout, 'out');
  relay(child.stderr, 'err');
  child.on('error', (e) => send({ op: 'error', id, message: e.message }));
  child.on('close', (code, sig) => {
    running.delete(id);
    send({ op: 'close', id, code, signal: sig });
  });
});

// The runner's process is gone (it exited, crashed or was killed): so is everything started for it,
// and then this process. Nothing would report their ends any more.
process.on('disconnect', () => {
  for (const entry of running.values()) signal(entry, 'SIGKILL');
  process.exit(0);
});
// A Ctrl-C in the terminal is the runner's to handle (it stops the builds, then this process goes with it).
for (const sig of ['SIGINT', 'SIGHUP']) process.on(sig, () => undefined);
