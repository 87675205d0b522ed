"""Settings for the multi-process tests: real PostgreSQL and Redis, any session engine.

Everything comes from the environment that ``tests/test_multiprocess.py`` sets for both server
processes, so they share the database, the cache and the secret key.
"""

import os

from tests.settings import *  # noqa: F403

env = os.environ
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DATABASES = {"default": {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": env["MP_DB_NAME"],
    "USER": env.get("MP_DB_USER", "postgres"),
    "HOST": "127.0.0.1",
    "PORT": "5432",
}}
CACHES = {"default": {
    "BACKEND": "django.core.cache.backends.redis.RedisCache",
    "LOCATION": env.get("MP_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "KEY_PREFIX": env["MP_CACHE_PREFIX"],
}}
SESSION_ENGINE = f"django.contrib.sessions.backends.{env['MP_SESSION_ENGINE']}"
IDP_LOGOUT = {
    "ISSUER": env["MP_ISSUER"],
    "CLIENT_ID": env["MP_CLIENT_ID"],
    "CLIENT_SECRET": env["MP_CLIENT_SECRET"],
}
SILENCED_SYSTEM_CHECKS = ["django_idp_logout.W006"]
