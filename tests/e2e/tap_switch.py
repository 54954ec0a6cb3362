"""A loopback TCP switch in front of the TAP simulator, so each end-to-end test can have a fresh simulator.

The app runtime reads its TAP ``base_url`` once, at start; starting the runtime for every test would cost a
stack start each. The switch listens on a port of its own (port 0: the kernel picks a free one) and
forwards every connection to the simulator it currently points at; :meth:`TapSwitch.point_at` swaps the
simulator and drops the connections to the old one, so the runtime's next request (its HTTP pool opens a
new connection) reaches the new simulator with its own scenario, counters, limits and faults.
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress

from sim.tap import TapSimulator


class TapSwitch:
    """``base_url`` is what the app is configured with; ``point_at(sim)`` decides where it leads."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._listener = socket.create_server((host, 0))
        self.base_url = f"http://{host}:{self._listener.getsockname()[1]}"
        self._target: tuple[str, int] | None = None
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._closed = False
        threading.Thread(target=self._accept, name="tap-switch", daemon=True).start()

    def point_at(self, sim: TapSimulator) -> None:
        """Send new connections to ``sim``; connections to the previous simulator are closed."""
        host, port = sim.base_url.removeprefix("http://").rsplit(":", 1)
        with self._lock:
            self._target = (host, int(port))
            stale, self._open = self._open, set()
        for sock in stale:
            _close(sock)

    def close(self) -> None:
        self._closed = True
        _close(self._listener)
        with self._lock:
            stale, self._open = self._open, set()
        for sock in stale:
            _close(sock)

    # ------------------------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:  # held while connecting, so a connection never outlives a point_at
                try:
                    if self._target is None:
                        raise OSError("the switch points nowhere yet")
                    upstream = socket.create_connection(self._target, timeout=10)
                    upstream.settimeout(None)
                except OSError:
                    _close(client)
                    continue
                for sock in (client, upstream):  # no Nagle stalls: requests and answers go in several writes
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), name="tap-switch-pump", daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with suppress(OSError):
        sock.close()
