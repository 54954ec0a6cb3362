"""The in-process chaos tests' runs: the ingestion service called directly against the stand-ins in this
process, with a 6 s lease and production settings otherwise (fresh and settle passes).

Time is simulated: the TAP simulator, the app's TAP client and the runs share a clock (started a day back,
so that a lease, dated by it, is never capped by SOAR's real clock), and every run comes 5 minutes after
the previous one, as the built-in scheduler starts them. Wave 2 arrives an hour later than the baseline
run, so that its run has both passes; the truth is compared once the settle pass has also read the span
of wave 2's newest events (:func:`settle`): until then their bookkeeping is, by design, not yet written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import truth
from service_helpers import SimClock, tap_client

from fn_pp_tap_functions.ingest import read_inputs
from fn_pp_tap_functions.services.ingestion import RunReport, run_ingestion
from fn_pp_tap_functions.settings import IngestSettings
from fn_pp_tap_functions.soar.cases import SoarCases

SETTINGS = IngestSettings(lease_minutes=0.1)
LEASE_S = SETTINGS.lease_minutes * 60
INPUTS = {"pp_tap_lookback_hours": 6}
SCHEDULE_MINUTES = 5
_CLOCKS: dict[int, SimClock] = {}


def tap(make_tap: Any, scenario: dict[str, Any] | None = None) -> Any:
    """A TAP simulator with the scenario's wave 1, on its own simulated clock."""
    clock = SimClock(datetime.now(UTC) - timedelta(days=1))
    sim = make_tap(scenario or truth.tap_scenario(), clock=clock)
    _CLOCKS[id(sim)] = clock
    return sim


def clock_of(sim: Any) -> SimClock:
    return _CLOCKS[id(sim)]


def run_report(cases: SoarCases, sim: Any, control: dict[str, Any]) -> RunReport:
    """The next scheduled run (5 minutes after the last; the workflow's inputs read as the function reads them)."""
    clock = clock_of(sim)
    clock.advance(minutes=SCHEDULE_MINUTES)
    return run_ingestion(cases, tap_client(sim, clock=clock), read_inputs(dict(INPUTS)), SETTINGS,
                         control_id=control["id"], now=clock)


def run(cases: SoarCases, sim: Any, control: dict[str, Any]) -> str:
    """One run's status ("completed", "failed", "busy", ...)."""
    try:
        report = run_report(cases, sim, control)
    except Exception as err:  # a fault may end a run before it has a report: that is a failed run
        return f"raised {type(err).__name__}"
    return report.status


def wave2(sim: Any) -> None:
    """Wave 2 arrives an hour after the baseline run (its events dated by then)."""
    clock_of(sim).advance(minutes=truth.LATER_MINUTES)
    sim.add_events(truth.wave2_events())


def settle(cases: SoarCases, sim: Any, control: dict[str, Any]) -> int:
    """An hour on, the run whose settle pass reads wave 2's newest events; returns the runs made (1)."""
    clock_of(sim).advance(minutes=truth.LATER_MINUTES)
    status = run(cases, sim, control)
    assert status == "completed", f"the settling run ended {status}"
    return 1


_REFERENCE: dict[str, Any] = {}


def reference(soar: Any, cases: SoarCases, make_tap: Any, control: dict[str, Any]) -> Any:
    """The state a fault-free baseline + wave 2 leaves (computed once, then the org is cleaned again)."""
    if "state" not in _REFERENCE:
        sim = tap(make_tap)
        assert run(cases, sim, control) == "completed"
        wave2(sim)
        assert run(cases, sim, control) == "completed"
        settle(cases, sim, control)
        _REFERENCE["state"] = truth.read_state(soar.client())
        client = soar.client()
        body = {"filters": [{"conditions": []}], "start": 0, "length": 10000}
        for incident in client.post("/incidents/query_paged?return_level=normal", body)["data"]:
            if incident["id"] != control["id"]:
                client.delete(f"/incidents/{incident['id']}")
        cases.patch_incident(cases.get_incident(control["id"]), {"properties.pp_tap_ingest_cursor": None,
                                                                 "properties.pp_tap_ingest_settled": None})
    return _REFERENCE["state"]
