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

REPORT_FILE = Path(__file__).resolve().parents[2] / "build" / "chaos-report.md"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not truth.REPORTS:
        return
    text = truth.table(truth.REPORTS)
    terminalreporter.section("chaos suite: SOAR's state after each fault (expected/got)")
    terminalreporter.write_line(text)
    REPORT_FILE.parent.mkdir(exist_ok=True)
    REPORT_FILE.write_text("# Chaos suite report\n\n" + text + "\n", encoding="utf-8")
    terminalreporter.write_line(f"(written to {REPORT_FILE})")
