"""Sphinx configuration. Built with warnings as errors (``make docs``).

Includes a small extension: the directive ``idp-logout-settings`` renders the reference of
every ``IDP_LOGOUT`` key from the keys' one declaration (``django_idp_logout/conf_keys.py``),
so the page cannot miss a key nor list one that does not exist. Each entry has an HTML anchor
named after its key exactly (``configuration.html#CLIENT_SECRET``), which check hints link.
"""

import json
import os
import sys
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

sys.path.insert(0, os.path.abspath(".."))

project = "django-idp-logout"
author = "django-idp-logout contributors"
copyright = "2026, django-idp-logout contributors"

from django_idp_logout import __version__

release = __version__
extensions = ["sphinx.ext.intersphinx", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
suppress_warnings = ["myst.header"]
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
html_theme = "furo"
html_title = f"django-idp-logout {release}"
exclude_patterns = ["_build"]
nitpicky = False


def literal(value: Any) -> str:
    """A default as the reference shows it: Python syntax, strings in double quotes."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple):
        items = ", ".join(map(literal, value))
        return f"({items},)" if len(value) == 1 else f"({items})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def anchor(key: str) -> list[str]:
    """An HTML anchor whose id is exactly ``key`` (``configuration.html#CLIENT_SECRET``), as
    reStructuredText lines to put before the key's entry.

    Check hints and errors link a key's entry by the key as spelled
    (``django_idp_logout.docs_links.setting_url``). A label would not do: docutils rewrites a
    label's id to lowercase with hyphens (``client-secret``). Raw HTML keeps the id as written;
    other builders (text, LaTeX) skip it."""
    return [".. raw:: html", "", f'   <span id="{key}"></span>', ""]


def settings_reference() -> list[str]:
    """The reference of every key, as reStructuredText lines, in declaration order; each
    entry has an anchor named after its key (:func:`anchor`). A key nested in another
    (``API["AUDIENCE"]``) is documented, and linked, in its parent's entry."""
    from django_idp_logout.conf import SETTINGS

    lines: list[str] = []
    for key in SETTINGS:
        if key.section:
            lines += [key.section, "~" * len(key.section), ""]
        lines += anchor(key.name)
        lines.append(f"``{key.name}`` ({key.default_doc or f'default ``{literal(key.default)}``'})")
        lines += [f"   {line}".rstrip() for line in key.doc.splitlines()]
        lines.append("")
    return lines


class SettingsReference(SphinxDirective):
    """``.. idp-logout-settings::`` — one entry per ``IDP_LOGOUT`` key, in sections."""

    def run(self) -> list[nodes.Node]:
        from django_idp_logout import conf_keys, conf_keys_provider

        self.env.note_dependency(conf_keys.__file__)
        self.env.note_dependency(conf_keys_provider.__file__)
        node = nodes.section()
        node.document = self.state.document
        source = "django_idp_logout/conf_keys.py (IdPConfig)"
        nested_parse_with_titles(self.state, StringList(settings_reference(), source), node)
        return node.children


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("idp-logout-settings", SettingsReference)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
