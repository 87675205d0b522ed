"""Take the documentation's screenshots of the demo (docs/example.rst).

    .venv/bin/python example_project/screenshots.py [--out-dir docs/_static]

Starts the demo (as the tests do, ``tests/demo.py``) on its usual ports 8000 and 8001 when they
are free, so the pictures show the URLs a reader will see, else on free ones; signs in as the
demo user with Playwright driving the system's Chromium (``/usr/bin/chromium``; never
``playwright install``) and saves, 1000x700, light theme, English:

* ``screenshot-idp-login.png``: the development provider's sign-in page;
* ``screenshot-signed-in.png``: the site's account page with the ID token's claims.

Run it again after changing how those pages look; commit the two PNG files.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from run_demo import port_problem  # noqa: E402 (this directory, the script's)

from tests.demo import RUN_DEMO, Demo  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT: ViewportSize = {"width": 1000, "height": 700}
USUAL_PORTS = (8000, 8001)
#: Keep the docs light: a bigger file means a page that changed a lot, worth a look.
MAX_BYTES = 150_000


def shoot(page: Any, path: Path) -> None:
    """The visible viewport only (not the full page), so every screenshot has one size."""
    page.screenshot(path=str(path), full_page=False)
    size = path.stat().st_size
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {size} bytes")
    if size > MAX_BYTES:
        print(f"  warning: over {MAX_BYTES} bytes", file=sys.stderr)


def take(demo: Demo, out_dir: Path) -> None:
    """Sign in through the provider's pages, photographing its sign-in page and the result."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport=VIEWPORT, locale="en-US", color_scheme="light")
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto(f"{demo.site}/oidc/login/?provider=staff&next=/protected/")
        page.wait_for_url(f"{demo.idp}/accounts/login/**")
        shoot(page, out_dir / "screenshot-idp-login.png")
        page.fill("#id_username", "demo")
        page.fill("#id_password", "demo-password")
        page.click("#idp-sign-in")
        page.wait_for_url(f"{demo.idp}/openid/authorize**")
        page.click("#idp-allow")
        page.wait_for_url(f"{demo.site}/protected/")
        page.wait_for_selector("#claims")
        shoot(page, out_dir / "screenshot-signed-in.png")
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "docs" / "_static")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="demo-screenshots-") as data_dir:
        ports = USUAL_PORTS if port_problem(*USUAL_PORTS) is None else None
        demo = Demo(Path(data_dir), command=RUN_DEMO, ports=ports).start()
        try:
            take(demo, args.out_dir.resolve())
        finally:
            demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
