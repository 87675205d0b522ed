"""Sphinx configuration. Built with warnings as errors (``make docs``)."""

import os
import sys

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
