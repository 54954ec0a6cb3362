"""Time parsing and formatting shared by the simulator.

TAP speaks UTC ISO-8601 everywhere.  Clients send instants, ISO-8601 durations and intervals; the
scenario files use times relative to the simulator start (``now-3h20m``) so a shipped scenario always
falls inside the 7-day look-back.  Everything in here works on timezone-aware UTC ``datetime`` values.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DURATION_RE = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_RELATIVE_RE = re.compile(
    r"^now(?:(?P<sign>[+-])(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?)?$"
)


def utcnow() -> datetime:
    """The real wall clock, aware and in UTC (the default simulator clock)."""
    return datetime.now(UTC)


def format_ms(moment: datetime) -> str:
    """Format as TAP does for event and cursor times: ``2022-03-30T10:11:12.000Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_s(moment: datetime) -> str:
    """Format without fractions (``2021-04-20T21:48:25Z``), as the People API's ``interval`` does."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> datetime:
    """Parse a client-supplied ISO-8601 instant.

    Stricter than the documentation: the instant must carry an explicit zone (``Z`` or an offset).
    TAP documents UTC timestamps but not what it does with a zone-less one; refusing it makes a client
    that forgets the zone fail loudly instead of being silently off by its local UTC offset.
    """
    if not text or not text[0].isdigit():
        raise ValueError(f"not an ISO-8601 instant: {text!r}")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"instant without a time zone: {text!r}")
    return moment.astimezone(UTC)


def parse_stored_time(value: object) -> datetime | None:
    """Parse a time stored in a scenario event (tolerant: None, '' or garbage give None)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_duration(text: str) -> timedelta:
    """Parse the ISO-8601 durations TAP accepts in intervals (weeks, days, hours, minutes, seconds).

    Years and months are refused: their length is ambiguous and no TAP client needs them.
    """
    match = _DURATION_RE.match(text)
    if not match or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"not an ISO-8601 duration: {text!r}")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return timedelta(weeks=parts["w"], days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])


def parse_interval(text: str) -> tuple[datetime, datetime]:
    """Parse ``start/end``, ``duration/end`` or ``start/duration``; both sides durations is an error."""
    pieces = text.split("/")
    if len(pieces) != 2 or not all(pieces):
        raise ValueError(f"not an ISO-8601 interval: {text!r}")
    left, right = pieces
    if left.startswith("P") and right.startswith("P"):
        raise ValueError("an interval needs at least one instant")
    if left.startswith("P"):
        end = parse_instant(right)
        return end - parse_duration(left), end
    start = parse_instant(left)
    if right.startswith("P"):
        return start, start + parse_duration(right)
    return start, parse_instant(right)


def floor_minute(moment: datetime) -> datetime:
    """Round down to the whole minute (``sinceSeconds`` windows end there)."""
    return moment.replace(second=0, microsecond=0)


def resolve_relative(text: str, base: datetime) -> datetime | None:
    """Turn ``now``, ``now-3h20m``, ``now+90s`` or ``now-2d`` into an instant; None if not relative."""
    match = _RELATIVE_RE.match(text.strip())
    if not match:
        return None
    parts = {k: int(v) if v else 0 for k, v in match.groupdict().items() if k != "sign"}
    delta = timedelta(days=parts["d"], hours=parts["h"], minutes=parts["m"], seconds=parts["s"])
    return base - delta if match.group("sign") == "-" else base + delta
