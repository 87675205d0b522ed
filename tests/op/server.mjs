// A real, certified OpenID Provider (panva's oidc-provider) for the end-to-end tests.
//
// Configured from environment variables by tests/op_server.py; binds to 127.0.0.1 only.
//   OP_PORT        port to listen on
//   OP_ISSUER      issuer URL (http://localhost:PORT)
//   OP_CLIENTS     JSON array of client metadata
//   OP_JWKS_FILE   optional JSON file with private signing keys ({"keys": [...]}); generated if absent
//   OP_ALLOW_LOOPBACK_FETCH=1  let back-channel logout reach relying parties on 127.0.0.1
//                  (oidc-provider refuses special-use addresses by default, an SSRF guard)
//   OP_REFRESH=1   issue a refresh token to every client allowed the refresh_token grant, as
//                  Keycloak or Cognito do (by default oidc-provider issues one only for the
//                  offline_access scope, which it keeps only with prompt=consent)
//   OP_ROTATE=1    rotate refresh tokens on every use (a reused one is refused, and its
//                  grant revoked)
//   OP_ACCESS_TOKEN_TTL  access token lifetime in seconds (default 3600)
//   OP_API_RESOURCE  the resource indicator (RFC 8707) of a test API: access tokens for it
//                  are JWTs (RFC 9068, typ at+jwt) with scopes api:read / api:write; the same
//                  URL with "opaque/" appended names a second API whose tokens are opaque
//                  (checked by introspection). Also enables the client credentials grant.
//
// GET /test/counters answers {"refresh": n}: how many refresh token grants were asked for.
//
// The interactions are oidc-provider's development ones: any login name signs in as that
// account (the password field is not checked), and consent is a single button.
//
// Front-channel logout (OpenID Connect Front-Channel Logout 1.0) was removed from
// oidc-provider in v8 (this is v9), so it is emulated below the way oidc-provider v7 did it:
// clients may register `frontchannel_logout_uri` and `frontchannel_logout_session_required`;
// when the provider's session ends (POST /session/end/confirm), instead of redirecting at once
// the provider answers with a page on its own origin that loads each such client's URI, with
// `iss` and that client's `sid`, in a hidden iframe, then continues to the redirect.
import { readFileSync } from 'node:fs';
import { generateKeyPair, exportJWK } from 'jose';
import Provider, { errors } from 'oidc-provider';

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
  extraClientMetadata: {
    properties: ['frontchannel_logout_uri', 'frontchannel_logout_session_required'],
    validator(ctx, key, value) {
      if (key === 'frontchannel_logout_uri' && value !== undefined) {
        const { protocol } = new URL(value); // throws for a non-URL
        if (!['http:', 'https:'].includes(protocol)) throw new TypeError(`${key} must be http(s)`);
      }
    },
  },
  discovery: {
    claim_types_supported: ['normal'],
    frontchannel_logout_supported: true,
    frontchannel_logout_session_supported: true,
  },
  pkce: { required: () => true },
  ttl: {
    AccessToken: Number(process.env.OP_ACCESS_TOKEN_TTL || 3600),
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

if (process.env.OP_API_RESOURCE) {
  const jwtApi = process.env.OP_API_RESOURCE;
  const opaqueApi = `${jwtApi}opaque/`;
  configuration.features.clientCredentials = { enabled: true };
  configuration.features.resourceIndicators = {
    enabled: true,
    defaultResource: async (ctx, client, oneOf) => oneOf,
    useGrantedResource: async () => true,
    getResourceServerInfo: async (ctx, resourceIndicator) => {
      if (resourceIndicator !== jwtApi && resourceIndicator !== opaqueApi) {
        throw new errors.InvalidTarget();
      }
      return {
        scope: 'api:read api:write',
        audience: resourceIndicator,
        accessTokenTTL: Number(process.env.OP_ACCESS_TOKEN_TTL || 3600),
        accessTokenFormat: resourceIndicator === jwtApi ? 'jwt' : 'opaque',
        jwt: { sign: { alg: 'RS256' } },
      };
    },
  };
  configuration.scopes = ['openid', 'offline_access', 'api:read', 'api:write'];
}

if (process.env.OP_REFRESH === '1') {
  configuration.issueRefreshToken = async (ctx, client) => client.grantTypeAllowed('refresh_token');
}
if (process.env.OP_ROTATE === '1') {
  configuration.rotateRefreshToken = () => true;
}

const provider = new Provider(issuer, configuration);
provider.on('server_error', (ctx, err) => console.error('server_error', err));

const counters = { refresh: 0 };
const countGrant = (ctx) => {
  if (ctx.oidc && ctx.oidc.params && ctx.oidc.params.grant_type === 'refresh_token') {
    counters.refresh += 1;
  }
};
provider.on('grant.success', countGrant);
provider.on('grant.error', countGrant);
provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/test/counters') {
    ctx.body = counters;
    return;
  }
  await next();
});

// --- Front-channel logout emulation (see the header) ---

// ID tokens carry `sid` for front-channel clients that require it, as for back-channel ones.
const includeSid = provider.Client.prototype.includeSid;
provider.Client.prototype.includeSid = function includeSidWithFrontchannel() {
  return includeSid.call(this)
    || Boolean(this.frontchannel_logout_uri && this.frontchannel_logout_session_required);
};

const escapeHtml = (value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function frontchannelLogoutPage(frames, redirectTo) {
  // As oidc-provider v7's default frontchannelLogoutPendingSource: hidden iframes, then the
  // redirect once all of them have loaded (or after 2.5 s).
  const target = JSON.stringify(redirectTo).replace(/</g, '\\u003c');
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Signing out</title>
<style>iframe{visibility:hidden;position:absolute;left:0;top:0;height:0;width:0;border:none}</style>
</head><body>
<p id="op-frontchannel">Signing you out of ${frames.length} application(s)…</p>
${frames.map((uri) => `<iframe class="op-frontchannel-frame" src="${escapeHtml(uri)}"></iframe>`).join('\n')}
<script>
  var loaded = 0;
  function redirect() { window.location.replace(${target}); }
  Array.prototype.slice.call(document.querySelectorAll('iframe')).forEach(function (frame) {
    frame.onload = function () { loaded += 1; if (loaded === ${frames.length}) redirect(); };
  });
  setTimeout(redirect, 2500);
</script>
<noscript><a href="${escapeHtml(redirectTo)}">Continue</a></noscript>
</body></html>`;
}

provider.use(async (ctx, next) => {
  const confirming = ctx.method === 'POST' && ctx.path === '/session/end/confirm';
  if (!confirming) {
    await next();
    return;
  }
  // The session about to end, read before oidc-provider destroys it (or drops the client).
  const session = await provider.Session.get(ctx);
  const authorizations = structuredClone(session.authorizations || {});
  const requestingClient = session.state ? session.state.clientId : undefined;
  await next();
  if (ctx.status !== 303 || !ctx.oidc) return; // the logout did not happen
  const everyClient = Boolean(ctx.oidc.params && ctx.oidc.params.logout);
  const frames = [];
  for (const [clientId, { sid }] of Object.entries(authorizations)) {
    if (!everyClient && clientId !== requestingClient) continue;
    const client = await provider.Client.find(clientId);
    if (!client || !client.frontchannel_logout_uri) continue;
    const uri = new URL(client.frontchannel_logout_uri);
    if (sid) {
      // OpenID Connect Front-Channel Logout 1.0 §2: iss and sid as query parameters (always
      // added, as v7 did; required when frontchannel_logout_session_required is true).
      uri.searchParams.set('iss', issuer);
      uri.searchParams.set('sid', sid);
    }
    frames.push(uri.href);
  }
  if (!frames.length) return;
  const redirectTo = ctx.response.get('Location');
  ctx.remove('Location');
  ctx.status = 200;
  ctx.type = 'html';
  ctx.body = frontchannelLogoutPage(frames, redirectTo);
});
provider.listen(port, '127.0.0.1', () => {
  console.log(`op listening on ${issuer}`);
});
