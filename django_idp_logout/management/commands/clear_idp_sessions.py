"""Remove session mappings of sessions that no longer exist, and expired single-use values.

Run it next to ``clearsessions``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from ...models import OIDCSession
from ...session import engine_can_delete, session_store_class
from ...store import purge_expired


class Command(BaseCommand):
    help = ("Delete OIDCSession rows whose Django session has expired or is gone (the mapping "
            "that back-channel logout uses), and expired single-use values and revocation "
            "markers. Schedule it with clearsessions.")

    def handle(self, *args: Any, **options: Any) -> None:
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
