"""End to end: the built-in scheduler in two app instances creates the control incident and runs ingestion,
and the lease lets only one run work at a time."""

from __future__ import annotations

import time

import pytest

from sim.stack import Stack

pytestmark = pytest.mark.e2e


def test_two_instances_schedule_ingestion_and_only_one_run_works_at_a_time():
    settings = "ingest_interval_minutes = 0.2\nscheduler_initial_delay_seconds = 1\n"
    with Stack(app_settings=settings, instances=2) as stack:
        soar = stack.soar
        deadline = time.monotonic() + 150
        rows: list = []
        control = None
        while time.monotonic() < deadline:
            body = {"filters": [{"conditions": [{"field_name": "properties.pp_tap_control", "method": "equals",
                                                 "value": "ingestion"}]}], "start": 0, "length": 10}
            found = soar.post("/incidents/query_paged?return_level=full", body)["data"]
            if found:
                control = found[0]
                rows = soar.get(f"/incidents/{control['id']}/table_data/pp_tap_ingest_runs")["rows"]
                statuses = [r["cells"]["pp_tap_run_status"]["value"] for r in rows]
                # later runs find nothing new: they are counted on the control incident, not logged one by one
                quiet = (control.get("properties") or {}).get("pp_tap_ingest_quiet")
                if "completed" in statuses and (len(rows) >= 2 or quiet):
                    break
            time.sleep(1)
        assert control is not None, "the scheduler did not create the control incident"
        assert len(found) == 1, "two control incidents"
        statuses = [r["cells"]["pp_tap_run_status"]["value"] for r in rows]
        assert "completed" in statuses, statuses
        assert set(statuses) <= {"completed", "busy", "nothing to do"}
        instances = soar.workflow_instances(control["id"])
        assert len(instances) >= 2 and all(i["status"] == "completed" for i in instances if i["status"] != "running")
        # the default scenario's first run made incidents, and only once
        body = {"filters": [{"conditions": [{"field_name": "properties.pp_tap_group_key", "method": "has_a_value"}]}],
                "start": 0, "length": 1000}
        keys = [i["properties"]["pp_tap_group_key"] for i in
                soar.post("/incidents/query_paged?return_level=full", body)["data"]]
        assert keys and len(keys) == len(set(keys))
