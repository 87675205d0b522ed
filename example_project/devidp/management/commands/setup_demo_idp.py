"""Create the demo user, the signing key and the example site's client (idempotent)."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from oidc_provider.models import Client, ResponseType, RSAKey

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-password"
CLIENT_ID = "example-site"
CLIENT_SECRET = "example-site-secret-for-the-demo-only-0123"


class Command(BaseCommand):
    help = "Create the demo user, RSA key and client for the example site."

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
        client, _ = Client.objects.get_or_create(client_id=CLIENT_ID, defaults={
            "name": "Example site"})
        client.client_type = "confidential"
        client.client_secret = CLIENT_SECRET
        client.jwt_alg = "RS256"
        client.require_consent = True
        client.reuse_consent = False
        client.redirect_uris = [f"{site_url}/oidc/callback/"]
        client.post_logout_redirect_uris = [f"{site_url}/oidc/logout/complete/"]
        client.scope = ["openid", "email", "profile"]
        client.save()
        client.response_types.set(ResponseType.objects.filter(value="code"))
        self.stdout.write(f"demo user {DEMO_USER!r}, client {CLIENT_ID!r} for {site_url}")
