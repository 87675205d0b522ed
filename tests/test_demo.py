"""The quick start cannot silently rot: run ``make demo`` and sign in through it."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from .demo import Demo, sign_in_with_requests

pytestmark = pytest.mark.demo


def test_both_servers_answer(demo: Demo) -> None:
    discovery = requests.get(f"{demo.idp}/openid/.well-known/openid-configuration", timeout=5)
    assert discovery.json()["issuer"] == f"{demo.idp}/openid"
    assert requests.get(f"{demo.site}/", timeout=5).status_code == 200


def test_sign_in_and_out_through_the_demo(demo: Demo) -> None:
    session = requests.Session()
    page = sign_in_with_requests(demo, session)
    assert page.url == f"{demo.site}/protected/"
    assert "demo@example.test" in page.text
    assert "id_token" not in page.text.lower().replace("id token", "")
    # Sign out: POST with CSRF, through the provider's end-session, back to the public page.
    token = session.cookies.get("csrftoken", domain="127.0.0.1")
    page = session.post(f"{demo.site}/oidc/logout/", data={"csrfmiddlewaretoken": token},
                        headers={"Referer": f"{demo.site}/protected/"}, timeout=10)
    assert page.url == f"{demo.site}/"
    assert "This page is public" in page.text
    # The provider's session ended: signing in again asks for the password.
    again = session.get(f"{demo.site}/oidc/login/", timeout=10)
    assert again.url.startswith(f"{demo.idp}/accounts/login/")


def test_readme_quick_start_is_two_commands() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = [line for line in quick.splitlines() if line.startswith("make ")]
    assert [c.split()[1] for c in commands] == ["demo", "test"]
