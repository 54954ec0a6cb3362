"""UTC timestamp parsing and formatting in the shapes TAP uses.

TAP writes ``2022-03-30T10:11:12.000Z`` (sometimes without milliseconds, sometimes ``+00:00``) and expects
the same back. Everything in the app is an aware ``datetime`` in UTC; these helpers are the only place
strings become datetimes and back, so no naive datetime or local time zone leaks in.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_FRACTION = re.compile(r"(\.\d+)")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_tap_time(value: object) -> datetime | None:
    """Parse a TAP timestamp into an aware UTC datetime; ``None`` for missing or unparseable values.

    Lenient on purpose (events come from a third party and one odd timestamp must not drop an event):
    accepts ``Z`` or an offset, any number of fraction digits, and treats a naive value as UTC, which is
    what TAP means by all its timestamps. Use :func:`fn_pp_tap_functions.tap.validation.require_aware` for
    user input, where a missing zone is an error.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    # fromisoformat accepts 1-6 fraction digits only (3 or 6 before 3.11): normalise to 6.
    match = _FRACTION.search(text)
    if match:
        digits = match.group(1)[1:]
        text = text[: match.start()] + "." + (digits + "000000")[:6] + text[match.end() :]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_tap_time(value: datetime) -> str:
    """Format an aware datetime as TAP's ISO-8601 UTC form with ``Z``.

    Whole seconds print without a fraction (``2024-01-01T00:00:00Z``); otherwise milliseconds are kept
    (``...00.250Z``), which is TAP's own precision, so cursors taken from ``queryEndTime`` round-trip.
    Raises ``ValueError`` for a naive datetime: guessing a zone here would shift windows silently.
    """
    if value.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required")
    value = value.astimezone(UTC)
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        return f"{base}.{value.microsecond // 1000:03d}Z"
    return base + "Z"


def format_interval(start: datetime, end: datetime) -> str:
    """ISO-8601 interval ``start/end`` as TAP's ``interval`` parameter wants it."""
    return f"{format_tap_time(start)}/{format_tap_time(end)}"


def iso_or_none(value: datetime | None) -> str | None:
    """JSON-safe form for ``to_dict`` methods: ISO string with ``Z`` or ``None``."""
    return None if value is None else format_tap_time(value)


def epoch_ms(value: datetime | None) -> int | None:
    """SOAR's date value: epoch milliseconds (UTC); ``None`` stays ``None``."""
    if value is None:
        return None
    return int((value - _EPOCH).total_seconds() * 1000)
