"""What ``idp_diagnose`` says about this site's side: the exact URIs to register at the
provider (from the URLconf and ``--base-url``), whether the provider offers the logout
channels, the end-session request this profile sends (tokens as placeholders) and the
revocation endpoint — and :func:`diagnose`, which runs every check for one provider.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.urls import NoReverseMatch, reverse

from .conf import IdPConfig, get_config, uses_provider_list, using_provider
from .diagnose import Finding, Report, probe_authorize, provider_checks
from .discovery import LOOPBACK_HOSTS
from .providers import BoundProvider, LogoutContext

PLACEHOLDER_BASE = "https://<your site>"
#: What the printed end-session request shows instead of the tokens it would carry.
PLACEHOLDERS = ("<id_token>", "<access_token>")


def site_uris(config: IdPConfig, base_url: str) -> dict[str, str]:
    """The URIs the provider must know, by what they are for."""
    base = base_url.rstrip("/")

    def url(name: str, **kwargs: str) -> str:
        try:
            return base + reverse(f"idp_logout:{name}", kwargs=kwargs or None)
        except NoReverseMatch:
            return f"(the URL 'idp_logout:{name}' is not in the URLconf)"

    named = {"provider": config.name} if uses_provider_list() else {}
    return {"redirect_uri": config.redirect_uri or url("callback", **named),
            "post_logout_redirect_uri": config.post_logout_redirect_uri
            or url("logout_complete"),
            "backchannel_logout_uri": url("backchannel_logout"),
            "frontchannel_logout_uri": url("frontchannel_logout")}


def _register(report: Report, uris: dict[str, str], bound: BoundProvider | None) -> None:
    for what, uri in uris.items():
        parts = urlsplit(uri)
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            report.add("register", "WARN", f"{what}: {uri}", "Providers refuse plain http "
                       "redirect URIs outside loopback: use the site's https URL "
                       "(--base-url, SECURE_PROXY_SSL_HEADER behind a proxy).")
        else:
            report.add("register", "INFO", f"{what}: {uri}")
    if bound is None:
        return
    offered = bound.metadata.document
    for key, what in (("backchannel_logout_supported", "back-channel logout"),
                      ("frontchannel_logout_supported", "front-channel logout"),
                      ("check_session_iframe", "session management")):
        if offered.get(key):
            report.add("channels", "INFO", f"the provider advertises {what}")
        else:
            report.add("channels", "INFO", f"the provider does not advertise {what}")


def _logout(report: Report, bound: BoundProvider, post_logout_uri: str) -> None:
    context = LogoutContext(post_logout_redirect_uri=post_logout_uri, state="<state>",
                            id_token=PLACEHOLDERS[0], access_token=PLACEHOLDERS[1],
                            claims={"sub": "<sub>", "sid": "<sid>"})
    request = bound.end_session_request(context)
    if request is None:
        status = "INFO" if bound.profile.keeps_provider_session else "WARN"
        report.add("end_session", status, "no end-session endpoint: users stay signed in at "
                   "the provider after logging out here", "" if status == "INFO" else
                   "Set ENDPOINTS['end_session_endpoint'] if the provider has one.")
    else:
        report.add("end_session", "OK", f"logout sends the browser to ({request.method}) "
                   f"{request.url}")
    endpoint = bound.revocation_endpoint
    if not bound.profile.should_revoke():
        report.add("revocation", "INFO", "tokens are not revoked at logout "
                   "(REVOKE_TOKENS_ON_LOGOUT)")
    elif endpoint is None:
        report.add("revocation", "INFO", "no revocation endpoint: tokens stay valid until "
                   "they expire", "Set ENDPOINTS['revocation_endpoint'] if there is one.")
    else:
        report.add("revocation", "OK", f"tokens are revoked at {endpoint}")


def diagnose(name: str, *, base_url: str | None = None, probe: bool = False
             ) -> list[Finding]:
    """Every check for the provider ``name`` (its key in ``PROVIDERS``, or ``default``)."""
    with using_provider(name):
        config = get_config()
        report = Report(config)
        bound = provider_checks(report)
        uris = site_uris(config, base_url or PLACEHOLDER_BASE)
        _register(report, uris, bound)
        if bound is not None:
            _logout(report, bound, uris["post_logout_redirect_uri"])
            if probe:
                if base_url or config.redirect_uri:
                    probe_authorize(report, bound, uris["redirect_uri"])
                else:
                    report.add("authorize", "WARN", "not probed: the redirect URI is unknown",
                               "Give --base-url (the site's public URL).")
        return report.findings
