"""Injected failures of the emulator's REST API (``/_emulator/faults``), so an app's retry, timeout and
error paths are tested against SOAR errors and hangs on demand. Never applied to ``/_emulator`` itself.

Two moments a failure can strike, as with a real SOAR behind its load balancer or a proxy:

* before the request is processed (the default): nothing lands; the client gets the error or waits;
* after it was processed (``"apply": true``): the write LANDS, then the client waits ``hang_seconds``
  and gets the error status instead of SOAR's answer, or (``"drop": true``) the connection is closed
  with no answer at all. That is what a client sees when a gateway times out on a slow request that
  the server still finishes (an nginx/HAProxy 504), or when its own read timeout fires: it cannot know
  that the create or PATCH it "failed" is in SOAR. resilient's client retries a dropped connection
  (``ConnectionError``) but not an HTTP error it was told to skip, so both paths are worth testing;
* right after it (``"next": true``): the request succeeds and the client knows it, then SOAR fails the
  request that comes next, whatever it is (SOAR going down between two calls).
"""

from __future__ import annotations

import re
import threading

from sim.soar.errors import bad_request


class Faults:
    """Injected failures: ``{"method", "path_regex", "status", "times", "after", "hang_seconds", "body",
    "apply", "drop"}``.

    A matching request first waits ``hang_seconds`` (if any), then answers ``status`` with a SOAR-shaped
    error body (if a status is given), has its connection closed (``drop``) or is processed normally;
    with ``apply`` it is processed FIRST and the wait and the failure come after (see the module).
    ``after`` lets that many matching requests through first (a failure on the 37th of 100 creates),
    ``times`` bounds how often the fault fires (omitted or null: always)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[dict] = []
        self.armed: dict | None = None  # a "next" fault waiting for the request after the one it matched

    def add(self, spec: dict) -> dict:
        if not isinstance(spec, dict) or not spec.get("path_regex"):
            raise bad_request("a fault needs 'path_regex'")
        try:
            re.compile(spec["path_regex"])
        except re.error as exc:
            raise bad_request(f"bad path_regex: {exc}") from None
        status = spec.get("status")
        if status is not None and not (isinstance(status, int) and 100 <= status <= 599):
            raise bad_request("'status' must be an HTTP status code")
        apply, drop, following = bool(spec.get("apply")), bool(spec.get("drop")), bool(spec.get("next"))
        if apply and status is None and not drop:
            raise bad_request("an 'apply' fault needs a 'status' or 'drop' (what the client gets instead)")
        fault = {"id": len(self.items) + 1, "method": (spec.get("method") or "*").upper(),
                 "path_regex": spec["path_regex"], "status": status, "times": spec.get("times"),
                 "hang_seconds": float(spec.get("hang_seconds") or 0), "body": spec.get("body"), "fired": 0,
                 "after": int(spec.get("after") or 0), "passed": 0, "apply": apply, "drop": drop,
                 "next": following}
        if following and (apply or (status is None and not drop)):
            raise bad_request("a 'next' fault needs a 'status' or 'drop' for the request after, and no 'apply'")
        with self.lock:
            self.items.append(fault)
        return fault

    def fired(self) -> int:
        """How many times any fault fired (tests wait on it to act while a request hangs)."""
        with self.lock:
            return sum(f["fired"] for f in self.items)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.armed = None

    def match(self, method: str, path: str) -> dict | None:
        with self.lock:
            if self.armed is not None:
                armed, self.armed = self.armed, None
                return armed
            for fault in self.items:
                if fault["method"] not in ("*", method):
                    continue
                if not re.search(fault["path_regex"], path):
                    continue
                if fault["times"] is not None and fault["fired"] >= fault["times"]:
                    continue
                if fault["passed"] < fault["after"]:
                    fault["passed"] += 1
                    continue
                fault["fired"] += 1
                if fault["next"]:
                    self.armed = dict(fault, next=False)
                    return None
                return dict(fault)
        return None
