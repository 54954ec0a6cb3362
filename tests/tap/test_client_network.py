"""TapClient over real sockets: refused, DNS, TLS verification, timeouts, dropped connections."""

import logging
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from resilient_lib import RequestsCommon

from fn_pp_tap_functions.errors import TapConnectionError, TapUnavailableError
from fn_pp_tap_functions.tap.client import TapClient
from fn_pp_tap_functions.tap.windows import Window

SECRET = "S3cr3t-Zq9-never-show-me"
PRINCIPAL = "principal-7f3a"
TID = "2d8367310dc9a70341f04d39f18261641eb403c019bedbf288203d17647053cf"
NOW = datetime.now(UTC)
WINDOW = Window(NOW - timedelta(hours=2), NOW - timedelta(hours=1))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _client(base: str, **kwargs) -> TapClient:
    kwargs.setdefault("sleep", lambda _s: None)
    return TapClient(base, PRINCIPAL, SECRET, **kwargs)


def test_connection_refused_is_named_and_not_retried(caplog):
    caplog.set_level(logging.DEBUG)
    client = _client(f"http://127.0.0.1:{_closed_port()}")
    started = time.monotonic()
    with pytest.raises(TapConnectionError) as err:
        client.threat_summary(TID)
    assert err.value.reason == "refused" and "refused" in str(err.value)
    assert "Retry limit exceeded" not in str(err.value)
    assert client.calls == {}  # nothing reached TAP
    assert time.monotonic() - started < 30  # not retried with back-off (which would take minutes)
    assert SECRET not in str(err.value) and SECRET not in caplog.text


def test_dns_failure_is_named():
    client = _client("https://tap-api-v2.invalid", timeout=3)
    with pytest.raises(TapConnectionError) as err:
        client.threat_summary(TID)
    assert err.value.reason == "dns" and "could not be resolved" in str(err.value)


def test_tls_verification_failure_is_named_with_ca_bundle_hint(tls_server, caplog):
    caplog.set_level(logging.DEBUG)
    base, _cert = tls_server
    client = _client(base, timeout=5)
    with pytest.raises(TapConnectionError) as err:
        client.threat_summary(TID)
    message = str(err.value)
    assert err.value.reason == "tls"
    assert "TLS certificate verification failed" in message and "self-signed" in message
    assert "CA bundle" in message and "'verify'" in message and "[fn_pp_tap_functions]" in message
    assert client.calls == {}
    assert SECRET not in message and SECRET not in caplog.text


def test_tls_succeeds_with_the_ca_bundle_setting(tls_server):
    base, cert = tls_server
    client = _client(base, verify=str(cert), timeout=5)
    assert client.threat_summary(TID)["path"] == f"/v2/threat/summary/{TID}"
    assert client.calls == {"threat": 1}


def test_unreachable_proxy_is_named():
    rc = RequestsCommon(opts={}, function_opts={"http_proxy": f"http://127.0.0.1:{_closed_port()}"})
    client = _client("http://tap.test", timeout=3, rc=rc)
    with pytest.raises(TapConnectionError) as err:
        client.threat_summary(TID)
    assert err.value.reason == "proxy" and "http_proxy/https_proxy" in str(err.value)


@pytest.fixture
def silent_server():
    """Accepts TCP connections and never answers (the kernel completes the handshake)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_real_timeouts_are_retried_then_unavailable(silent_server):
    sleeps = []
    client = _client(silent_server, timeout=0.2, retries=2, sleep=sleeps.append)
    with pytest.raises(TapUnavailableError) as err:
        client.siem("all", WINDOW)
    assert err.value.timeouts == 3 and "timed out 3 time(s)" in str(err.value)
    assert "Retry limit exceeded" not in str(err.value)
    assert sleeps == [1.0, 2.0] and client.calls == {"siem": 3}


@pytest.fixture
def slamming_server():
    """Accepts connections, reads the request and closes without answering (a dropped connection)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    conn.recv(65536)
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def test_dropped_connections_are_retried_then_unavailable(slamming_server):
    client = _client(slamming_server, timeout=2, retries=1)
    with pytest.raises(TapUnavailableError) as err:
        client.threat_summary(TID)
    assert "dropped the connection 2 time(s)" in str(err.value)
    assert client.calls == {"threat": 2}
