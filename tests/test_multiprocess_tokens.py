"""Token renewal on a real deployment (issue 12): two gunicorn processes with four threads
each, sessions in PostgreSQL, the lock in Redis — or in the database with Django's default
``LocMemCache``. Eight requests of one session ask for a token at once after it expired:
exactly one refresh request reaches the provider, and all eight get the same new token."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests

from .op_server import Browser
from .test_multiprocess import Deployment, _cookie, database, services  # noqa: F401

pytestmark = pytest.mark.services

ACCESS_TOKEN_TTL = 2


@pytest.fixture(params=["redis", "locmem"])
def token_deployment(request: pytest.FixtureRequest, database: str  # noqa: F811
                     ) -> Iterator[Deployment]:
    running = Deployment(
        "db", database, cache=str(request.param), threads=4,
        op_env={"OP_REFRESH": "1", "OP_ROTATE": "1",
                "OP_ACCESS_TOKEN_TTL": str(ACCESS_TOKEN_TTL)},
        env={"MP_TOKEN_RENEW_MARGIN": "0"}).start()
    yield running
    running.stop()


def test_concurrent_requests_after_expiry_make_one_refresh(
        token_deployment: Deployment) -> None:
    deployment = token_deployment
    browser = Browser(rp_origin=deployment.a)
    page = browser.go(f"{deployment.a}/oidc/login/?next=/token/", login="tess")
    assert page.text.startswith("token "), page.text
    first = page.text
    cookie = _cookie(browser.op, "sessionid")
    time.sleep(ACCESS_TOKEN_TTL + 0.3)
    before = deployment.op.refresh_requests()

    barrier = threading.Barrier(8)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def ask(base: str) -> None:
        barrier.wait(timeout=10)
        response = requests.get(f"{base}/token/", cookies={"sessionid": cookie}, timeout=30,
                                allow_redirects=False)
        with lock:
            answers.append((response.status_code, response.text))

    threads = [threading.Thread(target=ask, args=(base,))
               for base in [deployment.a, deployment.b] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert deployment.op.refresh_requests() - before == 1
    assert len(answers) == 8
    assert {status for status, _ in answers} == {200}, answers
    tokens = {text for _, text in answers}
    assert len(tokens) == 1, tokens
    assert tokens != {first}
    # Later requests, on either process, use the renewed token without asking again.
    for base in (deployment.a, deployment.b):
        again = requests.get(f"{base}/token/", cookies={"sessionid": cookie}, timeout=10)
        assert again.text in tokens
    assert deployment.op.refresh_requests() - before == 1
