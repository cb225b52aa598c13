/**
 * Who the console calls the API as.
 * - Local mode: the token of this start of `npm start`. The URL it prints carries it once,
 *   in the fragment (never sent to a server, never in a Referer); the page keeps it in
 *   sessionStorage (this tab only) and removes it from the address bar.
 * - AWS: a person signs in with the user pool's managed login (authorization code + PKCE);
 *   the access token goes to the API, whose JWT authorizer checks it.
 */
import { authorizeUrl, base64url, expiresSoon, jwtClaims, tokenRequestBody, type CognitoConfig } from './logic/cognito.ts';

export type AuthConfig = { kind: 'local-token' } | ({ kind: 'cognito' } & Omit<CognitoConfig, 'redirectUri'>);
export interface ConsoleConfig { apiBase: string; auth: AuthConfig }

const TOKEN = 'slipway.token';
const COGNITO = 'slipway.cognito';
const PKCE = 'slipway.pkce';

export interface Auth {
  /** The credential for the next request; undefined when signed out. */
  credential(): Promise<string | undefined>;
  who(): string | undefined;
  signIn(): Promise<void>;
  signOut(): void;
  /** Words for a signed-out page. */
  signedOutHelp: string;
}

export async function createAuth(config: AuthConfig): Promise<Auth> {
  if (config.kind === 'local-token') {
    const m = /^#token=([A-Za-z0-9_-]{16,200})/.exec(location.hash);
    if (m) {
      sessionStorage.setItem(TOKEN, m[1]);
      history.replaceState(null, '', `${location.pathname}${location.search}#/`);
    }
    return {
      credential: async () => sessionStorage.getItem(TOKEN) ?? undefined,
      who: () => (sessionStorage.getItem(TOKEN) ? 'local developer' : undefined),
      signIn: async () => undefined,
      signOut: () => sessionStorage.removeItem(TOKEN),
      signedOutHelp: 'This console needs the local API token of this start of the local mode: open the console URL that `npm start` printed (it carries the token once; it is also `consoleUrl` in .slipway/dev.json).',
    };
  }
  const c: CognitoConfig = { ...config, redirectUri: `${location.origin}${location.pathname}` };
  type Tokens = { access: string; refresh?: string };
  const load = (): Tokens | undefined => { try { return JSON.parse(sessionStorage.getItem(COGNITO) ?? 'null') ?? undefined; } catch { return undefined; } };
  const save = (t: Tokens | undefined) => (t ? sessionStorage.setItem(COGNITO, JSON.stringify(t)) : sessionStorage.removeItem(COGNITO));
  const exchange = async (body: string): Promise<Tokens | undefined> => {
    const res = await fetch(`${c.domain}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body, credentials: 'omit' });
    if (!res.ok) return undefined;
    const out = (await res.json()) as { access_token: string; refresh_token?: string };
    return { access: out.access_token, refresh: out.refresh_token };
  };
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  if (code) {
    const pending = JSON.parse(sessionStorage.getItem(PKCE) ?? 'null') as { state: string; verifier: string } | null;
    sessionStorage.removeItem(PKCE);
    history.replaceState(null, '', `${location.pathname}#/`);
    // The state ties the answer to the sign-in this tab started (no login CSRF).
    if (pending && params.get('state') === pending.state) save(await exchange(tokenRequestBody(c, { code, verifier: pending.verifier })));
  }
  return {
    async credential() {
      let t = load();
      if (t && expiresSoon(t.access, Date.now())) {
        t = t.refresh ? await exchange(tokenRequestBody(c, { refreshToken: t.refresh })).then((n) => n && { ...n, refresh: n.refresh ?? t!.refresh }) : undefined;
        save(t);
      }
      return t?.access;
    },
    who() {
      const t = load();
      const claims = t ? jwtClaims(t.access) : undefined;
      return typeof claims?.username === 'string' ? claims.username : undefined;
    },
    async signIn() {
      const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
      const challenge = base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
      const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
      sessionStorage.setItem(PKCE, JSON.stringify({ state, verifier }));
      location.assign(authorizeUrl(c, challenge, state));
    },
    signOut() {
      save(undefined);
      location.assign(`${c.domain}/logout?${new URLSearchParams({ client_id: c.clientId, logout_uri: c.redirectUri })}`);
    },
    signedOutHelp: 'Sign in to see pipelines, runs and releases.',
  };
}
