"""The test settings with Django 5.1+'s ``LoginRequiredMiddleware`` on: every view of the app
must stay reachable (``login_not_required``)."""

from tests.settings import *  # noqa: F403
from tests.settings import MIDDLEWARE as BASE_MIDDLEWARE

MIDDLEWARE = [*BASE_MIDDLEWARE, "django.contrib.auth.middleware.LoginRequiredMiddleware"]
LOGIN_URL = "/oidc/login/"
