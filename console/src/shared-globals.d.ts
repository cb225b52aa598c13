// shared/domain/run-bounds.ts (bundled with the definition checker) measures strings with
// Node's Buffer inside functions the console never calls; its type is all tsc needs here.
declare const Buffer: { byteLength(s: string, encoding?: string): number };
