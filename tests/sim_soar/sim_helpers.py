"""Helpers shared by the emulator test modules."""

from __future__ import annotations

import time


def wait_for(predicate, timeout=10.0, what="condition"):
    """The first truthy value of ``predicate()`` within ``timeout`` seconds (SOAR runs rules after a call);
    ``what`` names it in the error."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"{what} not reached within {timeout} s")
