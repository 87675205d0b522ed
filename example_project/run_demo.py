"""Run the demo: the development identity provider and the example site, side by side.

``make demo`` calls this after installing everything. It migrates both databases, creates the
demo user and the site's two clients at the provider (the site's providers "staff" and
"partners"), starts both servers on 127.0.0.1 (the provider is reached as ``localhost`` so its
cookies are not the site's), prints the URL and the credentials, and stops both on Ctrl-C (or
SIGTERM).

The ports are 8000 (site) and 8001 (provider), or ``DEMO_SITE_PORT`` / ``DEMO_IDP_PORT`` (or
``--site-port`` / ``--idp-port``). A port already taken (often: the demo is already running)
stops it before anything starts, with a message saying which port and how to pick another.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
MANAGE = [sys.executable, str(HERE / "manage.py")]


#: The exit status when a port is taken (argparse uses 2 for bad arguments too).
PORT_IN_USE = 2


def port_in_use(port: int, host: str) -> bool:
    """Whether the demo could not serve ``port``: runserver cannot bind it on 127.0.0.1, or
    (the provider, reached as ``localhost``) something else answers on the IPv6 loopback,
    where a browser would go first and find the wrong server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As runserver does: a port left in TIME_WAIT by a demo just stopped is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return host == "localhost" and answers_on_ipv6_loopback(port)


def answers_on_ipv6_loopback(port: int) -> bool:
    """Whether a server accepts connections on ``[::1]:port`` (no IPv6: nothing does)."""
    try:
        with socket.create_connection(("::1", port), timeout=0.5):
            return True
    except OSError:
        return False


class DemoPort(NamedTuple):
    """One of the demo's two ports, and how a user picks another."""

    role: str  # who serves it, for the message
    variable: str  # the environment variable ``make demo`` reads
    option: str  # run_demo.py's option
    port: int
    host: str  # the name browsers use to reach it


def free_ports_near(ports: list[int], taken: set[int]) -> list[int]:
    """A free port just above each of ``ports`` to suggest, none of them in ``taken`` (the
    demo's two ports) or suggested twice."""
    suggestions: list[int] = []
    for port in ports:
        candidate = port + 1
        while candidate < 65535 and (candidate in taken or candidate in suggestions
                                     or port_in_use(candidate, "localhost")):
            candidate += 1
        suggestions.append(candidate)
    return suggestions


def port_problem(site_port: int, idp_port: int) -> str | None:
    """Why the demo cannot use these ports (the message to print), ``None`` when both are
    free. Checked before anything starts: a demo already running on them would otherwise
    answer for this one, and the banner would say all is well."""
    if site_port == idp_port:
        return (f"The example site and its identity provider need two ports, both are "
                f"{site_port}: set DEMO_SITE_PORT and DEMO_IDP_PORT to different ports.")
    ports = [DemoPort("the example site", "DEMO_SITE_PORT", "--site-port", site_port,
                      "127.0.0.1"),
             DemoPort("its identity provider", "DEMO_IDP_PORT", "--idp-port", idp_port,
                      "localhost")]
    busy = [demo for demo in ports if port_in_use(demo.port, demo.host)]
    if not busy:
        return None
    others = free_ports_near([demo.port for demo in busy], {site_port, idp_port})
    variables = " ".join(f"{demo.variable}={other}"
                         for demo, other in zip(busy, others, strict=True))
    options = " ".join(f"{demo.option} {other}" for demo, other in zip(busy, others, strict=True))
    return "\n".join([
        *(f"Port {demo.port} ({demo.role}) is already in use." for demo in busy),
        "Is the demo already running? Stop it (Ctrl-C where it runs), or choose another port:",
        f"  {variables} make demo",
        f"  (or: .venv/bin/python example_project/run_demo.py {options})",
    ])


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
    quiet: dict[str, Any] = {"env": env, "check": True, "stdout": subprocess.DEVNULL}
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
    problem = port_problem(args.site_port, args.idp_port)
    if problem:
        print(problem, file=sys.stderr, flush=True)
        return PORT_IN_USE
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

    def stop_and_exit(*_: object) -> None:
        stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop_and_exit)
    try:
        deadline = time.monotonic() + 60
        wait_for(f"http://localhost:{args.idp_port}/openid/.well-known/openid-configuration",
                 deadline)
        wait_for(f"http://127.0.0.1:{args.site_port}/", deadline)
        if any(server.poll() is not None for server in servers):
            # Another program took a port since the check: what answered was not the demo.
            print("A demo server stopped while starting (see above): not running.",
                  file=sys.stderr, flush=True)
            return 1
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
