"""The in-process chaos tests' runs: the ingestion service called directly against the stand-ins in this
process, with a 6 s lease (so a lease left by a broken run expires within a test)."""

from __future__ import annotations

from typing import Any

import truth
from service_helpers import tap_client

from fn_pp_tap_functions.ingest import read_inputs
from fn_pp_tap_functions.services.ingestion import RunReport, run_ingestion
from fn_pp_tap_functions.settings import IngestSettings
from fn_pp_tap_functions.soar.cases import SoarCases

SETTINGS = IngestSettings(lease_minutes=0.1)
LEASE_S = SETTINGS.lease_minutes * 60
INPUTS = {"pp_tap_lookback_hours": 6}


def run_report(cases: SoarCases, sim: Any, control: dict[str, Any]) -> RunReport:
    """One ingestion run (the workflow's inputs read as the function reads them)."""
    return run_ingestion(cases, tap_client(sim), read_inputs(dict(INPUTS)), SETTINGS, control_id=control["id"])


def run(cases: SoarCases, sim: Any, control: dict[str, Any]) -> str:
    """One run's status ("completed", "failed", "busy", ...)."""
    try:
        report = run_report(cases, sim, control)
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
