"""``manage.py idp_diagnose [--provider NAME] [--json] [--base-url URL] [--probe-authorize]``:
live checks against the configured provider(s), one line each, exit status 1 on any FAIL
(see ``docs/troubleshooting.rst``, which explains every line)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...conf import provider_names
from ...diagnose_site import diagnose

STYLES = {"OK": "SUCCESS", "WARN": "WARNING", "FAIL": "ERROR", "INFO": "HTTP_INFO"}


class Command(BaseCommand):
    help = ("Check the identity provider(s) live: discovery, issuer, https, keys, clock, "
            "PKCE, client authentication, the URIs to register, logout. Exit status 1 on "
            "any FAIL. Never prints a secret.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", metavar="NAME",
                            help="Only this provider (its key in IDP_LOGOUT['PROVIDERS']).")
        parser.add_argument("--json", action="store_true", help="Machine-readable output.")
        parser.add_argument("--base-url", metavar="URL",
                            help="The site's public URL (e.g. https://www.example.com), to "
                                 "print the exact URIs to register at the provider.")
        parser.add_argument("--probe-authorize", action="store_true",
                            help="Also send an authorization request (no user, no "
                                 "credentials) to see whether the provider rejects the "
                                 "client id or the redirect URI.")

    def handle(self, *args: Any, provider: str | None, json: bool, base_url: str | None,
               probe_authorize: bool, **options: Any) -> None:
        names = provider_names()
        if provider is not None and provider not in names:
            raise CommandError(f"no provider {provider!r}; configured: {', '.join(names)}")
        results = {name: diagnose(name, base_url=base_url, probe=probe_authorize)
                   for name in ([provider] if provider else names)}
        failed = any(f.status == "FAIL" for found in results.values() for f in found)
        if json:
            self.stdout.write(_json({"ok": not failed, "providers": {
                name: [asdict(f) for f in found] for name, found in results.items()}}))
        else:
            for name, found in results.items():
                self.stdout.write(self.style.MIGRATE_HEADING(f"Provider {name}"))
                for f in found:
                    style = getattr(self.style, STYLES[f.status])
                    self.stdout.write(f"  {style(f'{f.status:<4}')} {f.name:<12} {f.message}")
                    if f.hint:
                        self.stdout.write(f"       {'':<12} → {f.hint}")
        if failed:
            sys.exit(1)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2)
