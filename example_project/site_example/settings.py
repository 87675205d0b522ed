"""The example site: django-idp-logout used exactly as an integrator would.

``IDP_LOGOUT`` comes from environment variables (or ``example_project/.env``), so the same site
points at a real provider by changing a few values; see ``.env.example``. The defaults point at
the embedded development identity provider started by ``make demo``, which has two clients for
the site: two providers in ``IDP_LOGOUT["PROVIDERS"]``, "staff" and "partners", so ``login/``
shows the chooser (docs/several-providers.rst).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _load_dotenv(path: Path) -> None:
    """``KEY=VALUE`` lines from ``.env``; real environment variables win."""
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            os.environ.setdefault(key.strip(), value.strip().strip('"').strip("'"))


_load_dotenv(BASE_DIR / ".env")
env = os.environ.get

SECRET_KEY = env("SITE_SECRET_KEY", "example-site-development-only-key-0123456789")
DEBUG = env("SITE_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "site_example",  # first: its templates override the app's
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",  # the app's "You are signed out" after logout, shown by base.html
    "django.contrib.staticfiles",
    "django_idp_logout",
]
AUTHENTICATION_BACKENDS = [
    "django_idp_logout.backends.OIDCBackend",
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_idp_logout.middleware.IdPSessionMiddleware",
]
ROOT_URLCONF = "site_example.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": env("SITE_DB", str(BASE_DIR / "site.sqlite3"))}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_COOKIE_NAME = "site_sessionid"
STATIC_URL = "/static/"
USE_TZ = True
#: Times on the pages (the claims table) are shown in UTC and say so.
TIME_ZONE = "UTC"
# The page's language follows the browser (Accept-Language, through LocaleMiddleware above):
# English or German. The site's own strings are in site_example/locale (listed here so they
# win over every app's catalog whatever the order of INSTALLED_APPS); the app brings its own.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "site_example" / "locale"]
LOGIN_URL = "idp_logout:login"
LOGIN_REDIRECT_URL = "/protected/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

#: The development identity provider (``make demo`` sets ``IDP_ISSUER`` to its URL).
DEMO_ISSUER = env("IDP_ISSUER", "http://localhost:8001/openid")


def provider(prefix: str, demo: dict[str, str]) -> dict[str, str]:
    """One entry of ``PROVIDERS`` from ``<prefix>_PROVIDER``, ``_ISSUER``, ``_CLIENT_ID``,
    ``_CLIENT_SECRET`` (empty: a public client, PKCE only) and ``_DISPLAY_NAME``.

    ``demo``: the development provider's client, used only while ``<prefix>_CLIENT_ID`` is
    unset (a real provider from the environment gets nothing from the demo)."""
    defaults = {} if env(f"{prefix}_CLIENT_ID") else demo
    keys = {key: env(f"{prefix}_{key}", defaults.get(key, "")) for key in (
        "PROVIDER", "ISSUER", "CLIENT_ID", "CLIENT_SECRET", "DISPLAY_NAME")}
    return {key: value for key, value in keys.items() if value}  # unset: the default


# Keys outside PROVIDERS are shared by every provider (each may override them).
IDP_LOGOUT = {
    "SCOPES": env("IDP_SCOPES", "openid email profile"),
    # Readable usernames ("demo", not an opaque digest): docs/users.rst.
    "USERNAME_CLAIM": "preferred_username",
    "POST_LOGOUT_REDIRECT_URL": "/",
    "PROVIDERS": {
        # The first provider: the IDP_* variables, as with a single provider.
        "staff": provider("IDP", {
            "PROVIDER": "generic", "ISSUER": DEMO_ISSUER, "CLIENT_ID": "example-site",
            "CLIENT_SECRET": "example-site-secret-for-the-demo-only-0123",
            "DISPLAY_NAME": "Staff account (demo)"}),
    },
}
if env("IDP_PARTNERS_CLIENT_ID") or not env("IDP_CLIENT_ID"):
    # The second: the IDP_PARTNERS_* variables, else (demo) the development provider's second
    # client. Pointing "staff" at a real provider leaves it out unless it is configured too.
    IDP_LOGOUT["PROVIDERS"]["partners"] = provider("IDP_PARTNERS", {
        "PROVIDER": "generic", "ISSUER": DEMO_ISSUER, "CLIENT_ID": "example-partners",
        "CLIENT_SECRET": "example-partners-secret-for-the-demo-only-4567",
        "DISPLAY_NAME": "Partner account (demo)"})
# The single-page app (/spa/) calls the demo API (/demo-api/, this site too) through the
# backend-for-frontend proxy, oidc/api/demo/… (docs/bff.rst).
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")
IDP_LOGOUT["BFF_APIS"] = {"demo": {"URL": f"{SITE_URL}/demo-api/"}}
if not env("IDP_CLIENT_ID"):
    # The development provider's access tokens are opaque: the demo API has them introspected
    # by the staff client (one provider introspects; both clients' tokens are the same
    # provider's). The provider names the demo API in the answer's aud.
    IDP_LOGOUT["PROVIDERS"]["staff"]["API"] = {"AUDIENCE": "demo-api", "INTROSPECT": True}
elif env("IDP_API_AUDIENCE"):
    # A real provider: the identifier it puts in the aud of access tokens for the demo API.
    IDP_LOGOUT["API"] = {"AUDIENCE": env("IDP_API_AUDIENCE", "")}
if env("IDP_REVOKE_TOKENS_ON_LOGOUT", ""):  # unset: each profile's default
    IDP_LOGOUT["REVOKE_TOKENS_ON_LOGOUT"] = env("IDP_REVOKE_TOKENS_ON_LOGOUT", "") == "1"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_idp_logout": {"handlers": ["console"], "level": "INFO"}},
}
