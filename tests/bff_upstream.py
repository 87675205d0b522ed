"""A tiny API on 127.0.0.1 for the backend-for-frontend proxy's tests: it records each
request and answers by path (``tests/test_bff*.py``; fixtures ``upstream`` and ``bff_client``
in ``conftest``)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Upstream:
    """A tiny API: records each request and answers by path."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.refuse_tokens: set[str] = set()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def handle_one(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                upstream.requests.append({"method": self.command, "path": self.path,
                                          "headers": dict(self.headers.items()), "body": body})
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if self.path.startswith("/base/slow"):
                    time.sleep(1.5)
                if token in upstream.refuse_tokens:
                    self.answer(401, b'{"error": "invalid_token"}',
                                {"WWW-Authenticate": 'Bearer error="invalid_token"'})
                elif self.path.startswith("/base/redirect-inside"):
                    self.answer(302, b"", {"Location": "/base/items/7?x=1"})
                elif self.path.startswith("/base/redirect-outside"):
                    self.answer(307, b"", {"Location": "/admin/"})
                elif self.path.startswith("/base/redirect-dots"):
                    target = self.path.split("to=", 1)[1]
                    self.answer(307, b"", {"Location": target.replace("%25", "%")})
                elif self.path.startswith("/base/created"):
                    self.answer(201, b"{}", {"Location": "https://cdn.example.test/x"})
                elif self.path.startswith("/base/scope"):
                    self.answer(401, b"{}", {"WWW-Authenticate": 'Bearer error="invalid_request"'})
                elif self.path.startswith("/base/broken"):
                    self.send_response(200)
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    self.wfile.write(b"x" * 10)
                    self.close_connection = True
                elif self.path.startswith("/base/site-headers"):
                    self.send_response(200)
                    for name, value in (
                            ("Clear-Site-Data", '"cookies"'),
                            ("Access-Control-Allow-Origin", "*"),
                            ("Strict-Transport-Security", "max-age=99"),
                            ("Content-Security-Policy", "default-src *"),
                            ("Refresh", "0; url=https://evil.example/"),
                            ("Cache-Control", "public, max-age=600, s-maxage=900"),
                            ("X-Total-Count", "3"), ("X-Accel-Redirect", "/internal/"),
                            ("X-Sendfile", "/etc/passwd"), ("X-Frame-Options", "ALLOWALL"),
                            ("WWW-Authenticate", 'Basic realm="x"'),
                            ("Content-Length", "2")):
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(b"ok")
                elif self.path.startswith("/base/stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(50):
                        chunk = f"line {i}\n".encode() * 100
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.answer(201 if self.command == "POST" else 200,
                                json.dumps({"path": self.path, "method": self.command}).encode(),
                                {"Set-Cookie": "upstream=1; Path=/", "X-Api": "yes",
                                 "Connection": "close, X-Hop", "X-Hop": "1"})

            def answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_one

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that hangs up (the proxy's timeout) is expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
