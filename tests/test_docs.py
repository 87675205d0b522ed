"""The configuration reference is rendered from the keys' one declaration (``IdPConfig``):
every key, once, with its default; and the page around it names the real fallbacks."""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from django_idp_logout.conf import DEFAULTS, OIDC_FALLBACKS, OIDC_IGNORED, SETTINGS

DOCS = Path(__file__).parent.parent / "docs"
PAGE = DOCS / "configuration.rst"
#: An entry of the reference: ````KEY`` (default …)`` at the start of a line.
ENTRY = re.compile(r"^``([A-Z][A-Z0-9_]*)`` \(", re.MULTILINE)


def docs_conf() -> ModuleType:
    pytest.importorskip("sphinx", reason="the docs extra (Sphinx) is not installed")
    spec = importlib.util.spec_from_file_location("docs_conf", DOCS / "conf.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_page_has_no_hand_written_entries() -> None:
    """The entries come from the directive only, so none can drift from the declaration (the
    fallback table's rows start the same way: those name mozilla-django-oidc settings)."""
    text = PAGE.read_text()
    assert text.count(".. idp-logout-settings::") == 1
    assert set(ENTRY.findall(text)) <= set(OIDC_FALLBACKS)


def test_the_reference_lists_every_key_once_with_its_default() -> None:
    conf = docs_conf()
    lines = conf.settings_reference()
    assert ENTRY.findall("\n".join(lines)) == list(DEFAULTS)
    for key in SETTINGS:
        assert key.doc.strip(), key.name
        if key.default_doc:
            assert f"``{key.name}`` ({key.default_doc})" in lines
            continue
        shown = conf.literal(key.default)
        assert f"``{key.name}`` (default ``{shown}``)" in lines
        assert ast.literal_eval(shown) == key.default, key.name


def test_the_page_builds_with_every_key(tmp_path: Path) -> None:
    """Sphinx, warnings as errors, on the page alone (the same conf.py and directive)."""
    pytest.importorskip("sphinx", reason="the docs extra (Sphinx) is not installed")
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    src = tmp_path / "src"
    src.mkdir()
    for name in ("conf.py", "configuration.rst"):
        shutil.copy(DOCS / name, src / name)
    with docutils_namespace():
        app = Sphinx(str(src), str(src), str(tmp_path / "out"), str(tmp_path / "doctrees"),
                     "text", status=None, warningiserror=True,
                     confoverrides={"root_doc": "configuration"})
        app.build()
    text = (tmp_path / "out" / "configuration.txt").read_text()
    documented = re.findall(r'^"([A-Z][A-Z0-9_]*)" \(', text, re.MULTILINE)
    assert documented == list(DEFAULTS)


@pytest.mark.parametrize("name", [*OIDC_FALLBACKS, *OIDC_IGNORED])
def test_every_mozilla_setting_is_on_the_page(name: str) -> None:
    text = PAGE.read_text()
    assert f"``{name}``" in text
    if name in OIDC_FALLBACKS:
        key = OIDC_FALLBACKS[name][0].split(".")[0]
        assert key in DEFAULTS
        row = next(line for line in text.splitlines() if line.startswith(f"``{name}``"))
        assert f"``{key}" in row, row
