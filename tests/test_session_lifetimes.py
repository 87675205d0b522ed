"""Idle and absolute session lifetimes (issue 12): ``SESSION_IDLE_TIMEOUT`` and
``SESSION_MAX_AGE``, and the ``session-ended/`` page."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from .conftest import ISSUER, FakeProvider
from .test_session_check import age, configure, query
from .test_token_renewal import (
    sign_in,
    signed_in,
)

pytestmark = pytest.mark.django_db


# --- idle and absolute lifetimes ---------------------------------------------------------------


def test_idle_session_ends(fake_op: FakeProvider, settings: Any,
                           expired_sessions: list[dict[str, Any]]) -> None:
    configure(settings, SESSION_IDLE_TIMEOUT=900)
    client = Client()
    sign_in(fake_op, client)
    age(client, seen_at=899)
    assert client.get("/home/").content.startswith(b"home oidc-")  # activity recorded
    age(client, seen_at=900)
    response = client.get("/home/")
    assert query(response["Location"])["reason"] == "idle_timeout"
    assert not signed_in(client)
    assert [e["reason"] for e in expired_sessions] == ["idle_timeout"]
    page = client.get(response["Location"])
    assert b"inactive" in page.content


def test_activity_is_written_at_most_once_a_minute(fake_op: FakeProvider,
                                                   settings: Any) -> None:
    configure(settings, SESSION_IDLE_TIMEOUT=900)
    client = Client()
    sign_in(fake_op, client)
    client.get("/home/")
    with CaptureQueriesContext(connection) as quiet:
        client.get("/home/")
    age(client, seen_at=61)
    with CaptureQueriesContext(connection) as recorded:
        client.get("/home/")
    writes = [q for q in quiet.captured_queries if q["sql"].startswith("UPDATE")]
    assert writes == []
    assert any(q["sql"].startswith("UPDATE") for q in recorded.captured_queries)


def test_too_old_session_ends_however_active(fake_op: FakeProvider, settings: Any) -> None:
    configure(settings, SESSION_MAX_AGE=3600, SESSION_IDLE_TIMEOUT=900)
    client = Client()
    sign_in(fake_op, client)
    age(client, signed_in_at=3600)
    response = client.get("/home/")
    assert query(response["Location"])["reason"] == "max_age"
    assert not signed_in(client)


def test_an_ended_session_revokes_its_tokens(fake_op: FakeProvider, settings: Any) -> None:
    import responses

    configure(settings, SESSION_MAX_AGE=3600)
    fake_op.discovery["revocation_endpoint"] = f"{ISSUER}/revoke"
    fake_op.mock.add(responses.POST, f"{ISSUER}/revoke", status=200)
    client = Client()
    sign_in(fake_op, client)
    age(client, signed_in_at=3600)
    client.get("/home/")
    revoked = [parse_qs(str(c.request.body))["token"] for c in fake_op.mock.calls
               if c.request.url == f"{ISSUER}/revoke"]
    assert revoked == [["rt-1"], ["at-1"]]


def test_session_ended_page_ignores_unknown_reasons_and_foreign_next(client: Client) -> None:
    page = client.get("/oidc/session-ended/", {"reason": "<script>", "next": "https://evil/"})
    assert page.status_code == 200
    assert b"<script>" not in page.content
    assert b'href="/oidc/login/?next=%2Fhome%2F"' in page.content
    assert page["Cache-Control"].startswith("no-store") or "no-cache" in page["Cache-Control"]
