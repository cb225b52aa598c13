/**
 * Lays a run's jobs out as a left-to-right graph: a job's column is the length of the
 * longest chain of `needs` before it; within a column, jobs are in name order (a run's
 * plan is a map whose order the store does not keep), so the drawing is stable. Pure geometry
 * for the SVG view (views/run.ts); unit-tested.
 */
export interface DagInput {
  /** Job name -> the jobs it needs, in the definition's order. */
  [job: string]: { needs: readonly string[] };
}

export interface DagNode { name: string; column: number; row: number; x: number; y: number }
export interface DagEdge { from: string; to: string; path: string }
export interface DagLayout { nodes: DagNode[]; edges: DagEdge[]; width: number; height: number }

export const NODE = { width: 168, height: 58, gapX: 56, gapY: 18, pad: 8 } as const;

export function layoutDag(plan: DagInput): DagLayout {
  const names = Object.keys(plan).sort();
  const column = new Map<string, number>();
  const visiting = new Set<string>();
  const col = (n: string): number => {
    const known = column.get(n);
    if (known !== undefined) return known;
    // A cycle cannot be registered; should one appear, draw it rather than loop forever.
    if (visiting.has(n)) return 0;
    visiting.add(n);
    const c = Math.max(-1, ...(plan[n]?.needs ?? []).filter((d) => d in plan).map(col)) + 1;
    visiting.delete(n);
    column.set(n, c);
    return c;
  };
  names.forEach(col);
  const rows = new Map<number, number>();
  const ordered = [...names].sort((a, b) => column.get(a)! - column.get(b)! || (a < b ? -1 : 1));
  const nodes: DagNode[] = ordered.map((name) => {
    const c = column.get(name)!;
    const row = rows.get(c) ?? 0;
    rows.set(c, row + 1);
    return { name, column: c, row, x: NODE.pad + c * (NODE.width + NODE.gapX), y: NODE.pad + row * (NODE.height + NODE.gapY) };
  });
  const at = new Map(nodes.map((n) => [n.name, n]));
  const edges: DagEdge[] = [];
  for (const n of nodes) {
    for (const dep of plan[n.name].needs) {
      const from = at.get(dep);
      if (!from) continue;
      const x1 = from.x + NODE.width, y1 = from.y + NODE.height / 2, x2 = n.x, y2 = n.y + NODE.height / 2;
      const mid = (x1 + x2) / 2;
      edges.push({ from: dep, to: n.name, path: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` });
    }
  }
  const columns = Math.max(0, ...nodes.map((n) => n.column)) + 1;
  const maxRows = Math.max(1, ...rows.values());
  return {
    nodes, edges,
    width: NODE.pad * 2 + columns * NODE.width + (columns - 1) * NODE.gapX,
    height: NODE.pad * 2 + maxRows * NODE.height + (maxRows - 1) * NODE.gapY,
  };
}
