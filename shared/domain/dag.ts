/**
 * Graph helpers over a pipeline's jobs, seen as a DAG whose edges are `needs`.
 *
 * Everything here is iterative and linear in jobs + edges: a run may hold a few
 * hundred jobs and a generated pipeline may chain thousands, so no recursion that
 * could overflow the stack. Names listed in `needs` that are not jobs of the map are
 * ignored (the definition parser reports them separately). Results follow the
 * declaration order of the map wherever there is a choice, so they are stable.
 */

export type JobGraph = Readonly<Record<string, { readonly needs: readonly string[] }>>;

/** Thrown by {@link topoOrder} and {@link layers} when the graph is not a DAG. */
export class CycleError extends Error {
  constructor(readonly cycle: string[]) {
    super(`dependency cycle: ${cycle.join(' -> ')}`);
    this.name = 'CycleError';
  }
}

function knownNeeds(jobs: JobGraph, name: string): string[] {
  const job = jobs[name];
  if (!job) return [];
  return job.needs.filter((n) => Object.hasOwn(jobs, n));
}

/**
 * Finds one dependency cycle, or `undefined` when there is none.
 *
 * The cycle is a closed path in the order jobs would run (a job before the jobs
 * that need it), starting and ending at the member declared first:
 * `build` needs `test` and `test` needs `build` gives `['build', 'test', 'build']`.
 */
export function findCycle(jobs: JobGraph): string[] | undefined {
  const names = Object.keys(jobs);
  const order = new Map(names.map((n, i) => [n, i]));
  // 0 = unvisited, 1 = on the current path, 2 = done
  const state = new Map<string, 0 | 1 | 2>();
  for (const root of names) {
    if (state.get(root)) continue;
    const path: string[] = [root];
    const cursor: number[] = [0];
    const needsOf: string[][] = [knownNeeds(jobs, root)];
    state.set(root, 1);
    while (path.length > 0) {
      const top = path.length - 1;
      const needs = needsOf[top];
      if (cursor[top] < needs.length) {
        const next = needs[cursor[top]++];
        const s = state.get(next) ?? 0;
        if (s === 1) {
          // The path from `next` to the top, following `needs` edges, is a cycle.
          const start = path.lastIndexOf(next);
          const members = path.slice(start);
          // Flip to run order (needed job first), then rotate to the first-declared member.
          members.reverse();
          let first = 0;
          for (let i = 1; i < members.length; i++) {
            if (order.get(members[i])! < order.get(members[first])!) first = i;
          }
          const rotated = [...members.slice(first), ...members.slice(0, first)];
          return [...rotated, rotated[0]];
        }
        if (s === 0) {
          state.set(next, 1);
          path.push(next);
          cursor.push(0);
          needsOf.push(knownNeeds(jobs, next));
        }
      } else {
        state.set(path[top], 2);
        path.pop();
        cursor.pop();
        needsOf.pop();
      }
    }
  }
  return undefined;
}

/**
 * Jobs in an order where every job comes after all the jobs it needs (Kahn's
 * algorithm; ties keep declaration order). Throws {@link CycleError} on a cycle.
 */
export function topoOrder(jobs: JobGraph): string[] {
  const names = Object.keys(jobs);
  const pending = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const name of names) {
    const needs = new Set(knownNeeds(jobs, name));
    pending.set(name, needs.size);
    for (const n of needs) {
      let list = dependents.get(n);
      if (!list) dependents.set(n, (list = []));
      list.push(name);
    }
  }
  const out: string[] = names.filter((n) => pending.get(n) === 0);
  for (let i = 0; i < out.length; i++) {
    for (const d of dependents.get(out[i]) ?? []) {
      const left = pending.get(d)! - 1;
      pending.set(d, left);
      if (left === 0) out.push(d);
    }
  }
  if (out.length !== names.length) {
    throw new CycleError(findCycle(jobs) ?? []);
  }
  return out;
}

/** Every job `name` depends on, directly or transitively (not `name` itself unless it is on a cycle). */
export function ancestors(jobs: JobGraph, name: string): Set<string> {
  const seen = new Set<string>();
  const stack = knownNeeds(jobs, name);
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const m of knownNeeds(jobs, n)) if (!seen.has(m)) stack.push(m);
  }
  return seen;
}

/** Every job that depends on `name`, directly or transitively. */
export function descendants(jobs: JobGraph, name: string): Set<string> {
  const dependents = new Map<string, string[]>();
  for (const job of Object.keys(jobs)) {
    for (const n of knownNeeds(jobs, job)) {
      let list = dependents.get(n);
      if (!list) dependents.set(n, (list = []));
      list.push(job);
    }
  }
  const seen = new Set<string>();
  const stack = [...(dependents.get(name) ?? [])];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const m of dependents.get(n) ?? []) if (!seen.has(m)) stack.push(m);
  }
  return seen;
}

/**
 * Jobs grouped by depth: layer 0 needs nothing, layer k holds the jobs whose
 * longest chain of needs is k long. Every job of a layer can run once the earlier
 * layers are done. Throws {@link CycleError} on a cycle.
 */
export function layers(jobs: JobGraph): string[][] {
  const depth = new Map<string, number>();
  const out: string[][] = [];
  for (const name of topoOrder(jobs)) {
    let d = 0;
    for (const n of knownNeeds(jobs, name)) d = Math.max(d, depth.get(n)! + 1);
    depth.set(name, d);
    (out[d] ??= []).push(name);
  }
  const order = new Map(Object.keys(jobs).map((n, i) => [n, i]));
  for (const layer of out) layer.sort((a, b) => order.get(a)! - order.get(b)!);
  return out;
}
