"""SOAR faults before, during and after each kind of write, in process: then runs until one completes, and
SOAR's whole state must be the scenario's truth (0 lost, 0 duplicated, exact counts).

* before: the write fails with a 500 and does not land;
* during: the write LANDS, then the client gets a 504 (a gateway that gave up on a slow SOAR; the client
  cannot know the write is there);
* after: the write lands and succeeds, and SOAR fails the request that comes next (down between two calls).

The k-th write of each kind is hit (``after`` lets the first ones through), in the run that follows a
baseline run, so creates and updates of open incidents both happen in it.
"""

from __future__ import annotations

from typing import Any

import pytest
import truth
from service_helpers import tap_client

from fn_pp_tap_functions.ingest import read_inputs
from fn_pp_tap_functions.services.ingestion import run_ingestion
from fn_pp_tap_functions.settings import IngestSettings
from fn_pp_tap_functions.soar.cases import SoarCases

SETTINGS = IngestSettings(lease_minutes=0.1)
LEASE_S = SETTINGS.lease_minutes * 60
INPUTS = {"pp_tap_lookback_hours": 6}

# kind -> (method, path regex relative to the org, how many of that kind pass before the one hit)
WRITES: dict[str, tuple[str, str, int]] = {
    "incident create": ("POST", r"/incidents$", 1),
    "artifact": ("POST", r"/incidents/\d+/artifacts$", 0),
    "row": ("POST", r"/incidents/\d+/table_data/pp_tap_events/row_data$", 2),
    "note": ("POST", r"/incidents/\d+/comments$", 0),
    "incident PATCH": ("*", r"/incidents/(?!{control}$)\d+$|/incidents/patch$", 0),
    "control PATCH": ("PATCH", r"/incidents/{control}$", 1),
    "run-log row": ("POST", r"/incidents/{control}/table_data/pp_tap_ingest_runs/row_data$", 0),
}
TIMINGS = {
    "before": {"status": 500},
    "during": {"status": 504, "apply": True},
    "after": {"status": 503, "next": True},
}


def run(cases: SoarCases, sim: Any, control: dict[str, Any]) -> str:
    try:
        report = run_ingestion(cases, tap_client(sim), read_inputs(dict(INPUTS)), SETTINGS, control_id=control["id"])
    except Exception as err:  # a fault may end a run before it has a report: that is a failed run
        return f"raised {type(err).__name__}"
    return report.status


_REFERENCE: dict[str, Any] = {}


def reference(soar: Any, cases: SoarCases, make_tap: Any, control: dict[str, Any]) -> Any:
    """The state a fault-free baseline + wave 2 leaves (computed once, then the org is cleaned again)."""
    if "state" not in _REFERENCE:
        sim = make_tap(truth.tap_scenario())
        assert run(cases, sim, control) == "completed"
        sim.add_events(truth.wave2_events())
        assert run(cases, sim, control) == "completed"
        _REFERENCE["state"] = truth.read_state(soar.client())
        client = soar.client()
        body = {"filters": [{"conditions": []}], "start": 0, "length": 10000}
        for incident in client.post("/incidents/query_paged?return_level=normal", body)["data"]:
            if incident["id"] != control["id"]:
                client.delete(f"/incidents/{incident['id']}")
        cases.patch_incident(cases.get_incident(control["id"]), {"properties.pp_tap_ingest_cursor": ""})
    return _REFERENCE["state"]


def test_the_reference_run_is_itself_exact(soar, cases, make_tap, control):
    truth.check(truth.compare("no fault (reference)", reference(soar, cases, make_tap, control), None))


@pytest.mark.parametrize("timing", list(TIMINGS))
@pytest.mark.parametrize("kind", list(WRITES))
def test_a_soar_fault_at_each_kind_of_write_loses_nothing_and_duplicates_nothing(soar, cases, make_tap, control,
                                                                                 kind, timing):
    expected = reference(soar, cases, make_tap, control)
    sim = make_tap(truth.tap_scenario())
    assert run(cases, sim, control) == "completed"
    sim.add_events(truth.wave2_events())
    method, path, after = WRITES[kind]
    soar.add_fault(method, path.format(control=control["id"]), times=1, after=after, **TIMINGS[timing])
    faulted = run(cases, sim, control)
    fired = sum(f["fired"] for f in soar.faults.items)
    soar.clear_faults()
    assert fired == 1, f"the {kind} fault never fired (the run ended {faulted})"
    runs = truth.until_completed(lambda: run(cases, sim, control), lease_s=LEASE_S)
    truth.check(truth.compare(f"SOAR {timing} {kind}", truth.read_state(soar.client()), expected, runs=runs))
