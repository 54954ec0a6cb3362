"""The Proofpoint TAP v2 API client: one method per endpoint, TAP's parameters and what a 404 means.

How a call travels and fails (auth, retries, back-off, error mapping, secret scrubbing, call counts) is
the :class:`~fn_pp_tap_functions.tap.transport.Transport`'s; this module knows the endpoints. The
client depends on nothing SOAR-specific: ``TapClient("http://127.0.0.1:8080", "principal", "secret")`` is
a complete client (this is how it runs against the TAP simulator); app.config's proxies and TLS settings
come in through resilient-lib's ``RequestsCommon`` (``rc``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Unpack
from urllib.parse import quote

from fn_pp_tap_functions.errors import InputError, TapBadRequestError, TapNotFoundError
from fn_pp_tap_functions.tap import validation
from fn_pp_tap_functions.tap.events import TapEvent
from fn_pp_tap_functions.tap.pools import Pool
from fn_pp_tap_functions.tap.siem_body import decode_siem_body, parse_siem_body
from fn_pp_tap_functions.tap.timestamps import format_tap_time
from fn_pp_tap_functions.tap.transport import Transport, TransportOptions
from fn_pp_tap_functions.tap.windows import LOOKBACK_LIMIT, MAX_WINDOW, MIN_WINDOW, Window

DEFAULT_BASE_URL = "https://tap-api-v2.proofpoint.com"
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
    """A SIEM answer with what produced it: the endpoint, the quota pool charged, the window, its events
    (normalised while the answer was read, its shape checked first: see :mod:`.siem_body`)."""

    endpoint: SiemEndpoint
    pool: Pool
    window: Window
    normalised: tuple[TapEvent, ...]
    query_end_time: datetime | None = None

    def events(self) -> list[TapEvent]:
        return list(self.normalised)


WindowLike = Window | tuple[datetime, datetime] | str


class TapClient:
    """Proofpoint TAP v2 API client: the endpoints, their parameters checked before any call.

    The constructor's arguments are the :class:`Transport`'s (``transport`` may be given instead).
    Methods return TAP's parsed JSON (``dict``); the normalising classes live in ``events``, ``threats``,
    ``forensics``, ``people`` and ``urldecode`` so they can be tested on samples without HTTP.
    ``calls`` counts the requests per quota pool (see :class:`Transport`).
    """

    def __init__(self, base_url: str = DEFAULT_BASE_URL, principal: str = "", secret: str = "", *,
                 transport: Transport | None = None, **options: Unpack[TransportOptions]) -> None:
        self.transport = transport or Transport(base_url, principal, secret, **options)

    def __repr__(self) -> str:
        return f"TapClient(base_url={self.base_url!r})"

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def verify(self) -> bool | str:
        return self.transport.verify

    @property
    def timeout(self) -> float | tuple[float, float]:
        return self.transport.timeout

    @property
    def calls(self) -> dict[str, int]:
        return self.transport.calls

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
        keep_raw: bool = False,
    ) -> SiemResult:
        """One SIEM request for ``window`` (30 s .. 1 h, ended, within the 7-day look-back).

        Always sends ``format=json`` (TAP defaults to syslog) and one ``threatType``/``threatStatus``
        parameter per value. Note TAP omits false positives unless ``falsePositive`` is asked for.
        Use :func:`fn_pp_tap_functions.tap.windows.plan_windows` to cut longer spans. An answer of the
        wrong shape raises :class:`~fn_pp_tap_functions.errors.TapResponseError` naming the endpoint.
        """
        kind = SiemEndpoint.parse(endpoint)
        win = self._siem_window(window)
        params: list[tuple[str, str]] = [("interval", win.interval), ("format", "json")]
        params += [("threatType", t) for t in validation.validate_threat_types(threat_types)]
        params += [("threatStatus", s) for s in validation.validate_threat_statuses(threat_statuses)]
        body = self.transport.call_bytes("GET", kind.path, pool=kind.pool, params=params)
        text = decode_siem_body(body, endpoint=kind.path)
        del body  # the bytes and the events are never held together (see siem_body)
        events, query_end = parse_siem_body(text, endpoint=kind.path, keep_raw=keep_raw,
                                            scrub=self.transport.scrubbed)
        del text
        return SiemResult(kind, kind.pool, win, tuple(events), query_end)

    def threat_summary(self, threat_id: str) -> dict[str, Any]:
        """``/v2/threat/summary/{threatId}`` (parse with ``ThreatSummary.from_api``)."""
        tid = validation.validate_threat_id(threat_id)
        endpoint = "/v2/threat/summary"
        return self.transport.call(
            "GET", f"{endpoint}/{quote(tid, safe='')}", pool=Pool.THREAT, endpoint=endpoint,
            not_found=_not_found(f"Threat {tid} not found in TAP: check the ID (copy it from the TAP event or "
                                 "dashboard).", "threat", tid, endpoint))

    def campaign(self, campaign_id: str) -> dict[str, Any]:
        """``/v2/campaign/{campaignId}`` (parse with ``Campaign.from_api``)."""
        cid = validation.validate_campaign_id(campaign_id)
        endpoint = "/v2/campaign"
        return self.transport.call(
            "GET", f"{endpoint}/{quote(cid, safe='')}", pool=Pool.CAMPAIGN, endpoint=endpoint,
            not_found=_not_found(f"Campaign {cid} not found in TAP: check the ID (events carry it as "
                                 "campaignID/campaignId).", "campaign", cid, endpoint))

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
        endpoint = "/v2/campaign/ids"
        return self.transport.call(
            "GET", endpoint, pool=Pool.CAMPAIGN_IDS, params=params, empty_ok=True,
            not_found=_not_found(f"No campaigns in {win.interval} (page {page}) in TAP.", "campaigns", win.interval,
                                 endpoint))

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
        endpoint = "/v2/forensics"
        return self.transport.call(
            "GET", endpoint, pool=Pool.FORENSICS, params=params,
            not_found=_not_found(f"No forensics for {what} {ident} in TAP: the {what} is unknown or has no forensic "
                                 "report.", "forensics", ident, endpoint))

    def people_vap(self, window: int = 30, size: int | None = None, page: int | None = None) -> dict[str, Any]:
        """``/v2/people/vap`` (Very Attacked People; 50 calls per 24 h). Parse with ``VapReport.from_api``."""
        params = [("window", str(validation.validate_people_window(window)))]
        if size is not None:
            params.append(("size", str(validation.validate_size(size))))
        if page is not None:
            params.append(("page", str(validation.validate_page(page))))
        return self.transport.call("GET", "/v2/people/vap", pool=Pool.PEOPLE_VAP, params=params)

    def people_top_clickers(self, window: int = 30, size: int | None = None, page: int | None = None) -> dict[str, Any]:
        """``/v2/people/top-clickers`` (size at most 200; 50 calls per 24 h)."""
        params = [("window", str(validation.validate_people_window(window)))]
        if size is not None:
            params.append(("size", str(validation.validate_top_clickers_size(size))))
        if page is not None:
            params.append(("page", str(validation.validate_page(page))))
        return self.transport.call("GET", "/v2/people/top-clickers", pool=Pool.PEOPLE_TOP_CLICKERS, params=params)

    def decode_urls(self, urls: Iterable[str] | str) -> dict[str, Any]:
        """``POST /v2/url/decode`` (parse with ``parse_decoded_urls``)."""
        checked = validation.validate_urls(urls)
        return self.transport.call("POST", "/v2/url/decode", pool=Pool.URL_DECODER, json_body={"urls": list(checked)})

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

    # ----------------------------------------------------------------------------------- windows

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
        now = self.transport.clock()
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


def _not_found(message: str, what: str, ident: str, endpoint: str) -> Callable[[], TapNotFoundError]:
    """What a 404 means for one endpoint: the error the transport raises for it."""
    return lambda: TapNotFoundError(message, what=what, ident=ident, endpoint=endpoint)
