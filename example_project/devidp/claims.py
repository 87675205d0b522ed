"""Standard claims of the demo users, from the Django user."""

from typing import Any


def userinfo(claims: dict[str, Any], user: Any) -> dict[str, Any]:
    claims["name"] = user.get_full_name() or user.username
    claims["given_name"] = user.first_name
    claims["family_name"] = user.last_name
    claims["preferred_username"] = user.username
    claims["email"] = user.email
    claims["email_verified"] = True
    return claims


#: The audience of the example site's demo API (its ``IDP_LOGOUT["API"]["AUDIENCE"]``).
DEMO_API_AUDIENCE = "demo-api"


def introspection(response: dict[str, Any], client: Any, id_token: Any) -> dict[str, Any]:
    """Introspection answers for the demo API: its identifier as the audience, and the
    token's client and scope kept (the site checks ``aud``, ``iss`` and ``exp``)."""
    return {**response, "aud": DEMO_API_AUDIENCE}
