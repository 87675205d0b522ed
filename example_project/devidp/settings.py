"""The embedded development identity provider: django-oidc-provider, in its own process, on
its own host name (``localhost``, while the site is ``127.0.0.1``) so its cookies are not the
site's. For the demo and the browser tests only."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DEVIDP_SECRET_KEY", "dev-idp-development-only-key-0123456789abc")
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
INSTALLED_APPS = [
    "devidp",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",  # its stylesheet, served by runserver (DEBUG)
    "oidc_provider",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "devidp.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                       "django.contrib.auth.context_processors.auth"]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("DEVIDP_DB", str(BASE_DIR / "devidp.sqlite3"))}}
SESSION_COOKIE_NAME = "idp_sessionid"
CSRF_COOKIE_NAME = "idp_csrftoken"
USE_TZ = True
# In the browser's language, like the example site: English or German (devidp/locale, which
# also translates django-oidc-provider's scope names on the consent page).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "devidp" / "locale"]
STATIC_URL = "/static/"
LOGIN_URL = "/accounts/login/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

SITE_URL = os.environ.get("DEVIDP_URL", "http://localhost:8001")
OIDC_USERINFO = "devidp.claims.userinfo"
OIDC_IDTOKEN_INCLUDE_CLAIMS = True
OIDC_SKIP_CONSENT_EXPIRE = 0  # always ask, so the demo can show a cancelled consent

# Access tokens' lifetime: the browser test of the single-page app makes it short, to see the
# site renew them.
OIDC_TOKEN_EXPIRE = int(os.environ.get("DEVIDP_TOKEN_EXPIRE", "3600"))
# django-oidc-provider's introspection answers the token's client as its audience; a real
# provider answers the API's identifier. This names the example's demo API.
OIDC_INTROSPECTION_PROCESSING_HOOK = "devidp.claims.introspection"
OIDC_INTROSPECTION_RESPONSE_SCOPE_ENABLE = True
