import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ancestors, CycleError, descendants, findCycle, layers, topoOrder, type JobGraph } from '../../shared/domain/dag.ts';

function graph(edges: Record<string, string[]>): JobGraph {
  return Object.fromEntries(Object.entries(edges).map(([name, needs]) => [name, { needs }]));
}

function chain(length: number): JobGraph {
  const jobs: Record<string, { needs: string[] }> = {};
  for (let i = 0; i < length; i++) jobs[`j${i}`] = { needs: i === 0 ? [] : [`j${i - 1}`] };
  return jobs;
}

describe('findCycle', () => {
  it('returns undefined for a DAG', () => {
    // Prepare
    const jobs = graph({ build: [], test: ['build'], image: ['build'], deploy: ['test', 'image'] });
    // Act + Assess
    assert.equal(findCycle(jobs), undefined);
  });

  it('names a two-job cycle as a closed path starting at the first declared member', () => {
    const jobs = graph({ build: ['test'], test: ['build'] });
    assert.deepEqual(findCycle(jobs), ['build', 'test', 'build']);
  });

  it('lists a longer cycle in run order (a job before the jobs that need it)', () => {
    // b needs a, c needs b, a needs c: a runs before b, b before c.
    const jobs = graph({ lint: [], a: ['c', 'lint'], b: ['a'], c: ['b'] });
    assert.deepEqual(findCycle(jobs), ['a', 'b', 'c', 'a']);
  });

  it('reports a job that needs itself as a one-job cycle', () => {
    assert.deepEqual(findCycle(graph({ solo: ['solo'] })), ['solo', 'solo']);
  });

  it('ignores needs that name unknown jobs', () => {
    assert.equal(findCycle(graph({ a: ['ghost'], b: ['a'] })), undefined);
  });

  it('handles a 10 000-long chain closed into a cycle without overflowing the stack', () => {
    // Prepare
    const jobs = chain(10_000) as Record<string, { needs: string[] }>;
    jobs.j0 = { needs: ['j9999'] };
    // Act
    const cycle = findCycle(jobs);
    // Assess
    assert.equal(cycle?.length, 10_001);
    assert.equal(cycle?.[0], 'j0');
    assert.equal(cycle?.[1], 'j1');
    assert.equal(cycle?.at(-1), 'j0');
  });
});

describe('topoOrder', () => {
  it('puts every job after the jobs it needs, ties in declaration order', () => {
    const jobs = graph({ deploy: ['image', 'test'], test: ['build'], image: ['build'], build: [] });
    assert.deepEqual(topoOrder(jobs), ['build', 'test', 'image', 'deploy']);
  });

  it('orders a 10 000-long chain declared backwards', () => {
    // Prepare
    const forward = chain(10_000);
    const backwards = Object.fromEntries(Object.entries(forward).reverse());
    // Act
    const order = topoOrder(backwards);
    // Assess
    assert.equal(order.length, 10_000);
    assert.equal(order[0], 'j0');
    assert.equal(order[9_999], 'j9999');
  });

  it('throws a CycleError naming the cycle', () => {
    assert.throws(() => topoOrder(graph({ ok: [], build: ['test'], test: ['build'] })), (err: unknown) => {
      assert.ok(err instanceof CycleError);
      assert.deepEqual(err.cycle, ['build', 'test', 'build']);
      assert.equal(err.message, 'dependency cycle: build -> test -> build');
      return true;
    });
  });
});

describe('ancestors and descendants', () => {
  const jobs = graph({ build: [], test: ['build'], image: ['build'], deploy: ['test', 'image'], docs: [] });

  it('collects every transitive dependency and nothing else', () => {
    assert.deepEqual([...ancestors(jobs, 'deploy')].sort(), ['build', 'image', 'test']);
    assert.deepEqual([...ancestors(jobs, 'build')], []);
  });

  it('collects every transitive dependent', () => {
    assert.deepEqual([...descendants(jobs, 'build')].sort(), ['deploy', 'image', 'test']);
    assert.deepEqual([...descendants(jobs, 'docs')], []);
  });

  it('walks the ancestors of the end of a 10 000-long chain', () => {
    assert.equal(ancestors(chain(10_000), 'j9999').size, 9_999);
  });
});

describe('layers', () => {
  it('groups jobs by their longest chain of needs', () => {
    const jobs = graph({ build: [], lint: [], test: ['build'], image: ['build'], deploy: ['test', 'image', 'lint'] });
    assert.deepEqual(layers(jobs), [['build', 'lint'], ['test', 'image'], ['deploy']]);
  });

  it('places a job by its deepest need, not its shallowest', () => {
    const jobs = graph({ a: [], b: ['a'], c: ['b'], d: ['a', 'c'] });
    assert.deepEqual(layers(jobs), [['a'], ['b'], ['c'], ['d']]);
  });

  it('plans a 500-job wide-and-deep DAG with every job in exactly one layer', () => {
    // Prepare: 50 layers of 10 jobs, each job needing every job of the previous layer.
    const jobs: Record<string, { needs: string[] }> = {};
    for (let l = 0; l < 50; l++) {
      for (let k = 0; k < 10; k++) {
        jobs[`l${l}k${k}`] = { needs: l === 0 ? [] : Array.from({ length: 10 }, (_, p) => `l${l - 1}k${p}`) };
      }
    }
    // Act
    const result = layers(jobs);
    // Assess
    assert.equal(result.length, 50);
    assert.ok(result.every((layer, l) => layer.length === 10 && layer.every((n) => n.startsWith(`l${l}k`))));
  });
});

describe('on random DAGs', () => {
  // A random DAG: job i may only need jobs declared before it, so there is never a cycle.
  const randomDag = fc
    .integer({ min: 1, max: 60 })
    .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => fc.subarray(Array.from({ length: i }, (_, k) => `j${k}`)))))
    .map((needsLists) => Object.fromEntries(needsLists.map((needs, i) => [`j${i}`, { needs }])) as JobGraph);

  it('topoOrder lists every job once, after all of its needs', () => {
    fc.assert(
      fc.property(randomDag, (jobs) => {
        const order = topoOrder(jobs);
        const position = new Map(order.map((n, i) => [n, i]));
        assert.equal(position.size, Object.keys(jobs).length);
        for (const [name, job] of Object.entries(jobs)) {
          for (const need of job.needs) assert.ok(position.get(need)! < position.get(name)!);
        }
      }),
    );
  });

  it('layers place every job one deeper than its deepest need, and findCycle finds nothing', () => {
    fc.assert(
      fc.property(randomDag, (jobs) => {
        const depth = new Map(layers(jobs).flatMap((layer, d) => layer.map((n) => [n, d] as const)));
        for (const [name, job] of Object.entries(jobs)) {
          const expected = job.needs.length === 0 ? 0 : Math.max(...job.needs.map((n) => depth.get(n)! + 1));
          assert.equal(depth.get(name), expected);
        }
        assert.equal(findCycle(jobs), undefined);
      }),
    );
  });

  it('findCycle returns a real closed path once a back edge is added', () => {
    fc.assert(
      fc.property(randomDag.filter((jobs) => Object.values(jobs).some((j) => j.needs.length > 0)), (jobs) => {
        // Prepare: make some needed job depend on the job that needs it.
        const [name, job] = Object.entries(jobs).find(([, j]) => j.needs.length > 0)!;
        const withCycle = { ...jobs, [job.needs[0]]: { needs: [...jobs[job.needs[0]].needs, name] } };
        // Act
        const cycle = findCycle(withCycle);
        // Assess: every step of the path is a real edge (the later job needs the earlier one).
        assert.ok(cycle && cycle.length >= 3 && cycle[0] === cycle.at(-1));
        for (let i = 0; i + 1 < cycle.length; i++) assert.ok(withCycle[cycle[i + 1]].needs.includes(cycle[i]));
      }),
    );
  });
});
