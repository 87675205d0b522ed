"""Signals integrators can connect to.

``signed_in`` (sender: the function that signed the user in) — a sign-in through the
provider succeeded, with ``request``, ``user``, ``provider`` (its key in ``PROVIDERS``;
``"default"`` for the flat form) and ``sid`` (the provider's session id, or ``None``).

``login_failed`` (sender: the view function) — every failed (refused) sign-in, with
``request``, ``code`` (the reason: ``access_denied``, ``login_expired``, ``invalid_token`` …),
``stage`` and ``reference`` (the id shown to the user and written to the log).

``signed_out`` (sender: the function that ended the session) — a session of ``user`` ended,
with ``request`` (``None`` when it ended elsewhere), ``user``, ``provider`` and ``how``:
``local`` (signed out here only: no provider session, or a provider without an end-session
endpoint), ``rp_initiated`` (and sent to the provider's end-session endpoint),
``backchannel`` / ``frontchannel`` (the provider ended it), ``admin`` (an operator, in the
admin or with ``clear_idp_sessions --user/--issuer``) or ``expired`` (idle, too old, or
refused by the provider; ``session_expired`` says why). Once per ended session's user.

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

signed_in = Signal()
signed_out = Signal()
login_failed = Signal()
identity_linked = Signal()
backchannel_logout = Signal()
frontchannel_logout = Signal()
tokens_renewed = Signal()
session_expired = Signal()
