"""The example site: django-idp-logout used exactly as an integrator would.

``IDP_LOGOUT`` comes from environment variables (or ``example_project/.env``), so the same site
points at a real provider by changing a few values; see ``.env.example``. The defaults point at
the embedded development identity provider started by ``make demo``.
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
    "django_idp_logout.middleware.IdPSessionMiddleware",
]
ROOT_URLCONF = "site_example.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
    ]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": env("SITE_DB", str(BASE_DIR / "site.sqlite3"))}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_COOKIE_NAME = "site_sessionid"
STATIC_URL = "/static/"
USE_TZ = True
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOGIN_URL = "idp_logout:login"
LOGIN_REDIRECT_URL = "/protected/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

IDP_LOGOUT = {
    "PROVIDER": env("IDP_PROVIDER", "generic"),
    "ISSUER": env("IDP_ISSUER", "http://localhost:8001/openid"),
    "CLIENT_ID": env("IDP_CLIENT_ID", "example-site"),
    "CLIENT_SECRET": env("IDP_CLIENT_SECRET", "example-site-secret-for-the-demo-only-0123"),
    "SCOPES": env("IDP_SCOPES", "openid email profile"),
    "POST_LOGOUT_REDIRECT_URL": "/",
}
if env("IDP_REVOKE_TOKENS_ON_LOGOUT", ""):  # unset: the profile's default
    IDP_LOGOUT["REVOKE_TOKENS_ON_LOGOUT"] = env("IDP_REVOKE_TOKENS_ON_LOGOUT", "") == "1"
if not IDP_LOGOUT["CLIENT_SECRET"]:
    del IDP_LOGOUT["CLIENT_SECRET"]  # a public client: PKCE only

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_idp_logout": {"handlers": ["console"], "level": "INFO"}},
}
