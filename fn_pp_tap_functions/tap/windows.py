"""SIEM window arithmetic, as pure functions of (start, end, now).

TAP's SIEM API serves at most one hour per request, at least 30 seconds, only intervals that have ended,
and nothing older than 7 days. Peers lost events by getting these rules wrong (cursors silently reset,
400s after a long outage, still-current windows). :func:`plan_windows` turns any requested span into
requests TAP accepts and *reports* every part it cannot fetch now, so the caller can log, show and
persist it instead of dropping it:

* ``skipped``: the part older than the look-back limit; it can never be fetched any more;
* ``deferred_tail``: the part left for a later run (too recent, shorter than 30 s, or beyond
  ``max_windows``); the caller's next cursor is ``plan.next_start``.

All datetimes are aware UTC; boundaries are floored to milliseconds, TAP's precision, so a window's
formatted interval is exactly the window.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.tap.timestamps import format_interval, format_tap_time

MIN_WINDOW = timedelta(seconds=30)
"""TAP rejects shorter intervals (400 "interval is too short")."""
MAX_WINDOW = timedelta(hours=1)
"""TAP serves at most one hour per request."""
LOOKBACK_LIMIT = timedelta(days=7)
"""TAP's documented look-back (TAP Essentials tenants have 3 days: pass ``lookback``)."""
DEFAULT_LOOKBACK_MARGIN = timedelta(minutes=10)
"""Kept clear of the look-back edge: a long plan takes time to run and clocks differ."""
DEFAULT_CURRENT_MARGIN = timedelta(minutes=2)
"""Windows end at least this long before ``now``, so TAP never sees a still-current interval."""

DEFERRED_TOO_RECENT = "too recent"
DEFERRED_TOO_SHORT = "shorter than 30 s"
DEFERRED_WINDOW_LIMIT = "window limit reached"


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open span ``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def interval(self) -> str:
        """TAP ``interval`` parameter, e.g. ``2024-01-01T00:00:00Z/2024-01-01T01:00:00Z``."""
        return format_interval(self.start, self.end)

    def to_dict(self) -> dict[str, str]:
        return {"start": format_tap_time(self.start), "end": format_tap_time(self.end)}

    def __str__(self) -> str:
        return self.interval


@dataclass(frozen=True, slots=True)
class WindowPlan:
    """What to fetch now, and what could not be fetched (never silently dropped).

    ``requested`` is the span asked for, ``windows`` the requests to make in order (oldest first),
    ``skipped`` the part before TAP's look-back that is lost (report it), ``deferred_tail`` the part left for
    a later run with ``deferred_reason`` saying why.
    """

    requested: Window
    windows: tuple[Window, ...]
    skipped: Window | None
    deferred_tail: Window | None
    deferred_reason: str | None

    @property
    def next_start(self) -> datetime:
        """Where the next run continues: end of the last planned window, else the first unfetchable point.

        Persist this once the planned windows have all been fetched.
        """
        if self.windows:
            return self.windows[-1].end
        if self.deferred_tail is not None:
            return self.deferred_tail.start
        if self.skipped is not None:
            return self.skipped.end
        return self.requested.start

    @property
    def covered(self) -> Window | None:
        """The span the planned windows cover together, ``None`` if there is nothing to fetch now."""
        if not self.windows:
            return None
        return Window(self.windows[0].start, self.windows[-1].end)

    def __iter__(self) -> Iterator[Window]:
        return iter(self.windows)

    def __len__(self) -> int:
        return len(self.windows)

    def to_dict(self) -> dict[str, object]:
        """JSON-safe summary for logs and function results."""
        return {
            "requested": self.requested.to_dict(),
            "windows": [w.interval for w in self.windows],
            "skipped": None if self.skipped is None else self.skipped.to_dict(),
            "deferred_tail": None if self.deferred_tail is None else self.deferred_tail.to_dict(),
            "deferred_reason": self.deferred_reason,
            "next_start": format_tap_time(self.next_start),
        }


def floor_ms(value: datetime) -> datetime:
    """Drop sub-millisecond precision (TAP's timestamps have milliseconds)."""
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def _require_utc(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise InputError(f"The {name} of a SIEM window must be a date-time, got {type(value).__name__}.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(
            f"The {name} of a SIEM window ({value.isoformat()}) has no time zone; give it in UTC (e.g. with 'Z')."
        )
    return floor_ms(value.astimezone(UTC))


def split_span(
    start: datetime, end: datetime, *, max_window: timedelta = MAX_WINDOW, min_window: timedelta = MIN_WINDOW
) -> tuple[Window, ...]:
    """Cut ``[start, end)`` into consecutive windows of ``min_window`` .. ``max_window``.

    Full ``max_window`` windows first; if the remainder would be shorter than ``min_window``, the window
    before it gives up just enough time that the last one is exactly ``min_window`` long. The span must
    be at least ``min_window`` long (callers defer shorter spans).
    """
    if max_window < 2 * min_window:
        raise ValueError("max_window must be at least twice min_window")
    if end - start < min_window:
        raise ValueError("span shorter than the minimum window")
    windows: list[Window] = []
    cursor = start
    while end - cursor > max_window:
        windows.append(Window(cursor, cursor + max_window))
        cursor += max_window
    if end - cursor < min_window:
        # borrow from the previous full window so the last one is exactly min_window long
        previous = windows.pop()
        cut = end - min_window
        windows.append(Window(previous.start, cut))
        cursor = cut
    windows.append(Window(cursor, end))
    return tuple(windows)


def plan_windows(
    start: datetime,
    end: datetime | None = None,
    *,
    now: datetime,
    max_window: timedelta = MAX_WINDOW,
    min_window: timedelta = MIN_WINDOW,
    lookback: timedelta = LOOKBACK_LIMIT,
    lookback_margin: timedelta = DEFAULT_LOOKBACK_MARGIN,
    current_margin: timedelta = DEFAULT_CURRENT_MARGIN,
    max_windows: int | None = None,
) -> WindowPlan:
    """Plan SIEM requests for ``[start, end)`` (``end`` defaults to ``now``).

    * The start is clamped to ``now - lookback + lookback_margin``; the cut-off part is ``skipped``.
    * The end is clamped to ``now - current_margin``; the part after it is deferred (``"too recent"``).
    * A remaining span shorter than ``min_window`` is deferred whole (``"shorter than 30 s"``).
    * With ``max_windows``, windows beyond it are deferred (``"window limit reached"``), so a caller can
      spread a long outage over several runs within the API budget.

    Raises :class:`InputError` for naive datetimes or ``start >= end``.
    """
    now = _require_utc("current time", now)
    start = _require_utc("start", start)
    end = now if end is None else _require_utc("end", end)
    if start >= end:
        raise InputError(
            f"A SIEM window must start before it ends; got start {format_tap_time(start)} and end "
            f"{format_tap_time(end)}."
        )
    if max_windows is not None and max_windows < 1:
        raise InputError("max_windows must be at least 1.")

    requested = Window(start, end)
    earliest = floor_ms(now - lookback + lookback_margin)
    latest = floor_ms(now - current_margin)

    skipped: Window | None = None
    if start < earliest:
        skipped = Window(start, min(end, earliest))
        start = skipped.end
    if start >= end:  # everything requested is older than the look-back
        return WindowPlan(requested, (), skipped, None, None)

    fetch_end = min(end, latest)
    if fetch_end - start < min_window:
        why = DEFERRED_TOO_RECENT if end > latest else DEFERRED_TOO_SHORT
        return WindowPlan(requested, (), skipped, Window(start, end), why)

    windows = split_span(start, fetch_end, max_window=max_window, min_window=min_window)
    deferred: Window | None = None
    reason: str | None = None
    if max_windows is not None and len(windows) > max_windows:
        windows = windows[:max_windows]
        reason = DEFERRED_WINDOW_LIMIT
    elif fetch_end < end:
        reason = DEFERRED_TOO_RECENT
    if windows[-1].end < end:
        deferred = Window(windows[-1].end, end)
    return WindowPlan(requested, windows, skipped, deferred, reason if deferred else None)
