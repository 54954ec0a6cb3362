"""Input checks made before any TAP request.

A bad input must cost no API quota (Campaign IDs and People allow 50 calls a day) and must not reach a
URL path: ids are put into paths such as ``/v2/threat/summary/<id>``, so slashes, ``..`` and URL-special
characters are refused here rather than escaped and sent. Every check raises
:class:`~fn_pp_tap_functions.errors.InputError` with a message naming the input and what is allowed, and
returns the value in canonical form.

What the samples show (``tests/data/public/samples``):

* threat ids: 64 lower-case hex characters in real data; published samples also have anonymised ids with
  other letters (``3xx97xx852c...``), shorter ones and ``test_123``. Accepted: 1-128 characters of
  ``A-Z a-z 0-9 _ -``. (Rapid7's ``22a340...574...`` is a documentation truncation and is refused.)
* campaign ids: UUIDs (``aa9b3d62-4d72-4ebc-8f39-3da3833e7038``); anonymised ones keep the 8-4-4-4-12
  shape with other letters (``46x01x8x-x899-404x-xxx9-111xx393d1x7``). Accepted: that shape, letters and
  digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from fn_pp_tap_functions.errors import APP_SECTION, ConfigError, InputError
from fn_pp_tap_functions.tap.timestamps import format_tap_time, parse_tap_time
from fn_pp_tap_functions.tap.vocab import ThreatStatus, ThreatType, parse_status, parse_threat_type

MAX_THREAT_ID_LENGTH = 128
MAX_URL_LENGTH = 8192
MAX_URLS_PER_DECODE = 100
PEOPLE_WINDOWS = (14, 30, 90)
MAX_TOP_CLICKERS_SIZE = 200
MAX_CAMPAIGN_IDS_SPAN = timedelta(days=1)

_THREAT_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_THREAT_ID_LENGTH}}}")
_CAMPAIGN_ID = re.compile(r"[A-Za-z0-9]{8}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{12}")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _shown(value: object, limit: int = 60) -> str:
    """Short repr of a rejected value for a message (inputs can be long or hostile)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text(name: str, value: object) -> str:
    if value is None:
        raise InputError(f"The {name} is required.")
    if not isinstance(value, str):
        raise InputError(f"The {name} must be text, got {type(value).__name__}.")
    stripped = value.strip()
    if not stripped:
        raise InputError(f"The {name} is empty.")
    return stripped


def validate_threat_id(value: object) -> str:
    """A TAP threat id (normally the 64-hex SHA-256 TAP shows); surrounding whitespace is trimmed."""
    text = _text("threat ID", value)
    if len(text) > MAX_THREAT_ID_LENGTH:
        raise InputError(
            f"The threat ID is {len(text)} characters long; TAP threat IDs are 64 hex characters "
            f"(at most {MAX_THREAT_ID_LENGTH} accepted)."
        )
    if not _THREAT_ID.fullmatch(text):
        raise InputError(
            f"The threat ID {_shown(text)} is not valid: use the ID as TAP shows it (normally 64 hex "
            "characters; letters, digits, '-' and '_' only, no spaces, slashes or URL characters)."
        )
    return text


def validate_campaign_id(value: object) -> str:
    """A TAP campaign id: UUID shape (8-4-4-4-12); surrounding whitespace is trimmed."""
    text = _text("campaign ID", value)
    if len(text) > 36 or not _CAMPAIGN_ID.fullmatch(text):
        raise InputError(
            f"The campaign ID {_shown(text)} is not valid: TAP campaign IDs are UUIDs such as "
            "'aa9b3d62-4d72-4ebc-8f39-3da3833e7038'."
        )
    return text


def require_aware(name: str, value: object) -> datetime:
    """A time-zone-aware datetime (or ISO-8601 text with a zone), returned in UTC."""
    if isinstance(value, str):
        text = value.strip()
        parsed = parse_tap_time(text)
        if parsed is None:
            raise InputError(f"The {name} {_shown(value)} is not an ISO-8601 date-time such as 2024-01-31T10:00:00Z.")
        if not (text.endswith(("Z", "z")) or re.search(r"[+-]\d\d:?\d\d$", text)):
            raise InputError(f"The {name} {_shown(value)} has no time zone; add 'Z' for UTC.")
        return parsed
    if not isinstance(value, datetime):
        raise InputError(f"The {name} must be a date-time, got {type(value).__name__}.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"The {name} ({value.isoformat()}) has no time zone; give it in UTC.")
    return value.astimezone(UTC)


def validate_window(
    start: object,
    end: object,
    *,
    min_span: timedelta | None = None,
    max_span: timedelta | None = None,
    what: str = "window",
) -> tuple[datetime, datetime]:
    """``start < end``, both aware; optional span bounds. Returns both in UTC."""
    start_dt = require_aware(f"{what} start", start)
    end_dt = require_aware(f"{what} end", end)
    if start_dt >= end_dt:
        raise InputError(
            f"The {what} must start before it ends (start {format_tap_time(start_dt)}, end {format_tap_time(end_dt)})."
        )
    span = end_dt - start_dt
    if min_span is not None and span < min_span:
        raise InputError(f"The {what} is {span.total_seconds():g} s long; TAP needs at least {_span(min_span)}.")
    if max_span is not None and span > max_span:
        raise InputError(f"The {what} is {_span(span)} long; TAP serves at most {_span(max_span)} per request.")
    return start_dt, end_dt


def parse_interval_text(value: str) -> tuple[object, object]:
    """Split ``start/end`` text (ISO-8601 interval of two date-times) into its two halves."""
    parts = value.strip().split("/")
    if len(parts) != 2 or not all(parts):
        raise InputError(
            f"The interval {_shown(value)} is not 'start/end' (e.g. 2024-01-31T10:00:00Z/2024-01-31T11:00:00Z)."
        )
    return parts[0], parts[1]


def validate_threat_types(values: Iterable[object] | str | None) -> tuple[str, ...]:
    """SIEM ``threatType`` filter values in canonical spelling, de-duplicated, order kept."""
    return _vocab_list("threat type", values, parse_threat_type, [t.value for t in ThreatType])


def validate_threat_statuses(values: Iterable[object] | str | None) -> tuple[str, ...]:
    """SIEM ``threatStatus`` filter values (``falsepositive`` etc. accepted) in canonical spelling."""
    return _vocab_list("threat status", values, parse_status, [s.value for s in ThreatStatus])


def _vocab_list(name: str, values: Iterable[object] | str | None, parse: Callable[[object], StrEnum | None],
                allowed: list[str]) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        known = parse(value)
        if known is None:
            raise InputError(f"The {name} {_shown(value)} is not one of: {', '.join(allowed)}.")
        if known.value not in out:
            out.append(known.value)
    return tuple(out)


def validate_people_window(value: object) -> int:
    """People API window in days: 14, 30 or 90."""
    number = _int_like("People window", value)
    if number not in PEOPLE_WINDOWS:
        raise InputError(f"The People window must be 14, 30 or 90 days, got {_shown(value)}.")
    return number


def validate_page(value: object) -> int:
    number = _int_like("page", value)
    if number < 1:
        raise InputError(f"The page must be 1 or more, got {number}.")
    return number


def validate_size(value: object, *, maximum: int | None = None, what: str = "page size") -> int:
    number = _int_like(what, value)
    if number < 1:
        raise InputError(f"The {what} must be 1 or more, got {number}.")
    if maximum is not None and number > maximum:
        raise InputError(f"The {what} must be at most {maximum}, got {number}.")
    return number


def validate_top_clickers_size(value: object) -> int:
    return validate_size(value, maximum=MAX_TOP_CLICKERS_SIZE, what="top clickers size")


def _int_like(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise InputError(f"The {name} must be a whole number, got {value!r}.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise InputError(f"The {name} must be a whole number, got {_shown(value)}.")


def validate_url(value: object) -> str:
    """One URL to decode: http(s), a host, no spaces or control characters, bounded length."""
    text = _text("URL", value)
    if len(text) > MAX_URL_LENGTH:
        raise InputError(f"A URL to decode is {len(text)} characters long; at most {MAX_URL_LENGTH} are accepted.")
    if _CONTROL.search(text):
        raise InputError(f"The URL {_shown(text)} contains spaces or control characters.")
    try:
        parts = urlsplit(text)
    except ValueError as err:
        raise InputError(f"The URL {_shown(text)} cannot be parsed ({err}).") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise InputError(f"The URL {_shown(text)} is not an http(s) URL.")
    return text


def validate_urls(values: Iterable[object] | str | None) -> tuple[str, ...]:
    """URLs to decode: text (split on whitespace: URLs contain none) or a list; 1..100, duplicates dropped."""
    if values is None:
        raise InputError("At least one URL to decode is required.")
    items: list[object] = list(values.split() if isinstance(values, str) else values)
    out: list[str] = []
    for item in items:
        url = validate_url(item)
        if url not in out:
            out.append(url)
    if not out:
        raise InputError("At least one URL to decode is required.")
    if len(out) > MAX_URLS_PER_DECODE:
        raise InputError(f"{len(out)} URLs given; decode at most {MAX_URLS_PER_DECODE} per call.")
    return tuple(out)


def validate_base_url(value: object) -> str:
    """TAP base URL (``https://tap-api-v2.proofpoint.com``; http allowed for a local simulator).

    Raises :class:`ConfigError` (it comes from app.config, not from a function input). The value is never
    echoed when it might hold credentials.
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"The Proofpoint TAP base URL is empty; set it in [{APP_SECTION}] (https://tap-api-v2.proofpoint.com)."
        )
    text = value.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ConfigError(f"The Proofpoint TAP base URL in [{APP_SECTION}] cannot be parsed.") from None
    if "@" in parts.netloc:
        raise ConfigError(
            f"The Proofpoint TAP base URL in [{APP_SECTION}] must not contain credentials; "
            "set the service principal and secret in their own settings."
        )
    if parts.scheme not in ("http", "https") or not hostname:
        raise ConfigError(
            f"The Proofpoint TAP base URL {_shown(text)} in [{APP_SECTION}] must look like "
            "https://tap-api-v2.proofpoint.com."
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"The Proofpoint TAP base URL {_shown(text)} must not have a query or fragment.")
    return text


def _span(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{int(seconds // 86400)} day(s)"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"
