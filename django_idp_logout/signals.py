"""Signals integrators can connect to.

``login_failed`` (sender: the view function) — every failed sign-in, with ``request``,
``code``, ``stage`` and ``reference`` (the id shown to the user and written to the log).

``identity_linked`` (sender: the backend class) — a provider account was linked to a local
user for the first time, with ``user``, ``issuer``, ``subject`` and ``created`` (whether the
user was created).

``backchannel_logout`` (sender: the view function) — a valid logout token arrived, with
``provider`` (its key in ``PROVIDERS``; ``"default"`` for the flat form), ``issuer``, ``sid``,
``sub``, ``users`` (the local users whose sessions ended) and ``sessions`` (how many ended).

``frontchannel_logout`` (sender: the view function) — the provider ended this browser's
session through the front channel, with ``request``, ``issuer``, ``sid`` and ``user``.

``tokens_renewed`` (sender: the function that renewed them) — a refresh token grant gave the
signed-in user new tokens, with ``request``, ``user``, ``rotated`` (a new refresh token came
with them) and ``id_token`` (whether a new ID token came too). Never with the tokens.

``session_expired`` (sender: the function that ended it) — a signed-in session ended without
the user asking, with ``request``, ``user`` and ``reason``: ``idle_timeout``, ``max_age``,
``refresh_refused``, ``id_token_rejected``, ``subject_changed`` or the provider's error code
for a failed ``prompt=none`` check (``login_required``, ``interaction_required`` …).
"""

from __future__ import annotations

from django.dispatch import Signal

login_failed = Signal()
identity_linked = Signal()
backchannel_logout = Signal()
frontchannel_logout = Signal()
tokens_renewed = Signal()
session_expired = Signal()
