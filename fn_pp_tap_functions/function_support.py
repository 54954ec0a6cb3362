"""What every function component shares: the package name and how errors reach SOAR.

resilient-circuits reports an exception that is not one of its own as "ERROR:" plus the exception
and, at debug level, a traceback. Our errors are written for a SOC engineer, so they are re-raised
as resilient-circuits' FunctionError, whose text SOAR shows exactly as given.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from resilient_circuits import FunctionError

from fn_pp_tap_functions.errors import TapAppError

PACKAGE_NAME = "fn_pp_tap_functions"


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn the app's own errors into a clean SOAR function failure (no traceback, no quoting)."""
    try:
        yield
    except TapAppError as err:
        raise FunctionError(str(err)) from err
