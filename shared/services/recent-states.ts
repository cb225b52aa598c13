/**
 * What a warm process read or wrote last of versioned records (runs for the engine, release
 * targets for the releaser), newest kept, oldest dropped beyond `limit`. A decision on a remembered
 * state is saved with the condition that the stored version is still the remembered one, so the
 * memory can only save a read, never make a write act on a state another instance moved on: see
 * RecentRuns (apply-event.ts) and the releaser's `run`.
 */
export class RecentStates<T extends { version: number }> {
  private readonly states = new Map<string, T>();

  constructor(private readonly keyOf: (state: T) => string, private readonly limit = 64) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a memory of recent states keeps a positive whole number of them, got ${limit}`);
  }

  /** A copy, so nothing done with it changes what is remembered. */
  get(key: string): T | undefined {
    const kept = this.states.get(key);
    return kept === undefined ? undefined : structuredClone(kept);
  }

  /**
   * A copy: the caller's object goes on to the effects, and nothing may change what was written.
   * A state older than the one kept is not kept (a read that began before this process's write and
   * ended after it).
   */
  remember(state: T): void {
    const key = this.keyOf(state);
    const kept = this.states.get(key);
    if (kept !== undefined && kept.version > state.version) return;
    this.states.delete(key);
    this.states.set(key, structuredClone(state));
    if (this.states.size > this.limit) this.states.delete(this.states.keys().next().value!);
  }

  forget(key: string): void {
    this.states.delete(key);
  }

  get size(): number {
    return this.states.size;
  }
}
