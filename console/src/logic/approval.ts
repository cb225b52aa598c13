/**
 * Who may answer an approval job, in words, from the pinned pipeline version the run
 * uses (GET /pipelines/{id}?version=N). Pure. The API decides (403 names the approvers);
 * this only tells a person before they press the button.
 */
export const FORK_APPROVAL_JOB = 'fork-approval';

interface SpecLike {
  jobs: Record<string, { approval?: { approvers?: string[] } }>;
  pullRequests?: { approvers?: string[] };
}

export function whoMayApprove(spec: SpecLike | undefined, definitionSource: { kind: string } | undefined, job: string, local: boolean): string {
  if (local) return 'you: the local mode\'s developer answers every approval';
  if (!spec) return 'unknown (the pipeline version could not be read)';
  if (definitionSource?.kind === 'repository' && !(job === FORK_APPROVAL_JOB && spec.pullRequests?.approvers?.length)) {
    return 'the approvers named in the repository\'s pipeline file at this run\'s commit';
  }
  const list = job === FORK_APPROVAL_JOB && !Object.hasOwn(spec.jobs, job) ? spec.pullRequests?.approvers : spec.jobs[job]?.approval?.approvers;
  if (!list || list.length === 0) return 'anyone allowed to call the API';
  return list.map(describePrincipal).join(', ');
}

/** `arn:aws:iam::1:user/alice` -> `IAM user alice (1)`; `cognito:pool:group/Releasers` -> `group Releasers`. */
export function describePrincipal(p: string): string {
  const cognito = /^cognito:([^:]+):(user|group)\/(.+)$/.exec(p);
  if (cognito) return `${cognito[2] === 'user' ? 'console user' : 'console group'} ${cognito[3]}`;
  const user = /^arn:[^:]+:iam::(\d{12}):user\/(?:.*\/)?([^/]+)$/.exec(p);
  if (user) return `IAM user ${user[2]} (${user[1]})`;
  const role = /^arn:[^:]+:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(p);
  if (role) return `anyone in role ${role[2]} (${role[1]})`;
  const sso = /^arn:[^:]+:sts::(\d{12}):assumed-role\/AWSReservedSSO_([^/]+?)_[0-9a-f]+\/(.+)$/.exec(p);
  if (sso) return `Identity Center user ${sso[3]} (${sso[2]})`;
  return p;
}
