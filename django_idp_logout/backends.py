"""Authentication backend: turns a *validated* provider identity into a local user.

It subclasses mozilla-django-oidc's ``OIDCAuthenticationBackend`` so its familiar hooks keep
their names and meaning (``verify_claims``, ``create_user``, ``update_user``,
``get_username`` with ``OIDC_USERNAME_ALGO``, ``get_user``), and replaces what that backend
gets wrong for this app's guarantees:

* its constructor reads endpoint settings and would raise without ``OIDC_*`` settings; ours
  reads nothing and touches no network (Django builds a backend on every request that loads
  a user);
* it matches users by e-mail; we match by ``(issuer, sub)`` in :class:`OIDCIdentity`, and
  linking by e-mail is an opt-in (``LINK_USERS_BY_EMAIL``) that cannot be turned against
  another person: only an address with ``email_verified: true`` is matched *or stored* (so no
  account carries an address nobody verified, waiting for its owner's sign-in to be linked
  into it), only a user with no provider identity yet is linked, and only when exactly one
  user has that address;
* it runs the token request itself; here the views do the flow and the backend only accepts
  a :class:`VerifiedIdentity`, which only the callback view builds from a validated ID token,
  so ``authenticate()`` cannot be tricked by other callers passing claims.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from .conf import get_config
from .models import OIDCIdentity
from .signals import identity_linked

logger = logging.getLogger("django_idp_logout")


@dataclass(frozen=True)
class VerifiedIdentity:
    """Claims about a user that passed ID token (and UserInfo) validation."""

    issuer: str
    subject: str
    claims: Mapping[str, Any] = field(repr=False)


class OIDCBackend(OIDCAuthenticationBackend):  # type: ignore[misc]
    """``django_idp_logout.backends.OIDCBackend`` — see the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Deliberately not calling super().__init__(): it requires OIDC_* settings.
        self.UserModel = get_user_model()
        self.request: HttpRequest | None = None

    def authenticate(self, request: HttpRequest | None, idp_identity: Any = None,
                     **kwargs: Any) -> AbstractBaseUser | None:
        if not isinstance(idp_identity, VerifiedIdentity):
            return None  # not ours: let the next backend try (username/password …)
        self.request = request
        claims = dict(idp_identity.claims)
        if not self.verify_claims(claims):
            logger.info("stage=login verify_claims() refused the user")
            return None
        user = self.get_or_create_identity_user(idp_identity, claims)
        if user is None or not self.user_can_authenticate(user):
            return None
        return user

    def verify_claims(self, claims: Mapping[str, Any]) -> bool:
        """Hook: return ``False`` to refuse a user the provider vouched for. Allows everyone."""
        return True

    def get_username(self, claims: Mapping[str, Any]) -> str:
        """``OIDC_USERNAME_ALGO`` if set (mozilla-django-oidc's meaning); else a digest of
        ``(iss, sub)``: unique, stable, and reveals nothing about the user."""
        if self.get_settings("OIDC_USERNAME_ALGO", None):
            return str(super().get_username(claims))
        digest = hashlib.sha256(f"{claims['iss']}\0{claims['sub']}".encode()).digest()
        return "oidc-" + base64.b32encode(digest[:15]).decode().lower()

    def _email_field(self) -> str:
        return str(self.UserModel.get_email_field_name())

    def _storable_claims(self, claims: Mapping[str, Any]) -> dict[str, Any]:
        """The claims ``create_user`` and ``update_user`` see.

        With ``LINK_USERS_BY_EMAIL`` on, an ``email`` the provider did not verify is left out:
        stored on an account, it would make that account the target of the address owner's
        later (verified) sign-in.
        """
        claims = dict(claims)
        if get_config().link_users_by_email and claims.get("email_verified") is not True:
            claims.pop("email", None)
        return claims

    def _mapped_fields(self, claims: Mapping[str, Any]) -> dict[str, Any]:
        field_names = {f.name for f in self.UserModel._meta.get_fields()}
        values: dict[str, Any] = {}
        linking = get_config().link_users_by_email
        email_field = self._email_field()
        for user_field, claim in get_config().claims_mapping.items():
            if linking and user_field == email_field and not (
                claim == "email" and claims.get("email_verified") is True
            ):
                continue  # the field linking matches on holds verified addresses only
            value = claims.get(claim)
            if user_field in field_names and isinstance(value, str):
                max_length = getattr(self.UserModel._meta.get_field(user_field), "max_length", None)
                values[user_field] = value[:max_length] if max_length else value
        return values

    def create_user(self, claims: Mapping[str, Any]) -> AbstractBaseUser:
        """Create a user with an unusable password and the mapped claims."""
        username_field = self.UserModel.USERNAME_FIELD
        fields = self._mapped_fields(claims)
        if username_field != "email" or username_field not in fields:
            fields[username_field] = self.get_username(claims)
        user = self.UserModel(**fields)
        user.set_unusable_password()
        user.save()
        return user

    def update_user(self, user: AbstractBaseUser, claims: Mapping[str, Any]) -> AbstractBaseUser:
        """Refresh mapped fields from the claims; writes only when something changed."""
        values = self._mapped_fields(claims)
        changed = [name for name, value in values.items()
                   if name != self.UserModel.USERNAME_FIELD and getattr(user, name) != value]
        for name in changed:
            setattr(user, name, values[name])
        if changed:
            user.save(update_fields=changed)
        return user

    def _link_by_email(self, claims: Mapping[str, Any]) -> AbstractBaseUser | None:
        """The one user with this verified address and no provider identity yet, or ``None``.

        A user who already signed in through a provider belongs to that identity: another
        identity with the same address (a reassigned address, another provider) gets its own
        user rather than that one.
        """
        email = claims.get("email")
        if not (get_config().link_users_by_email and isinstance(email, str) and email
                and claims.get("email_verified") is True):
            return None
        lookup = {f"{self._email_field()}__iexact": email}
        users: list[AbstractBaseUser] = list(
            self.UserModel._default_manager.filter(**lookup)[:2])
        if len(users) != 1:
            return None  # nobody, or ambiguous: never guess
        if OIDCIdentity.objects.filter(user=users[0]).exists():
            logger.info("stage=login not linking by e-mail: the user already has a provider "
                        "identity")
            return None
        return users[0]

    def _still_unlinked(self, user: AbstractBaseUser) -> bool:
        """Lock the user found by e-mail, then check again that it has no identity: two first
        sign-ins with the same address must not both be linked to it."""
        list(self.UserModel._default_manager.select_for_update()
             .filter(pk=user.pk).values_list("pk", flat=True))
        return not OIDCIdentity.objects.filter(user=user).exists()

    def get_or_create_identity_user(self, identity: VerifiedIdentity,
                                    claims: Mapping[str, Any]) -> AbstractBaseUser | None:
        config = get_config()
        found = (OIDCIdentity.objects.select_related("user")
                 .filter(issuer=identity.issuer, subject=identity.subject).first())
        if found is not None:
            return self.update_user(found.user, self._storable_claims(claims))
        user = self._link_by_email(claims)
        try:
            with transaction.atomic():
                if user is not None and not self._still_unlinked(user):
                    user = None  # a concurrent sign-in linked another identity to it first
                if user is None and not config.create_users:
                    logger.info("stage=login no local user for this identity and CREATE_USERS "
                                "is off")
                    return None
                created = user is None
                if user is None:
                    user = self.create_user(self._storable_claims(claims))
                OIDCIdentity.objects.create(user=user, issuer=identity.issuer,
                                            subject=identity.subject)
        except IntegrityError:
            # A concurrent first sign-in of the same identity won the race: use its user.
            found = (OIDCIdentity.objects.select_related("user")
                     .filter(issuer=identity.issuer, subject=identity.subject).first())
            return found.user if found is not None else None
        identity_linked.send(sender=type(self), user=user, issuer=identity.issuer,
                             subject=identity.subject, created=created)
        return user

    def get_user(self, user_id: Any) -> AbstractBaseUser | None:
        try:
            user = self.UserModel._default_manager.get(pk=user_id)
        except self.UserModel.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
