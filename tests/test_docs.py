"""The configuration reference documents every key with its default."""

from pathlib import Path

from django_idp_logout.conf import DEFAULTS

DOCS = Path(__file__).parent.parent / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.rst").read_text()
    for key in DEFAULTS:
        assert f"``{key}`` (" in text, key
