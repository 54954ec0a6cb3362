"""Make the repository's own folders (sim/, customize/, tests' helper modules) importable in every test."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests" / "functions", ROOT / "tests" / "e2e", ROOT / "tests" / "services",
             ROOT / "tests" / "chaos", ROOT / "tests" / "sim_soar"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


CHAOS_PARTS = ROOT / "build" / "chaos-parts"
CHAOS_REPORT = ROOT / "build" / "chaos-report.md"


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the process that prints: no reports of an earlier run
        for part in CHAOS_PARTS.glob("*.json"):
            part.unlink()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The chaos suite's faults (tests/chaos), one line each, from every test process."""
    if hasattr(config, "workerinput") or not CHAOS_PARTS.is_dir():
        return
    import json

    import truth
    reports = []
    for part in sorted(CHAOS_PARTS.glob("*.json")):
        reports += [truth.Report(**r) for r in json.loads(part.read_text(encoding="utf-8"))]
        part.unlink()
    if not reports:
        return
    text = truth.table(sorted(reports, key=lambda r: r.fault))
    terminalreporter.section("chaos suite: SOAR's state after each fault (expected/got)")
    terminalreporter.write_line(text)
    CHAOS_REPORT.write_text("# Chaos suite report\n\n" + text + "\n", encoding="utf-8")
    terminalreporter.write_line(f"(written to {CHAOS_REPORT})")
