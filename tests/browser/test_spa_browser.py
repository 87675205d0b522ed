"""The example's single-page app in real headless Chromium (issue 15): sign in from the app,
call the demo API through the backend-for-frontend proxy, let the access token expire and
call again (renewed on the server), sign out from the app and see the provider's session end
— and the page never sees a token.

A demo of its own, whose development provider issues access tokens for 6 seconds.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ..demo import Demo
from .test_browser import browser, page, shot, sign_in_at_provider  # noqa: F401

pytestmark = pytest.mark.browser

TOKEN_LIFETIME = 6


@pytest.fixture(scope="module")
def short_demo(browser: Any, tmp_path_factory: pytest.TempPathFactory  # noqa: F811
               ) -> Iterator[Demo]:
    running = Demo(tmp_path_factory.mktemp("spa-demo"),
                   env={"DEVIDP_TOKEN_EXPIRE": str(TOKEN_LIFETIME)}).start()
    yield running
    running.stop()


def issued_tokens(demo: Demo) -> set[str]:
    """The access and refresh tokens the development provider holds now (its database; a
    refresh deletes the old ones)."""
    with sqlite3.connect(demo.data_dir / "devidp.sqlite3") as db:
        rows = db.execute("SELECT access_token, refresh_token FROM oidc_provider_token")
        return {value for row in rows for value in row if value}


def call(tab: Any, button: str, url_part: str) -> tuple[int, str]:
    with tab.expect_response(lambda r: url_part in r.url) as caught:
        tab.click(button)
    response = caught.value
    return response.status, response.text()


def test_spa_signs_in_calls_the_api_renews_and_signs_out(
        page: Any, short_demo: Demo) -> None:  # noqa: F811
    demo = short_demo
    bodies: list[str] = []
    # Every body the page's script receives, recorded before the script sees it.
    seen: list[tuple[str, str]] = []
    page.expose_function("recordBody", lambda url, text: seen.append((url, text)))
    page.add_init_script("""{
        const original = window.fetch;
        window.fetch = async (...args) => {
            const response = await original(...args);
            await window.recordBody(response.url, await response.clone().text());
            return response;
        };
    }""")

    with page.expect_response(lambda r: "/oidc/session/" in r.url) as first:
        page.goto(f"{demo.site}/spa/")
    assert first.value.status == 401
    bodies.append(first.value.text())
    page.wait_for_selector("#spa-signed-out:not([hidden])")
    assert page.inner_text("#spa-status") == "You are not signed in."
    shot(page, "spa-signed-out")

    # Sign-in: a top-level navigation to the provider and back to the app.
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.click("#spa-provider-staff")
    sign_in_at_provider(page, demo)
    with page.expect_response(lambda r: "/oidc/session/" in r.url) as again:
        page.wait_for_url(f"{demo.site}/spa/")
    assert again.value.status == 200
    bodies.append(again.value.text())
    page.wait_for_selector("#spa-signed-in:not([hidden])")
    assert "demo@example.test" in page.inner_text("#spa-status")
    assert "Staff account (demo)" in page.inner_text("#spa-status")

    # The API, through the proxy: the site adds the access token.
    status, text = call(page, "#spa-call-api", "/oidc/api/demo/")
    bodies.append(text)
    assert status == 200, text
    first_call = json.loads(text)
    tokens = issued_tokens(demo)
    assert first_call["message"] == "Hello demo@example.test, from the demo API."
    assert first_call["query"] == {"from": "spa"}
    assert first_call["token"]["provider"] == "staff"
    shot(page, "spa-api-called")

    # The access token expires; the next call is renewed on the server, invisibly.
    time.sleep(TOKEN_LIFETIME / 2 + 1)
    status, text = call(page, "#spa-call-api", "/oidc/api/demo/")
    bodies.append(text)
    assert status == 200, text
    second_call = json.loads(text)
    assert second_call["token"]["issued_at"] > first_call["token"]["issued_at"]
    assert page.get_attribute("#spa-api-result", "data-status") == "200"

    # Nothing the page can read holds a token.
    tokens |= issued_tokens(demo)
    assert len(tokens) >= 4  # two access tokens and their refresh tokens at least
    readable = page.evaluate("""() => JSON.stringify({
        local: {...localStorage}, session: {...sessionStorage}, cookies: document.cookie,
        html: document.documentElement.outerHTML})""")
    assert "site_sessionid" not in json.loads(readable)["cookies"]  # HttpOnly
    bodies += [text for _, text in seen]
    assert len(seen) >= 4  # session/ twice, the API twice
    for token in tokens:
        assert token not in readable
        for text in bodies:
            assert token not in text
    assert "eyJ" not in readable
    assert not any("eyJ" in text for text in bodies)

    # Sign-out from the app: a POST answered with the URL to navigate to.
    with page.expect_request(lambda r: r.url.startswith(f"{demo.idp}/openid/end-session?")):
        page.click("#spa-sign-out")
    page.wait_for_url(f"{demo.site}/spa/")
    # The answer named a one-time URL of the site's (no token in it, nor in any URL the
    # page was given), which sent the browser on to the provider's end-session endpoint.
    # (The unit tests read that JSON answer itself: here the page navigates away at once.)
    handoff = [url for url in requested if "/oidc/logout/?continue=" in url]
    assert len(handoff) == 1
    assert not any(token in url for token in tokens for url in handoff)
    page.wait_for_selector("#spa-signed-out:not([hidden])")
    assert any(url.startswith(f"{demo.idp}/openid/end-session?") for url in requested)
    shot(page, "spa-signed-out-again")

    # The provider's session ended too: signing in asks for the password again.
    page.click("#spa-provider-staff")
    page.wait_for_url(f"{demo.idp}/accounts/login/**")
    assert page.is_visible("#id_password")
