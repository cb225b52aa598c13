/**
 * Reading pipeline text: YAML or JSON, with positions, and duplicate keys reported.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import { type Problem } from '../errors.ts';
import { type Segment, formatPath } from './words.ts';
import type { PipelineSpec } from '../pipeline.ts';

export type ParseResult = { ok: true; spec: PipelineSpec } | { ok: false; problems: Problem[] };

export interface ParseOptions {
  /** Used to tell JSON from YAML (`.json`) and in error messages. */
  filename?: string;
  /**
   * Prefix the engine adds to every image repository (`docker.repository: web` -> `<prefix>/web`).
   * @default DEFAULT_ECR_REPOSITORY_PREFIX ("slipway")
   */
  ecrRepositoryPrefix?: string;
}

// ---------------------------------------------------------------------------
// Reading text

export interface Loaded {
  value?: unknown;
  problems: Problem[];
}

export function loadText(text: string, opts: ParseOptions): Loaded {
  if (text.trim() === '') {
    return { problems: [{ path: '', message: 'the pipeline file is empty; it needs at least name, source and jobs' }] };
  }
  const isJsonFile = opts.filename?.toLowerCase().endsWith('.json') ?? false;
  const looksJson = isJsonFile || /^\s*[{[]/.test(text);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter, prettyErrors: false });
  if (looksJson) {
    // JSON.parse is the authority on JSON syntax; YAML (a superset) still finds duplicate keys.
    try {
      const value: unknown = JSON.parse(text);
      return { value, problems: doc.errors.length === 0 ? duplicateKeys(doc.contents, lineCounter) : [] };
    } catch (err) {
      // `{ name: x }` is a YAML flow mapping, not broken JSON, unless the file says it is JSON.
      if (isJsonFile || doc.errors.length > 0) return { problems: [jsonSyntaxProblem(text, err)] };
    }
  }
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        const where = pos ? ` at line ${pos.line}, column ${pos.col}` : '';
        const reason = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
        return { path: '', message: `YAML syntax error${where}: ${reason}` };
      }),
    };
  }
  const problems = duplicateKeys(doc.contents, lineCounter);
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }), problems };
  } catch (err) {
    return { problems: [...problems, { path: '', message: `cannot read the YAML: ${err instanceof Error ? err.message : String(err)}` }] };
  }
}

export function jsonSyntaxProblem(text: string, err: unknown): Problem {
  const raw = err instanceof Error ? err.message : String(err);
  const m = /at position (\d+)/.exec(raw);
  const reason = raw.replace(/\s*(in JSON )?at position \d+.*$/s, '').replace(/^Unexpected/, 'unexpected');
  if (!m) return { path: '', message: `JSON syntax error: ${reason}` };
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  const col = Number(m[1]) - before.lastIndexOf('\n');
  return { path: '', message: `JSON syntax error at line ${line}, column ${col}: ${reason}` };
}

/** YAML allows a key twice with the last one winning; in a pipeline that is always a mistake. */
export function duplicateKeys(root: unknown, lines: LineCounter): Problem[] {
  const problems: Problem[] = [];
  const stack: Array<{ node: unknown; path: Segment[] }> = [{ node: root, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    if (isMap(node)) {
      const seen = new Map<string, YamlNode>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const keyNode = pair.key;
        const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
        if (key !== undefined) {
          const first = seen.get(key);
          if (first) {
            const line = first.range ? lines.linePos(first.range[0]).line : undefined;
            const since = line ? ` (first defined on line ${line})` : '';
            const isJob = path.length === 1 && path[0] === 'jobs';
            problems.push({
              path: formatPath([...path, key]),
              message: isJob ? `duplicate job name "${key}"${since}; job names must be unique` : `duplicate key "${key}"${since}`,
            });
          } else {
            seen.set(key, keyNode as YamlNode);
          }
          stack.push({ node: pair.value, path: [...path, key] });
        }
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => stack.push({ node: item, path: [...path, i] }));
    }
  }
  return problems.reverse();
}
