"""The documentation link at the end of every hint.

A hint says how to fix a problem in a sentence; the page behind the link says the rest (the
key's type, default and meaning, or the check's whole story). The link is added here, in one
place, to the messages the registered checks return (:func:`linked`), rather than written in
each message: no message can lack one, and each points to the most precise page there is.

* A message about one ``IDP_LOGOUT`` key links that key's entry in the configuration
  reference (:func:`~django_idp_logout.docs_links.setting_url`). The key is read from the
  message as the checks phrase it: ``IDP_LOGOUT['KEY']``, with a provider in front
  (``IDP_LOGOUT['PROVIDERS']['staff']['KEY']``, :func:`.providers.relabel`) or a nested key
  after it (``IDP_LOGOUT['API']['AUDIENCE']``, documented in its parent's entry), or the
  mozilla-django-oidc fallback's ``IDP_LOGOUT[ENDPOINTS['token_endpoint']]``. An unknown key
  whose "did you mean" hint names a known one links the key meant.
* Any other message links its id's entry in the list of checks
  (:func:`~django_idp_logout.docs_links.check_url`).

A hint that already holds a link to the docs is left as it is.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.core.checks import CheckMessage

from ..conf import PROVIDERS_KEY, SETTINGS
from ..docs_links import CHECK_ID_PREFIX, DOCS_URL, check_url, page_url, setting_url

__all__ = ["KEYS", "docs_url", "linked", "subject_key", "with_docs_link"]

#: The top-level keys, each with an anchor of its own in the configuration reference.
KEYS = frozenset(key.name for key in SETTINGS)

#: ``IDP_LOGOUT`` and the subscripts that follow it, up to the first space or punctuation
#: outside them: ``IDP_LOGOUT['PROVIDERS']['a']['ISSUER']``, ``IDP_LOGOUT[ENDPOINTS['x']]``.
_REFERENCE = re.compile(r"IDP_LOGOUT(\[[\w\-\[\]'\"]*)")
_WORD = re.compile(r"[\w\-]+")
_DID_YOU_MEAN = re.compile(r"Did you mean '([A-Z0-9_]+)'\?")

Check = TypeVar("Check", bound=Callable[..., list[CheckMessage]])


def subject_key(message: CheckMessage) -> str | None:
    """The top-level ``IDP_LOGOUT`` key the message is about, if it is about one."""
    meant = _DID_YOU_MEAN.search(message.hint or "")
    if meant and meant.group(1) in KEYS:
        return str(meant.group(1))
    for subscripts in _REFERENCE.findall(str(message.msg)):
        words: list[str] = _WORD.findall(subscripts)
        if words[:1] == [PROVIDERS_KEY]:
            words = words[2:]  # the provider's name, then its own key (if any)
        if words and words[0] in KEYS:
            return words[0]  # a key nested in it is documented in its entry
    return None


def docs_url(message: CheckMessage) -> str:
    """The page (and anchor) that documents what the message is about."""
    key = subject_key(message)
    if key is not None:
        return setting_url(key)
    return check_url(message.id) if message.id else page_url("checks")


def with_docs_link(message: CheckMessage) -> CheckMessage:
    """The message with `` See <docs URL>.`` at the end of its hint (a copy: messages may be
    shared), unless it is not this package's or its hint links the docs already."""
    hint = message.hint or ""
    if not (message.id or "").startswith(CHECK_ID_PREFIX) or DOCS_URL in hint:
        return message
    linked_message = copy.copy(message)
    linked_message.hint = f"{hint} See {docs_url(message)}.".lstrip()
    return linked_message


def linked(check: Check) -> Check:
    """Decorate a check function: its messages' hints end with their docs link."""
    @functools.wraps(check)
    def wrapper(*args: Any, **kwargs: Any) -> list[CheckMessage]:
        return [with_docs_link(message) for message in check(*args, **kwargs)]
    return cast(Check, wrapper)
