"""HTTPS for the emulator: the request and response the REST layer and the UI work with, and the threaded
TLS server that reads one and writes the other. It knows no route: it hands every request to one
``handle`` callable (:meth:`sim.soar.rest.RestApi.handle`).

The TLS handshake is done in the request's thread, not in ``accept``, so a client that connects and
never speaks TLS cannot stop the server; a connection idle for 60 s is closed.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import urllib.parse
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sim.soar.errors import bad_request

LOG = logging.getLogger("sim.soar.rest")


class Response:
    def __init__(self, status: int = 200, body: Any = None, content_type: str = "application/json",
                 headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}
        self.after_send: Callable[[], None] | None = None  # run once the response is written (or not)

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


class Request:
    def __init__(self, method: str, path: str, query: dict[str, str], headers: Message, raw: bytes) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.raw = raw
        self.match: re.Match | None = None
        self.key: dict[str, Any] = {}  # the API key that made the request (set once it is authenticated)

    @property
    def names(self) -> bool:
        return self.query.get("handle_format") == "names" or self.headers.get("handle_format") == "names"

    def json(self) -> Any:
        if not self.raw:
            raise bad_request("a JSON body is required")
        try:
            return json.loads(self.raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"the body is not valid JSON: {exc}") from None

    def arg(self, index: int) -> str:
        assert self.match is not None
        return urllib.parse.unquote(self.match.group(index))


Handle = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    protocol_version = "HTTP/1.1"
    server_version = "SOAR-emulator/51.0"
    server: TLSServer

    def log_message(self, fmt: str, *args: Any) -> None:
        LOG.debug("%s - %s", self.address_string(), fmt % args)

    def _serve(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        req = Request(self.command, parsed.path.rstrip("/") or "/", query, self.headers, raw)
        if parsed.path.startswith("/ui"):
            req.path = parsed.path
        resp = self.server.handle(req)
        try:
            payload = resp.payload()
            self.send_response(resp.status)
            self.send_header("Content-Type", resp.content_type + ("; charset=utf-8" if resp.content_type in
                                                                  ("application/json", "text/html") else ""))
            self.send_header("Content-Length", str(len(payload)))
            for key, value in resp.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            self.wfile.flush()
        finally:
            if resp.after_send is not None:
                resp.after_send()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], ssl_context: ssl.SSLContext, handle: Handle) -> None:
        super().__init__(addr, _Handler)
        self.ssl_context = ssl_context
        self.handle = handle

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        sock.settimeout(60)
        return self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except OSError:
            return
        super().finish_request(request, client_address)


def make_server(handle: Handle, host: str, port: int, ssl_context: ssl.SSLContext) -> TLSServer:
    return TLSServer((host, port), ssl_context, handle)
