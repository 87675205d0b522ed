"""Back-channel logout cost with many stored sessions, on SQLite and PostgreSQL.

Stores N sessions (Django ``db`` engine) with their ``OIDCSession`` mappings, then measures:

* ending one session by ``sid`` (the common case: ``backchannel_logout_session_required``);
* ending every session of one user by ``sub`` (a user with ``--user-sessions`` sessions);

as database time (the queries ``end_sessions`` runs, timed around the call) and query count,
and prints the query plan of the lookup to show it uses the index, not a scan.

Run through ``benchmarks/run.py`` (``make bench``), or alone:
``python -m benchmarks.backchannel --sessions 100000``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ISSUER = "https://idp.example.test"


@dataclass
class Result:
    database: str
    sessions: int
    sid_ms: float
    sid_queries: int
    sub_ms: float
    sub_queries: int
    user_sessions: int
    sid_plan: str
    sub_plan: str


def _setup_django(database: dict[str, Any]) -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes",
                            "django.contrib.sessions", "django_idp_logout"],
            DATABASES={"default": database},
            CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
            SESSION_ENGINE="django.contrib.sessions.backends.db",
            IDP_LOGOUT={"ISSUER": ISSUER, "CLIENT_ID": "bench"},
            USE_TZ=True, SECRET_KEY="benchmark-only",
            DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        )
        django.setup()


def _populate(sessions: int, user_sessions: int) -> None:
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from django_idp_logout.models import OIDCSession

    expires = timezone.now() + timezone.timedelta(days=14)
    batch = 5000
    for start in range(0, sessions, batch):
        count = min(batch, sessions - start)
        keys = [uuid.uuid4().hex for _ in range(count)]
        Session.objects.bulk_create(
            [Session(session_key=k, session_data="e30:bench", expire_date=expires) for k in keys])
        OIDCSession.objects.bulk_create([
            OIDCSession(issuer=ISSUER,
                        subject="heavy-user" if start + i < user_sessions else f"user-{start + i}",
                        sid=f"sid-{start + i}", session_key=k, expires=expires)
            for i, k in enumerate(keys)])


def _settle(user_sessions: int) -> None:
    """Bring the database and the process to the state of a live site before measuring.

    A live site's tables are not freshly bulk-loaded: on PostgreSQL, VACUUM ANALYZE sets the
    rows' hint bits and the planner's statistics. And a live process has read large results
    before: the first fetch of ~1,000 rows in a process costs the driver a one-time ~20 ms
    (measured with psycopg 3), which would otherwise land inside the measurement.
    """
    from django.db import connection

    from django_idp_logout.models import OIDCSession

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE django_session, django_idp_logout_oidcsession")
    list(OIDCSession.objects.exclude(subject="heavy-user")
         .values_list("user_id", "session_key")[:user_sessions])
    # Populating left ~10^6 young objects behind; a full collection landing inside the
    # measurement costs ~25 ms here and measures the loader, not the logout.
    gc.collect()
    gc.freeze()


def _measure(call: Any) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        call()
        elapsed = time.perf_counter() - started
    return elapsed * 1000, len(queries.captured_queries)


def run(database_name: str, sessions: int, user_sessions: int, repeats: int) -> Result:
    from django.core.management import call_command

    from django_idp_logout.models import OIDCSession
    from django_idp_logout.session_end import end_sessions

    call_command("migrate", verbosity=0)
    _populate(sessions, user_sessions)
    _settle(user_sessions)
    sid_times, sid_queries = [], 0
    for i in range(repeats):
        sid = f"sid-{sessions - 1 - i}"
        elapsed, sid_queries = _measure(lambda sid=sid: end_sessions(ISSUER, sid=sid,
                                                                     subject=None))
        sid_times.append(elapsed)
    sub_ms, sub_queries = _measure(lambda: end_sessions(ISSUER, sid=None, subject="heavy-user"))
    assert not OIDCSession.objects.filter(subject="heavy-user").exists()
    sid_plan = OIDCSession.objects.filter(issuer=ISSUER, sid="sid-42").explain()
    sub_plan = OIDCSession.objects.filter(issuer=ISSUER, subject="user-77").explain()
    return Result(database_name, sessions, statistics.median(sid_times), sid_queries, sub_ms,
                  sub_queries, user_sessions, sid_plan, sub_plan)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--user-sessions", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--sqlite-path", default=None)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.database == "sqlite":
        path = args.sqlite_path or f"/tmp/idp-bench-{os.getpid()}.sqlite3"
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": path}
    else:
        import psycopg

        name = f"idp_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        database = {"ENGINE": "django.db.backends.postgresql", "NAME": name,
                    "USER": "postgres", "HOST": "127.0.0.1", "PORT": "5432"}
    _setup_django(database)
    try:
        result = run(args.database, args.sessions, args.user_sessions, args.repeats)
    finally:
        from django.db import connection

        connection.close()
        if args.database == "sqlite":
            Path(database["NAME"]).unlink(missing_ok=True)
        else:
            import psycopg

            with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                                 autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database["NAME"]}" WITH (FORCE)')
    print(f"RESULT {result.database} sessions={result.sessions} "
          f"sid_ms={result.sid_ms:.2f} sid_queries={result.sid_queries} "
          f"sub_ms={result.sub_ms:.2f} sub_queries={result.sub_queries} "
          f"user_sessions={result.user_sessions}")
    print("PLAN sid:", " | ".join(result.sid_plan.splitlines()))
    print("PLAN sub:", " | ".join(result.sub_plan.splitlines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
