"""Create the demo user, the signing key and the example site's two clients (idempotent).

The site has two providers (``IDP_LOGOUT["PROVIDERS"]``), both at this development provider:
"staff" is the client ``example-site``, "partners" the client ``example-partners``. Each
client registers only its own provider's redirect URI, ``/oidc/callback/<name>/``; the
post-logout URI is the same for both.
"""

from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from oidc_provider.models import Client, ResponseType, RSAKey

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-password"


class DemoClient(NamedTuple):
    provider: str  # its key in the site's IDP_LOGOUT["PROVIDERS"]
    client_id: str
    client_secret: str
    name: str  # shown on the provider's consent page


CLIENTS = (
    DemoClient("staff", "example-site", "example-site-secret-for-the-demo-only-0123",
               "Example site (staff)"),
    DemoClient("partners", "example-partners", "example-partners-secret-for-the-demo-only-4567",
               "Example site (partners)"),
)


class Command(BaseCommand):
    help = "Create the demo user, RSA key and the two clients for the example site."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--site-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, site_url: str, **options: Any) -> None:
        if not RSAKey.objects.exists():
            call_command("creatersakey", verbosity=0)
        user, _ = get_user_model().objects.get_or_create(
            username=DEMO_USER,
            defaults={"email": "demo@example.test", "first_name": "Demo", "last_name": "User"})
        user.set_password(DEMO_PASSWORD)
        user.save()
        for demo in CLIENTS:
            client, _ = Client.objects.get_or_create(client_id=demo.client_id, defaults={
                "name": demo.name})
            client.name = demo.name
            client.client_type = "confidential"
            client.client_secret = demo.client_secret
            client.jwt_alg = "RS256"
            client.require_consent = True
            client.reuse_consent = False
            # Its own provider's callback only: a response for one provider can never be
            # sent to the other's redirect URI (mix-up defence).
            client.redirect_uris = [f"{site_url}/oidc/callback/{demo.provider}/"]
            client.post_logout_redirect_uris = [f"{site_url}/oidc/logout/complete/"]
            # token_introspection and the clients' ids: the site's demo API may have either
            # client's access tokens introspected (django-oidc-provider's rule).
            client.scope = ["openid", "email", "profile", "token_introspection",
                            *(other.client_id for other in CLIENTS)]
            client.save()
            client.response_types.set(ResponseType.objects.filter(value="code"))
        clients = ", ".join(f"{demo.client_id!r} ({demo.provider})" for demo in CLIENTS)
        self.stdout.write(f"demo user {DEMO_USER!r}, clients {clients} for {site_url}")
