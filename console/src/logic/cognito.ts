/**
 * Signing in to the console on AWS: the OAuth 2.0 authorization code flow with PKCE
 * against the user pool's managed login (no client secret in the page), and reading the
 * access token the API's JWT authorizer checks. Pure helpers; views/auth wires them.
 * https://docs.aws.amazon.com/cognito/latest/developerguide/authorization-endpoint.html
 * https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html
 */
export interface CognitoConfig {
  /** `https://<prefix>.auth.<region>.amazoncognito.com` */
  domain: string;
  clientId: string;
  /** Where managed login sends the person back (the console's own URL). */
  redirectUri: string;
  /** Identity provider to go to straight away (e.g. a SAML IdP for IAM Identity Center). */
  identityProvider?: string;
}

export function base64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function authorizeUrl(c: CognitoConfig, challenge: string, state: string): string {
  const q = new URLSearchParams({
    response_type: 'code', client_id: c.clientId, redirect_uri: c.redirectUri, scope: 'openid email profile',
    code_challenge_method: 'S256', code_challenge: challenge, state,
    ...(c.identityProvider ? { identity_provider: c.identityProvider } : {}),
  });
  return `${c.domain}/oauth2/authorize?${q}`;
}

export function tokenRequestBody(c: CognitoConfig, grant: { code: string; verifier: string } | { refreshToken: string }): string {
  const q = 'code' in grant
    ? new URLSearchParams({ grant_type: 'authorization_code', client_id: c.clientId, code: grant.code, redirect_uri: c.redirectUri, code_verifier: grant.verifier })
    : new URLSearchParams({ grant_type: 'refresh_token', client_id: c.clientId, refresh_token: grant.refreshToken });
  return q.toString();
}

/** The claims of a JWT, unverified (the API verifies; the page only shows who is signed in and when the token ends). */
export function jwtClaims(token: string): Record<string, unknown> | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const value = JSON.parse(decodeURIComponent(Array.from(json, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join('')));
    return value !== null && typeof value === 'object' ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a token expires within `marginMs` (then refresh it first). */
export function expiresSoon(token: string, now: number, marginMs = 60_000): boolean {
  const exp = jwtClaims(token)?.exp;
  return typeof exp !== 'number' || exp * 1000 - marginMs <= now;
}
