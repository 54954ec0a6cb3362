"""HTTP client for the Proofpoint TAP v2 API.

How it uses resilient-lib: ``RequestsCommon`` is the place app.config's ``[integrations]`` / app-section
settings live (``http_proxy``/``https_proxy``, ``timeout``, ``verify``, client certificates) and it owns a
``requests`` session. The client takes all of those from it, but sends requests on that session itself
instead of calling ``RequestsCommon.execute``: ``execute`` turns every failure (401, 429, DNS, TLS, ...)
into ``IntegrationError("Retry limit exceeded")``, logs the real cause at ERROR and retries only
``HTTPError``. Here every outcome maps to one exception of :mod:`fn_pp_tap_functions.errors` that names
the cause, and only what can heal by itself (5xx, timeouts, dropped connections) is retried, a bounded
number of times with exponential backoff.

The client depends on nothing SOAR-specific: ``TapClient("http://127.0.0.1:8080", "principal",
"secret")`` is a complete client (this is how it runs against the TAP simulator).

Secrets: credentials travel only in the HTTP Basic header. Messages and log lines carry the API path,
never headers or a URL with user info, and any text TAP sends back is scrubbed of the principal and
secret before it is shown.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from importlib import metadata
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import requests

from fn_pp_tap_functions.errors import (
    APP_SECTION,
    ConfigError,
    InputError,
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
from fn_pp_tap_functions.tap.events import TapEvent, normalise_siem_response
from fn_pp_tap_functions.tap.pools import Pool, pool_label
from fn_pp_tap_functions.tap.timestamps import format_tap_time, parse_tap_time
from fn_pp_tap_functions.tap.windows import LOOKBACK_LIMIT, MAX_WINDOW, MIN_WINDOW, Window

if TYPE_CHECKING:  # resilient-lib is a runtime dependency of the app, but the client works without it
    from resilient_lib import RequestsCommon

LOG = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://tap-api-v2.proofpoint.com"
DEFAULT_TIMEOUT = 30.0
MAX_TAP_TEXT = 300
"""Longest piece of a TAP error body quoted in a message."""
PROBE_THREAT_ID = "0" * 64
"""Threat id no real threat has; see :meth:`TapClient.check_credentials`."""


class SiemEndpoint(StrEnum):
    """The six SIEM endpoints; the value is the path below ``/v2/siem/``."""

    ALL = "all"
    ISSUES = "issues"
    CLICKS_BLOCKED = "clicks/blocked"
    CLICKS_PERMITTED = "clicks/permitted"
    MESSAGES_BLOCKED = "messages/blocked"
    MESSAGES_DELIVERED = "messages/delivered"

    @property
    def path(self) -> str:
        return f"/v2/siem/{self.value}"

    @property
    def pool(self) -> Pool:
        """clicks/permitted has its own 1,800/24 h budget; the other five share one."""
        return Pool.SIEM_CLICKS_PERMITTED if self is SiemEndpoint.CLICKS_PERMITTED else Pool.SIEM

    @classmethod
    def parse(cls, value: SiemEndpoint | str) -> SiemEndpoint:
        """Accept ``clicks/permitted``, ``clicks_permitted``, ``clicksPermitted``, ``siem_all``, ... ."""
        if isinstance(value, SiemEndpoint):
            return value
        if isinstance(value, str):
            squashed = "".join(ch for ch in value.lower() if ch.isalnum())
            squashed = squashed.removeprefix("v2").removeprefix("siem")
            for member in cls:
                if squashed == member.value.replace("/", ""):
                    return member
        allowed = ", ".join(m.value for m in cls)
        raise InputError(f"Unknown SIEM endpoint {str(value)[:60]!r}; use one of: {allowed}.")


@dataclass(frozen=True, slots=True)
class SiemResult:
    """A SIEM answer with what produced it: the endpoint, the quota pool charged and the window."""

    endpoint: SiemEndpoint
    pool: Pool
    window: Window
    payload: dict[str, Any]

    @property
    def query_end_time(self) -> datetime | None:
        return parse_tap_time(self.payload.get("queryEndTime"))

    def events(self, *, keep_raw: bool = False) -> list[TapEvent]:
        """The payload's events, normalised (see :func:`normalise_siem_response`)."""
        return normalise_siem_response(self.payload, keep_raw=keep_raw)[0]


WindowLike = Window | tuple[datetime, datetime] | str


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


class TapClient:
    """Proofpoint TAP v2 API client: auth, parameters, error mapping, bounded retries, per-pool call counts.

    ``base_url``, ``principal`` and ``secret`` are all that is needed. ``rc`` (a resilient-lib
    ``RequestsCommon`` built from app.config) supplies proxies, client certificate, session and — unless
    given here — ``verify`` and ``timeout``. ``verify`` is ``True``, ``False`` or a CA bundle path.
    ``retries`` is the number of extra attempts after a 5xx, a timeout or a dropped connection; waits are
    ``backoff * 2**n`` seconds (capped at ``max_backoff``, and stretched to a 5xx's ``Retry-After`` up to
    that cap). ``sleep`` and ``clock`` are injectable for tests.

    Methods return TAP's parsed JSON (``dict``); the normalising classes live in ``events``, ``threats``,
    ``forensics``, ``people`` and ``urldecode`` so they can be tested on samples without HTTP.

    ``calls`` counts, per :class:`Pool` value, the requests that reached or may have reached TAP
    (retries included; DNS, refused, TLS and proxy failures excluded), so callers can report the quota used.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        principal: str = "",
        secret: str = "",
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
        self._host = urlsplit(self.base_url).netloc

        self._proxies: dict[str, str] | None = None
        self._cert: Any = None
        if rc is not None:
            self._session: Any = rc.request_obj
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
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._clock = clock or (lambda: datetime.now(UTC))
        self._headers = {
            "Accept": "application/json",
            "User-Agent": f"fn_pp_tap_functions/{_package_version()} (IBM SOAR app)",
        }
        self._lock = threading.Lock()
        self.calls: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"TapClient(base_url={self.base_url!r})"

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    # ------------------------------------------------------------------------------------------- APIs

    def siem(
        self,
        endpoint: SiemEndpoint | str,
        window: WindowLike,
        *,
        threat_types: Iterable[str] | str | None = (),
        threat_statuses: Iterable[str] | str | None = (),
    ) -> SiemResult:
        """One SIEM request for ``window`` (30 s .. 1 h, ended, within the 7-day look-back).

        Always sends ``format=json`` (TAP defaults to syslog) and one ``threatType``/``threatStatus``
        parameter per value. Note TAP omits false positives unless ``falsePositive`` is asked for.
        Use :func:`fn_pp_tap_functions.tap.windows.plan_windows` to cut longer spans.
        """
        kind = SiemEndpoint.parse(endpoint)
        win = self._siem_window(window)
        params: list[tuple[str, str]] = [("interval", win.interval), ("format", "json")]
        params += [("threatType", t) for t in validation.validate_threat_types(threat_types)]
        params += [("threatStatus", s) for s in validation.validate_threat_statuses(threat_statuses)]
        response = self._request("GET", kind.path, pool=kind.pool, params=params)
        payload = self._json_object(response, kind.path, empty_ok=True)
        return SiemResult(kind, kind.pool, win, payload)

    def threat_summary(self, threat_id: str) -> dict[str, Any]:
        """``/v2/threat/summary/{threatId}`` (parse with ``ThreatSummary.from_api``)."""
        tid = validation.validate_threat_id(threat_id)
        path = f"/v2/threat/summary/{quote(tid, safe='')}"
        response = self._request(
            "GET",
            path,
            pool=Pool.THREAT,
            not_found=lambda: TapNotFoundError(
                f"Threat {tid} not found in TAP: check the ID (copy it from the TAP event or dashboard).",
                what="threat",
                ident=tid,
                endpoint="/v2/threat/summary",
            ),
        )
        return self._json_object(response, "/v2/threat/summary")

    def campaign(self, campaign_id: str) -> dict[str, Any]:
        """``/v2/campaign/{campaignId}`` (parse with ``Campaign.from_api``)."""
        cid = validation.validate_campaign_id(campaign_id)
        response = self._request(
            "GET",
            f"/v2/campaign/{quote(cid, safe='')}",
            pool=Pool.CAMPAIGN,
            not_found=lambda: TapNotFoundError(
                f"Campaign {cid} not found in TAP: check the ID (events carry it as campaignID/campaignId).",
                what="campaign",
                ident=cid,
                endpoint="/v2/campaign",
            ),
        )
        return self._json_object(response, "/v2/campaign")

    def campaign_ids(self, interval: WindowLike, page: int = 1, size: int = 100) -> dict[str, Any]:
        """``/v2/campaign/ids`` for an interval of at most one day (50 calls per 24 h).

        TAP answers 404 when the interval has no campaigns: that raises :class:`TapNotFoundError` with
        ``what == "campaigns"``, which a caller listing campaigns treats as an empty list.
        """
        start, end = self._window_tuple(interval)
        start, end = validation.validate_window(
            start, end, max_span=validation.MAX_CAMPAIGN_IDS_SPAN, what="campaign interval"
        )
        win = Window(start, end)
        page = validation.validate_page(page)
        size = validation.validate_size(size)
        params = [("interval", win.interval), ("page", str(page)), ("size", str(size))]
        response = self._request(
            "GET",
            "/v2/campaign/ids",
            pool=Pool.CAMPAIGN_IDS,
            params=params,
            not_found=lambda: TapNotFoundError(
                f"No campaigns in {win.interval} (page {page}) in TAP.",
                what="campaigns",
                ident=win.interval,
                endpoint="/v2/campaign/ids",
            ),
        )
        return self._json_object(response, "/v2/campaign/ids", empty_ok=True)

    def forensics(
        self,
        threat_id: str | None = None,
        campaign_id: str | None = None,
        include_campaign_forensics: bool = False,
    ) -> dict[str, Any]:
        """``/v2/forensics`` for exactly one of a threat or a campaign (parse with ``Forensics.from_api``)."""
        has_threat = threat_id not in (None, "")
        has_campaign = campaign_id not in (None, "")
        if has_threat == has_campaign:
            raise InputError("Give either a threat ID or a campaign ID for forensics, not both and not neither.")
        if has_threat:
            tid = validation.validate_threat_id(threat_id)
            params = [("threatId", tid)]
            if include_campaign_forensics:
                params.append(("includeCampaignForensics", "true"))
            what, ident = "threat", tid
        else:
            if include_campaign_forensics:
                raise InputError("'Include campaign forensics' applies to a threat ID only, not to a campaign ID.")
            cid = validation.validate_campaign_id(campaign_id)
            params = [("campaignId", cid)]
            what, ident = "campaign", cid
        response = self._request(
            "GET",
            "/v2/forensics",
            pool=Pool.FORENSICS,
            params=params,
            not_found=lambda: TapNotFoundError(
                f"No forensics for {what} {ident} in TAP: the {what} is unknown or has no forensic report.",
                what="forensics",
                ident=ident,
                endpoint="/v2/forensics",
            ),
        )
        return self._json_object(response, "/v2/forensics")

    def people_vap(self, window: int = 30, size: int | None = None, page: int | None = None) -> dict[str, Any]:
        """``/v2/people/vap`` (Very Attacked People; 50 calls per 24 h). Parse with ``VapReport.from_api``."""
        params = [("window", str(validation.validate_people_window(window)))]
        if size is not None:
            params.append(("size", str(validation.validate_size(size))))
        if page is not None:
            params.append(("page", str(validation.validate_page(page))))
        response = self._request("GET", "/v2/people/vap", pool=Pool.PEOPLE_VAP, params=params)
        return self._json_object(response, "/v2/people/vap")

    def people_top_clickers(self, window: int = 30, size: int | None = None, page: int | None = None) -> dict[str, Any]:
        """``/v2/people/top-clickers`` (size at most 200; 50 calls per 24 h)."""
        params = [("window", str(validation.validate_people_window(window)))]
        if size is not None:
            params.append(("size", str(validation.validate_top_clickers_size(size))))
        if page is not None:
            params.append(("page", str(validation.validate_page(page))))
        response = self._request("GET", "/v2/people/top-clickers", pool=Pool.PEOPLE_TOP_CLICKERS, params=params)
        return self._json_object(response, "/v2/people/top-clickers")

    def decode_urls(self, urls: Iterable[str] | str) -> dict[str, Any]:
        """``POST /v2/url/decode`` (parse with ``parse_decoded_urls``)."""
        checked = validation.validate_urls(urls)
        response = self._request("POST", "/v2/url/decode", pool=Pool.URL_DECODER, json_body={"urls": list(checked)})
        return self._json_object(response, "/v2/url/decode")

    def check_credentials(self) -> None:
        """Prove TAP is reachable and accepts the credentials without spending a rate-limited quota.

        Asks the Threat API (no published limit) about a threat id no threat has: 404 (or 400) means TAP
        authenticated the call; 401/403 raise :class:`TapAuthError`; other failures raise as usual. This
        is the connectivity test to use instead of a People or SIEM call.
        """
        try:
            self.threat_summary(PROBE_THREAT_ID)
        except (TapNotFoundError, TapBadRequestError):
            return

    # ----------------------------------------------------------------------------------- internals

    def _window_tuple(self, window: WindowLike) -> tuple[object, object]:
        if isinstance(window, Window):
            return window.start, window.end
        if isinstance(window, str):
            return validation.parse_interval_text(window)
        if isinstance(window, tuple) and len(window) == 2:
            return window
        raise InputError("A window must be a Window, a (start, end) pair or 'start/end' ISO-8601 text.")

    def _siem_window(self, window: WindowLike) -> Window:
        start, end = self._window_tuple(window)
        start, end = validation.validate_window(
            start, end, min_span=MIN_WINDOW, max_span=MAX_WINDOW, what="SIEM window"
        )
        now = self._clock()
        if end > now:
            raise InputError(
                f"The SIEM window ends at {format_tap_time(end)}, which is not yet past; TAP only serves "
                "intervals that have ended."
            )
        if start < now - LOOKBACK_LIMIT:
            raise InputError(
                f"The SIEM window starts at {format_tap_time(start)}, more than 7 days ago; TAP keeps SIEM data "
                "for 7 days only."
            )
        return Window(start, end)

    def _count(self, pool: Pool) -> None:
        with self._lock:
            self.calls[pool.value] = self.calls.get(pool.value, 0) + 1

    def _scrub(self, text: str) -> str:
        """Remove the credentials from text we did not write (TAP bodies, library messages)."""
        for value in (self._auth[1], self._auth[0]):
            if value and len(value) >= 3:
                text = text.replace(value, "[redacted]")
        return text

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
        delay = self.backoff * (2**attempt)
        if response is not None:
            hinted = _retry_after_seconds(response.headers.get("Retry-After"), self._clock())
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
        not_found: Callable[[], TapNotFoundError] | None = None,
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
        not_found: Callable[[], TapNotFoundError] | None,
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
            now = self._clock()
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
