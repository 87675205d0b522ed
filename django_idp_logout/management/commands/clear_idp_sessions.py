"""Remove session mappings of sessions that no longer exist, and expired single-use values
(run it next to ``clearsessions``); or, with ``--user`` / ``--issuer``, end live sessions.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ...models import OIDCSession
from ...session import engine_can_delete, session_store_class
from ...store import purge_expired


class Command(BaseCommand):
    help = ("Delete OIDCSession rows whose Django session has expired or is gone (the mapping "
            "that back-channel logout uses), and expired single-use values and revocation "
            "markers. Schedule it with clearsessions. With --user/--issuer: end those live "
            "sessions instead.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--user", action="append", default=[], metavar="USERNAME",
            help="End this user's sessions (repeatable), as the admin's 'End sessions' does: "
                 "their tokens revoked at the provider where it can, the sessions ended here "
                 "on every session engine.")
        parser.add_argument(
            "--issuer", help="End the sessions signed in at this issuer (with --user: only "
                             "those of these users).")
        parser.add_argument("--no-revoke", action="store_true",
                            help="With --user/--issuer: do not revoke tokens at the provider.")

    def handle(self, *args: Any, user: list[str], issuer: str | None, no_revoke: bool,
               **options: Any) -> None:
        if user or issuer:
            self.end_sessions(user, issuer, revoke=not no_revoke)
            return
        self.clean_up()

    def end_sessions(self, usernames: list[str], issuer: str | None, *, revoke: bool) -> None:
        from ...flow.operator import end_session_rows

        rows = OIDCSession.objects.all()
        if usernames:
            model = get_user_model()
            users = model._default_manager.filter(**{
                f"{model.USERNAME_FIELD}__in": usernames})
            missing = set(usernames) - {u.get_username() for u in users}
            if missing:
                raise CommandError(f"no such user: {', '.join(sorted(missing))}")
            rows = rows.filter(user__in=users)
        if issuer:
            rows = rows.filter(issuer=issuer)
        ended = end_session_rows(rows, revoke=revoke, sender=Command)
        self.stdout.write(f"ended {ended} session(s)")

    def clean_up(self) -> None:
        now = timezone.now()
        past_expiry = OIDCSession.objects.filter(expires__lt=now)
        removed = 0
        if engine_can_delete():
            store = session_store_class()
            gone = [row.pk for row in past_expiry.only("pk", "session_key").iterator()
                    if not row.session_key or not store().exists(row.session_key)]
            removed = OIDCSession.objects.filter(pk__in=gone).delete()[0]
        else:
            # Cookie sessions cannot be looked up: keep rows for one more cookie lifetime.
            cutoff = now - timedelta(seconds=settings.SESSION_COOKIE_AGE)
            removed = past_expiry.filter(expires__lt=cutoff).delete()[0]
        self.stdout.write(f"removed {removed} session mapping(s)")
        self.stdout.write(f"removed {purge_expired()} expired shared value(s)")
