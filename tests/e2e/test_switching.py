"""End to end: a SOC switches from the workflows to the playbooks and back, and nothing runs twice.

After each switch the built-in scheduler (the app's own, against the stack's SOAR) starts ingestion in the set
that is on, each incident ingestion creates is enriched once, by the automatic rule or the automatic playbook,
and the menu item of the set that is off is refused."""

from __future__ import annotations

import pytest
import resilient
from e2e_helpers import SwitchedStack

from fn_pp_tap_functions.services.scheduler import INGEST_RULE, Job, Scheduler
from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.soar.control import find_control

pytestmark = pytest.mark.e2e


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def tap_incidents(stack: SwitchedStack) -> list[dict]:
    body = {"filters": [{"conditions": [{"field_name": "properties.pp_tap_group_key", "method": "has_a_value"}]}],
            "start": 0, "length": 1000}
    return stack.soar.post("/incidents/query_paged?return_level=full", body)["data"]


def runs_by_set(stack: SwitchedStack, incident_id: int) -> dict[str, list[dict]]:
    soar = stack.soar
    return {"workflows": soar.workflow_instances(incident_id), "playbooks": soar.playbook_instances(incident_id)}


def ingest_with_the_scheduler(stack: SwitchedStack) -> dict:
    """One scheduled ingestion, as the app's built-in scheduler starts it; the control incident."""
    clock = Clock()
    cases = SoarCases(resilient.get_client(stack.emulator.app_opts()))
    scheduler = Scheduler(lambda: cases, [Job(INGEST_RULE, 300)], initial_delay_s=0, clock=clock)
    clock.t += 31  # past the start jitter
    scheduler.run_due()
    assert scheduler.invocations == 1
    control = find_control(cases)
    assert control is not None
    stack.wait_for_runs(control["id"], timeout=240)
    return control


def assert_only(stack: SwitchedStack, mode: str) -> None:
    other = "playbooks" if mode == "workflows" else "workflows"
    control = ingest_with_the_scheduler(stack)
    runs = runs_by_set(stack, control["id"])
    assert len(runs[mode]) == 1 and runs[other] == [], runs
    assert runs[mode][0]["status"] == "completed", runs[mode][0].get("terminate_reason")
    created = tap_incidents(stack)
    keys = [i["properties"]["pp_tap_group_key"] for i in created]
    assert created and len(keys) == len(set(keys)), keys
    assert stack.emulator.wait_rules_idle(30)
    for inc in created:
        stack.wait_for_runs(inc["id"], timeout=120)
        runs = runs_by_set(stack, inc["id"])
        assert len(runs[mode]) == 1 and runs[other] == [], (inc["id"], runs)  # enriched once, by one set
        assert runs[mode][0]["status"] == "completed", runs[mode][0].get("terminate_reason")
    # the menu item of the set that is off is refused, and starts nothing
    stack.automation = other
    body = stack.action_body("Proofpoint TAP: Refresh enrichment")
    stack.automation = mode
    stack.soar.post(f"/incidents/{created[0]['id']}/action_invocations", body, expect=400)
    assert stack.emulator.wait_rules_idle(30)
    assert runs_by_set(stack, created[0]["id"])[other] == []


@pytest.fixture(scope="module")
def stack():
    with SwitchedStack() as running:
        yield running


def test_switching_sets_in_either_direction_leaves_nothing_running_twice(stack):
    for mode in ("workflows", "playbooks", "workflows"):  # to the playbooks, and back
        stack.fresh_world(None)
        stack.use_automation(mode)
        assert_only(stack, mode)
