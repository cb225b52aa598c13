/**
 * The local mode's RepositoryHeads: the repository on disk stands in for the git host's
 * API (`git for-each-ref`, committer dates included), so nothing is rate-limited and no
 * conditional requests are needed. A repository that is not there has no heads.
 */
import { existsSync } from 'node:fs';
import type { RefHead } from '../domain/recovery.ts';
import type { HeadsAnswer, HeadsQuery, RepositoryHeads } from '../ports/git-hosts.ts';
import { git } from './local-adapters.ts';

export class LocalRepositoryHeads implements RepositoryHeads {
  constructor(private readonly repositoryPath: (repository: string) => string) {}

  async heads(q: HeadsQuery): Promise<HeadsAnswer> {
    const dir = this.repositoryPath(q.repository);
    if (!existsSync(dir)) return { heads: [], requests: 0, notModified: 0 };
    const patterns = [...(q.branches ? ['refs/heads'] : []), ...(q.tags ? ['refs/tags'] : [])];
    // %(*objectname) is an annotated tag's commit; a lightweight tag's is %(objectname).
    const r = await git(dir, ['for-each-ref', '--format=%(refname)%00%(objectname)%00%(*objectname)%00%(committerdate:iso-strict)%00%(*committerdate:iso-strict)', ...patterns]);
    if (r.status !== 0) return { heads: [], requests: 0, notModified: 0 };
    const heads: RefHead[] = [];
    for (const line of r.stdout.split('\n')) {
      if (!line) continue;
      const [ref, object, peeled, date, peeledDate] = line.split('\0');
      const commit = peeled || object;
      const committedAt = peeledDate || date;
      heads.push({ ref, commit, ...(committedAt ? { committedAt: new Date(committedAt).toISOString() } : {}) });
    }
    return { heads, requests: 0, notModified: 0 };
  }
}
