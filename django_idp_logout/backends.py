"""Authentication backend: turns a *validated* provider identity into a local user.

``OIDCBackend`` subclasses mozilla-django-oidc's ``OIDCAuthenticationBackend`` and honours its
documented customisation hooks, with their signatures and meanings, so that a subclass written
for mozilla-django-oidc works after changing only its base class:

* ``verify_claims(claims) -> bool`` — ``False`` refuses the sign-in;
* ``filter_users_by_claims(claims)`` — the existing local users this person may be, asked on
  the *first* sign-in of an identity only (see :meth:`OIDCBackend.filter_users_by_claims`);
* ``create_user(claims)`` / ``update_user(user, claims)``;
* ``get_username(claims)`` with ``OIDC_USERNAME_ALGO``.

Each is called with the claims of the validated ID token (merged with UserInfo's when
``USE_USERINFO`` is on). What differs from mozilla-django-oidc, and why:

* its constructor reads endpoint settings and would raise without ``OIDC_*`` settings; ours
  reads nothing and touches no network (Django builds a backend on every request that loads
  a user);
* a user is found by ``(issuer, sub)`` in :class:`OIDCIdentity`; ``filter_users_by_claims``
  only decides which existing user a *new* identity is linked to, and that linking cannot be
  turned against another person: an ``email`` the provider did not verify is never seen by it
  (nor stored while ``LINK_USERS_BY_EMAIL`` is on), a user who already has a provider identity
  is never linked, and only a single match is (several: none is guessed);
* it runs the token request itself; here the callback does the flow and the backend only
  accepts a :class:`VerifiedIdentity`, which only the callback builds from a validated ID
  token, so ``authenticate()`` cannot be tricked by other callers passing claims. The
  inherited methods of that flow raise (:mod:`django_idp_logout.compat`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from .compat import MozillaCompat, warn_mozilla_callback
from .conf import get_config
from .models import OIDCIdentity
from .signals import identity_linked
from .users import apply_roles, readable_username

logger = logging.getLogger("django_idp_logout")


@dataclass(frozen=True)
class VerifiedIdentity:
    """Claims about a user that passed ID token (and UserInfo) validation."""

    issuer: str
    subject: str
    claims: Mapping[str, Any] = field(repr=False)


def _verified_email(claims: Mapping[str, Any]) -> str | None:
    email = claims.get("email")
    return email if isinstance(email, str) and email and claims.get(
        "email_verified") is True else None


def _without_unverified_email(claims: Mapping[str, Any]) -> dict[str, Any]:
    claims = dict(claims)
    if _verified_email(claims) is None:
        claims.pop("email", None)
    return claims


class OIDCBackend(MozillaCompat, OIDCAuthenticationBackend):  # type: ignore[misc]
    """``django_idp_logout.backends.OIDCBackend`` — see the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Deliberately not calling super().__init__(): it requires OIDC_* endpoint settings.
        self.UserModel = get_user_model()
        self.request: HttpRequest | None = None

    def authenticate(self, request: HttpRequest | None, idp_identity: Any = None,
                     **kwargs: Any) -> AbstractBaseUser | None:
        if not isinstance(idp_identity, VerifiedIdentity):
            warn_mozilla_callback(kwargs)
            return None  # not ours: let the next backend try (username/password …)
        self.request = request
        claims = dict(idp_identity.claims)
        if not self.verify_claims(claims):
            logger.info("stage=login verify_claims() refused the user")
            return None
        user = self.get_or_create_identity_user(idp_identity, claims)
        if user is None or not self.user_can_authenticate(user):
            return None
        apply_roles(user, claims, get_config().roles)
        OIDCIdentity.objects.filter(issuer=idp_identity.issuer, subject=idp_identity.subject
                                    ).update(last_signed_in=timezone.now())
        return user

    async def aauthenticate(self, request: HttpRequest | None,
                            **kwargs: Any) -> AbstractBaseUser | None:
        # ModelBackend's (inherited through mozilla-django-oidc's) only knows passwords.
        user: AbstractBaseUser | None = await sync_to_async(self.authenticate)(request, **kwargs)
        return user

    def get_user(self, user_id: Any) -> AbstractBaseUser | None:
        """Django's ``ModelBackend.get_user``: ``None`` for an inactive user (mozilla-django-oidc's
        returns inactive users too). ``aget_user`` is ``ModelBackend``'s already."""
        user: AbstractBaseUser | None = ModelBackend.get_user(self, user_id)
        return user

    # --- mozilla-django-oidc's hooks ---------------------------------------------------------

    def verify_claims(self, claims: Mapping[str, Any]) -> bool:
        """Hook: return ``False`` to refuse a user the provider vouched for. Allows everyone
        (mozilla-django-oidc's requires an ``email`` claim: users here are found by ``sub``)."""
        return True

    def filter_users_by_claims(self, claims: Mapping[str, Any]) -> QuerySet[Any]:
        """Hook: the local users a provider identity seen for the first time may belong to.

        Called only when no user has this ``(issuer, sub)`` yet, with the validated claims
        minus an ``email`` the provider did not verify. Exactly one match that has no provider
        identity yet is linked; otherwise (none, several, or one that already belongs to
        another identity) a new user is created, or the sign-in is refused when
        ``CREATE_USERS`` is off. A QuerySet or a list, as in mozilla-django-oidc.

        Built in: with ``LINK_USERS_BY_EMAIL``, the users with this (verified) address,
        compared case-insensitively; else nobody.
        """
        manager = self.UserModel._default_manager
        email = _verified_email(claims)
        if not (get_config().link_users_by_email and email):
            return manager.none()  # type: ignore[no-any-return]
        return manager.filter(  # type: ignore[no-any-return]
            **{f"{self.UserModel.get_email_field_name()}__iexact": email})

    def get_username(self, claims: Mapping[str, Any]) -> str:
        """``OIDC_USERNAME_ALGO`` if set (mozilla-django-oidc's meaning); else the
        ``USERNAME_CLAIM``, made unique; else a digest of ``(iss, sub)``: unique, stable, and
        reveals nothing about the user."""
        if self.get_settings("OIDC_USERNAME_ALGO", None):
            return str(super().get_username(claims))
        digest = hashlib.sha256(f"{claims['iss']}\0{claims['sub']}".encode()).digest()
        opaque = "oidc-" + base64.b32encode(digest[:15]).decode().lower()
        claim = get_config().username_claim
        return readable_username(self.UserModel, claims, claim, opaque) if claim else opaque

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

    # --- claims to fields ----------------------------------------------------------------------

    def _storable_claims(self, claims: Mapping[str, Any]) -> dict[str, Any]:
        """The claims ``create_user`` and ``update_user`` see.

        With ``LINK_USERS_BY_EMAIL`` on, an ``email`` the provider did not verify is left out:
        stored on an account, it would make that account the target of the address owner's
        later (verified) sign-in.
        """
        if get_config().link_users_by_email:
            return _without_unverified_email(claims)
        return dict(claims)

    def _mapped_fields(self, claims: Mapping[str, Any]) -> dict[str, Any]:
        field_names = {f.name for f in self.UserModel._meta.get_fields()}
        values: dict[str, Any] = {}
        linking = get_config().link_users_by_email
        email_field = self.UserModel.get_email_field_name()
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

    # --- identities ----------------------------------------------------------------------------

    def _user_to_link(self, claims: Mapping[str, Any]) -> AbstractBaseUser | None:
        """The one user ``filter_users_by_claims`` finds, if it has no provider identity yet.

        A user who already signed in through a provider belongs to that identity: another
        identity (a reassigned address, another provider) gets its own user rather than that one.
        """
        users = list(self.filter_users_by_claims(_without_unverified_email(claims))[:2])
        if len(users) != 1:
            return None  # nobody, or ambiguous: never guess
        if OIDCIdentity.objects.filter(user=users[0]).exists():
            logger.info("stage=login not linking: the matching user already has a provider "
                        "identity")
            return None
        user: AbstractBaseUser = users[0]
        return user

    def _signed_in_user(self) -> AbstractBaseUser | None:
        """``LINK_SIGNED_IN_USER``: the user this browser is signed in as, to link a new
        identity to (an explicit "connect another account")."""
        user = getattr(self.request, "user", None)
        if not get_config().link_signed_in_user or user is None or not user.is_authenticated:
            return None
        logger.info("stage=login linking a new provider identity to the signed-in user "
                    "(LINK_SIGNED_IN_USER)")
        linked: AbstractBaseUser = self.UserModel._default_manager.get(pk=user.pk)
        return linked

    def _still_unlinked(self, user: AbstractBaseUser) -> bool:
        """Lock the user found to link, then check again that it has no identity: two first
        sign-ins matching the same user must not both be linked to it."""
        list(self.UserModel._default_manager.select_for_update()
             .filter(pk=user.pk).values_list("pk", flat=True))
        return not OIDCIdentity.objects.filter(user=user).exists()

    def _identity_user(self, identity: VerifiedIdentity) -> AbstractBaseUser | None:
        found = (OIDCIdentity.objects.select_related("user")
                 .filter(issuer=identity.issuer, subject=identity.subject).first())
        return found.user if found is not None else None

    def get_or_create_identity_user(self, identity: VerifiedIdentity,
                                    claims: Mapping[str, Any], *,
                                    create_users: bool | None = None, retry: bool = True
                                    ) -> AbstractBaseUser | None:
        """The user of ``(issuer, sub)``, updated; else one found by ``filter_users_by_claims``
        and linked, or a new one (``create_users``; default: ``CREATE_USERS``)."""
        if create_users is None:
            create_users = get_config().create_users
        user = self._identity_user(identity)
        if user is not None:
            return self.update_user(user, self._storable_claims(claims))
        signed_in = self._signed_in_user()
        user = signed_in or self._user_to_link(claims)
        try:
            with transaction.atomic():
                if signed_in is None and user is not None and not self._still_unlinked(user):
                    user = None  # a concurrent sign-in linked another identity to it first
                if user is None and not create_users:
                    logger.info("stage=login no local user for this identity and CREATE_USERS "
                                "is off")
                    return None
                created = user is None
                if user is None:
                    user = self.create_user(self._storable_claims(claims))
                OIDCIdentity.objects.create(user=user, issuer=identity.issuer,
                                            subject=identity.subject)
                if not created:  # an existing user signs in: mozilla-django-oidc updates it
                    user = self.update_user(user, self._storable_claims(claims))
        except IntegrityError:
            # A concurrent first sign-in of the same identity won the race: use its user. Or
            # another identity took the same readable username first: once more (a new one).
            won = self._identity_user(identity)
            if won is None and retry:
                return self.get_or_create_identity_user(identity, claims,
                                                        create_users=create_users, retry=False)
            return won
        identity_linked.send(sender=type(self), user=user, issuer=identity.issuer,
                             subject=identity.subject, created=created)
        return user
