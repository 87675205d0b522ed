"""Addresses of the published documentation, for messages that send a reader there.

A system check hint or a :class:`~django_idp_logout.exceptions.ConfigurationError` is read in a
terminal or a log, by someone who installed the package with ``pip`` and has no ``docs/``
folder at hand: "see the configuration reference" leaves them searching, a full URL is one
click away. Every such address is built here, so that the documentation's address is written
once and the anchors match what the docs build really produces:

* each ``IDP_LOGOUT`` key has an HTML anchor whose id is the key exactly as spelled
  (``configuration.html#CLIENT_SECRET``): ``docs/conf.py`` writes it next to the entry that
  the ``idp-logout-settings`` directive renders, so the key a message names is the anchor to
  follow, with nothing to convert;
* each check id has a label in ``docs/checks.rst`` (``.. _django_idp_logout.E001:``), which
  docutils turns into the id ``django-idp-logout-e001``: :func:`check_url` applies the same
  conversion (:func:`html_id`).

The module imports nothing from Django or the package: any layer may use it, the middleware's
import chain included (``tests/test_import_layers.py``).
"""

from __future__ import annotations

import re

__all__ = ["CHECK_ID_PREFIX", "DOCS_URL", "check_url", "html_id", "page_url", "setting_url"]

#: Where the documentation is published (the latest build of the default branch), with the
#: trailing slash. The one place to change when the docs move.
DOCS_URL = "https://django-idp-logout.readthedocs.io/en/latest/"

#: The prefix of this package's check ids (``django_idp_logout.E001``).
CHECK_ID_PREFIX = "django_idp_logout."

_NOT_ID = re.compile(r"[^a-z0-9]+")
_ID_ENDS = re.compile(r"^[-0-9]+|-+$")


def page_url(page: str, anchor: str | None = None) -> str:
    """The URL of a page of the docs (``"installation"``, the source file's name without its
    suffix, as Sphinx names the HTML file), optionally at ``anchor`` (an HTML id on that page,
    used as given: the caller knows whether it is an exact id or a docutils one)."""
    url = f"{DOCS_URL}{page.removesuffix('.html')}.html"
    return f"{url}#{anchor}" if anchor else url


def setting_url(key: str) -> str:
    """The entry of ``IDP_LOGOUT[key]`` in the configuration reference.

    ``key`` is a top-level key, spelled as in ``IDP_LOGOUT`` (``"CLIENT_SECRET"``): the
    reference gives each key an anchor with exactly that id, because the key is what a reader
    sees in the message, and a lowercased, hyphenated id would be one more thing to get wrong.
    A key nested in another (``API["AUDIENCE"]``) is documented in its parent's entry: pass the
    parent."""
    return page_url("configuration", key)


def html_id(name: str) -> str:
    """The HTML id docutils gives a label or title named ``name`` (``docutils.nodes.make_id``
    for ASCII names): lowercase, every run of other characters a hyphen, no leading digit or
    hyphen. Written here rather than imported, because docutils is a docs dependency only."""
    return _ID_ENDS.sub("", _NOT_ID.sub("-", " ".join(name.lower().split())))


def check_url(check_id: str) -> str:
    """The entry of a check id in the list of system checks (``checks.html``).

    ``check_id`` is the full id (``"django_idp_logout.E001"``) or its code (``"E001"``). The
    entry's anchor is its label in ``docs/checks.rst``, ``.. _django_idp_logout.E001:``, as
    docutils writes it (``django-idp-logout-e001``); the test suite asserts that every id has
    that label."""
    full = check_id if check_id.startswith(CHECK_ID_PREFIX) else CHECK_ID_PREFIX + check_id
    return page_url("checks", html_id(full))
