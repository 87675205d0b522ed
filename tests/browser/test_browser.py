"""Real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against the demo:
the example site and its development identity provider, started with ``make demo``.

Never ``playwright install``: the browser is the system's. Without it these tests are skipped
with a message on a developer machine, and fail in CI (``IDP_REQUIRE_BROWSER=1``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..demo import Demo

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("IDP_SCREENSHOT_DIR", ROOT / "artifacts" / "screenshots"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _unavailable() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (the browser extra) is not installed"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _unavailable()
    if reason:
        if os.environ.get("IDP_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def sign_in_at_provider(page: Any, demo: Demo, *, allow: bool = True) -> None:
    page.wait_for_url(f"{demo.idp}/accounts/login/**")
    page.fill("#id_username", "demo")
    page.fill("#id_password", "demo-password")
    page.click("#idp-sign-in")
    consent(page, demo, allow=allow)


def consent(page: Any, demo: Demo, *, allow: bool = True) -> None:
    page.wait_for_url(f"{demo.idp}/openid/authorize**")
    page.click("#idp-allow" if allow else "#idp-decline")


def choose(page: Any, demo: Demo, provider: str) -> None:
    """On the sign-in chooser (``login/`` of a site with several providers), pick one."""
    page.wait_for_url(f"{demo.site}/oidc/login/?**")
    page.click(f"#provider-{provider}")


def test_sign_in_out_and_the_provider_session_ends(page: Any, demo: Demo) -> None:
    page.goto(f"{demo.site}/")
    assert "This page is public" in page.inner_text("#status")
    shot(page, "public-page")
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.click("#sign-in")
    choose(page, demo, "staff")
    sign_in_at_provider(page, demo)
    page.wait_for_url(f"{demo.site}/protected/")
    assert "demo@example.test" in page.inner_text("#who")
    assert page.inner_text("#provider") == "Staff account (demo)"
    assert "email_verified" in page.inner_text("#claims")
    assert "eyJ" not in page.content()  # no raw token on the page
    shot(page, "protected-page")

    # Reloading the callback after signing in does not show an error.
    page.goto([url for url in requested if "/oidc/callback/staff/" in url][-1])
    page.wait_for_url(f"{demo.site}/protected/")

    # The confirmation page (GET logout/) changes nothing; its button signs out.
    page.goto(f"{demo.site}/oidc/logout/")
    shot(page, "logout-confirmation")
    page.click("#confirm-sign-out")
    page.wait_for_url(f"{demo.site}/")
    assert "This page is public" in page.inner_text("#status")
    assert any(url.startswith(f"{demo.idp}/openid/end-session?") for url in requested)
    # The user is told, and the verified return lets the page name the provider.
    notice = page.inner_text("[role=status]")
    assert "You are also signed out of Staff account (demo)." in notice
    shot(page, "signed-out")

    # The provider's session is gone: the next sign-in asks for the password again.
    page.click("#sign-in")
    choose(page, demo, "staff")
    page.wait_for_url(f"{demo.idp}/accounts/login/**")
    assert page.is_visible("#id_password")


def test_the_chooser_signs_in_with_the_provider_clicked(page: Any, demo: Demo) -> None:
    """Two providers: the "Sign in" link opens the chooser; the second provider's button signs
    in through its own client and callback, and the pages say which provider it was."""
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{demo.site}/")
    page.click("#sign-in")
    page.wait_for_url(f"{demo.site}/oidc/login/?**")
    buttons = page.locator("#providers a")
    assert buttons.all_inner_texts() == ["Sign in with Staff account (demo)",
                                         "Sign in with Partner account (demo)"]
    shot(page, "provider-chooser")
    page.click("#provider-partners")
    sign_in_at_provider(page, demo)
    page.wait_for_url(f"{demo.site}/protected/")
    assert page.inner_text("#provider") == "Partner account (demo)"
    assert any(url.startswith(f"{demo.idp}/openid/authorize?")
               and "client_id=example-partners" in url for url in requested)
    assert any(url.startswith(f"{demo.site}/oidc/callback/partners/?") for url in requested)
    page.goto(f"{demo.site}/")
    assert "with Partner account (demo)" in page.inner_text("#status")
    page.click("#sign-out")
    page.wait_for_url(f"{demo.site}/")
    assert "This page is public" in page.inner_text("#status")


def test_sign_out_button_on_every_page(page: Any, demo: Demo) -> None:
    visited: list[str] = []
    page.on("request", lambda r: visited.append(r.url))
    page.goto(f"{demo.site}/oidc/login/?provider=staff&next=/protected/")
    sign_in_at_provider(page, demo)
    page.wait_for_url(f"{demo.site}/protected/")
    page.click("#sign-out")
    page.wait_for_url(f"{demo.site}/")
    assert any(url.startswith(f"{demo.idp}/openid/end-session") for url in visited)
    assert any("/oidc/logout/complete/?state=" in url for url in visited)


def test_cancelled_consent_shows_friendly_page(page: Any, demo: Demo) -> None:
    page.goto(f"{demo.site}/oidc/login/?provider=staff&next=/protected/")
    sign_in_at_provider(page, demo, allow=False)
    page.wait_for_url(f"{demo.site}/oidc/callback/**")
    assert "Sign-in cancelled" in page.inner_text("h1")
    assert "Reference:" in page.content()
    shot(page, "error-page")
    page.goto(f"{demo.site}/")
    assert "This page is public" in page.inner_text("#status")


def test_two_tabs_sign_in_at_once(browser: Any, demo: Demo) -> None:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    tab1, tab2 = context.new_page(), context.new_page()
    tab1.goto(f"{demo.site}/oidc/login/?provider=staff&next=/protected/%3Ftab%3D1")
    tab2.goto(f"{demo.site}/oidc/login/?provider=staff&next=/protected/%3Ftab%3D2")
    sign_in_at_provider(tab1, demo)
    tab1.wait_for_url(f"{demo.site}/protected/?tab=1")
    # Tab 2 still shows the provider's sign-in form from before; like a person would, reload
    # it: the provider now knows the user and only asks for consent.
    tab2.reload()
    consent(tab2, demo)
    tab2.wait_for_url(f"{demo.site}/protected/?tab=2")
    assert "demo@example.test" in tab2.inner_text("#who")
    context.close()
