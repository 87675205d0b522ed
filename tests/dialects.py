"""Vendor dialects for the end-to-end profile tests (:mod:`tests.dialect_proxy`): each
vendor's issuer path, endpoint paths and the endpoints it publishes, as its documentation
(``notes/vendor-research/``) describes them, mapped onto oidc-provider's own endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: The issuer's host name.
ISSUER_HOST = "127.0.0.1"
#: A second host name for the same proxy: a vendor's other domain (hosted UI, Google APIs).
OTHER_HOST = "localhost"

#: oidc-provider's endpoints (discovery key → path): what the vendor paths are forwarded to.
UPSTREAM = {
    "authorization_endpoint": "/auth",
    "token_endpoint": "/token",
    "jwks_uri": "/jwks",
    "userinfo_endpoint": "/me",
    "end_session_endpoint": "/session/end",
    "revocation_endpoint": "/token/revocation",
}
#: oidc-provider's own endpoint paths, refused unless the dialect routes a request there.
UPSTREAM_ONLY = frozenset({*UPSTREAM.values(), "/.well-known/openid-configuration",
                           "/token/introspection", "/request", "/reg"})
#: Headers not forwarded in either direction (hop-by-hop, or recomputed here).
SKIPPED_HEADERS = frozenset({"host", "connection", "keep-alive", "transfer-encoding",
                             "content-length", "accept-encoding", "proxy-connection", "te",
                             "upgrade", "server", "date"})


@dataclass(frozen=True)
class Endpoint:
    """One vendor path and the oidc-provider endpoint it forwards to."""

    #: Discovery key (``authorization_endpoint``…), also naming the upstream endpoint.
    key: str
    path: str
    host: str = ISSUER_HOST
    #: Listed in the dialect's discovery document (``False``: the path works, unpublished).
    published: bool = True
    #: Vendor parameter name → oidc-provider's (applied after recording).
    rename: Mapping[str, str] = field(default_factory=dict)
    #: Add the client's ``client_id`` when absent (applied after recording).
    add_client_id: bool = False

    @property
    def upstream(self) -> str:
        return UPSTREAM[self.key]


@dataclass(frozen=True)
class Dialect:
    """How one vendor spells its provider: issuer path, endpoint paths, parameter names."""

    name: str
    #: Path of the issuer on :data:`ISSUER_HOST` ("" for a bare origin, "/" for Auth0's).
    issuer_path: str
    endpoints: tuple[Endpoint, ...]
    #: Extra oidc-provider environment (``OP_REFRESH=1`` for vendors that always issue
    #: refresh tokens).
    env: Mapping[str, str] = field(default_factory=dict)

    def endpoint(self, key: str) -> Endpoint:
        return next(e for e in self.endpoints if e.key == key)

    def has(self, key: str) -> bool:
        return any(e.key == key for e in self.endpoints)


def _standard(paths: Mapping[str, str]) -> tuple[Endpoint, ...]:
    return tuple(Endpoint(key, path) for key, path in paths.items())


KEYCLOAK_REALM = "/realms/demo"
_KC = KEYCLOAK_REALM + "/protocol/openid-connect"
ENTRA_TENANT = "/5f0c9d8e-3b1a-4c2d-9e8f-7a6b5c4d3e2f"
OKTA_AS = "/oauth2/default"
COGNITO_POOL = "/us-east-1_Demo0Pool"
AUTHENTIK_APP = "/application/o/demo/"

DIALECTS: dict[str, Dialect] = {d.name: d for d in (
    # oidc-provider's own paths, for the proxy's own test and the generic profile.
    Dialect("generic", "", _standard(dict(UPSTREAM))),
    Dialect("keycloak", KEYCLOAK_REALM, _standard({
        "authorization_endpoint": f"{_KC}/auth",
        "token_endpoint": f"{_KC}/token",
        "jwks_uri": f"{_KC}/certs",
        "userinfo_endpoint": f"{_KC}/userinfo",
        "end_session_endpoint": f"{_KC}/logout",
        "revocation_endpoint": f"{_KC}/revoke",
    }), env={"OP_REFRESH": "1"}),  # Keycloak issues a refresh token with every sign-in
    Dialect("entra", f"{ENTRA_TENANT}/v2.0", (
        Endpoint("authorization_endpoint", f"{ENTRA_TENANT}/oauth2/v2.0/authorize"),
        Endpoint("token_endpoint", f"{ENTRA_TENANT}/oauth2/v2.0/token"),
        Endpoint("jwks_uri", f"{ENTRA_TENANT}/discovery/v2.0/keys"),
        Endpoint("userinfo_endpoint", "/oidc/userinfo", host=OTHER_HOST),  # graph.microsoft.com
        # No client_id nor id_token_hint from the site (Entra knows the return URL from the
        # app registration); oidc-provider needs one of them to honour the return URL.
        Endpoint("end_session_endpoint", f"{ENTRA_TENANT}/oauth2/v2.0/logout",
                 add_client_id=True),
        # No RFC 7009 revocation endpoint at all.
    )),
    Dialect("auth0", "/", _standard({
        "authorization_endpoint": "/authorize",
        "token_endpoint": "/oauth/token",
        "jwks_uri": "/.well-known/jwks.json",
        "userinfo_endpoint": "/userinfo",
        "end_session_endpoint": "/oidc/logout",
        "revocation_endpoint": "/oauth/revoke",
    })),
    # A tenant from before 2023-11-14: no end_session_endpoint in discovery, only the legacy
    # /v2/logout (returnTo, client_id); /oauth/revoke exists but is not published either.
    Dialect("auth0-legacy", "/", (
        Endpoint("authorization_endpoint", "/authorize"),
        Endpoint("token_endpoint", "/oauth/token"),
        Endpoint("jwks_uri", "/.well-known/jwks.json"),
        Endpoint("userinfo_endpoint", "/userinfo"),
        Endpoint("end_session_endpoint", "/v2/logout", published=False,
                 rename={"returnTo": "post_logout_redirect_uri"}),
        Endpoint("revocation_endpoint", "/oauth/revoke", published=False),
    )),
    Dialect("okta", OKTA_AS, _standard({
        "authorization_endpoint": f"{OKTA_AS}/v1/authorize",
        "token_endpoint": f"{OKTA_AS}/v1/token",
        "jwks_uri": f"{OKTA_AS}/v1/keys",
        "userinfo_endpoint": f"{OKTA_AS}/v1/userinfo",
        "end_session_endpoint": f"{OKTA_AS}/v1/logout",
        "revocation_endpoint": f"{OKTA_AS}/v1/revoke",
    })),
    # Issuer, discovery and keys on cognito-idp.<region>.amazonaws.com; everything the browser
    # and the token requests touch on the pool's hosted-UI domain. Logout there (GET, client_id
    # + logout_uri), unpublished, as is revocation (older discovery documents).
    Dialect("cognito", COGNITO_POOL, (
        Endpoint("authorization_endpoint", "/oauth2/authorize", host=OTHER_HOST),
        Endpoint("token_endpoint", "/oauth2/token", host=OTHER_HOST),
        Endpoint("jwks_uri", f"{COGNITO_POOL}/.well-known/jwks.json"),
        Endpoint("userinfo_endpoint", "/oauth2/userInfo", host=OTHER_HOST),
        Endpoint("end_session_endpoint", "/logout", host=OTHER_HOST, published=False,
                 rename={"logout_uri": "post_logout_redirect_uri"}),
        Endpoint("revocation_endpoint", "/oauth2/revoke", host=OTHER_HOST, published=False),
    ), env={"OP_REFRESH": "1"}),  # Cognito issues a refresh token with every code flow
    # Google: accounts.google.com for the issuer and the authorization endpoint, the rest on
    # googleapis.com hosts; no end-session endpoint.
    Dialect("google", "", (
        Endpoint("authorization_endpoint", "/o/oauth2/v2/auth"),
        Endpoint("token_endpoint", "/token", host=OTHER_HOST),
        Endpoint("jwks_uri", "/oauth2/v3/certs", host=OTHER_HOST),
        Endpoint("userinfo_endpoint", "/v1/userinfo", host=OTHER_HOST),
        Endpoint("revocation_endpoint", "/revoke", host=OTHER_HOST),
    )),
    Dialect("zitadel", "", _standard({
        "authorization_endpoint": "/oauth/v2/authorize",
        "token_endpoint": "/oauth/v2/token",
        "jwks_uri": "/oauth/v2/keys",
        "userinfo_endpoint": "/oidc/v1/userinfo",
        "end_session_endpoint": "/oidc/v1/end_session",
        "revocation_endpoint": "/oauth/v2/revoke",
    })),
    Dialect("authentik", AUTHENTIK_APP, _standard({
        "authorization_endpoint": "/application/o/authorize/",
        "token_endpoint": "/application/o/token/",
        "jwks_uri": f"{AUTHENTIK_APP}jwks/",
        "userinfo_endpoint": "/application/o/userinfo/",
        "end_session_endpoint": f"{AUTHENTIK_APP}end-session/",
        "revocation_endpoint": "/application/o/revoke/",
    })),
)}
