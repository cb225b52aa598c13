import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';

/** A SAML identity provider people sign in with instead of a pool password (e.g. IAM Identity Center's SAML application). */
export interface ConsoleSamlProvider {
  /** Name shown on the sign-in page and sent as `identity_provider` by the console. */
  readonly name: string;
  /** URL of the provider's SAML metadata (IAM Identity Center: the application's "IAM Identity Center SAML metadata file" URL). */
  readonly metadataUrl: string;
}

export interface ConsoleSignInProps {
  /** The console's address (https://...), where the managed login sends a person back. */
  readonly consoleUrl: string;
  /**
   * Prefix of the managed login domain, `https://<prefix>.auth.<region>.amazoncognito.com`; unique per region.
   * @default `slipway-<account id>`
   */
  readonly domainPrefix?: string;
  /**
   * Sign in through this SAML provider (IAM Identity Center, Okta, Entra ID, ...); pool users with a
   * password stay possible for administrators who create them.
   * @default none: people are users of the pool, created by an administrator
   */
  readonly samlProvider?: ConsoleSamlProvider;
  /**
   * Multi-factor authentication for people who sign in with a pool password (a federated person's
   * provider does its own).
   * @default cognito.Mfa.REQUIRED (TOTP)
   */
  readonly mfa?: cognito.Mfa;
  /** @default RemovalPolicy.RETAIN: people and their MFA devices survive a stack deletion */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Sign-in for people: a Cognito user pool (no self sign-up: an administrator creates users, or
 * they come from a federated provider), a public app client for the console (authorization
 * code with PKCE, no secret in a page), the managed login domain, and the HTTP API authorizer
 * that accepts the client's access tokens. Billed per monthly active user, nothing while idle
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/tracking-cost.html).
 */
export class ConsoleSignIn extends Construct {
  readonly userPool: cognito.UserPool;
  readonly client: cognito.UserPoolClient;
  readonly domain: cognito.UserPoolDomain;
  /** The JWT authorizer of the console's API routes (checks issuer, signature and the client id). */
  readonly authorizer: HttpUserPoolAuthorizer;
  /** `https://<prefix>.auth.<region>.amazoncognito.com` */
  readonly domainUrl: string;
  readonly identityProvider?: string;

  constructor(scope: Construct, id: string, props: ConsoleSignInProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.userPool = new cognito.UserPool(this, 'People', {
      featurePlan: cognito.FeaturePlan.ESSENTIALS,
      selfSignUpEnabled: false,
      signInAliases: { username: true, email: true },
      signInCaseSensitive: false,
      passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true, tempPasswordValidity: Duration.days(3) },
      mfa: props.mfa ?? cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    const plusReason = 'Threat protection (advanced security) needs the Plus feature plan, billed per active user with no free tier; sign-in is limited to users an administrator created (no self sign-up) with MFA, or a federated provider.';
    NagSuppressions.addResourceSuppressions(this.userPool, [{ id: 'AwsSolutions-COG3', reason: plusReason }, { id: 'AwsSolutions-COG8', reason: plusReason }]);
    const providers = [cognito.UserPoolClientIdentityProvider.COGNITO];
    let saml: cognito.UserPoolIdentityProviderSaml | undefined;
    if (props.samlProvider) {
      saml = new cognito.UserPoolIdentityProviderSaml(this, 'Saml', {
        userPool: this.userPool,
        name: props.samlProvider.name,
        metadata: cognito.UserPoolIdentityProviderSamlMetadata.url(props.samlProvider.metadataUrl),
        attributeMapping: { email: cognito.ProviderAttribute.other('http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress') },
      });
      providers.push(cognito.UserPoolClientIdentityProvider.custom(props.samlProvider.name));
      this.identityProvider = props.samlProvider.name;
    }
    this.client = this.userPool.addClient('Console', {
      generateSecret: false,
      // Only the managed login's OAuth flow: no password ever reaches the console's page.
      authFlows: {},
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callbackUrls: [props.consoleUrl],
        logoutUrls: [props.consoleUrl],
      },
      supportedIdentityProviders: providers,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.hours(12),
    });
    if (saml) this.client.node.addDependency(saml);
    // No InitiateAuth flow (password, SRP, custom) for this client: people sign in through the
    // managed login only; left unset, Cognito would allow SRP and custom auth as well.
    (this.client.node.defaultChild as cognito.CfnUserPoolClient).explicitAuthFlows = ['ALLOW_REFRESH_TOKEN_AUTH'];
    this.domain = this.userPool.addDomain('Login', { cognitoDomain: { domainPrefix: props.domainPrefix ?? `slipway-${stack.account}` } });
    this.domainUrl = this.domain.baseUrl();
    this.authorizer = new HttpUserPoolAuthorizer('Console', this.userPool, { userPoolClients: [this.client] });
  }
}
