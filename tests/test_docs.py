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

from django_idp_logout import docs_links
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


# --- The README is the package's long description ---------------------------------------------
#: On a package index the README is shown without the repository around it: a relative link or
#: image there leads nowhere. Documentation pages are linked on the published docs, repository
#: files on the repository's default branch.
ROOT = DOCS.parent
README = ROOT / "README.md"
DOCS_URL = docs_links.DOCS_URL  # the check hints' links and the package metadata agree
REPO_URL = "https://github.com/django-idp-logout/django-idp-logout"
REPO_FILE = re.compile(rf"^{re.escape(REPO_URL)}/(?:blob|tree)/main/(?P<path>[^#?]+)")
RAW_FILE = re.compile(
    r"^https://raw\.githubusercontent\.com/django-idp-logout/django-idp-logout/main/"
    r"(?P<path>[^#?]+)"
)
#: ``[text](target)`` and ``![alt](target "title")``; reference definitions ``[id]: target``;
#: HTML ``src``/``href`` attributes.
INLINE_TARGET = re.compile(r"\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_TARGET = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S*?)>?(?:\s|$)", re.MULTILINE)
HTML_TARGET = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


def readme_targets() -> list[str]:
    """Every link and image target of the README, code blocks and code spans left out."""
    text = re.sub(r"^(```|~~~).*?^\1", "", README.read_text(), flags=re.MULTILINE | re.DOTALL)
    text = re.sub(r"`[^`\n]*`", "", text)
    return [
        *INLINE_TARGET.findall(text),
        *REFERENCE_TARGET.findall(text),
        *HTML_TARGET.findall(text),
    ]


def test_readme_links_and_images_are_absolute() -> None:
    targets = readme_targets()
    assert len(targets) > 10  # the patterns do find the README's links
    relative = [t for t in targets if not t.startswith(("https://", "#"))]
    assert not relative, f"relative (or plain http) links in README.md: {relative}"


def test_readme_links_point_at_what_exists() -> None:
    """A link to the published docs names a page this ``docs/`` builds; a link into the
    repository names a file or folder that exists (images included)."""
    missing = []
    for target in readme_targets():
        if target.startswith(DOCS_URL):
            page = target[len(DOCS_URL) :].split("#")[0]
            if page in ("", "index.html"):
                continue
            stem = DOCS / page.removesuffix(".html")
            if not page.endswith(".html") or not (
                stem.with_suffix(".rst").is_file() or stem.with_suffix(".md").is_file()
            ):
                missing.append(target)
        elif (match := REPO_FILE.match(target) or RAW_FILE.match(target)) and not (
            ROOT / match["path"]
        ).exists():
            missing.append(target)
    assert not missing, f"README.md links to pages or files that do not exist: {missing}"


def project_urls() -> dict[str, str]:
    """``[project.urls]`` of pyproject.toml (read without ``tomllib``, which Python 3.10
    lacks)."""
    text = (ROOT / "pyproject.toml").read_text()
    section = re.search(r"^\[project\.urls\]\n(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    assert section, "pyproject.toml has no [project.urls]"
    return dict(re.findall(r'^"?([\w .-]+?)"?\s*=\s*"([^"]*)"', section[1], re.MULTILINE))


def test_pyproject_names_the_project_urls() -> None:
    urls = project_urls()
    assert set(urls) >= {"Documentation", "Source", "Changelog", "Issues"}, urls
    assert urls["Documentation"] == DOCS_URL
    assert urls["Changelog"] == f"{DOCS_URL}changelog.html"
    assert (DOCS / "changelog.rst").is_file()
    assert urls["Source"] == REPO_URL
    assert urls["Issues"] == f"{REPO_URL}/issues"


def test_read_the_docs_builds_as_ci_does() -> None:
    """Warnings are errors there too, and the docs extra is what it installs."""
    config = (ROOT / ".readthedocs.yaml").read_text()
    assert re.search(r"^version: 2$", config, re.MULTILINE)
    assert re.search(r"^\s+configuration: docs/conf\.py$", config, re.MULTILINE)
    assert re.search(r"^\s+fail_on_warning: true", config, re.MULTILINE)
    assert re.search(r"^\s+extra_requirements:\n\s+- docs$", config, re.MULTILINE)
    assert re.search(r"^docs = \[", (ROOT / "pyproject.toml").read_text(), re.MULTILINE)


def test_the_docs_cite_only_documents_a_reader_can_open() -> None:
    """Vendor documents are cited by their public title and address, never by a local file."""
    pages = [README, *DOCS.rglob("*.rst"), *DOCS.glob("*.md")]
    offending = [
        f"{page.relative_to(ROOT)}:{number}"
        for page in pages
        for number, line in enumerate(page.read_text().splitlines(), 1)
        if "provider-docs" in line or "shared/" in line
    ]
    assert not offending, offending
