"""End to end: incidents stay true when Proofpoint changes its mind (sweep, menu items, ingestion, campaigns).

One running stack for the module, but each test starts from a clean org, a new TAP simulator with the
scenario and its own first ingestion (:meth:`SwitchedStack.fresh_world`), so any test runs alone or in
any order.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from e2e_helpers import (
    SwitchedStack,
    incident,
    notes_text,
    reset_customizations,
    rewind_fresh,
    run_log,
    run_rule,
    set_pre_script,
)
from scenario_builder import message, threat_info, tid

from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.soar.control import ensure_control, utcnow

pytestmark = pytest.mark.e2e

CAMPAIGN = "c0ffee00-1111-4222-8333-444455556666"
SINGLES = ("fp-sweep", "fp-cleared", "fp-reopen", "fp-race", "fp-ingest", "fp-error", "fp-stay")
SYNC = "Proofpoint TAP: Sync threat status"
CHECK = "Proofpoint TAP: Check threat status"


def scenario() -> dict:
    delivered = [message(f"G-{name}", f"{name}@corp.example", [threat_info(name, at="now-4h")], at="now-4h")
                 for name in (*SINGLES, "mixed-a", "mixed-b")]
    delivered += [message(f"G-{name}", f"{name}@corp.example", [threat_info(name, campaign=CAMPAIGN, at="now-4h")],
                          at="now-4h") for name in ("camp-1", "camp-2")]
    return {
        "campaigns": [{"id": CAMPAIGN, "name": "E2E campaign", "description": "two threats",
                       "startDate": "now-1d", "lastUpdatedAt": "now-1d",
                       "campaignMembers": [{"id": tid(n), "threat": f"https://{n}.bad.example/login", "type": "url",
                                            "subType": None, "threatTime": "now-4h"}
                                           for n in ("camp-1", "camp-2")]}],
        "events": {"messagesDelivered": delivered},
    }


class TapClock:
    """The TAP simulator's clock, which a test may set back to make a verdict change a few minutes old
    (ingestion reads only windows that ended at least two minutes ago)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


CLOCK = TapClock()


@pytest.fixture(scope="module")
def running():
    with SwitchedStack(scenario=scenario(), tap_kwargs={"clock": CLOCK}) as stack:
        yield stack


@pytest.fixture
def stack(running, automation):
    """The running stack as new: clean org, the shipped workflows or playbooks, a new TAP simulator."""
    CLOCK.offset = timedelta(0)
    running.fresh_world(scenario(), clock=CLOCK)
    running.automation = automation
    reset_customizations(running)
    running.use_automation(automation)
    return running


@pytest.fixture
def control(stack, cases):
    """The control incident, after the first ingestion made the scenario's incidents."""
    control = ensure_control(cases, now=utcnow())
    run, result = run_rule(stack, "Proofpoint TAP: Ingest events", control["id"])
    assert run["status"] == "completed" and result["created"] == 11, (run.get("terminate_reason"), result)
    forget_checks(cases)
    return control


def forget_checks(cases: SoarCases) -> None:
    """As if TAP's word on every TAP incident was last known a day ago: the sweep re-checks them all (it backs
    off from incidents whose threats ingestion or an earlier sweep saw recently)."""
    day_ago = int((datetime.now(UTC) - timedelta(hours=25)).timestamp() * 1000)
    for inc in cases.query([{"field_name": "properties.pp_tap_group_key", "method": "has_a_value"}]):
        cases.patch_incident(inc, {"properties.pp_tap_checked": day_ago})


def by_threat(cases: SoarCases, name: str) -> dict:
    (inc,) = cases.find_by_values("pp_tap_group_key", [f"threat:{tid(name)}"])[f"threat:{tid(name)}"]
    return cases.get_incident(inc["id"])


def test_sweep_closes_an_incident_whose_threat_became_a_false_positive(stack, cases, control):
    stack.tap.set_threat_status(tid("fp-sweep"), "falsePositive")
    run, result = run_rule(stack, SYNC, control["id"])
    assert run["status"] == "completed", run.get("terminate_reason")
    assert result["closed"] >= 1 and result["threats"] >= 11
    inc = incident(stack, by_threat(cases, "fp-sweep")["id"])
    assert inc["plan_status"] == "C" and inc["resolution_id"] == "Not an Issue"
    summary = inc["resolution_summary"]["content"] if isinstance(inc["resolution_summary"], dict) \
        else inc["resolution_summary"]
    assert tid("fp-sweep") in summary and "falsePositive" in summary
    (note,) = [n for n in notes_text(stack, inc["id"]) if "Proofpoint TAP: incident closed" in n]
    assert tid("fp-sweep") in note and "/threat/email/" in note
    assert incident(stack, by_threat(cases, "fp-stay")["id"])["plan_status"] == "A"
    log = run_log(stack, control)[-1]
    assert log["pp_tap_run_kind"] == "sync" and log["pp_tap_run_closed"] >= 1


def test_mixed_statuses_stay_open_with_updated_fields(stack, cases, control):
    created = cases.create_incident({
        "name": "two threats", "discovered_date": int(time.time() * 1000),
        "properties": {"pp_tap_group_key": "campaign:e2e-mixed",
                       "pp_tap_threat_ids": f"{tid('mixed-a')}, {tid('mixed-b')}", "pp_tap_threat_status": "active"}})
    stack.tap.set_threat_status(tid("mixed-a"), "falsePositive")
    run, result = run_rule(stack, CHECK, created["id"])
    assert run["status"] == "completed" and result["action"] == "update"
    assert "stays open" in result["reason"]
    inc = incident(stack, created["id"])
    assert inc["plan_status"] == "A"
    assert inc["properties"]["pp_tap_threat_status"] == "active, falsePositive"
    assert any("threat status changed" in n for n in notes_text(stack, created["id"]))


def test_cleared_closes_only_when_the_policy_says_so(stack, cases, control):
    inc_id = by_threat(cases, "fp-cleared")["id"]
    stack.tap.set_threat_status(tid("fp-cleared"), "cleared")
    _, result = run_rule(stack, CHECK, inc_id)
    assert result["action"] in ("update", "none") and incident(stack, inc_id)["plan_status"] == "A"
    set_pre_script(stack, "wf_pp_tap_check_threat_status", pp_tap_close_statuses="falsePositive, cleared")
    try:
        _, result = run_rule(stack, CHECK, inc_id)
    finally:
        set_pre_script(stack, "wf_pp_tap_check_threat_status", pp_tap_close_statuses="falsePositive")
    assert result["action"] == "close" and incident(stack, inc_id)["plan_status"] == "C"


def test_a_threat_active_again_reopens_the_incident_when_the_policy_says_reopen(stack, cases, control):
    inc_id = by_threat(cases, "fp-reopen")["id"]
    stack.tap.set_threat_status(tid("fp-reopen"), "falsePositive")
    run_rule(stack, CHECK, inc_id)
    assert incident(stack, inc_id)["plan_status"] == "C"
    stack.tap.set_threat_status(tid("fp-reopen"), "active")
    forget_checks(cases)
    set_pre_script(stack, "wf_pp_tap_sync_threat_status", pp_tap_reopen_policy="reopen")
    try:
        _, result = run_rule(stack, SYNC, control["id"])
    finally:
        set_pre_script(stack, "wf_pp_tap_sync_threat_status", pp_tap_reopen_policy="note")
    assert result["reopened"] >= 1
    inc = incident(stack, inc_id)
    assert inc["plan_status"] == "A" and not inc["properties"].get("pp_tap_fp_closed")
    assert any("reopened" in n for n in notes_text(stack, inc_id))


def test_a_threat_tap_no_longer_knows_gets_one_note(stack, cases, control):
    gone = "f" * 64
    created = cases.create_incident({"name": "forgotten threat", "discovered_date": int(time.time() * 1000),
                                     "properties": {"pp_tap_group_key": f"threat:{gone}", "pp_tap_threat_ids": gone}})
    for _ in range(2):
        run, _ = run_rule(stack, SYNC, control["id"])
        assert run["status"] == "completed"
    notes = [n for n in notes_text(stack, created["id"]) if "no longer known to TAP" in n]
    assert len(notes) == 1
    assert incident(stack, created["id"])["plan_status"] == "A"


def test_a_sweep_and_a_menu_click_at_once_close_once_with_one_note(stack, cases, control):
    inc_id = by_threat(cases, "fp-race")["id"]
    stack.tap.set_threat_status(tid("fp-race"), "falsePositive")
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(run_rule(stack, CHECK, inc_id))),
               threading.Thread(target=lambda: outcomes.append(run_rule(stack, SYNC, control["id"])))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert all(run["status"] == "completed" for run, _ in outcomes)
    assert incident(stack, inc_id)["plan_status"] == "C"
    closing = [n for n in notes_text(stack, inc_id) if "incident closed" in n]
    assert len(closing) == 1, closing


def test_a_false_positive_event_during_ingestion_closes_at_once_without_a_new_incident(stack, cases, control):
    inc_id = by_threat(cases, "fp-ingest")["id"]
    keys_before = set(cases.find_by_values("pp_tap_group_key", [f"threat:{tid(n)}" for n in SINGLES]))
    CLOCK.offset = -timedelta(minutes=5)  # TAP changed its verdict five minutes ago
    try:
        stack.tap.set_threat_status(tid("fp-ingest"), "falsePositive")  # its events re-appear in that window
    finally:
        CLOCK.offset = timedelta(0)
    rewind_fresh(cases, control, 10)  # the previous 5-minute run was ten minutes ago
    run, result = run_rule(stack, "Proofpoint TAP: Ingest events", control["id"])
    assert run["status"] == "completed" and result["closed"] >= 1 and result["created"] == 0
    assert incident(stack, inc_id)["plan_status"] == "C"
    assert set(cases.find_by_values("pp_tap_group_key", [f"threat:{tid(n)}" for n in SINGLES])) == keys_before


def test_the_campaign_menu_item_closes_every_open_incident_of_the_campaign(stack, cases, control):
    ids = [by_threat(cases, n)["id"] for n in ("camp-1", "camp-2")]
    for name in ("camp-1", "camp-2"):
        stack.tap.set_threat_status(tid(name), "falsePositive")
    run, result = run_rule(stack, "Proofpoint TAP: Close campaign false positives", ids[0])
    assert run["status"] == "completed", run.get("terminate_reason")
    assert result["incidents"] == 2 and result["closed"] == 2
    assert all(incident(stack, i)["plan_status"] == "C" for i in ids)


def test_tap_errors_on_one_threat_do_not_stop_the_others(stack, cases, control):
    stack.tap.set_threat_status(tid("fp-error"), "falsePositive")
    stack.tap.inject_fault(rf"^/v2/threat/summary/{tid('fp-stay')}$", 503, times=20)
    try:
        run, result = run_rule(stack, SYNC, control["id"])
    finally:
        stack.tap.clear_faults()
    assert run["status"] == "completed"
    assert tid("fp-stay") in result["threat_errors"]
    assert incident(stack, by_threat(cases, "fp-error")["id"])["plan_status"] == "C"
    assert "not checked" in run_log(stack, control)[-1]["pp_tap_run_error"]


def test_a_soar_error_mid_sweep_leaves_incidents_whole_and_the_next_run_finishes(stack, cases, control):
    names = ("fp-stay", "mixed-b")
    for name in names:
        stack.tap.set_threat_status(tid(name), "falsePositive")
    # the first PATCH of a TAP incident fails (the control incident's own bookkeeping is not hit)
    stack.emulator.add_fault("PATCH", rf"/incidents/(?!{control['id']}$)[0-9]+$", status=500, times=1)
    try:
        run, result = run_rule(stack, SYNC, control["id"])
    finally:
        stack.emulator.clear_faults()
    assert run["status"] == "completed" and result["status"] == "partial" and result["incident_errors"]
    run, result = run_rule(stack, SYNC, control["id"])
    assert result["status"] == "completed"
    stay = incident(stack, by_threat(cases, "fp-stay")["id"])
    assert stay["plan_status"] == "C"
    assert len([n for n in notes_text(stack, stay["id"]) if "incident closed" in n]) == 1
    assert json.dumps(result)  # the report is plain JSON
