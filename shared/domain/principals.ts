/**
 * Who may approve: principals AWS vouches for, never a name the caller picks. Pure.
 *
 * The API is behind IAM (SigV4); API Gateway hands the handler the caller's ARN
 * (`requestContext.authorizer.iam.userArn`), which AWS derived from the signing
 * credentials. An `approvers` entry is one of:
 *
 * - an IAM user: `arn:aws:iam::123456789012:user/alice` (or with a path,
 *   `user/ops/alice`). Matches that user's own requests.
 * - an IAM role: `arn:aws:iam::123456789012:role/Releasers` (path allowed). Matches
 *   every session of that role, `arn:aws:sts::123456789012:assumed-role/Releasers/<any>`:
 *   whoever may assume the role may approve; the session name is not looked at,
 *   because whoever calls `sts:AssumeRole` chooses it (`--role-session-name`).
 * - an IAM Identity Center user: the user's session of a permission set's role,
 *   `arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_<PermissionSet>_<id>/<user name>`.
 *   For these roles the session name is the user's Identity Center user name, set
 *   by Identity Center: the role's trust policy admits only Identity Center's SAML
 *   provider. Any other assumed-role ARN is refused as an approver, since its
 *   session name proves nothing.
 *
 * - a person signed in to the web console (an Amazon Cognito user pool the stack
 *   creates): `cognito:<userPoolId>:user/<username>`, or every member of a group of
 *   that pool, `cognito:<userPoolId>:group/<group>`. API Gateway's JWT authorizer
 *   checked the access token's signature, issuer (the pool) and client before the
 *   handler sees its claims; the username is the pool's immutable user name (for a
 *   federated person, `<provider>_<subject>`), never a display name the person edits.
 *   Usernames and group names are compared exactly.
 *
 * Role names are unique within an account whatever their path, and assumed-role
 * ARNs carry no path, so a role is compared by account and name.
 * (IAM identifiers: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html;
 * Identity Center roles: https://docs.aws.amazon.com/singlesignon/latest/userguide/using-service-linked-roles.html
 * and the permission-set roles it provisions as `AWSReservedSSO_*` under `/aws-reserved/sso.amazonaws.com/`.)
 */

const PARTITION = 'aws(?:-[a-z]+)*';
const ACCOUNT = '\\d{12}';
// IAM names: letters, digits and +=,.@_- ; paths are /segment/.../
const NAME = '[\\w+=,.@-]{1,128}';
const PATH = '(?:/[\\w+=,.@-]+)*';
const SESSION = '[\\w+=,.@-]{2,64}';

const USER_ARN = new RegExp(`^arn:${PARTITION}:iam::(${ACCOUNT}):user${PATH}/(${NAME})$`);
const ROLE_ARN = new RegExp(`^arn:${PARTITION}:iam::(${ACCOUNT}):role${PATH}/(${NAME})$`);
const ASSUMED_ROLE_ARN = new RegExp(`^arn:${PARTITION}:sts::(${ACCOUNT}):assumed-role/(${NAME})/(${SESSION})$`);
const IDENTITY_CENTER_ROLE = /^AWSReservedSSO_[\w+=,.@-]+$/;
// A user pool id is `<region>_<id>` (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UserPoolType.html);
// usernames and group names are up to 128 printable characters without whitespace.
const POOL = '[a-z]{2}(?:-[a-z]+)+-\\d_[0-9A-Za-z]{1,60}';
const COGNITO_NAME = '[^\\s\\x00-\\x1f]{1,128}';
const COGNITO_PRINCIPAL = new RegExp(`^cognito:(${POOL}):(user|group)/(${COGNITO_NAME})$`);

/** How a console user is named, in the run's `approvedBy` and in `approvers`. */
export function cognitoUserPrincipal(userPoolId: string, username: string): string {
  return `cognito:${userPoolId}:user/${username}`;
}

export type Approver =
  | { kind: 'user'; account: string; name: string }
  | { kind: 'role'; account: string; name: string }
  | { kind: 'identity-center-user'; account: string; role: string; userName: string }
  | { kind: 'cognito-user'; userPoolId: string; username: string }
  | { kind: 'cognito-group'; userPoolId: string; group: string };

export type ApproverParse = { ok: true; approver: Approver } | { ok: false; message: string };

/** Reads one `approvers` entry; the message says what to write instead. */
export function parseApprover(entry: string): ApproverParse {
  const cognito = COGNITO_PRINCIPAL.exec(entry);
  if (cognito) {
    return cognito[2] === 'user'
      ? { ok: true, approver: { kind: 'cognito-user', userPoolId: cognito[1], username: cognito[3] } }
      : { ok: true, approver: { kind: 'cognito-group', userPoolId: cognito[1], group: cognito[3] } };
  }
  const user = USER_ARN.exec(entry);
  if (user) return { ok: true, approver: { kind: 'user', account: user[1], name: user[2] } };
  const role = ROLE_ARN.exec(entry);
  if (role) return { ok: true, approver: { kind: 'role', account: role[1], name: role[2] } };
  const assumed = ASSUMED_ROLE_ARN.exec(entry);
  if (assumed) {
    if (IDENTITY_CENTER_ROLE.test(assumed[2])) {
      return { ok: true, approver: { kind: 'identity-center-user', account: assumed[1], role: assumed[2], userName: assumed[3] } };
    }
    return {
      ok: false,
      message:
        `"${entry}" names a role session, whose name the caller chooses; name the role instead ` +
        `(arn:aws:iam::${assumed[1]}:role/${assumed[2]}: any session of it may approve) or an IAM user`,
    };
  }
  return {
    ok: false,
    message:
      `"${entry}" is not a principal AWS vouches for; use an IAM user ARN (arn:aws:iam::123456789012:user/alice), ` +
      'a role ARN (arn:aws:iam::123456789012:role/Releasers) or an IAM Identity Center user ' +
      '(arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_<PermissionSet>_<id>/<user name>), ' +
      'or a person of the console\'s user pool (cognito:eu-west-1_AbC123:user/alice, cognito:eu-west-1_AbC123:group/Releasers)',
  };
}

/** The caller's principal as API Gateway's IAM authorizer (or, for a console user, its JWT authorizer) reports it. */
export type Caller =
  | { kind: 'user'; account: string; name: string }
  | { kind: 'assumed-role'; account: string; role: string; session: string }
  | { kind: 'cognito-user'; userPoolId: string; username: string };

const CALLER_USER = new RegExp(`^arn:${PARTITION}:iam::(${ACCOUNT}):user${PATH}/(${NAME})$`);

export function parseCaller(arn: string): Caller | undefined {
  const user = CALLER_USER.exec(arn);
  if (user) return { kind: 'user', account: user[1], name: user[2] };
  const assumed = ASSUMED_ROLE_ARN.exec(arn);
  if (assumed) return { kind: 'assumed-role', account: assumed[1], role: assumed[2], session: assumed[3] };
  const cognito = COGNITO_PRINCIPAL.exec(arn);
  if (cognito && cognito[2] === 'user') return { kind: 'cognito-user', userPoolId: cognito[1], username: cognito[3] };
  return undefined;
}

/**
 * Whether the caller (a full principal ARN) is one of the approvers. Entries that do
 * not parse never match (definitions are validated, so only an old record has them).
 * IAM user and role names are case-insensitive in AWS, and compared so here; an
 * Identity Center user name is compared exactly.
 */
export function isApprover(approvers: readonly string[], callerArn: string, callerGroups: readonly string[] = []): boolean {
  const caller = parseCaller(callerArn);
  if (caller === undefined) return false;
  return approvers.some((entry) => {
    const parsed = parseApprover(entry);
    if (!parsed.ok) return false;
    const a = parsed.approver;
    if (a.kind === 'cognito-user') return caller.kind === 'cognito-user' && caller.userPoolId === a.userPoolId && caller.username === a.username;
    // Groups come from the access token's `cognito:groups` claim, signed by the same pool.
    if (a.kind === 'cognito-group') return caller.kind === 'cognito-user' && caller.userPoolId === a.userPoolId && callerGroups.includes(a.group);
    if (caller.kind === 'cognito-user' || a.account !== caller.account) return false;
    switch (a.kind) {
      case 'user':
        return caller.kind === 'user' && caller.name.toLowerCase() === a.name.toLowerCase();
      case 'role':
        return caller.kind === 'assumed-role' && caller.role.toLowerCase() === a.name.toLowerCase();
      case 'identity-center-user':
        return caller.kind === 'assumed-role' && caller.role.toLowerCase() === a.role.toLowerCase() && caller.session === a.userName;
    }
  });
}
