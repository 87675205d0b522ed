"""System checks: one id per problem, every id documented once, provoked, and hinted."""

from __future__ import annotations

import importlib.util
import re
import tempfile
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache
from django.core.checks import CheckMessage, Error, run_checks
from django.core.checks import Warning as CheckWarning
from django.test import override_settings

from django_idp_logout import checks, conf, discovery
from django_idp_logout.checks.links import subject_key, with_docs_link
from django_idp_logout.docs_links import DOCS_URL, check_url, html_id, page_url, setting_url
from django_idp_logout.exceptions import ConfigurationError, ProviderUnavailable

BASE = {"ISSUER": "https://idp.example.test", "CLIENT_ID": "c", "CLIENT_SECRET": "s"}
DOC = Path(__file__).parent.parent / "docs" / "checks.rst"
DOCS_CONF = Path(__file__).parent.parent / "docs" / "conf.py"
#: The end of every hint: `` See <docs URL>.``
LINK = re.compile(r"(?:^| )See (https://\S+)\.$")
#: A message about one key, as the checks begin it: ``IDP_LOGOUT['KEY']`` (or a provider's).
ABOUT_KEY = re.compile(r"IDP_LOGOUT(?:\['PROVIDERS'\]\['[\w-]+'\])?\['([A-Z][A-Z0-9_]*)'\]")
SETTING_NAMES = {key.name for key in conf.SETTINGS}
MANUAL = {"USE_DISCOVERY": False, "ENDPOINTS": {
    "authorization_endpoint": "https://idp.example.test/a",
    "token_endpoint": "https://idp.example.test/t",
    "jwks_uri": "https://idp.example.test/k"}}
FILE_CACHE = {"default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                          "LOCATION": str(Path(tempfile.gettempdir()) / "idp-test-cache")}}
COOKIE_ENGINE = "django.contrib.sessions.backends.signed_cookies"

#: The one problem each id names. A new problem gets a new id: never widen a line here.
PROBLEMS: dict[str, str] = {
    "E001": "IDP_LOGOUT is not set",
    "E002": "a required key (ISSUER, CLIENT_ID) is missing",
    "E003": "IDP_LOGOUT has an unknown key",
    "E004": "an IDP_LOGOUT key has the wrong type",
    "E005": "PROVIDER names no provider profile",
    "E006": "ISSUER uses plain http outside loopback",
    "E007": "OIDCBackend is not in AUTHENTICATION_BACKENDS",
    "E008": "SessionMiddleware or AuthenticationMiddleware is not in MIDDLEWARE",
    "E009": "IdPSessionMiddleware is not in MIDDLEWARE",
    "E010": "django_idp_logout.urls is not in the URLconf",
    "E011": "ALGORITHMS has an unsupported value",
    "E012": "TOKEN_AUTH_METHOD is not supported",
    "E013": "discovery is off and a required endpoint is missing",
    "E014": "CACHE_ALIAS is not in CACHES",
    "E015": "CLEAR_SITE_DATA has an unknown value",
    "E016": "IDP_LOGOUT is not a dict",
    "E017": "ENDPOINTS has an unknown key",
    "E018": "a number is out of its range",
    "E019": "ISSUER is not an http(s) URL",
    "E020": "a contrib app the configuration needs is not installed",
    "E021": "IdPSessionMiddleware comes before a middleware it needs",
    "E022": "ALGORITHMS is empty",
    "E023": "an HMAC algorithm is listed without CLIENT_SECRET",
    "E024": "TOKEN_AUTH_METHOD needs a CLIENT_SECRET that is not set",
    "E025": "a mozilla-django-oidc fallback setting has an unusable value",
    "E026": "LOGOUT_METHOD is not auto, GET or POST",
    "E027": "an ENDPOINTS URL is plain http where discovery refuses it (insecure_endpoint)",
    "E028": "a required ENDPOINTS value is not an http(s) URL",
    "E029": "PROVIDERS is not a non-empty dict of named dicts",
    "E031": "a site-wide key is set inside one of PROVIDERS",
    "E032": "two PROVIDERS have the same REDIRECT_URI",
    "E033": "API has an unknown key",
    "E034": "an API key has the wrong type or value",
    "E035": "API (or the DRF class) without an AUDIENCE",
    "E036": "several PROVIDERS introspect opaque tokens",
    "E037": "BFF_APIS is malformed (shape, name, key, type, URL)",
    "E038": "a BFF_APIS URL is plain http off loopback",
    "E039": "ROLES is malformed",
    "W013": "a BFF_APIS API has TOKEN_PARAMS but no refresh token is asked for",
    "E030": "django_idp_logout is not in INSTALLED_APPS (reported by the URLconf)",
    "W001": "a mozilla-django-oidc setting and its IDP_LOGOUT key differ",
    "W002": "a mozilla-django-oidc setting that would weaken a guarantee is ignored",
    "W003": "the cache is a per-process LocMemCache (outside DEBUG)",
    "W005": "TIMEOUT is above 30 seconds",
    "W006": "the session engine is signed_cookies",
    "W007": "no end-session endpoint is known without the network",
    "W008": "the cache is not known to be shared with an atomic add() (FileBasedCache …)",
    "W009": "the cache is a DummyCache",
    "W010": "an optional ENDPOINTS value is not an http(s) URL (treated as absent)",
    "W012": "API's AUDIENCE contains CLIENT_ID",
    "W011": "TIMEOUT is zero, negative or infinite (the default is used)",
}

#: Ids emitted outside the checks package.
ELSEWHERE = {conf.NOT_INSTALLED_ID.removeprefix("django_idp_logout.")}

#: (settings overrides, the ids they must produce and nothing else). Every id appears.
CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"IDP_LOGOUT": None}, ["E001"]),
    ({"IDP_LOGOUT": "https://idp"}, ["E016"]),
    ({"IDP_LOGOUT": [("ISSUER", "https://idp")]}, ["E016"]),
    ({"IDP_LOGOUT": MappingProxyType(BASE)}, []),
    ({"IDP_LOGOUT": {"CLIENT_ID": "c"}}, ["E002"]),
    ({"IDP_LOGOUT": {"ISSUER": BASE["ISSUER"]}}, ["E002"]),
    ({"IDP_LOGOUT": {**BASE, "CLIENT_ID": ""}}, ["E002"]),
    ({"IDP_LOGOUT": {**BASE, "CLIENT_SECERT": "x"}}, ["E003"]),
    ({"IDP_LOGOUT": {**BASE, "ENDPOINTS": {"token": "https://x/t"}}}, ["E017"]),
    ({"IDP_LOGOUT": {**BASE, "TIMEOUT": "5"}}, ["E004"]),
    ({"IDP_LOGOUT": {**BASE, "CREATE_USERS": 1}}, ["E004"]),
    ({"IDP_LOGOUT": {**BASE, "LEEWAY": None}}, ["E004"]),
    ({"IDP_LOGOUT": {**BASE, "ENDPOINTS": "https://x"}}, ["E004"]),
    ({"IDP_LOGOUT": {**BASE, "CLEAR_SITE_DATA": "cache"}}, ["E004"]),
    ({"IDP_LOGOUT": {**BASE, "LEEWAY": 3600}}, ["E018"]),
    ({"IDP_LOGOUT": {**BASE, "LEEWAY": -1}}, ["E018"]),
    ({"IDP_LOGOUT": {**BASE, "TIMEOUT": 0}}, ["W011"]),
    ({"IDP_LOGOUT": {**BASE, "TIMEOUT": float("inf")}}, ["W011"]),
    ({"IDP_LOGOUT": {**BASE, "JWKS_TTL": 0}}, ["E018"]),
    ({"IDP_LOGOUT": {**BASE, "LOGIN_ATTEMPT_TTL": -5}}, ["E018"]),
    ({"IDP_LOGOUT": {**BASE, "SESSION_CHECK_INTERVAL": 0}}, ["E018"]),
    ({"IDP_LOGOUT": {**BASE, "SESSION_IDLE_TIMEOUT": -1}}, ["E018"]),
    ({"IDP_LOGOUT": {**BASE, "SESSION_MAX_AGE": 0}}, ["E018"]),
    ({"IDP_LOGOUT": {**BASE, "TOKEN_RENEW_MARGIN": -1}}, ["E018"]),
    ({"IDP_LOGOUT": {**BASE, "TOKEN_RENEW_MARGIN": 7200}}, ["E018"]),
    ({"IDP_LOGOUT": {**BASE, "SESSION_CHECK_INTERVAL": "900"}}, ["E004"]),
    ({"IDP_LOGOUT": {**BASE, "SESSION_CHECK_INTERVAL": 900, "SESSION_IDLE_TIMEOUT": 1800,
                     "SESSION_MAX_AGE": 86400, "TOKEN_RENEW_MARGIN": 0,
                     "REQUEST_REFRESH_TOKEN": True}}, []),
    ({"IDP_LOGOUT": {**BASE, "PROVIDER": "no-such-profile"}}, ["E005"]),
    ({"IDP_LOGOUT": {**BASE, "PROVIDER": "no.such.Module"}}, ["E005"]),
    ({"IDP_LOGOUT": {**BASE, "PROVIDER": "django_idp_logout.conf.IdPConfig"}}, ["E005"]),
    ({"IDP_LOGOUT": {**BASE, "ISSUER": "http://idp.example.test"}}, ["E006"]),
    ({"IDP_LOGOUT": {**BASE, "ISSUER": "idp.example.test"}}, ["E019"]),
    ({"IDP_LOGOUT": {**BASE, "ISSUER": "ftp://idp.example.test"}}, ["E019"]),
    ({"AUTHENTICATION_BACKENDS": ["django.contrib.auth.backends.ModelBackend"]}, ["E007"]),
    ({"MIDDLEWARE": ["django.contrib.sessions.middleware.SessionMiddleware",
                     "django_idp_logout.middleware.IdPSessionMiddleware"]}, ["E008"]),
    ({"MIDDLEWARE": ["django.contrib.auth.middleware.AuthenticationMiddleware",
                     "django_idp_logout.middleware.IdPSessionMiddleware"]}, ["E008"]),
    ({"MIDDLEWARE": ["django.contrib.sessions.middleware.SessionMiddleware",
                     "django.contrib.auth.middleware.AuthenticationMiddleware"]}, ["E009"]),
    ({"MIDDLEWARE": ["django.contrib.sessions.middleware.SessionMiddleware",
                     "django_idp_logout.middleware.IdPSessionMiddleware",
                     "django.contrib.auth.middleware.AuthenticationMiddleware"]}, ["E021"]),
    ({"MIDDLEWARE": ["django_idp_logout.middleware.IdPSessionMiddleware",
                     "django.contrib.sessions.middleware.SessionMiddleware",
                     "django.contrib.auth.middleware.AuthenticationMiddleware"]}, ["E021"]),
    ({"ROOT_URLCONF": "tests.urls_without_app"}, ["E010"]),
    ({"IDP_LOGOUT": {**BASE, "ALGORITHMS": ["none"]}}, ["E011"]),
    ({"IDP_LOGOUT": {**BASE, "ALGORITHMS": ["RS256", "RS257"]}}, ["E011"]),
    ({"IDP_LOGOUT": {**BASE, "ALGORITHMS": []}}, ["E022"]),
    ({"IDP_LOGOUT": {"ISSUER": BASE["ISSUER"], "CLIENT_ID": "c", "ALGORITHMS": ["HS256"]}},
     ["E023"]),
    ({"IDP_LOGOUT": {**BASE, "ALGORITHMS": ["HS256"]}}, []),
    ({"IDP_LOGOUT": {**BASE, "TOKEN_AUTH_METHOD": "private_key_jwt"}}, ["E012"]),
    ({"IDP_LOGOUT": {"ISSUER": BASE["ISSUER"], "CLIENT_ID": "c",
                     "TOKEN_AUTH_METHOD": "client_secret_post"}}, ["E024"]),
    ({"IDP_LOGOUT": {"ISSUER": BASE["ISSUER"], "CLIENT_ID": "c",
                     "TOKEN_AUTH_METHOD": "none"}}, []),
    ({"IDP_LOGOUT": {**BASE, "USE_DISCOVERY": False,
                     "ENDPOINTS": {"token_endpoint": "https://idp.example.test/t"}}},
     ["E013", "W007"]),
    ({"IDP_LOGOUT": {**BASE, "USE_DISCOVERY": False, "ENDPOINTS": {
        **MANUAL["ENDPOINTS"], "jwks_uri": "http://idp.example.test/k"}}},
     ["E027", "W007"]),
    ({"IDP_LOGOUT": {**BASE, "USE_DISCOVERY": False, "ENDPOINTS": {
        **MANUAL["ENDPOINTS"], "token_endpoint": "not a url"}}},
     ["E028", "W007"]),
    ({"IDP_LOGOUT": {**BASE, "CACHE_ALIAS": "missing"}}, ["E014"]),
    ({"IDP_LOGOUT": {**BASE, "CLEAR_SITE_DATA": ['"cache"']}}, ["E015"]),
    ({"OIDC_AUTH_REQUEST_EXTRA_PARAMS": "prompt=login"}, ["E025"]),
    ({"OIDC_REDIRECT_ALLOWED_HOSTS": 5, "OIDC_RP_SCOPES": 5}, ["E025", "E025"]),
    ({"OIDC_RP_CLIENT_ID": "other"}, ["W001"]),
    ({"OIDC_VERIFY_SSL": False}, ["W002"]),
    ({"SILENCED_SYSTEM_CHECKS": []}, ["W003"]),
    ({"SILENCED_SYSTEM_CHECKS": [], "DEBUG": True}, []),
    ({"IDP_LOGOUT": {**BASE, "ENDPOINTS": {"token_endpoint": "http://idp.example.test/t"}}},
     ["E027"]),
    # An https issuer refuses plain http even on loopback (not only outside it).
    ({"IDP_LOGOUT": {**BASE, "ENDPOINTS": {"end_session_endpoint": "http://127.0.0.1/x"}}},
     ["E027"]),
    ({"IDP_LOGOUT": {**BASE, "ISSUER": "http://127.0.0.1:9", "ENDPOINTS": {
        "token_endpoint": "http://localhost:9/t", "jwks_uri": "https://idp.example.test/k"}}},
     []),
    ({"IDP_LOGOUT": {**BASE, "ISSUER": "http://127.0.0.1:9", "ENDPOINTS": {
        "userinfo_endpoint": "http://idp.example.test/u"}}}, ["E027"]),
    ({"IDP_LOGOUT": {**BASE, "ENDPOINTS": {"token_endpoint": "idp.example.test/t"}}},
     ["E028"]),
    ({"IDP_LOGOUT": {**BASE, "ENDPOINTS": {"jwks_uri": 42}}}, ["E028"]),
    ({"IDP_LOGOUT": {**BASE, "ENDPOINTS": {"end_session_endpoint": "idp.example.test/x"}}},
     ["W010"]),
    ({"IDP_LOGOUT": {**BASE, "ENDPOINTS": {"revocation_endpoint": 42}}}, ["W010"]),
    ({"IDP_LOGOUT": {"PROVIDERS": {"a": BASE, "b": {**BASE, "CLIENT_ID": "d"}}}}, []),
    ({"IDP_LOGOUT": {"PROVIDERS": {}}}, ["E029"]),
    ({"IDP_LOGOUT": {"PROVIDERS": [BASE]}}, ["E029"]),
    ({"IDP_LOGOUT": {"PROVIDERS": {"a/b": BASE}}}, ["E029"]),
    ({"IDP_LOGOUT": {"PROVIDERS": {"a": "https://idp.example.test"}}}, ["E029"]),
    ({"IDP_LOGOUT": {"PROVIDERS": {"a": {**BASE, "CACHE_ALIAS": "default"}}}}, ["E031"]),
    ({"IDP_LOGOUT": {"PROVIDERS": {"a": {**BASE, "PROVIDERS": {}}}}}, ["E031"]),
    ({"IDP_LOGOUT": {"PROVIDERS": {"a": BASE, "b": {"CLIENT_ID": "d"}}}}, ["E002"]),
    ({"IDP_LOGOUT": {"REDIRECT_URI": "https://s.test/cb/", "PROVIDERS": {"a": BASE, "b": BASE}}},
     ["E032"]),
    ({"IDP_LOGOUT": {"PROVIDERS": {"a": {**BASE, "REDIRECT_URI": "https://s.test/cb/a/"},
                                   "b": {**BASE, "REDIRECT_URI": "https://s.test/cb/a/"}}}},
     ["E032"]),
    ({"IDP_LOGOUT": {"REDIRECT_URI": "https://s.test/cb/", "PROVIDERS": {"a": BASE}}}, []),
    ({"IDP_LOGOUT": {"PROVIDERS": {"a": BASE, "b": {**BASE, "ISUER": "x"}}}}, ["E003"]),
    ({"IDP_LOGOUT": {"PROVIDERS": {"a": BASE, "b": {**BASE, "LEEWAY": -1}}}}, ["E018"]),
    ({"IDP_LOGOUT": {"LEEWAY": -1, "PROVIDERS": {"a": BASE, "b": BASE}}}, ["E018"]),
    ({"IDP_LOGOUT": {**BASE, "API": {"AUDIENCE": "https://api.test/"}}}, []),
    ({"IDP_LOGOUT": {**BASE, "API": {"AUDIENCE": "a", "AUDIENCES": "b"}}}, ["E033"]),
    ({"IDP_LOGOUT": {**BASE, "API": {"AUDIENCE": "a", "INTROSPECT": "yes"}}}, ["E034"]),
    ({"IDP_LOGOUT": {**BASE, "API": {"AUDIENCE": ["a", 3]}}}, ["E034"]),
    ({"IDP_LOGOUT": {**BASE, "API": {"AUDIENCE": "a", "INTROSPECTION_CACHE_TTL": -1}}},
     ["E034"]),
    ({"IDP_LOGOUT": {**BASE, "API": {"INTROSPECT": True}}}, ["E035"]),
    ({"IDP_LOGOUT": BASE, "REST_FRAMEWORK": {"DEFAULT_AUTHENTICATION_CLASSES": [
        "django_idp_logout.drf.BearerTokenAuthentication"]}}, ["E035"]),
    ({"IDP_LOGOUT": {**BASE, "API": {"AUDIENCE": ["c", "x"]}}}, ["W012"]),
    ({"IDP_LOGOUT": {"API": {"AUDIENCE": "a", "INTROSPECT": True}, "PROVIDERS": {
        "a": BASE, "b": {**BASE, "CLIENT_ID": "d"}}}}, ["E036"]),
    ({"IDP_LOGOUT": {"API": {"AUDIENCE": "a"}, "PROVIDERS": {
        "a": {**BASE, "API": {"AUDIENCE": "a", "INTROSPECT": True}},
        "b": {**BASE, "CLIENT_ID": "d"}}}}, []),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": {"orders": {"URL": "https://api.test/v1/"}}}}, []),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": {"o": {"URL": "http://127.0.0.1:9/", "TIMEOUT": 2.5,
                                               "MAX_REQUEST_BYTES": 10}}}}, []),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": ["https://api.test/"]}}, ["E004"]),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": {"a/b": {"URL": "https://api.test/"}}}}, ["E037"]),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": {"o": "https://api.test/"}}}, ["E037"]),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": {"o": {}}}}, ["E037"]),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": {"o": {"URL": "https://api.test/", "URI": "x"}}}},
     ["E037"]),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": {"o": {"URL": "https://api.test/", "TIMEOUT": 0}}}},
     ["E037"]),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": {"o": {"URL": "https://api.test/",
                                               "MAX_REQUEST_BYTES": True}}}}, ["E037"]),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": {"o": {"URL": "api.test/v1"}}}}, ["E037"]),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": {"o": {"URL": "https://api.test/?k=1"}}}}, ["E037"]),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": {"o": {"URL": "http://api.test/"}}}}, ["E038"]),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": {"o": {"URL": "https://api.test/",
                                               "FORWARD_HEADERS": ["Cookie"]}}}}, ["E037"]),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": {"o": {"URL": "https://api.test/",
                                               "TOKEN_PARAMS": {"grant_type": "x"}}}}},
     ["E037"]),
    ({"IDP_LOGOUT": {**BASE, "BFF_APIS": {"o": {"URL": "https://api.test/",
                                               "TOKEN_PARAMS": {"scope": "o"}}}}}, ["W013"]),
    ({"IDP_LOGOUT": {**BASE, "REQUEST_REFRESH_TOKEN": True, "BFF_APIS": {"o": {
        "URL": "https://api.test/", "TOKEN_PARAMS": {"scope": "o"}}}}}, []),
    ({"IDP_LOGOUT": {**BASE, "ROLES": {"CLAIM": "groups", "GROUPS": {"a": "A"},
                                       "STAFF": ["a"], "WHEN_MISSING": "remove"}}}, []),
    ({"IDP_LOGOUT": {**BASE, "ROLES": {"GROUPS": {"a": "A"}}}}, ["E039"]),
    ({"IDP_LOGOUT": {**BASE, "ROLES": {"CLAIM": "g", "GROUP": {}}}}, ["E039"]),
    ({"IDP_LOGOUT": {**BASE, "ROLES": {"CLAIM": "g", "STAFF": "admins"}}}, ["E039"]),
    ({"IDP_LOGOUT": {**BASE, "ROLES": {"CLAIM": "g", "GROUPS": {"a": 1}}}}, ["E039"]),
    ({"IDP_LOGOUT": {**BASE, "ROLES": {"CLAIM": "g", "WHEN_MISSING": "drop"}}}, ["E039"]),
    ({"IDP_LOGOUT": {**BASE, "LOGOUT_METHOD": "PUT"}}, ["E026"]),
    ({"IDP_LOGOUT": {**BASE, "LOGOUT_METHOD": ""}}, ["E026"]),
    ({"IDP_LOGOUT": {**BASE, "LOGOUT_METHOD": "post"}}, []),
    ({"IDP_LOGOUT": {**BASE, "LOGOUT_METHOD": "GET"}}, []),
    ({"IDP_LOGOUT": {**BASE, "LOGOUT_METHOD": "Auto"}}, []),
    ({"IDP_LOGOUT": {**BASE, "TIMEOUT": 60}}, ["W005"]),
    ({"SESSION_ENGINE": COOKIE_ENGINE}, ["W006"]),
    ({"IDP_LOGOUT": {**BASE, **MANUAL}}, ["W007"]),
    ({"IDP_LOGOUT": {**BASE, **MANUAL, "PROVIDER": "akamai"}}, []),
    ({"CACHES": FILE_CACHE, "SILENCED_SYSTEM_CHECKS": []}, ["W008"]),
    ({"CACHES": {"default": {"BACKEND": "tests.test_checks.CustomCache"}},
      "SILENCED_SYSTEM_CHECKS": []}, ["W008"]),
    ({"CACHES": {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}},
     ["W009"]),
    ({"CACHES": {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                             "LOCATION": "cache_table"}}, "SILENCED_SYSTEM_CHECKS": []}, []),
    ({"CACHES": {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                             "LOCATION": "redis://127.0.0.1:1"}},
      "SILENCED_SYSTEM_CHECKS": []}, []),
    ({"CACHES": {"default": {"BACKEND": "tests.test_checks.SharedCache"}},
      "SILENCED_SYSTEM_CHECKS": []}, []),
]


class CustomCache(BaseCache):
    """A backend the store does not know: the database keeps single-use values."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)


class SharedCache(RedisCache):
    """A subclass of a shared and atomic backend counts as one."""

#: Django's own auth checks cannot run without django.contrib.auth: these call ours directly.
APP_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"INSTALLED_APPS": ["django.contrib.contenttypes", "django.contrib.sessions",
                         "django_idp_logout"]}, ["E020"]),
    ({"INSTALLED_APPS": ["django.contrib.auth", "django.contrib.contenttypes",
                         "django_idp_logout"]}, ["E020"]),
    ({"INSTALLED_APPS": ["django.contrib.auth", "django.contrib.contenttypes",
                         "django_idp_logout"],
      "SESSION_ENGINE": "django.contrib.sessions.backends.cached_db"}, ["E020"]),
    ({"INSTALLED_APPS": ["django.contrib.auth", "django.contrib.contenttypes",
                         "django_idp_logout"],
      "SESSION_ENGINE": "django.contrib.sessions.backends.cache"}, []),
]


def messages(**overrides: Any) -> list[CheckMessage]:
    with override_settings(**overrides):
        return [m for m in run_checks(include_deployment_checks=False)
                if m.id and m.id.startswith("django_idp_logout.") and not m.is_silenced()]


def ids(**overrides: Any) -> list[str]:
    return sorted(m.id for m in messages(**overrides) if m.id)


def short(check_id: str) -> str:
    return check_id.removeprefix("django_idp_logout.")


def docs_link(message: CheckMessage) -> str:
    """The docs URL the message's hint ends with (the test fails if there is none)."""
    found = LINK.search(message.hint or "")
    assert found, (message.id, message.hint)
    assert found.group(1).startswith(DOCS_URL), (message.id, message.hint)
    return found.group(1)


def assert_linked(message: CheckMessage) -> None:
    """The hint ends with the docs: the entry of the key the message begins with, if it is a
    documented key (nested keys link their parent), else the key's or the id's entry."""
    url = docs_link(message)
    about = ABOUT_KEY.match(message.msg)
    if about and about.group(1) in SETTING_NAMES:
        assert url == setting_url(about.group(1)), (message.msg, url)
    else:
        assert url in {check_url(message.id or "")} | {setting_url(k) for k in SETTING_NAMES}


def test_clean_configuration_has_no_messages() -> None:
    assert ids(IDP_LOGOUT=BASE) == []


def test_the_table_is_the_id_list() -> None:
    assert len(checks.CHECK_IDS) == len(set(checks.CHECK_IDS))
    assert set(checks.CHECK_IDS) | ELSEWHERE == set(PROBLEMS)
    for check_id in PROBLEMS:
        assert re.fullmatch(r"[EW]\d{3}", check_id), check_id


def test_every_id_is_provoked() -> None:
    provoked = {i for _, expected in CASES + APP_CASES for i in expected}
    provoked.add(short(conf.NOT_INSTALLED_ID))  # test_not_installed_is_reported
    assert provoked == set(PROBLEMS)


def test_every_id_is_documented_once() -> None:
    doc = DOC.read_text()
    entries = re.findall(r"^``django_idp_logout\.([EW]\d{3})``$", doc, flags=re.M)
    assert sorted(entries) == sorted(PROBLEMS)
    for check_id in PROBLEMS:
        body = doc.split(f"``django_idp_logout.{check_id}``\n", 1)[1].split("\n``", 1)[0]
        assert "*Fix*" in body, check_id
    errors, warnings = doc.split("\nWarnings\n", 1)
    assert all(e.startswith("E") for e in re.findall(r"^``django_idp_logout\.(\w+)``$",
                                                       errors, flags=re.M))
    assert all(w.startswith("W") for w in re.findall(r"^``django_idp_logout\.(\w+)``$",
                                                     warnings, flags=re.M))


@pytest.mark.parametrize(("overrides", "expected"), CASES)
def test_check_ids(overrides: dict[str, Any], expected: list[str]) -> None:
    overrides = {"IDP_LOGOUT": BASE, **overrides}
    found = messages(**overrides)
    assert sorted(m.id for m in found if m.id) == [f"django_idp_logout.{e}" for e in expected]
    for message in found:
        assert message.hint, message.id
        assert_linked(message)
        level = Error if short(message.id or "").startswith("E") else CheckWarning
        assert type(message) is level, message.id


@pytest.mark.parametrize(("overrides", "expected"), APP_CASES)
def test_app_ids(overrides: dict[str, Any], expected: list[str]) -> None:
    with override_settings(**overrides):
        found = checks.check_wiring()
    assert sorted(m.id for m in found if m.id) == [f"django_idp_logout.{e}" for e in expected]
    assert all(m.hint and isinstance(m, Error) for m in found)
    for message in found:
        assert_linked(message)


def test_not_installed_is_reported() -> None:
    """``E030`` comes from the URLconf, the only code of the app Django runs when it is not
    installed: import a fresh copy of ``urls.py`` without the app and run its pattern checks."""
    path = Path(conf.__file__).parent / "urls.py"
    apps = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"]
    with override_settings(INSTALLED_APPS=apps):
        spec = importlib.util.spec_from_file_location("django_idp_logout._urls_probe", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found = [m for pattern in module.urlpatterns for m in pattern.check()]
    assert [m.id for m in found] == [conf.NOT_INSTALLED_ID]
    assert found[0].hint.endswith(f"See {check_url(conf.NOT_INSTALLED_ID)}.")


def test_did_you_mean_hint() -> None:
    (message,) = messages(IDP_LOGOUT={**BASE, "CLIENT_SECERT": "x"})
    assert message.hint == f"Did you mean 'CLIENT_SECRET'? See {setting_url('CLIENT_SECRET')}."
    (message,) = messages(IDP_LOGOUT={**BASE, "ENDPOINTS": {"token_endpiont": "https://x/t"}})
    assert message.hint == f"Did you mean 'token_endpoint'? See {setting_url('ENDPOINTS')}."


def test_missing_client_id_is_a_clear_error() -> None:
    (message,) = messages(IDP_LOGOUT={"ISSUER": BASE["ISSUER"]})
    assert isinstance(message, Error)
    assert message.id == "django_idp_logout.E002"
    assert "CLIENT_ID" in message.msg
    assert "client id" in (message.hint or "")


def test_cache_messages_say_the_database_takes_over() -> None:
    for overrides in ({"SILENCED_SYSTEM_CHECKS": []},
                      {"CACHES": FILE_CACHE, "SILENCED_SYSTEM_CHECKS": []}):
        (message,) = messages(IDP_LOGOUT=BASE, **overrides)
        assert isinstance(message, CheckWarning)
        assert "will be stored in the database" in message.msg
        assert "revocation markers" in message.msg


@pytest.mark.parametrize("overrides", [
    {"IDP_LOGOUT": {**BASE, "TIMEOUT": None}},
    {"OIDC_TIMEOUT": None},
    {"IDP_LOGOUT": {**BASE, "TIMEOUT": None}, "OIDC_TIMEOUT": None},
    {"OIDC_TIMEOUT": 5},
    {"OIDC_TIMEOUT": (3.05, 10)},
    {"IDP_LOGOUT": {**BASE, "TIMEOUT": 5}, "OIDC_TIMEOUT": 5.0},
])
def test_timeout_none_means_the_default(overrides: dict[str, Any]) -> None:
    assert ids(**{"IDP_LOGOUT": BASE, **overrides}) == []


@pytest.mark.parametrize("key", list(conf.DEFAULTS))
@pytest.mark.parametrize("value", [None, 0, -1, "x", [], {}, True, 1e9, ("a", 1), object()])
def test_no_value_crashes_the_checks(key: str, value: Any) -> None:
    with override_settings(IDP_LOGOUT={**BASE, key: value}):
        found = checks.check_settings() + checks.check_wiring()
    assert all(m.id in {f"django_idp_logout.{i}" for i in checks.CHECK_IDS} for m in found)


@pytest.mark.parametrize("name", list(conf.OIDC_FALLBACKS))
@pytest.mark.parametrize("value", [None, 0, "x", [], {}, ("a", 1), object()])
def test_no_fallback_value_crashes_the_checks(name: str, value: Any) -> None:
    with override_settings(IDP_LOGOUT={"ISSUER": BASE["ISSUER"]}, **{name: value}):
        found = checks.check_settings()
    assert all(m.id in {f"django_idp_logout.{i}" for i in checks.CHECK_IDS} for m in found)


def test_loopback_http_issuer_is_fine() -> None:
    for issuer in ("http://localhost:8000", "http://127.0.0.1:9000/realm", "http://[::1]:1"):
        assert ids(IDP_LOGOUT={**BASE, "ISSUER": issuer}) == []


def test_mozilla_settings_alone_configure_the_client() -> None:
    assert ids(IDP_LOGOUT={"ISSUER": BASE["ISSUER"]}, OIDC_RP_CLIENT_ID="c",
               OIDC_RP_CLIENT_SECRET="s") == []


def test_checks_use_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network used by a check")

    monkeypatch.setattr(requests.Session, "request", boom)
    assert ids(IDP_LOGOUT=BASE) == []


@pytest.mark.parametrize("issuer", [BASE["ISSUER"], "http://127.0.0.1:9", "http://localhost"])
@pytest.mark.parametrize(("name", "url"), [
    ("token_endpoint", "https://idp.example.test/t2"),
    ("token_endpoint", "http://idp.example.test/t2"),
    ("token_endpoint", "http://127.0.0.1:9/t2"),
    ("token_endpoint", "http://[::1]:9/t2"),
    ("token_endpoint", "not a url"),
    ("token_endpoint", "http:///no-host"),
    ("end_session_endpoint", "http://localhost/x"),
    ("end_session_endpoint", "https://[::1"),
    ("revocation_endpoint", 42),
])
def test_checks_report_what_discovery_refuses(issuer: str, name: str, url: Any) -> None:
    """E027 / E028 / W010 exactly when discovery refuses the provider or drops the endpoint."""
    with override_settings(IDP_LOGOUT={**BASE, **MANUAL, "ISSUER": issuer, "ENDPOINTS": {
            **MANUAL["ENDPOINTS"], name: url}}):
        found = {short(m.id or "") for m in checks.check_settings()} & {"E027", "E028", "W010"}
        try:
            dropped = discovery.get_metadata().endpoint(name) is None
            refused = None
        except ProviderUnavailable as exc:
            dropped, refused = False, exc.code
    expected = ({"E027"} if refused == "insecure_endpoint"
                else {"E028"} if refused == "provider_bad_response"
                else {"W010"} if dropped else set())
    assert found == expected


def test_empty_algorithms_hint_names_the_default() -> None:
    (message,) = messages(IDP_LOGOUT={**BASE, "ALGORITHMS": []})
    assert ", ".join(conf.DEFAULT_ALGORITHMS) in (message.hint or "")
    assert "asymmetric" not in (message.hint or "")


# Links to the docs -----------------------------------------------------------------------


def test_every_id_links_the_docs() -> None:
    """Every id the checks emit, provoked by the tables above, ends its hint with a docs URL."""
    linked: dict[str, str] = {}
    for overrides, _ in CASES:
        for message in messages(**{"IDP_LOGOUT": BASE, **overrides}):
            linked[short(message.id or "")] = docs_link(message)
    for overrides, _ in APP_CASES:
        with override_settings(**overrides):
            for message in checks.check_wiring():
                linked[short(message.id or "")] = docs_link(message)
    assert set(linked) == set(checks.CHECK_IDS)


@pytest.mark.parametrize(("idp_logout", "key"), [
    ({**BASE, "CLIENT_SECRET": 5}, "CLIENT_SECRET"),
    ({"CLIENT_ID": "c"}, "ISSUER"),
    ({**BASE, "CLIENT_SECERT": "x"}, "CLIENT_SECRET"),
    ({**BASE, "LEEWAY": 3600}, "LEEWAY"),
    ({**BASE, "ENDPOINTS": {"token_endpoint": "http://idp.example.test/t"}}, "ENDPOINTS"),
    ({**BASE, "API": {"AUDIENCE": "a", "CREATE_USERS": "yes"}}, "API"),
    ({**BASE, "BFF_APIS": {"o": {"URL": "https://api.test/", "TIMEOUT": 0}}}, "BFF_APIS"),
    ({**BASE, "ROLES": {"CLAIM": "g", "WHEN_MISSING": "drop"}}, "ROLES"),
    ({"PROVIDERS": {"a": BASE, "staff": {**BASE, "CLIENT_SECRET": 5}}}, "CLIENT_SECRET"),
    ({"PROVIDERS": {"a": BASE, "staff": {**BASE, "ISSUER": "http://idp.example.test"}}},
     "ISSUER"),
    ({"PROVIDERS": {"a": BASE, "staff": {**BASE, "ISUER": "x"}}}, "ISSUER"),
])
def test_a_message_about_a_key_links_its_entry(idp_logout: dict[str, Any], key: str) -> None:
    """The key as spelled, the innermost documented one: a provider's own key, not
    ``PROVIDERS``; a nested key's parent (``API['CREATE_USERS']`` is not ``CREATE_USERS``)."""
    (message,) = messages(IDP_LOGOUT=idp_logout)
    assert docs_link(message) == f"{DOCS_URL}configuration.html#{key}"
    assert (message.hint or "").endswith(f" See {DOCS_URL}configuration.html#{key}.")


def test_the_hint_keeps_its_text() -> None:
    (message,) = messages(IDP_LOGOUT={**BASE, "CLIENT_SECRET": 5})
    assert message.msg == "IDP_LOGOUT['CLIENT_SECRET'] must be str, not int."
    assert (message.hint or "").startswith("Use a value of type str (the default is None), ")


@pytest.mark.parametrize(("overrides", "check_id"), [
    ({"AUTHENTICATION_BACKENDS": ["django.contrib.auth.backends.ModelBackend"]}, "E007"),
    ({"ROOT_URLCONF": "tests.urls_without_app"}, "E010"),
    ({"IDP_LOGOUT": {"PROVIDERS": {}}}, "E029"),
    ({"IDP_LOGOUT": {"PROVIDERS": {"a": {**BASE, "CACHE_ALIAS": "default"}}}}, "E031"),
    ({"IDP_LOGOUT": {"PROVIDERS": {"a": BASE, "b": {**BASE, **MANUAL}}}}, "W007"),
    ({"IDP_LOGOUT": {**BASE, "NOTHING_LIKE_ANY_KEY": 1}}, "E003"),
    ({"SESSION_ENGINE": COOKIE_ENGINE}, "W006"),
])
def test_a_message_about_no_key_links_its_check(overrides: dict[str, Any], check_id: str) -> None:
    (message,) = messages(**{"IDP_LOGOUT": BASE, **overrides})
    assert docs_link(message) == check_url(check_id)
    assert check_url(check_id) == f"{DOCS_URL}checks.html#django-idp-logout-{check_id.lower()}"


def test_subject_key_reads_every_phrasing() -> None:
    def about(msg: str, hint: str = "") -> str | None:
        return subject_key(Error(msg, hint=hint, id="django_idp_logout.E004"))

    assert about("IDP_LOGOUT['TIMEOUT'] must be int or float, not str.") == "TIMEOUT"
    assert about("IDP_LOGOUT['PROVIDERS']['staff']['ISSUER'] is required.") == "ISSUER"
    assert about("OIDC_OP_TOKEN_ENDPOINT (mozilla-django-oidc), read as "
                 "IDP_LOGOUT[ENDPOINTS['token_endpoint']], has a value") == "ENDPOINTS"
    assert about("IDP_LOGOUT['BFF_APIS']['o']['TIMEOUT'] must be a positive number.") == (
        "BFF_APIS")
    # A provider named like a key is still a provider name.
    assert about("IDP_LOGOUT['PROVIDERS']['API']['LEEWAY'] must be positive.") == "LEEWAY"
    assert about("IDP_LOGOUT['PROVIDERS']['API']: The provider has no end-session endpoint.") is (
        None)
    assert about("IDP_LOGOUT has an unknown key 'X'.", "Known keys: …") is None
    assert about("IDP_LOGOUT['NOT_A_KEY'] is odd.") is None


def test_a_hint_that_links_the_docs_is_left_alone() -> None:
    message = Error("IDP_LOGOUT['ISSUER'] is required.",
                    hint=f"See {page_url('installation')}.", id="django_idp_logout.E002")
    assert with_docs_link(message) is message
    foreign = Error("Something else.", hint="Fix it.", id="other_app.E001")
    assert with_docs_link(foreign) is foreign
    fresh = Error("IDP_LOGOUT['ISSUER'] is required.", hint="Set it.",
                  id="django_idp_logout.E002")
    assert with_docs_link(fresh).hint == f"Set it. See {setting_url('ISSUER')}."
    assert fresh.hint == "Set it."  # a copy: the original message is not changed


def test_docs_urls() -> None:
    assert DOCS_URL.startswith("https://")
    assert DOCS_URL.endswith("/")
    assert setting_url("CLIENT_SECRET") == f"{DOCS_URL}configuration.html#CLIENT_SECRET"
    assert check_url("E001") == check_url("django_idp_logout.E001") == (
        f"{DOCS_URL}checks.html#django-idp-logout-e001")
    assert page_url("installation") == f"{DOCS_URL}installation.html"
    assert page_url("checks", "x") == f"{DOCS_URL}checks.html#x"


def test_html_id_is_the_one_docutils_makes() -> None:
    """:func:`check_url`'s anchors are the ids docutils gives the labels of ``checks.rst``."""
    docutils_nodes = pytest.importorskip("docutils.nodes")
    for check_id in (*checks.CHECK_IDS, *ELSEWHERE):
        label = f"django_idp_logout.{check_id}"
        assert html_id(label) == docutils_nodes.make_id(label), label


def test_every_id_has_its_anchor_in_the_docs() -> None:
    """The label that makes :func:`check_url`'s anchor stands right before each entry."""
    lines = DOC.read_text().splitlines()
    for check_id in (*checks.CHECK_IDS, *ELSEWHERE):
        entry = lines.index(f"``django_idp_logout.{check_id}``")
        assert lines[entry - 2:entry] == [f".. _django_idp_logout.{check_id}:", ""], check_id
        assert check_url(check_id).endswith("#" + html_id(f"django_idp_logout.{check_id}"))


def test_every_key_has_its_anchor_in_the_reference() -> None:
    """``settings_reference()`` (docs/conf.py) puts an HTML anchor whose id is the key, exactly
    as :func:`setting_url` links it, right before each key's entry."""
    pytest.importorskip("sphinx", reason="the docs extra (Sphinx) is not installed")
    spec = importlib.util.spec_from_file_location("docs_conf_anchors", DOCS_CONF)
    assert spec is not None
    assert spec.loader is not None
    docs_conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(docs_conf)
    lines = docs_conf.settings_reference()
    for key in conf.SETTINGS:
        entry = next(i for i, line in enumerate(lines) if line.startswith(f"``{key.name}`` ("))
        anchor = [".. raw:: html", "", f'   <span id="{key.name}"></span>', ""]
        assert lines[entry - len(anchor):entry] == anchor, key.name
        assert setting_url(key.name).endswith(f"#{key.name}")


def test_configuration_errors_link_the_docs() -> None:
    """The errors views raise for a mis-wired site link the docs too (production servers run
    no checks: the log is where the integrator reads them)."""
    import dataclasses

    from django.test import RequestFactory

    from django_idp_logout.view_helpers import app_reverse, require_client, require_middleware

    with override_settings(IDP_LOGOUT=BASE):
        config = dataclasses.replace(conf.get_config(), client_id="")
        with pytest.raises(ConfigurationError) as raised:
            require_client(config)
    assert str(raised.value).endswith(f"E002). See {setting_url('CLIENT_ID')}.")
    with pytest.raises(ConfigurationError) as raised:
        require_middleware(RequestFactory().get("/"))
    assert str(raised.value).endswith(f"E009). See {page_url('installation')}.")
    with pytest.raises(ConfigurationError) as raised:
        app_reverse("no_such_view")
    assert str(raised.value).endswith(f"E010). See {page_url('installation')}.")
