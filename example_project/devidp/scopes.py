"""django-oidc-provider's scope names and descriptions (``oidc_provider/lib/claims.py``), which
it ships without German. Listed here so that ``makemessages`` keeps them in ``devidp/locale``,
where they are translated for the consent page; nothing imports this module."""

from django.utils.translation import gettext_noop

SCOPE_STRINGS = (
    gettext_noop("Basic profile"),
    gettext_noop("Access to your basic information. Includes names, gender, birthdate "
                 "and other information."),
    gettext_noop("Email"),
    gettext_noop("Access to your email address."),
    gettext_noop("Phone number"),
    gettext_noop("Access to your phone number."),
    gettext_noop("Address information"),
    gettext_noop("Access to your address. Includes country, locality, street and other "
                 "information."),
)
