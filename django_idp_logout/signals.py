"""Signals integrators can connect to.

``login_failed`` (sender: the view function) — every failed sign-in, with ``request``,
``code``, ``stage`` and ``reference`` (the id shown to the user and written to the log).

``identity_linked`` (sender: the backend class) — a provider account was linked to a local
user for the first time, with ``user``, ``issuer``, ``subject`` and ``created`` (whether the
user was created).
"""

from __future__ import annotations

from django.dispatch import Signal

login_failed = Signal()
identity_linked = Signal()
