"""services.closing against the in-process stand-ins: one incident, the sweep, a campaign, TAP and SOAR errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scenario_builder import message, threat_info, tid
from service_helpers import run_log, tap_client

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.closing import ClosePolicy
from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.services.closing import check_incident, close_campaign, sync_threat_status
from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.tap.timestamps import epoch_ms, format_tap_time

CAMPAIGN = "5d7e1f0a-8c3b-4e62-9a1d-2f6b8c4e7a90"


def scenario() -> dict[str, Any]:
    """Three threats TAP knows, two of them in one campaign."""
    return {"campaigns": [{"id": CAMPAIGN, "name": "Remittance lures", "startDate": "now-1d",
                           "lastUpdatedAt": "now-3h", "campaignMembers": [
                               {"id": tid(n), "threat": f"https://{n}.bad.example/login", "type": "url",
                                "threatStatus": "active", "threatTime": "now-3h"} for n in ("one", "two")]}],
            "events": {"messagesDelivered": [
        message("G-1", "r1@corp.example", [threat_info("one", at="now-3h", campaign=CAMPAIGN)], at="now-3h"),
        message("G-2", "r2@corp.example", [threat_info("two", at="now-3h", campaign=CAMPAIGN)], at="now-3h"),
        message("G-3", "r3@corp.example", [threat_info("three", at="now-3h")], at="now-3h"),
    ]}}


def tap_incident(cases: SoarCases, *names: str, status: str = "A", **props: Any) -> dict[str, Any]:
    """An incident as ingestion makes it: its group key and the threat ids it stands for."""
    body: dict[str, Any] = {
        "name": f"TAP {'+'.join(names)}", "discovered_date": epoch_ms(datetime.now(UTC)),
        "properties": {F.GROUP_KEY: f"threat:{tid(names[0])}", F.THREAT_IDS: ", ".join(tid(n) for n in names),
                       F.THREAT_STATUS: "active", **props}}
    incident = cases.create_incident(body)
    if status == "C":
        cases.patch_incident(cases.get_incident(incident["id"]), {"plan_status": "C", "resolution_id": "Resolved",
                                                                  "resolution_summary": "closed for the test"})
    return cases.get_incident(incident["id"])


def notes(cases: SoarCases, incident: dict[str, Any]) -> list[str]:
    return sorted(cases.note_texts(int(incident["id"])))


# ----------------------------------------------------------------------------------------- one incident

def test_a_false_positive_closes_the_incident_once_with_evidence(cases, make_tap):
    sim = make_tap(scenario())
    incident = tap_incident(cases, "one")
    sim.set_threat_status(tid("one"), "falsePositive")
    result = check_incident(cases, tap_client(sim), incident["id"], ClosePolicy())
    assert result["action"] == "close"
    closed = cases.get_incident(incident["id"])
    assert closed["plan_status"] == "C" and closed["resolution_id"] == "Not an Issue"
    assert closed["properties"][F.THREAT_STATUS] == "falsePositive" and closed["properties"][F.CLOSED_BY_APP]
    (note,) = notes(cases, incident)
    assert "incident closed" in note and tid("one") in note
    again = check_incident(cases, tap_client(sim), incident["id"], ClosePolicy())
    assert again["action"] == "leave_closed" and len(notes(cases, incident)) == 1


def test_all_threats_must_be_false_positives_unless_any_is_chosen(cases, make_tap):
    sim = make_tap(scenario())
    incident = tap_incident(cases, "one", "three")
    sim.set_threat_status(tid("one"), "falsePositive")
    stays = check_incident(cases, tap_client(sim), incident["id"], ClosePolicy())
    assert stays["action"] in ("update", "none") and cases.get_incident(incident["id"])["plan_status"] == "A"
    closes = check_incident(cases, tap_client(sim), incident["id"], ClosePolicy(match="any"))
    assert closes["action"] == "close"


def test_an_incident_an_analyst_closed_is_left_alone(cases, make_tap):
    sim = make_tap(scenario())
    incident = tap_incident(cases, "one", status="C")
    result = check_incident(cases, tap_client(sim), incident["id"], ClosePolicy())
    assert result["action"] == "leave_closed" and sim.stats()["total"] == 0


def test_an_incident_without_threats_is_refused_by_name(cases, make_tap):
    incident = cases.create_incident({"name": "not from TAP", "discovered_date": epoch_ms(datetime.now(UTC))})
    with pytest.raises(InputError, match="names no Proofpoint TAP threat"):
        check_incident(cases, tap_client(make_tap(scenario())), incident["id"], ClosePolicy())


# ----------------------------------------------------------------------------------------- the sweep

def test_the_sweep_closes_reopens_notes_missing_threats_and_logs_the_run(cases, make_tap, control):
    sim = make_tap(scenario())
    fp = tap_incident(cases, "one")
    untouched = tap_incident(cases, "three")
    closed_by_app = tap_incident(cases, "two", status="C", **{
        F.CLOSED_BY_APP: format_tap_time(datetime.now(UTC) - timedelta(days=1)),
        F.CLOSE_NOTED: format_tap_time(datetime.now(UTC) - timedelta(days=1)), F.THREAT_STATUS: "falsePositive"})
    unknown = tap_incident(cases, "ghost")  # TAP answers 404 for it
    sim.set_threat_status(tid("one"), "falsePositive")
    report = sync_threat_status(cases, tap_client(sim), ClosePolicy(reopen="reopen"), control_id=control["id"],
                                check_campaigns=False)
    assert report.status == "completed" and report.incidents == 4 and report.threats == 4
    assert (report.closed, report.reopened) == (1, 1)
    assert cases.get_incident(fp["id"])["plan_status"] == "C"
    assert cases.get_incident(closed_by_app["id"])["plan_status"] == "A"
    assert cases.get_incident(untouched["id"])["plan_status"] == "A" and notes(cases, untouched) == []
    assert any("no longer known to TAP" in n for n in notes(cases, unknown))
    (row,) = run_log(cases, control)
    assert row["pp_tap_run_kind"] == "sync" and row["pp_tap_run_closed"] == 1
    assert row["pp_tap_run_window"] == "4 incidents (4 due), 4 threats checked"
    assert row["pp_tap_run_status"] == "completed"
    second = sync_threat_status(cases, tap_client(sim), ClosePolicy(reopen="reopen"), control_id=control["id"],
                                check_campaigns=False)
    assert (second.closed, second.reopened, second.updated) == (0, 0, 0)
    assert len([n for n in notes(cases, unknown) if "no longer known" in n]) == 1  # noted once


def test_a_soar_error_on_one_incident_is_reported_for_it_and_the_others_go_on(cases, make_tap, control, soar):
    sim = make_tap(scenario())
    first, second = tap_incident(cases, "one"), tap_incident(cases, "two")
    for name in ("one", "two"):
        sim.set_threat_status(tid(name), "falsePositive")
    soar.add_fault("PATCH", rf"/incidents/{first['id']}$", status=400, times=1)
    report = sync_threat_status(cases, tap_client(sim), ClosePolicy(), control_id=control["id"],
                                check_campaigns=False)
    assert report.status == "partial" and list(report.incident_errors) == [str(first["id"])]
    assert "HTTP 400" in report.incident_errors[str(first["id"])]
    assert cases.get_incident(first["id"])["plan_status"] == "A" and notes(cases, first) == []  # untouched
    assert cases.get_incident(second["id"])["plan_status"] == "C" and len(notes(cases, second)) == 1
    assert "1 incident(s) not updated" in run_log(cases, control)[-1]["pp_tap_run_error"]
    again = sync_threat_status(cases, tap_client(sim), ClosePolicy(), control_id=control["id"], check_campaigns=False)
    assert again.status == "completed" and again.closed == 1 and len(notes(cases, first)) == 1


def test_a_429_stops_the_sweep_as_throttled_and_says_so_in_the_run_log(cases, make_tap, control):
    sim = make_tap(scenario())
    tap_incident(cases, "one")
    sim.inject_fault(r"^/v2/threat/summary/", 429, times=5)
    report = sync_threat_status(cases, tap_client(sim), ClosePolicy(), control_id=control["id"],
                                check_campaigns=False)
    # a 429 on a threat look-up is that threat's error: the sweep goes on and reports it
    assert report.threat_errors and report.closed == 0
    assert "not checked" in run_log(cases, control)[-1]["pp_tap_run_error"]


def test_the_sweep_records_campaign_membership_once(cases, make_tap, control):
    sim = make_tap(scenario())
    incident = tap_incident(cases, "three")
    sim.set_threat_campaign(tid("three"), CAMPAIGN)
    report = sync_threat_status(cases, tap_client(sim), ClosePolicy(), control_id=control["id"])
    assert report.campaign_updates == 1
    assert cases.get_incident(incident["id"])["properties"][F.CAMPAIGN_ID] == CAMPAIGN


# ----------------------------------------------------------------------------------------- a campaign

def test_closing_a_campaign_applies_the_policy_to_its_open_incidents(cases, make_tap):
    sim = make_tap(scenario())
    one = tap_incident(cases, "one", **{F.CAMPAIGN_ID: CAMPAIGN})
    two = tap_incident(cases, "two", **{F.CAMPAIGN_ID: CAMPAIGN})
    three = tap_incident(cases, "three")
    sim.set_threat_status(tid("one"), "falsePositive")
    sim.set_threat_status(tid("two"), "falsePositive")
    result = close_campaign(cases, tap_client(sim), CAMPAIGN, ClosePolicy())
    assert result["incidents"] == 2 and result["closed"] == 2
    assert {cases.get_incident(i["id"])["plan_status"] for i in (one, two)} == {"C"}
    assert cases.get_incident(three["id"])["plan_status"] == "A"
    with pytest.raises(InputError):
        close_campaign(cases, tap_client(sim), "not-a-campaign", ClosePolicy())
