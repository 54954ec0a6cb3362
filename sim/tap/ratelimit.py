"""Rolling 24-hour request pools, as TAP throttles its APIs.

Each pool keeps the times of the requests charged to it.  A request is refused (429) when the pool
already holds ``limit`` requests from the last 24 hours.

Stricter choices (the documentation does not say):
- every authenticated request that reaches a throttled endpoint is charged, including ones answered
  400, 429 or with an injected fault.  A client that keeps calling while throttled therefore keeps
  itself locked out, and a retry storm burns budget;
- pools are per tenant (one set per simulator), not per credential, so extra credentials do not buy
  extra budget;
- no ``Retry-After`` header is sent: TAP does not document one.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta

WINDOW = timedelta(hours=24)

#: Pool names and their default limits (None = not throttled).
DEFAULT_LIMITS: dict[str, int | None] = {
    "siem": 1800,
    "siem_clicks_permitted": 1800,
    "campaign_ids": 50,
    "people_vap": 50,
    "people_top_clickers": 50,
    "url_decode": 1800,
    "threat_summary": None,
    "campaign": None,
    "forensics": None,
}

THROTTLED_TEXT = "The user has made too many requests over the past 24 hours and has been throttled."


class RatePools:
    """Thread-safe rolling-window counters, one per pool."""

    def __init__(self, limits: dict[str, int | None] | None = None) -> None:
        self._lock = threading.Lock()
        self._limits: dict[str, int | None] = dict(DEFAULT_LIMITS)
        self._windows: dict[str, deque[datetime]] = {name: deque() for name in DEFAULT_LIMITS}
        self._charged: dict[str, int] = dict.fromkeys(DEFAULT_LIMITS, 0)
        self._throttled: dict[str, int] = dict.fromkeys(DEFAULT_LIMITS, 0)
        if limits:
            self.set_limits(limits)

    def set_limits(self, limits: dict[str, int | None]) -> dict[str, int | None]:
        """Change limits; unknown pool names or negative limits raise ValueError."""
        for name, value in limits.items():
            if name not in DEFAULT_LIMITS:
                raise ValueError(f"unknown rate pool {name!r}; known: {sorted(DEFAULT_LIMITS)}")
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise ValueError(f"limit for {name!r} must be a non-negative integer or null")
        with self._lock:
            self._limits.update(limits)
            return dict(self._limits)

    def limits(self) -> dict[str, int | None]:
        with self._lock:
            return dict(self._limits)

    def charge(self, pool: str, now: datetime) -> bool:
        """Record one request against ``pool``; return False when the pool was already exhausted."""
        with self._lock:
            window = self._windows[pool]
            while window and window[0] <= now - WINDOW:
                window.popleft()
            limit = self._limits[pool]
            allowed = limit is None or len(window) < limit
            window.append(now)
            self._charged[pool] += 1
            if not allowed:
                self._throttled[pool] += 1
            return allowed

    def stats(self, now: datetime) -> dict[str, dict[str, int | None]]:
        """Per pool: requests charged since the last reset, in the current window, limit, 429s given."""
        with self._lock:
            out: dict[str, dict[str, int | None]] = {}
            for name, window in self._windows.items():
                in_window = sum(1 for moment in window if moment > now - WINDOW)
                out[name] = {
                    "count": self._charged[name],
                    "inWindow": in_window,
                    "limit": self._limits[name],
                    "throttled": self._throttled[name],
                }
            return out

    def reset(self, windows: bool = True) -> None:
        """Zero the counters and, unless ``windows`` is False, forget the rolling windows too."""
        with self._lock:
            for name in DEFAULT_LIMITS:
                self._charged[name] = 0
                self._throttled[name] = 0
                if windows:
                    self._windows[name].clear()
