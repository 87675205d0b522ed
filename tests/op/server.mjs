// A real, certified OpenID Provider (panva's oidc-provider) for the end-to-end tests.
//
// Configured from environment variables by tests/op_server.py; binds to 127.0.0.1 only.
//   OP_PORT        port to listen on
//   OP_ISSUER      issuer URL (http://localhost:PORT)
//   OP_CLIENTS     JSON array of client metadata
//   OP_JWKS_FILE   optional JSON file with private signing keys ({"keys": [...]}); generated if absent
//   OP_ALLOW_LOOPBACK_FETCH=1  let back-channel logout reach relying parties on 127.0.0.1
//                  (oidc-provider refuses special-use addresses by default, an SSRF guard)
//
// The interactions are oidc-provider's development ones: any login name signs in as that
// account (the password field is not checked), and consent is a single button.
import { readFileSync } from 'node:fs';
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.OP_PORT);
const issuer = process.env.OP_ISSUER;
const clients = JSON.parse(process.env.OP_CLIENTS || '[]');

async function signingKeys() {
  if (process.env.OP_JWKS_FILE) {
    return JSON.parse(readFileSync(process.env.OP_JWKS_FILE, 'utf8'));
  }
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { keys: [{ ...jwk, kid: 'rsa-1', use: 'sig', alg: 'RS256' }] };
}

const configuration = {
  clients,
  jwks: await signingKeys(),
  cookies: { keys: ['test-only-cookie-key'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
  },
  // Put the scope's claims in the ID token too, as many providers do, so the relying party
  // can skip UserInfo; tests that want UserInfo turn USE_USERINFO on.
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@example.test`,
          email_verified: true,
          name: `${id} Example`,
          given_name: id,
          family_name: 'Example',
          preferred_username: id,
        };
      },
    };
  },
  features: {
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  pkce: { required: () => true },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
};

if (process.env.OP_ALLOW_LOOPBACK_FETCH === '1') {
  configuration.fetch = (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  };
}

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(port, '127.0.0.1', () => {
  console.log(`op listening on ${issuer}`);
});
