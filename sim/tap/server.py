"""The HTTP server and ``TapSimulator``, the object tests start, steer and stop.

A real loopback server (stdlib ``ThreadingHTTPServer``) is used rather than a mocked transport so the
app's real HTTP stack -- sessions, retries, timeouts, TLS verification -- is exercised as it would be
against ``https://tap-api-v2.proofpoint.com``.
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ..tls import TlsMaterial, generate, server_context
from .api import Request, TapService
from .control import PREFIX, handle_control
from .faults import FaultTable
from .ratelimit import RatePools
from .responses import Response, text_response
from .scenario import load_scenario
from .state import TapState
from .timeutil import format_ms, utcnow

Clock = Callable[[], datetime | float]


class _Server(ThreadingHTTPServer):
    """Threaded server that does the TLS handshake in the request thread, not in ``accept``.

    A client that connects and never speaks TLS must not freeze the whole simulator.
    """

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], sim: TapSimulator,
                 tls: ssl.SSLContext | None) -> None:
        self.sim = sim
        self.tls = tls
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:
            try:
                request.settimeout(10)
                request = self.tls.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Thin HTTP adapter: reads the request, asks the simulator, writes the answer."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; avoid 40 ms stalls
    server_version = "TapSim/1.0"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.sim.verbose:
            sys.stderr.write("tap-sim: " + (format % args) + "\n")

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        try:
            if path.startswith(PREFIX):
                response = handle_control(self.server.sim, self.command, path, body)
            else:
                request = Request(self.command, path, query, self.headers, body)
                response = self.server.sim.service.handle(request)
        except Exception:  # a simulator bug must still produce an answer, and be visible
            traceback.print_exc(file=sys.stderr)
            response = text_response("Internal simulator error", 500)
        self._write(response)

    def _write(self, response: Response) -> None:
        if response.delay:
            time.sleep(response.delay)
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch


class TapSimulator:
    """A Proofpoint TAP API look-alike on loopback, steerable from tests.

    ``scenario`` is a dict, a path to a JSON/YAML file, or None for the shipped default scenario.
    Relative scenario times (``now-3h``) are resolved when the simulator is constructed.
    ``clock`` returns the simulator's "now" (aware datetime, or epoch seconds); it drives SIEM windows,
    the indexing lag and the rate windows, so tests can move time without sleeping.
    """

    def __init__(
        self,
        scenario: dict[str, Any] | str | Path | None = None,
        principal: str = "sim-principal",
        secret: str = "sim-secret",
        host: str = "127.0.0.1",
        port: int = 0,
        limits: dict[str, int | None] | None = None,
        indexing_lag_seconds: float = 0,
        clock: Clock | None = None,
        *,
        tls: bool = False,
        ca_out: str | Path | None = None,
        verbose: bool = False,
    ) -> None:
        self._clock = clock or utcnow
        self.host = host
        self.port = port
        self.verbose = verbose
        self.tls_enabled = tls
        self.ca_out = Path(ca_out) if ca_out else None
        self.tls_material: TlsMaterial | None = None
        self.scenario = load_scenario(scenario, self.now())
        self.state = TapState(self.scenario, self.now())
        self.pools = RatePools(self.scenario["limits"])
        if limits:
            self.pools.set_limits(limits)
        self.faults = FaultTable()
        credentials = {c["principal"]: c["secret"] for c in self.scenario["credentials"]}
        credentials[principal] = secret
        self.principal, self.secret = principal, secret
        self.service = TapService(self.state, self.pools, self.faults, credentials, self.now,
                                  timedelta(seconds=indexing_lag_seconds))
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> str:
        """Bind, serve in a background thread and return the base URL (no trailing slash)."""
        if self._server is not None:
            return self.base_url
        context = None
        if self.tls_enabled:
            self.tls_material = generate(self.host)
            context = server_context(self.tls_material)
            if self.ca_out:
                self.ca_out.write_bytes(self.tls_material.ca_pem)
        self._server = _Server((self.host, self.port), _Handler, self, context)
        self.port = self._server.server_address[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"{'https' if context else 'http'}://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="tap-sim", daemon=True)
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and release the port; requests still hanging on a fault are abandoned."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> TapSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- time
    def now(self) -> datetime:
        value = self._clock()
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    def now_iso(self) -> str:
        return format_ms(self.now())

    @property
    def ca_pem(self) -> bytes | None:
        """The CA certificate to trust when ``tls=True`` (after ``start()``)."""
        return self.tls_material.ca_pem if self.tls_material else None

    # ----------------------------------------------------------------- controls
    def set_threat_status(self, threat_id: str, status: str) -> None:
        """Analyst verdict change: events, threat summary, campaign and forensics reflect it from now on."""
        self.state.set_threat_status(threat_id, status, self.now())

    def set_threat_campaign(self, threat_id: str, campaign_id: str | None) -> None:
        """Attribute a threat to a campaign, or (None) to none."""
        self.state.set_threat_campaign(threat_id, campaign_id, self.now())

    def add_events(self, events: list[dict[str, Any]] | dict[str, list[dict[str, Any]]]) -> int:
        """Add raw events: ``[{"type": "messagesDelivered", "event": {...}}]`` or ``{type: [events]}``."""
        return self.state.add_events(events, self.now())

    def add_threat(self, threat: dict[str, Any], campaign_id: str | None = None) -> None:
        """Add or replace a threat summary (any field spelling), optionally placing it in a campaign."""
        self.state.add_threat(threat, self.now(), campaign_id)

    def set_limits(self, **limits: int | None) -> dict[str, int | None]:
        """Set pool limits, e.g. ``set_limits(siem=5, siem_clicks_permitted=3)``; None = unthrottled."""
        return self.pools.set_limits(limits)

    def inject_fault(self, path_regex: str, status: int | None, times: int = 1, body: str | None = None,
                     delay: float = 0.0, content_type: str | None = None, after: int = 0) -> None:
        """Make the next ``times`` TAP calls whose path matches ``path_regex`` fail (``after`` let through first).

        ``status`` is answered (with ``body`` or a default text, as ``content_type`` or plain text) after
        ``delay`` seconds; with ``status=None`` the call hangs ``delay`` seconds and is then answered
        normally. A status of 200 with a body is a malformed answer (see :mod:`sim.tap.faults`).
        """
        self.faults.add(path_regex, status, times, body, delay, content_type, after)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_indexing_lag(self, seconds: float) -> None:
        """Events created less than ``seconds`` ago are not yet returned by the SIEM API."""
        self.service.indexing_lag = timedelta(seconds=seconds)

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every TAP request since the last reset: time, method, path, query, endpoint, pool, status and,
        for SIEM answers, the number of events returned."""
        return self.service.calls()

    def observe(self, callback: Callable[[dict[str, Any], Response], None]) -> None:
        """Call ``callback(call, response)`` after every answered ``/v2/`` request (in the handler's thread):
        what a benchmark needs to see of the answers, e.g. the SIEM bodies a client received."""
        self.service.observers.append(callback)

    def stats(self) -> dict[str, Any]:
        """``{"total", "endpoints": {template: n}, "statuses": {code: n}, "pools": {pool: {...}}}``."""
        return self.service.stats()

    def reset_stats(self, rate_windows: bool = True) -> None:
        """Forget the call log and pool counters; by default the rolling rate windows too."""
        self.service.reset_stats(rate_windows)
