"""What every function component shares: the package name and how errors reach SOAR.

resilient-circuits reports an exception that is not one of its own as "ERROR:" plus the exception
and, at debug level, a traceback. Our errors are written for a SOC engineer, so they are re-raised
as resilient-circuits' FunctionError, whose text SOAR shows exactly as given.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from resilient_circuits import FunctionError

from fn_pp_tap_functions.errors import TapAppError

PACKAGE_NAME = "fn_pp_tap_functions"


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn the app's own errors into a clean SOAR function failure (no traceback, no quoting)."""
    try:
        yield
    except TapAppError as err:
        raise FunctionError(str(err), trace=False) from err


def plain_inputs(fn_inputs: Any) -> dict[str, Any]:
    """Function inputs as plain values: SOAR sends textarea inputs as {"format", "content"}."""
    values = fn_inputs._asdict() if hasattr(fn_inputs, "_asdict") else dict(fn_inputs)
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, Mapping) and "content" in value:
            value = value.get("content")
        out[name] = value
    return out


_DONE = object()
T = TypeVar("T")
Progress = Callable[[str], None]


def with_progress(work: Callable[[Progress], T]) -> Iterator[str | tuple[str, T]]:
    """Run `work(progress)` in a thread; yield each progress text as it comes, then ("result", value).

    A long run (an ingestion catching up after an outage) reports its progress as SOAR status messages
    while it works; the generator re-raises the work's exception in the caller's thread.
    """
    messages: queue.Queue[object] = queue.Queue()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work(messages.put)
        except BaseException as err:  # handed to the caller's thread below
            outcome["error"] = err
        finally:
            messages.put(_DONE)

    threading.Thread(target=target, name="pp-tap-work", daemon=True).start()
    while (item := messages.get()) is not _DONE:
        yield str(item)
    if "error" in outcome:
        raise outcome["error"]
    yield ("result", outcome["value"])


def reported_progress(component: Any, work: Callable[[Progress], T]) -> Generator[Any, None, T]:
    """`value = yield from reported_progress(self, work)`: the work's progress as SOAR status messages,
    then its value."""
    for item in with_progress(work):
        if isinstance(item, tuple):
            return item[1]
        yield component.status_message(item)
    raise RuntimeError("the work ended without a result")
