"""SIEM API request rules: which arrays each endpoint returns, query validation, and output formats.

Validation follows tap-api.md.  Where the documentation is silent the stricter plausible rule is used
and noted here:
- query parameters other than the six documented ones are refused with 400 (a typo such as
  ``threatstatus`` would otherwise be silently ignored and false positives silently missed);
- parameter values are case-sensitive (``format=json``, ``threatStatus=falsePositive``);
- instants must carry a zone (``Z`` or an offset); zone-less instants are refused;
- an interval whose end is not strictly in the past is "still current" (end == now is refused too);
- ``sinceSeconds`` windows end at server time rounded down to the minute and start ``sinceSeconds``
  before that end, so the newest partial minute is never returned;
- ``sinceTime`` more than 1 hour back answers the older documented text
  ``The sinceTime parameter gives a time too far into the past`` (beyond 7 days: the 7-day text);
- the text for a too-long interval is not documented; the simulator's wording is ``TOO_LONG`` below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .responses import ApiError
from .timeutil import floor_minute, format_ms, parse_instant, parse_interval

ENDPOINT_ARRAYS: dict[str, tuple[str, ...]] = {
    "/v2/siem/all": ("messagesDelivered", "messagesBlocked", "clicksPermitted", "clicksBlocked"),
    "/v2/siem/issues": ("clicksPermitted", "messagesDelivered"),
    "/v2/siem/clicks/blocked": ("clicksBlocked",),
    "/v2/siem/clicks/permitted": ("clicksPermitted",),
    "/v2/siem/messages/blocked": ("messagesBlocked",),
    "/v2/siem/messages/delivered": ("messagesDelivered",),
}

TOO_SHORT = "The requested interval is too short. Requests must be for at least 30.00s of data"
TOO_LONG = "The requested interval is too long. Requests must be for at most 1.00h of data"
TOO_OLD = "The requested start time is too far into the past. Requests for information up to 7.00d are accepted"
STILL_CURRENT = "The requested interval is still current."
SINCE_TIME_TOO_OLD = "The sinceTime parameter gives a time too far into the past"

MIN_WINDOW = timedelta(seconds=30)
MAX_WINDOW = timedelta(hours=1)
LOOK_BACK = timedelta(days=7)
THREAT_TYPES = ("url", "attachment", "messageText")
THREAT_STATUSES = ("active", "cleared", "falsePositive")
DEFAULT_STATUSES = frozenset({"active", "cleared"})
_KNOWN_PARAMS = {"interval", "sinceSeconds", "sinceTime", "format", "threatType", "threatStatus"}


@dataclass(frozen=True)
class SiemQuery:
    """A validated SIEM request."""

    start: datetime
    end: datetime
    fmt: str
    statuses: frozenset[str]
    threat_types: frozenset[str] | None


def _single(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if values is None:
        return None
    if len(values) != 1:
        raise ApiError(400, f"The {name} parameter may only be given once")
    if values[0] == "":
        raise ApiError(400, f"The {name} parameter is empty")
    return values[0]


def _check_window(start: datetime, end: datetime, now: datetime) -> None:
    if end < start:
        raise ApiError(400, "")
    if end - start < MIN_WINDOW:
        raise ApiError(400, TOO_SHORT)
    if end - start > MAX_WINDOW:
        raise ApiError(400, TOO_LONG)
    if start < now - LOOK_BACK:
        raise ApiError(400, TOO_OLD)
    if end >= now:
        raise ApiError(400, STILL_CURRENT)


def _window(params: dict[str, list[str]], now: datetime) -> tuple[datetime, datetime]:
    given = [name for name in ("interval", "sinceSeconds", "sinceTime") if name in params]
    if len(given) != 1:
        raise ApiError(400, "Exactly one of the interval, sinceSeconds or sinceTime parameters is required")
    name = given[0]
    value = _single(params, name)
    assert value is not None
    if name == "interval":
        try:
            start, end = parse_interval(value)
        except ValueError as exc:
            raise ApiError(400, f"The interval parameter is not a valid ISO-8601 interval: {exc}") from exc
        _check_window(start, end, now)
        return start, end
    if name == "sinceSeconds":
        if not value.isdigit():
            raise ApiError(400, "The sinceSeconds parameter must be a whole number of seconds")
        seconds = int(value)
        if seconds < MIN_WINDOW.total_seconds():
            raise ApiError(400, TOO_SHORT)
        if seconds > MAX_WINDOW.total_seconds():
            raise ApiError(400, TOO_LONG)
        end = floor_minute(now)
        return end - timedelta(seconds=seconds), end
    try:
        start = parse_instant(value)
    except ValueError as exc:
        raise ApiError(400, f"The sinceTime parameter is not a valid ISO-8601 time: {exc}") from exc
    if start > now:
        raise ApiError(400, "")
    if now - start < MIN_WINDOW:
        raise ApiError(400, TOO_SHORT)
    if start < now - LOOK_BACK:
        raise ApiError(400, TOO_OLD)
    if now - start > MAX_WINDOW:
        raise ApiError(400, SINCE_TIME_TOO_OLD)
    return start, now


def parse_siem_query(params: dict[str, list[str]], now: datetime) -> SiemQuery:
    """Validate a SIEM query string (already split by ``parse_qs``) against the service rules."""
    unknown = sorted(set(params) - _KNOWN_PARAMS)
    if unknown:
        raise ApiError(400, f"Unknown parameter: {unknown[0]}")
    fmt = _single(params, "format") or "syslog"
    if fmt not in ("json", "syslog"):
        raise ApiError(400, "The format parameter must be json or syslog")
    threat_types = params.get("threatType")
    if threat_types is not None:
        bad = [value for value in threat_types if value not in THREAT_TYPES]
        if bad:
            raise ApiError(400, f"Invalid threatType: {bad[0]}")
    statuses = params.get("threatStatus")
    if statuses is not None:
        bad = [value for value in statuses if value not in THREAT_STATUSES]
        if bad:
            raise ApiError(400, f"Invalid threatStatus: {bad[0]}")
    start, end = _window(params, now)
    return SiemQuery(
        start=start,
        end=end,
        fmt=fmt,
        statuses=frozenset(statuses) if statuses else DEFAULT_STATUSES,
        threat_types=frozenset(threat_types) if threat_types else None,
    )


def render_json(query_end: datetime, arrays: dict[str, list[dict[str, Any]]]) -> bytes:
    """``{"queryEndTime": ..., <arrays>}`` with the cursor first, as TAP sends it."""
    payload: dict[str, Any] = {"queryEndTime": format_ms(query_end)}
    payload.update(arrays)
    return json.dumps(payload).encode("utf-8")


def _syslog_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def render_syslog(arrays: dict[str, list[dict[str, Any]]], now: datetime) -> bytes:
    """The default (non-JSON) format: one RFC 5424-ish line per event, key="value" pairs.

    Only an approximation of TAP's syslog output, good enough for its purpose: a client that forgets
    ``format=json`` gets text it cannot parse as JSON and fails loudly.  No events -> empty body.
    """
    lines = []
    for event_type, events in arrays.items():
        for event in events:
            pairs = " ".join(f"{key}={_syslog_value(value)}" for key, value in event.items())
            lines.append(f"<14>1 {format_ms(now)} tap-api-v2.proofpoint.com tap - {event_type} - {pairs}")
    return ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")
