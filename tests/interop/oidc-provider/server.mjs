// An OpenID Certified authorization server (panva's oidc-provider) on loopback, with
// Google's paths, for codeassist's interop suite. It prints `listening <base URL>` on
// stdout once it accepts connections, and stops when its stdin closes.
//
// Clients (all native, loopback redirect on any port, PKCE required, secrets sent in
// the body as at Google):
//   interop-client     refresh tokens issued and rotated on every refresh
//   deny-client        the consent screen refuses (access_denied)
//   no-refresh-client  no refresh token is ever issued
// Consent is given (or refused) without a person: the interaction routes finish at
// once. Introspection is on, for the suite to check which tokens are still live.
import Provider from 'oidc-provider';

const port = Number(process.env.PORT || 0);
const GOOGLE_SCOPES = [
  'https://www.googleapis.com/auth/cloud-platform',
  'https://www.googleapis.com/auth/userinfo.email',
];

function client(clientId, grantTypes) {
  return {
    client_id: clientId,
    client_secret: `${clientId}-secret-0123456789`,
    application_type: 'native',
    redirect_uris: ['http://127.0.0.1/oauth2callback'],
    grant_types: grantTypes,
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_post',
    introspection_endpoint_auth_method: 'client_secret_post',
    revocation_endpoint_auth_method: 'client_secret_post',
  };
}

async function start() {
  // Listen first, so the issuer names the real port.
  const { createServer } = await import('node:http');
  const server = createServer();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${server.address().port}`;

  const provider = new Provider(issuer, {
    clients: [
      client('interop-client', ['authorization_code', 'refresh_token']),
      client('deny-client', ['authorization_code', 'refresh_token']),
      client('no-refresh-client', ['authorization_code']),
    ],
    routes: {
      authorization: '/o/oauth2/v2/auth',
      token: '/token',
      revocation: '/revoke',
      userinfo: '/oauth2/v2/userinfo',
      introspection: '/introspect',
      jwks: '/certs',
    },
    scopes: ['openid', 'email', 'offline_access', ...GOOGLE_SCOPES],
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
    },
    pkce: { required: () => true },
    // Google's clients ask for access_type=offline instead of offline_access.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => true,
    ttl: { AccessToken: 3600, AuthorizationCode: 60, RefreshToken: 86400, Grant: 86400, Session: 86400, Interaction: 600 },
    findAccount: async (_ctx, sub) => ({
      accountId: sub,
      claims: async () => ({ sub, email: 'person@example.com', email_verified: true }),
    }),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  });

  provider.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/interaction/')) {
      return next();
    }
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { prompt, params, session } = details;
    if (params.client_id === 'deny-client') {
      return provider.interactionFinished(ctx.req, ctx.res, {
        error: 'access_denied',
        error_description: 'the person declined',
      }, { mergeWithLastSubmission: false });
    }
    if (prompt.name === 'login') {
      return provider.interactionFinished(ctx.req, ctx.res, {
        login: { accountId: 'person' },
      }, { mergeWithLastSubmission: false });
    }
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    grant.addOIDCScope(String(params.scope || ''));
    if (prompt.details.missingOIDCClaims) {
      grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    }
    const grantId = await grant.save();
    return provider.interactionFinished(ctx.req, ctx.res, {
      consent: { grantId },
    }, { mergeWithLastSubmission: true });
  });

  server.on('request', provider.callback());
  process.stdout.write(`listening ${issuer}\n`);
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}

start().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
