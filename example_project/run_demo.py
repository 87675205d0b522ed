"""Run the demo: the development identity provider and the example site, side by side.

``make demo`` calls this after installing everything. It migrates both databases, creates the
demo user and the site's two clients at the provider (the site's providers "staff" and
"partners"), starts both servers on 127.0.0.1 (the provider is reached as ``localhost`` so its
cookies are not the site's), prints the URL and the credentials, and stops both on Ctrl-C (or
SIGTERM).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANAGE = [sys.executable, str(HERE / "manage.py")]


def environment(site_port: int, idp_port: int, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DEVIDP_URL": f"http://localhost:{idp_port}",
        "DEVIDP_DB": str(data_dir / "devidp.sqlite3"),
        "SITE_DB": str(data_dir / "site.sqlite3"),
        "SITE_URL": f"http://127.0.0.1:{site_port}",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "site_example.settings",  # the IdP passes --settings
    })
    env.setdefault("IDP_ISSUER", f"http://localhost:{idp_port}/openid")
    return env


def prepare(site_port: int, env: dict[str, str]) -> None:
    quiet = {"env": env, "check": True, "stdout": subprocess.DEVNULL}
    subprocess.run([*MANAGE, "migrate", "--noinput", "--settings", "devidp.settings"], **quiet)
    subprocess.run([*MANAGE, "setup_demo_idp", "--settings", "devidp.settings",
                    "--site-url", f"http://127.0.0.1:{site_port}"], env=env, check=True)
    subprocess.run([*MANAGE, "migrate", "--noinput"], **quiet)


def wait_for(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own loopback URL)
                return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in time")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--site-port", type=int, default=int(os.environ.get("DEMO_SITE_PORT",
                                                                            8000)))
    parser.add_argument("--idp-port", type=int, default=int(os.environ.get("DEMO_IDP_PORT",
                                                                           8001)))
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DEMO_DATA_DIR",
                                                                             HERE)))
    args = parser.parse_args(argv)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    env = environment(args.site_port, args.idp_port, args.data_dir)
    prepare(args.site_port, env)

    servers = [
        subprocess.Popen([*MANAGE, "runserver", "--noreload", "--settings", "devidp.settings",
                          f"127.0.0.1:{args.idp_port}"], env=env),
        subprocess.Popen([*MANAGE, "runserver", "--noreload", f"127.0.0.1:{args.site_port}"],
                         env=env),
    ]

    def stop(*_: object) -> None:
        for server in servers:
            if server.poll() is None:
                server.terminate()
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()

    signal.signal(signal.SIGTERM, lambda *a: (stop(), sys.exit(0)))
    try:
        deadline = time.monotonic() + 60
        wait_for(f"http://localhost:{args.idp_port}/openid/.well-known/openid-configuration",
                 deadline)
        wait_for(f"http://127.0.0.1:{args.site_port}/", deadline)
        print(f"""
  The example site is running:   http://127.0.0.1:{args.site_port}/
  Its identity provider:         http://localhost:{args.idp_port}/openid
  Sign in as:                    demo / demo-password (either provider)
  Stop with Ctrl-C.
""", flush=True)
        while all(server.poll() is None for server in servers):
            time.sleep(0.5)
        return 1  # a server died
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
