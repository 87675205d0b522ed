"""Settings for the test site served by an ASGI server (``tests/test_asgi.py``).

The test suite's own settings, with what the server process cannot share with the test: a
SQLite file (``IDP_TEST_SQLITE``, migrated before the server starts), the session engine and
the provider, all from the environment the test sets.
"""

import os

from tests.settings import *  # noqa: F403

env = os.environ
ALLOWED_HOSTS = ["127.0.0.1"]
SESSION_ENGINE = f"django.contrib.sessions.backends.{env.get('ASGI_SESSION_ENGINE', 'db')}"
IDP_LOGOUT = {
    "ISSUER": env.get("ASGI_ISSUER", "http://localhost:9"),
    "CLIENT_ID": env.get("ASGI_CLIENT_ID", "rp-asgi"),
    "CLIENT_SECRET": env.get("ASGI_CLIENT_SECRET", ""),
    "POST_LOGOUT_REDIRECT_URL": "/home/",
}
SILENCED_SYSTEM_CHECKS = ["django_idp_logout.W003", "django_idp_logout.W006"]
