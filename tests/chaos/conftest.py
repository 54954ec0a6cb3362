"""The chaos suite: faults injected into runs of one scenario, then SOAR's whole state compared with its truth.

In-process tests (``test_soar_faults.py``, ``test_tap_faults.py``) use the service tests' fixtures: the
SOAR emulator and TAP simulators in this process, the services called directly (seconds for the whole
matrix). What needs a process that can die or a second instance (kill -9, two instances, the runtime's log,
start-up warnings, workflow errors) runs the real resilient-circuits runtime (``test_runtime_*.py``).

At the end, every fault's :class:`~truth.Report` is printed as one table and written to
``build/chaos-report.md``.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import asdict
from pathlib import Path

import truth

_SERVICES = Path(__file__).resolve().parents[1] / "services" / "conftest.py"
_spec = importlib.util.spec_from_file_location("chaos_services_fixtures", _SERVICES)
assert _spec is not None and _spec.loader is not None
_services = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_services)

# the in-process stand-ins, as the service tests have them (one emulator per session, a clean org per test)
emulator = _services.emulator
soar = _services.soar
cases = _services.cases
control = _services.control
make_tap = _services.make_tap

PARTS = Path(__file__).resolve().parents[2] / "build" / "chaos-parts"
"""Where each test process leaves its reports; tests/conftest.py prints them as one table at the end (the
process that prints is not always one that ran the chaos tests: pytest-xdist's controller runs none)."""


def pytest_sessionfinish(session, exitstatus):
    """Each test process (an xdist worker, or pytest itself) leaves its faults' reports for the summary."""
    if truth.REPORTS:
        PARTS.mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        (PARTS / f"{worker}.json").write_text(json.dumps([asdict(r) for r in truth.REPORTS]), encoding="utf-8")
