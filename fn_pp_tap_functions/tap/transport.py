"""The transport under the TAP client: the one place where HTTP outcomes become TAP's answers or our errors.

In the manner of requests' Session/Adapter split: :class:`~fn_pp_tap_functions.tap.client.TapClient`
knows TAP's endpoints (paths, parameters, what a 404 means for each), :class:`Transport` knows how a call
travels and fails: Basic auth, the session, proxies, TLS and timeout from resilient-lib, bounded retries
with exponential back-off, per-pool call counts, JSON decoding, and the mapping of every failure to one
exception of :mod:`fn_pp_tap_functions.errors` that names the cause.

How it uses resilient-lib: ``RequestsCommon`` is the place app.config's ``[integrations]`` / app-section
settings live (``http_proxy``/``https_proxy``, ``timeout``, ``verify``, client certificates) and it owns a
``requests`` session. The transport takes all of those from it, but sends requests on that session itself
instead of calling ``RequestsCommon.execute``: ``execute`` turns every failure (401, 429, DNS, TLS, ...)
into ``IntegrationError("Retry limit exceeded")``, logs the real cause at ERROR and retries only
``HTTPError``. Here only what can heal by itself (5xx, timeouts, dropped connections) is retried, a
bounded number of times; a 429 never is.

Secrets: credentials travel only in the HTTP Basic header. Messages and log lines carry the API path,
never headers or a URL with user info, and any text TAP sends back is scrubbed of the principal and
secret (:class:`Redactor`) before it is shown.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import urlsplit

import requests

from fn_pp_tap_functions.errors import (
    APP_SECTION,
    ConfigError,
    TapAuthError,
    TapBadRequestError,
    TapConnectionError,
    TapError,
    TapNotFoundError,
    TapRateLimitError,
    TapResponseError,
    TapUnavailableError,
)
from fn_pp_tap_functions.tap import validation
from fn_pp_tap_functions.tap.pools import Pool, pool_label

if TYPE_CHECKING:  # resilient-lib is a runtime dependency of the app, but the transport works without it
    from resilient_lib import RequestsCommon

LOG = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
MAX_TAP_TEXT = 300
"""Longest piece of a TAP error body quoted in a message."""

NotFound = Callable[[], TapNotFoundError]
"""What a 404 means for one endpoint (the client knows; the transport only raises it)."""


class TransportOptions(TypedDict, total=False):
    """The optional settings of a :class:`Transport` (what ``TapClient(..., **options)`` passes on)."""

    rc: RequestsCommon | None
    verify: bool | str | None
    timeout: float | tuple[float, float] | None
    retries: int
    backoff: float
    max_backoff: float
    sleep: Callable[[float], None]
    clock: Callable[[], datetime] | None


class Redactor:
    """Removes the credentials from text the app did not write itself (TAP bodies, library messages)."""

    def __init__(self, *secrets: str) -> None:
        self._values = tuple(v for v in secrets if v and len(v) >= 3)

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, "[redacted]")
        return text


class Transport:
    """How one TAP call travels: auth, session, retries, back-off, error mapping, call counts, JSON.

    ``base_url``, ``principal`` and ``secret`` are all that is needed. ``rc`` (a resilient-lib
    ``RequestsCommon`` built from app.config) supplies proxies, client certificate, session and — unless
    given here — ``verify`` and ``timeout``. ``verify`` is ``True``, ``False`` or a CA bundle path.
    ``retries`` is the number of extra attempts after a 5xx, a timeout or a dropped connection; waits are
    ``backoff * 2**n`` seconds (capped at ``max_backoff``, and stretched to a 5xx's ``Retry-After`` up to
    that cap). ``sleep`` and ``clock`` are injectable for tests.

    ``calls`` counts, per :class:`Pool` value, the requests that reached or may have reached TAP
    (retries included; DNS, refused, TLS and proxy failures excluded), so callers can report the quota used.
    """

    def __init__(
        self,
        base_url: str,
        principal: str,
        secret: str,
        *,
        rc: RequestsCommon | None = None,
        verify: bool | str | None = None,
        timeout: float | tuple[float, float] | None = None,
        retries: int = 3,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.base_url = validation.validate_base_url(base_url)
        if not isinstance(principal, str) or not principal.strip():
            raise ConfigError(
                f"The Proofpoint TAP service principal is empty; set it in the [{APP_SECTION}] section of app.config."
            )
        if not isinstance(secret, str) or not secret:
            raise ConfigError(
                f"The Proofpoint TAP service secret is empty; set it in the [{APP_SECTION}] section of app.config."
            )
        if retries < 0 or backoff < 0:
            raise ConfigError("TAP client retries and backoff must not be negative.")
        self._auth = (principal.strip(), secret)
        self._scrub = Redactor(secret, principal.strip())
        self._host = urlsplit(self.base_url).netloc

        self._proxies: dict[str, str] | None = None
        self._cert: Any = None
        self._session: requests.Session
        if rc is not None:
            self._session = rc.request_obj
            self._proxies = rc.get_proxies()
            self._cert = rc.get_client_auth()
            if verify is None:
                verify = rc.get_verify()
            if timeout is None:
                timeout = rc.get_timeout()
        else:
            self._session = requests.Session()
        self.verify: bool | str = True if verify is None else verify
        if isinstance(self.verify, str) and not os.path.exists(self.verify):
            raise ConfigError(
                f"The CA bundle {self.verify!r} set as 'verify' for [{APP_SECTION}] does not exist; give the path "
                "of a PEM file with the CA certificates to trust."
            )
        self.timeout: float | tuple[float, float] = DEFAULT_TIMEOUT if timeout is None else timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._headers = {
            "Accept": "application/json",
            "User-Agent": f"fn_pp_tap_functions/{_package_version()} (IBM SOAR app)",
        }
        self._lock = threading.Lock()
        self.calls: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    def call(
        self,
        method: str,
        path: str,
        *,
        pool: Pool,
        endpoint: str | None = None,
        params: list[tuple[str, str]] | None = None,
        json_body: Mapping[str, Any] | None = None,
        not_found: NotFound | None = None,
        empty_ok: bool = False,
    ) -> dict[str, Any]:
        """One TAP call: TAP's JSON object, or the error that names what went wrong.

        ``endpoint`` is the path without ids, named in messages about the answer; ``empty_ok``: an empty
        body is an empty answer (SIEM, campaign ids) rather than an error.
        """
        response = self._request(method, path, pool=pool, params=params, json_body=json_body, not_found=not_found)
        return self._json_object(response, endpoint or path, empty_ok=empty_ok)

    def call_bytes(
        self,
        method: str,
        path: str,
        *,
        pool: Pool,
        params: list[tuple[str, str]] | None = None,
        not_found: NotFound | None = None,
    ) -> bytes:
        """One TAP call whose body the caller parses itself (SIEM answers, read event by event so that a
        50,000-event answer is never held as Python objects whole); errors as :meth:`call`. Empty: ``b""``."""
        response = self._request(method, path, pool=pool, params=params, not_found=not_found)
        return b"" if response.status_code == 204 else (response.content or b"")

    def scrubbed(self, text: str) -> str:
        """``text`` with this transport's credentials removed (for quoting a TAP answer in a message)."""
        return self._scrub(text)

    def _count(self, pool: Pool) -> None:
        with self._lock:
            self.calls[pool.value] = self.calls.get(pool.value, 0) + 1

    def _tap_text(self, response: requests.Response) -> str:
        try:
            body = response.text or ""
        except Exception:  # undecodable body
            return ""
        body = " ".join(body.split())
        if len(body) > MAX_TAP_TEXT:
            body = body[: MAX_TAP_TEXT - 3] + "..."
        return self._scrub(body)

    def _backoff_delay(self, attempt: int, response: requests.Response | None) -> float:
        delay = self.backoff * 2.0**attempt
        if response is not None:
            hinted = _retry_after_seconds(response.headers.get("Retry-After"), self.clock())
            if hinted is not None:
                delay = max(delay, hinted)
        return min(delay, self.max_backoff)

    def _request(
        self,
        method: str,
        path: str,
        *,
        pool: Pool,
        params: list[tuple[str, str]] | None = None,
        json_body: Mapping[str, Any] | None = None,
        not_found: NotFound | None = None,
    ) -> requests.Response:
        url = self.base_url + path
        statuses: list[int | None] = []
        timeouts = 0
        attempts = self.retries + 1
        for attempt in range(attempts):
            response: requests.Response | None = None
            started = time.monotonic()
            try:
                response = self._session.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    auth=self._auth,
                    headers=self._headers,
                    timeout=self.timeout,
                    verify=self.verify,
                    proxies=self._proxies,
                    cert=self._cert,
                )
            except requests.exceptions.SSLError as err:
                raise self._tls_error(err, path) from err
            except requests.exceptions.ProxyError as err:
                raise TapConnectionError(
                    f"Could not reach Proofpoint TAP ({self._host}) through the configured proxy: "
                    f"{self._scrub(_short_reason(err))}. Check http_proxy/https_proxy in [{APP_SECTION}] or "
                    "[integrations] and the proxy itself.",
                    reason="proxy",
                    endpoint=path,
                ) from err
            except requests.exceptions.Timeout as err:
                self._count(pool)
                timeouts += 1
                LOG.warning("TAP %s %s timed out (attempt %d of %d)", method, path, attempt + 1, attempts)
                last_error: BaseException = err
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as err:
                unreachable = self._unreachable_error(err, path)
                if unreachable is not None:
                    raise unreachable from err
                self._count(pool)
                LOG.warning("TAP %s %s: connection dropped (attempt %d of %d)", method, path, attempt + 1, attempts)
                last_error = err
            except requests.exceptions.RequestException as err:
                raise TapConnectionError(
                    f"The request to Proofpoint TAP ({self._host}{path}) could not be sent: "
                    f"{self._scrub(_short_reason(err))}.",
                    reason="network",
                    endpoint=path,
                ) from err
            else:
                self._count(pool)
                status = response.status_code
                LOG.debug(
                    "TAP %s %s -> %d in %.2fs (pool %s, attempt %d)",
                    method,
                    path,
                    status,
                    time.monotonic() - started,
                    pool.value,
                    attempt + 1,
                )
                if status < 300:
                    return response
                if status < 500:
                    raise self._client_error(response, path, pool, not_found)
                statuses.append(status)
                LOG.warning("TAP %s %s -> HTTP %d (attempt %d of %d)", method, path, status, attempt + 1, attempts)
                last_error = TapError(f"HTTP {status}", endpoint=path, status=status)
            if attempt + 1 < attempts:
                self._sleep(self._backoff_delay(attempt, response))
        LOG.error("TAP %s %s failed %d times; last error %s", method, path, attempts, type(last_error).__name__)
        raise TapUnavailableError(
            attempts=attempts,
            endpoint=path,
            last_status=statuses[-1] if statuses else None,
            statuses=tuple(statuses),
            timeouts=timeouts,
        )

    def _client_error(
        self,
        response: requests.Response,
        path: str,
        pool: Pool,
        not_found: NotFound | None,
    ) -> TapError:
        status = response.status_code
        if status in (401, 403):
            return TapAuthError(endpoint=path, status=status)
        if status == 404:
            if not_found is not None:
                return not_found()
            return TapNotFoundError(f"Proofpoint TAP has nothing at {path} (HTTP 404).", endpoint=path)
        if status == 400:
            return TapBadRequestError(self._tap_text(response), endpoint=path)
        if status == 429:
            now = self.clock()
            seconds = _retry_after_seconds(response.headers.get("Retry-After"), now)
            if seconds is None:
                seconds = _reset_seconds(response.headers.get("X-RateLimit-Reset"), now)
            frees_at = None if seconds is None else (now + timedelta(seconds=seconds)).replace(microsecond=0)
            return TapRateLimitError(
                pool=pool.value,
                pool_label=pool_label(pool),
                retry_after=seconds,
                frees_at=frees_at,
                endpoint=path,
                tap_text=self._tap_text(response) or None,
            )
        text = self._tap_text(response)
        said = f': "{text}"' if text else ""
        return TapError(
            f"Proofpoint TAP answered HTTP {status} to {path}{said}. This is unexpected for this API; "
            "check the TAP base URL and any proxy in between.",
            endpoint=path,
            status=status,
        )

    def _tls_error(self, err: BaseException, path: str) -> TapConnectionError:
        detail = None
        for cause in _causes(err):
            if isinstance(cause, ssl.SSLCertVerificationError):
                detail = cause.verify_message or cause.reason or str(cause)
                break
        setting = (
            f"set 'verify' in [{APP_SECTION}] (or [integrations]) to the path of a CA bundle (PEM) that "
            "includes the CA of any TLS-inspecting proxy in between; do not turn verification off"
        )
        if detail is not None:
            message = (
                f"TLS certificate verification failed for Proofpoint TAP ({self._host}): {detail}. "
                f"The server's certificate is not trusted by the configured CA bundle: {setting}."
            )
        else:
            message = (
                f"TLS handshake with Proofpoint TAP ({self._host}) failed: {self._scrub(_short_reason(err))}. "
                f"If a proxy re-signs TLS traffic, {setting}."
            )
        return TapConnectionError(message, reason="tls", endpoint=path)

    def _unreachable_error(self, err: BaseException, path: str) -> TapConnectionError | None:
        """DNS and refused connections fail fast (retrying will not help); ``None`` for transient drops."""
        if _name_in_chain(err, "NameResolutionError", "gaierror"):
            return TapConnectionError(
                f"The Proofpoint TAP host name {urlsplit(self.base_url).hostname!r} could not be resolved (DNS). "
                f"Check the TAP base URL in [{APP_SECTION}] and the DNS/proxy settings of this host.",
                reason="dns",
                endpoint=path,
            )
        if any(isinstance(c, ConnectionRefusedError) for c in _causes(err)) or "Connection refused" in str(err):
            return TapConnectionError(
                f"The connection to Proofpoint TAP ({self._host}) was refused: nothing listens there or a "
                "firewall rejects it. Check the TAP base URL and the outbound firewall/proxy settings.",
                reason="refused",
                endpoint=path,
            )
        if _name_in_chain(err, "NewConnectionError", "ConnectTimeoutError") and not _name_in_chain(
            err, "ConnectionResetError", "RemoteDisconnected", "ProtocolError"
        ):
            return TapConnectionError(
                f"Could not connect to Proofpoint TAP ({self._host}): {self._scrub(_short_reason(err))}. "
                "Check the network path and proxy settings.",
                reason="network",
                endpoint=path,
            )
        return None

    def _json_object(self, response: requests.Response, path: str, *, empty_ok: bool = False) -> dict[str, Any]:
        if response.status_code == 204 or not response.content or not response.content.strip():
            if empty_ok:
                return {}
            raise TapResponseError(
                f"Proofpoint TAP answered {path} with an empty body (HTTP {response.status_code}); expected JSON. "
                "Try again; if it persists, report it to Proofpoint.",
                endpoint=path,
                status=response.status_code,
            )
        try:
            data = response.json()
        except ValueError:
            start = self._scrub(" ".join(response.text[:80].split()))
            raise TapResponseError(
                f"Proofpoint TAP answered {path} with something that is not JSON (starts with {start!r}); "
                "a proxy or captive portal may be answering instead of TAP.",
                endpoint=path,
                status=response.status_code,
            ) from None
        if not isinstance(data, dict):
            raise TapResponseError(
                f"Proofpoint TAP answered {path} with JSON that is not an object ({type(data).__name__}).",
                endpoint=path,
                status=response.status_code,
            )
        return data



def _package_version() -> str:
    try:
        return metadata.version("fn_pp_tap_functions")
    except metadata.PackageNotFoundError:
        return "0"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """Every exception reachable from ``exc`` (cause, context, urllib3 ``reason``, exception args)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked.extend(arg for arg in current.args if isinstance(arg, BaseException))
        stack.extend(x for x in linked if isinstance(x, BaseException))


def _name_in_chain(exc: BaseException, *names: str) -> bool:
    return any(type(cause).__name__ in names for cause in _causes(exc))


def _short_reason(err: BaseException) -> str:
    """The innermost useful text of a requests/urllib3 error, without the pool/URL boilerplate."""
    deepest = err
    for cause in _causes(err):
        deepest = cause
    text = str(deepest) or type(deepest).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; ``None`` if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _reset_seconds(value: str | None, now: datetime) -> float | None:
    """``X-RateLimit-Reset`` as seconds: an epoch time (large numbers) or a delta."""
    if not value or not value.strip().isdigit():
        return None
    number = float(value.strip())
    if number > 1_000_000_000:
        return max(0.0, number - now.timestamp())
    return number
