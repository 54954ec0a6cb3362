"""Injected faults: make the next N matching TAP calls fail or hang.

TAP itself answers 500 now and then and sits behind load balancers that answer 502/503; a client's
retry and timeout handling can only be tested if the simulator can do the same on demand.

What answers in TAP's place is not always TAP: a TLS-inspecting proxy, a WAF or a captive portal may
answer 200 with an HTML page or with JSON that is not TAP's, or echo the request's headers in an error
page (some list every header, ``Authorization`` included). So a fault's body may be any text, answered
with any status and ``content_type`` (``application/json`` for a malformed 200), and ``{header:NAME}``
in it is replaced by the request's header NAME as sent (empty when absent).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_BODIES: dict[int, str] = {
    429: "The user has made too many requests over the past 24 hours and has been throttled.",
    500: "An unexpected error occurred while processing the request.",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class Fault:
    """One armed fault: ``status`` None with a ``delay`` means "hang, then answer normally"."""

    pattern: re.Pattern[str]
    status: int | None
    remaining: int
    body: str | None
    delay: float
    content_type: str | None = None
    after: int = 0
    """Matching requests let through before the fault fires (the 4th window of a catch-up, not the 1st)."""

    def render_body(self, header: Callable[[str], str | None]) -> str | None:
        """The body with every ``{header:NAME}`` replaced by the request's header (what an echoing proxy shows)."""
        if self.body is None:
            return None
        return _HEADER.sub(lambda m: header(m.group(1)) or "", self.body)

    def describe(self) -> dict[str, object]:
        return {
            "path": self.pattern.pattern,
            "status": self.status,
            "remaining": self.remaining,
            "body": self.body,
            "delay": self.delay,
            "contentType": self.content_type,
            "after": self.after,
        }


_HEADER = re.compile(r"\{header:([A-Za-z0-9-]+)\}")


class FaultTable:
    """Thread-safe list of faults, consulted in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, path_regex: str, status: int | None, times: int = 1, body: str | None = None,
            delay: float = 0.0, content_type: str | None = None, after: int = 0) -> Fault:
        if status is None and delay <= 0:
            raise ValueError("a fault needs a status, a delay, or both")
        if status is not None and not 100 <= int(status) <= 599:
            raise ValueError(f"invalid HTTP status {status!r}")
        if times < 1:
            raise ValueError("times must be at least 1")
        fault = Fault(re.compile(path_regex), None if status is None else int(status), int(times), body,
                      float(delay), content_type, int(after))
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """Return (and use up one shot of) the first fault whose pattern matches ``path``."""
        with self._lock:
            for fault in self._faults:
                if fault.pattern.search(path):
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, object]]:
        with self._lock:
            return [fault.describe() for fault in self._faults]
