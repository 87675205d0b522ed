"""One Django with both libraries mounted, against the same real provider.

* ``/oidc/``  — django-idp-logout (``IDP_LOGOUT``), client ``bench-ours``;
* ``/stock/`` — stock mozilla-django-oidc configured as its documentation recommends for a
  careful site: RS256 with ``OIDC_OP_JWKS_ENDPOINT``, PKCE on, the ID token stored, and a
  logout URL method (RP-initiated logout); client ``bench-stock``.

Everything provider-specific comes from the environment set by ``benchmarks/run.py``.
"""

import os

env = os.environ
SECRET_KEY = "benchmark-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",  # startproject's default: the sign-out message rides on it
    "mozilla_django_oidc",
    "django_idp_logout",
]
AUTHENTICATION_BACKENDS = [
    "django_idp_logout.backends.OIDCBackend",
    "mozilla_django_oidc.auth.OIDCAuthenticationBackend",
]
_MIDDLEWARE_BASE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
MIDDLEWARE = [*_MIDDLEWARE_BASE, "django_idp_logout.middleware.IdPSessionMiddleware"]
ROOT_URLCONF = "benchmarks.site.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": env.get("BENCH_DB", "/tmp/idp-bench-site.sqlite3"),
                         # Django's advice for concurrent writers on SQLite (5.1+).
                         "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"}}}
CACHES = {"default": {"BACKEND": env.get("BENCH_CACHE_BACKEND",
                                         "django.core.cache.backends.locmem.LocMemCache"),
                      "LOCATION": env.get("BENCH_CACHE_LOCATION", "")}}
SESSION_ENGINE = "django.contrib.sessions.backends.db"
LOGIN_REDIRECT_URL = "/whoami/"
LOGOUT_REDIRECT_URL = "/whoami/"
SILENCED_SYSTEM_CHECKS = ["django_idp_logout.W001", "django_idp_logout.W003"]

ISSUER = env.get("BENCH_ISSUER", "http://localhost:1")
IDP_LOGOUT = {
    "ISSUER": ISSUER,
    "CLIENT_ID": "bench-ours",
    "CLIENT_SECRET": env.get("BENCH_OURS_SECRET", "bench-ours-secret-0123456789abcdef012345"),
    "TIMEOUT": float(env.get("BENCH_TIMEOUT", "2")),
    "REVOKE_TOKENS_ON_LOGOUT": env.get("BENCH_REVOKE", "0") == "1",
}

# Stock mozilla-django-oidc, as its docs recommend for a careful site.
OIDC_RP_CLIENT_ID = "bench-stock"
OIDC_RP_CLIENT_SECRET = env.get("BENCH_STOCK_SECRET", "bench-stock-secret-0123456789abcdef01234")
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_OP_AUTHORIZATION_ENDPOINT = f"{ISSUER}/auth"
OIDC_OP_TOKEN_ENDPOINT = f"{ISSUER}/token"
OIDC_OP_USER_ENDPOINT = f"{ISSUER}/me"
OIDC_OP_JWKS_ENDPOINT = f"{ISSUER}/jwks"
OIDC_USE_PKCE = True
OIDC_STORE_ID_TOKEN = True
OIDC_RP_SCOPES = "openid email profile"
OIDC_OP_LOGOUT_URL_METHOD = "benchmarks.site.urls.stock_logout_url"
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_authentication_callback"
# Its DRF class (the API benchmark): the stock backend, not ours (both extend its class).
OIDC_DRF_AUTH_BACKEND = "mozilla_django_oidc.auth.OIDCAuthenticationBackend"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"},
                "django_idp_logout": {"handlers": ["stderr"], "level": "ERROR"}},
}
