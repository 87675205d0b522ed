"""Settings for the multi-process tests: real PostgreSQL and Redis, any session engine.

Everything comes from the environment that ``tests/test_multiprocess.py`` sets for both server
processes, so they share the database, the cache and the secret key. ``MP_CACHE=locmem``
gives each process Django's default per-process ``LocMemCache`` instead of Redis (what most
sites run); ``MP_REDIRECT_URI`` and ``MP_TOKEN_ENDPOINT`` pin the callback URL and the token
endpoint, so that either process can finish a sign-in and the test can count token requests.
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
if env.get("MP_CACHE") == "locmem":
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SESSION_ENGINE = f"django.contrib.sessions.backends.{env['MP_SESSION_ENGINE']}"
IDP_LOGOUT = {
    "ISSUER": env["MP_ISSUER"],
    "CLIENT_ID": env["MP_CLIENT_ID"],
    "CLIENT_SECRET": env["MP_CLIENT_SECRET"],
}
if env.get("MP_REDIRECT_URI"):
    IDP_LOGOUT["REDIRECT_URI"] = env["MP_REDIRECT_URI"]
if env.get("MP_TOKEN_ENDPOINT"):
    IDP_LOGOUT["ENDPOINTS"] = {"token_endpoint": env["MP_TOKEN_ENDPOINT"]}
SILENCED_SYSTEM_CHECKS = ["django_idp_logout.W003", "django_idp_logout.W006"]
if env.get("MP_TOKEN_RENEW_MARGIN"):
    IDP_LOGOUT["TOKEN_RENEW_MARGIN"] = int(env["MP_TOKEN_RENEW_MARGIN"])
