/** Small adapters the local mode uses where AWS has a service with no emulator here. */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { NotFoundError, ValidationError } from '../domain/errors.ts';
import type { SecretSource } from '../ports/index.ts';
import type { LogPage, LogReader } from '../ports/reads.ts';

/** Secrets Manager stand-in: a JSON file of name -> value in the local data folder (never printed). */
export class FileSecretSource implements SecretSource {
  constructor(private readonly file: string) {}
  private all(): Record<string, string> {
    return existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, string>) : {};
  }
  async get(name: string): Promise<string> {
    const v = this.all()[name];
    if (v === undefined) throw new NotFoundError(`secret ${name} is not in ${this.file}`);
    return v;
  }
  put(name: string, value: string): void {
    writeFileSync(this.file, JSON.stringify({ ...this.all(), [name]: value }, null, 2), { mode: 0o600 });
  }
}

/** CloudWatch Logs stand-in: the local build runner's log files; the cursor is a line number. */
export class FileLogReader implements LogReader {
  constructor(private readonly fileOf: (buildId: string) => string) {}
  async read(buildId: string, opts: { cursor?: string; limit?: number }): Promise<LogPage> {
    const file = this.fileOf(buildId);
    if (!existsSync(file)) return { events: [] };
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    const from = opts.cursor ? Number(opts.cursor) || 0 : 0;
    const slice = lines.slice(from, from + (opts.limit ?? 1000));
    return {
      events: slice.map((l) => ({ timestamp: l.slice(0, 24), message: l.slice(25) })),
      cursor: String(from + slice.length),
    };
  }
}

/**
 * `git -C dir ...`, without blocking: the local mode's engine, API and console share one event
 * loop, and a synchronous spawn holds all of them for as long as the fork takes (8 ms at the
 * local mode's usual 175 MB, more as it grows), plus git's own run.
 */
export function git(dir: string, args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('git', ['-C', dir, ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = (err as (Error & { code?: unknown }) | null)?.code;
      resolve({ status: err ? (typeof code === 'number' ? code : 128) : 0, stdout, stderr: stderr || (err && typeof code !== 'number' ? err.message : '') });
    });
  });
}

/**
 * Branches of the repositories on disk (the git host's API in AWS). A missing
 * repository and a missing branch are different problems with different fixes.
 */
export function localBranchResolver(repositoryPath: (repository: string) => string) {
  /** Only asked once git has refused: the common answer costs one git call. */
  const notARepository = async (repository: string, dir: string): Promise<ValidationError | undefined> => {
    if (existsSync(dir) && (await git(dir, ['rev-parse', '--git-dir'])).status === 0) return undefined;
    return new ValidationError('repository not found', [{
      path: 'repository',
      message: `${repository} has no git repository at ${dir}: the local mode builds from repositories on disk; create it there (git init, or git clone <url> ${dir}) or correct source.repository`,
    }]);
  };
  return {
    async resolveBranch(_provider: string, repository: string, branch: string): Promise<string> {
      const dir = repositoryPath(repository);
      const res = existsSync(dir) ? await git(dir, ['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`]) : undefined;
      if (res?.status === 0) return res.stdout.trim();
      const missing = await notARepository(repository, dir);
      if (missing) throw missing;
      const branches = (await git(dir, ['for-each-ref', '--format=%(refname:short)', 'refs/heads'])).stdout.trim().split('\n').filter(Boolean);
      throw new NotFoundError(`branch ${branch} does not exist in ${repository} (its branches: ${branches.join(', ') || 'none yet'})`);
    },
    /** What HEAD names in the repository on disk: its default branch. */
    async defaultBranch(_provider: string, repository: string): Promise<string> {
      const dir = repositoryPath(repository);
      const missing = await notARepository(repository, dir);
      if (missing) throw missing;
      const res = await git(dir, ['symbolic-ref', '--short', 'HEAD']);
      if (res.status !== 0) throw new ValidationError(`${repository} at ${dir} has a detached HEAD and so no default branch; give a branch or a commit`);
      return res.stdout.trim();
    },
  };
}
