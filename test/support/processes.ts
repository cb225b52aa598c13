/** The process table, for tests that check what a local mode leaves running. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** Every process below `pid`, from the process table (processes in groups of their own included). */
export function descendants(pid: number): number[] {
  const table = spawnSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' }).stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const found: number[] = [];
  const walk = (p: number) => { for (const [c, pp] of table) if (pp === p) { found.push(c); walk(c); } };
  walk(pid);
  return found;
}

/** Running: it exists and is not a zombie waiting for its new parent (init) to reap it. */
export function alive(pid: number): boolean {
  try { process.kill(pid, 0); } catch { return false; }
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return true; }
}
