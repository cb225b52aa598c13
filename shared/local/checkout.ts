/**
 * A job's source in the local mode: the repository on disk at a commit, as `git clone --shared
 * --no-checkout` and `git checkout <commit>` make it (a .git that borrows the repository's objects,
 * its branches as origin/*, its tags, HEAD detached at the commit), with one git process instead
 * of three: the clone starts `git upload-pack` to list the refs, which are files it can read here.
 * That work runs beside the engine's first hop of a run (the checkout starts when the run is
 * requested) on the same cores.
 *
 * A repository that is not plain (its .git a file, as a worktree's or a submodule's; another object
 * format or ref storage, named under [extensions]; a shallow one, whose history ends early) is
 * cloned as before.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export type Run = (cmd: string, args: string[], opts?: { cwd?: string }) => Promise<{ status: number | null; stdout: string; stderr: string }>;

const SHA = /^[0-9a-f]{40}$/;

/** Makes the checkout of `commit` in `dir` (which must not exist); a problem in words, or undefined when made. */
export async function checkout(run: Run, repo: string, commit: string, dir: string): Promise<string | undefined> {
  // HEAD is written as the commit itself: only a full object name goes there, anything else to git.
  const refs = SHA.test(commit) ? plainRefs(repo) : undefined;
  if (refs === undefined) {
    const clone = await run('git', ['clone', '-q', '--shared', '--no-checkout', repo, dir]);
    if (clone.status !== 0) return `git clone ${repo} failed: ${clone.stderr.trim()}`;
  } else {
    borrow(repo, refs, dir, await fileSystemSettings(run, path.dirname(dir)));
    writeFileSync(path.join(dir, '.git', 'HEAD'), `${commit}\n`);
  }
  // HEAD detached at the commit; `reset --hard` writes the index and the files (the borrowed .git
  // has HEAD there already; a clone's moves it).
  const co = refs === undefined ? await run('git', ['-C', dir, 'checkout', '-q', commit, '--']) : await run('git', ['-C', dir, 'reset', '-q', '--hard']);
  if (co.status !== 0) return `commit ${commit} not found in ${repo}: ${co.stderr.trim()}`;
  return undefined;
}

interface PlainRefs {
  /** Branch name -> commit. */
  heads: Map<string, string>;
  /** Tag name -> object. */
  tags: Map<string, string>;
  /** The branch the repository's HEAD names, if it names one of `heads`. */
  head?: string;
}

/** The branches and tags of a plain repository (loose ones over packed ones); undefined for any other. */
export function plainRefs(repo: string): PlainRefs | undefined {
  const gitDir = path.join(repo, '.git');
  if (!statSync(gitDir, { throwIfNoEntry: false })?.isDirectory()) return undefined;
  let config: string;
  try { config = readFileSync(path.join(gitDir, 'config'), 'utf8'); } catch { return undefined; }
  if (/^\s*\[\s*extensions\s*\]/im.test(config) || !existsSync(path.join(gitDir, 'objects'))) return undefined;
  // A shallow repository's history ends at the commits .git/shallow lists: the clone carries that over.
  if (existsSync(path.join(gitDir, 'shallow'))) return undefined;
  const refs: PlainRefs = { heads: new Map(), tags: new Map() };
  const put = (name: string, sha: string) => {
    if (!SHA.test(sha) || !isRefName(name)) return;
    if (name.startsWith('refs/heads/')) { if (!refs.heads.has(name.slice(11))) refs.heads.set(name.slice(11), sha); } else if (name.startsWith('refs/tags/')) { if (!refs.tags.has(name.slice(10))) refs.tags.set(name.slice(10), sha); }
  };
  // Loose refs first, then packed ones, as git reads them: a ref packed meanwhile (pack-refs --prune)
  // is found in one place or the other; a loose ref wins over its packed copy.
  for (const kind of ['heads', 'tags']) {
    const root = path.join(gitDir, 'refs', kind);
    let names: string[] = [];
    try { names = readdirSync(root, { recursive: true }) as string[]; } catch { continue; }
    for (const rel of names) {
      const file = path.join(root, rel);
      // Gone since it was listed (a branch deleted, a ref packed), or a dangling link: no ref of its own.
      if (!statSync(file, { throwIfNoEntry: false })?.isFile()) continue;
      let text: string;
      try { text = readFileSync(file, 'utf8'); } catch { continue; }
      // A symbolic ref ("ref: ...") is no commit of its own.
      put(`refs/${kind}/${rel.split(path.sep).join('/')}`, text.trim());
    }
  }
  try {
    for (const line of readFileSync(path.join(gitDir, 'packed-refs'), 'utf8').split('\n')) {
      if (line === '' || line.startsWith('#') || line.startsWith('^')) continue;
      const [sha, name] = line.split(' ');
      if (sha && name) put(name, sha);
    }
  } catch { /* no packed refs */ }
  let headFile = '';
  try { headFile = readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim(); } catch { return undefined; }
  const head = /^ref: refs\/heads\/(.+)$/.exec(headFile)?.[1];
  if (head !== undefined && refs.heads.has(head)) refs.head = head;
  return refs;
}

/** The .git `git clone --shared --no-checkout repo dir` leaves, but for HEAD. */
function borrow(repo: string, refs: PlainRefs, dir: string, core: string[]): void {
  const git = path.join(dir, '.git');
  for (const d of ['objects/info', 'objects/pack', 'refs/heads', 'refs/tags', 'refs/remotes/origin', 'info']) mkdirSync(path.join(git, d), { recursive: true });
  writeFileSync(path.join(git, 'objects', 'info', 'alternates'), `${path.resolve(repo, '.git', 'objects')}\n`);
  const { head } = refs;
  const entries: Array<[string, string]> = [
    ...(head !== undefined ? [[`refs/heads/${head}`, refs.heads.get(head)!] as [string, string]] : []),
    ...[...refs.heads].map(([name, sha]): [string, string] => [`refs/remotes/origin/${name}`, sha]),
    ...[...refs.tags].map(([name, sha]): [string, string] => [`refs/tags/${name}`, sha]),
  ];
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  writeFileSync(path.join(git, 'packed-refs'), entries.map(([name, sha]) => `${sha} ${name}\n`).join(''));
  if (head !== undefined) writeFileSync(path.join(git, 'refs', 'remotes', 'origin', 'HEAD'), `ref: refs/remotes/origin/${head}\n`);
  const branch = head !== undefined ? `[branch ${quoted(head)}]\n\tremote = origin\n\tmerge = ${quoted(`refs/heads/${head}`)}\n` : '';
  writeFileSync(path.join(git, 'config'), `[core]\n\trepositoryformatversion = 0\n${core.map((l) => `\t${l}\n`).join('')}\tbare = false\n\tlogallrefupdates = true\n[remote "origin"]\n\turl = ${quoted(path.resolve(repo))}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n${branch}`);
}

/** A git config string value or subsection name, quoted. */
function quoted(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function coreSettings(config: string): string[] {
  const out: string[] = [];
  let inCore = false;
  for (const raw of config.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) inCore = /^\[\s*core\s*\]$/i.test(line);
    else if (inCore && /^(filemode|ignorecase|symlinks|precomposeunicode)\s*=\s*(true|false)$/i.test(line)) out.push(line.replace(/\s*=\s*/, ' = '));
  }
  return out;
}

/**
 * A name git accepts for a ref (git check-ref-format's rules): a lock file of a ref being written
 * (`main.lock`), or a file named as no ref can be, is not a ref.
 */
export function isRefName(name: string): boolean {
  if (name.endsWith('.lock') || name.endsWith('/') || name.endsWith('.') || name.includes('..') || name.includes('@{') || name.includes('//')) return false;
  // Control characters, space, ~ ^ : ? * [ and backslash.
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false;
  return name.split('/').every((c) => c !== '' && !c.startsWith('.') && !c.endsWith('.lock'));
}

/**
 * What git finds out about the file system a checkout goes to (file modes, case, symbolic links),
 * as the clone does when it makes its .git: one `git init` per folder of checkouts, kept.
 */
const probed = new Map<string, Promise<string[]>>();

function fileSystemSettings(run: Run, root: string): Promise<string[]> {
  let settings = probed.get(root);
  if (settings === undefined) {
    settings = (async () => {
      const probe = mkdtempSync(path.join(root, '.probe-'));
      try {
        const r = await run('git', ['init', '-q', probe]);
        if (r.status !== 0) return ['filemode = true'];
        return coreSettings(readFileSync(path.join(probe, '.git', 'config'), 'utf8'));
      } finally {
        rmSync(probe, { recursive: true, force: true });
      }
    })();
    probed.set(root, settings);
  }
  return settings;
}
