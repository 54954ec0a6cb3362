"""End to end: ingestion through the SOAR emulator, the TAP simulator and the real runtime.

The tests share one running stack (a runtime start is the slow part) but not its state: each starts from a
clean org, a new control incident and a new TAP simulator with the scenario (:meth:`SwitchedStack.fresh_world`),
so any one of them runs alone or in any order. Each asserts what an analyst would see in SOAR.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import e2e_helpers
import pytest
from e2e_helpers import SwitchedStack
from scenario_builder import click, message, threat_info, tid

from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.soar.control import CURSOR_FIELD, SETTLED_FIELD, Lease, ensure_control, utcnow
from sim.stack import Stack

pytestmark = pytest.mark.e2e

EXPORT = Path(__file__).resolve().parents[2] / "fn_pp_tap_functions" / "util" / "data" / "export.res"
RLO = "\u202e"
HOSTILE_SUBJECT = 'Re: "Urgent"\n{{ 7*7 }} {% raw %}<script>alert(1)</script> ' + RLO + "fdp.exe" + "x" * 100_000
HOSTILE_SENDER = 'evil"\n<b>@bad.example'
OWNER_RULES = 'classification=malware -> owner: "SOC Tier 2"; members: analyst1@example.com\n' \
              "default -> owner: admin@example.com"


def scenario() -> dict:
    alpha = threat_info("alpha", at="now-5h")
    return {
        "events": {
            "messagesDelivered": [
                message("G-A", "r1@corp.example", [alpha], subject="Invoice 1", at="now-5h"),
                message("G-A", "r2@corp.example", [alpha], subject="Invoice 1", at="now-5h"),
                message("G-A", "r3@corp.example", [alpha], subject="Invoice 1", at="now-5h"),
                message("G-BC", "r4@corp.example", [
                    threat_info("bravo", classification="malware", kind="attachment", threat=tid("bravo-file"),
                                at="now-4h"),
                    threat_info("charlie", at="now-4h")], subject="Two threats", at="now-4h",
                    parts=[{"disposition": "attached", "filename": "inv.xlsm", "md5": "0" * 32,
                            "sha256": tid("bravo-file"), "contentType": "application/vnd.ms-excel",
                            "oContentType": "application/vnd.ms-excel", "sandboxStatus": "threat"}]),
                message("G-H", "r5@corp.example", [threat_info("hostile", at="now-4h")], subject=HOSTILE_SUBJECT,
                        sender="evil@bad.example", header_from=HOSTILE_SENDER, at="now-4h"),
            ],
            "messagesBlocked": [message("G-D", "r6@corp.example", [threat_info("delta", at="now-4h")], at="now-4h")],
            "clicksPermitted": [click("G-A", "r1@corp.example", "alpha", at="now-2h")],
            "clicksBlocked": [click("G-E", "r7@corp.example", "echo", at="now-2h")],
        },
    }


@pytest.fixture(scope="module")
def running():
    stack = SwitchedStack(scenario=scenario(),
                          app_settings="siem_daily_budget = 1500\ningest_max_windows_per_run = 24\n")
    with stack:
        yield stack


@pytest.fixture
def stack(running, automation):
    """The running stack as new: clean org, the module's workflow (or playbook) inputs, a new TAP simulator."""
    running.fresh_world(scenario())
    running.automation = automation
    set_pre_script(running, pp_tap_owner_rules=OWNER_RULES)
    running.use_automation(automation)
    return running


@pytest.fixture
def control(stack, cases):
    return ensure_control(cases, now=utcnow())


@pytest.fixture
def first_run(stack, control):
    """The first ingestion of the scenario (what the inspection tests look at)."""
    run, result = ingest(stack, control)
    assert run["status"] == "completed", run.get("terminate_reason")
    return result


# ----------------------------------------------------------------------------------------- helpers

def set_pre_script(stack: Stack, **values: str) -> None:
    e2e_helpers.set_pre_script(stack, "wf_pp_tap_ingest_events", **values)


def ingest(stack: Stack, control: dict, timeout: float = 240) -> tuple[dict, dict | None]:
    run = stack.invoke_rule("Proofpoint TAP: Ingest events", control["id"], timeout=timeout)
    calls = run.get("function_calls") or []
    result = calls[-1].get("result") if calls else None
    return run, (result or {}).get("content")


def tap_incidents(stack: Stack) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    body = {"filters": [{"conditions": [{"field_name": "properties.pp_tap_group_key", "method": "has_a_value"}]}],
            "start": 0, "length": 1000}
    for inc in stack.soar.post("/incidents/query_paged?return_level=full&handle_format=names", body)["data"]:
        found.setdefault(inc["properties"]["pp_tap_group_key"], []).append(inc)
    return found


def one(stack: Stack, name: str) -> dict:
    incidents = tap_incidents(stack).get(f"threat:{tid(name)}", [])
    assert len(incidents) == 1, f"{name}: {len(incidents)} incidents"
    return stack.soar.get(f"/incidents/{incidents[0]['id']}?handle_format=names")


def children(stack: Stack, incident_id: int) -> tuple[list, list, list]:
    artifacts = stack.soar.get(f"/incidents/{incident_id}/artifacts?handle_format=names")
    rows = stack.soar.get(f"/incidents/{incident_id}/table_data/pp_tap_events")["rows"]
    notes = stack.soar.get(f"/incidents/{incident_id}/comments")
    return artifacts, rows, notes


def everything(stack: Stack) -> dict:
    """Counts of every TAP incident's artifacts, rows and notes: what must not change on a replay."""
    state = {}
    for key, incidents in tap_incidents(stack).items():
        for inc in incidents:
            a, r, n = children(stack, inc["id"])
            state[(key, inc["id"])] = (len(a), len(r), len(n))
    return state


def set_cursor(cases: SoarCases, control: dict, when: datetime) -> None:
    """Both cursors back to ``when``: the next run reads everything since again (a replay)."""
    fresh = cases.get_incident(control["id"])
    text = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    cases.patch_incident(fresh, {f"properties.{CURSOR_FIELD}": text, f"properties.{SETTLED_FIELD}": text})


def lease_free(cases: SoarCases, control: dict) -> bool:
    return Lease.parse(cases.get_incident(control["id"])["properties"].get("pp_tap_ingest_lease")) is None


def run_log(stack: Stack, control: dict) -> list[dict]:
    rows = stack.soar.get(f"/incidents/{control['id']}/table_data/pp_tap_ingest_runs")["rows"]
    return [{k: v["value"] for k, v in r["cells"].items()} for r in sorted(rows, key=lambda r: r["id"])]


# ----------------------------------------------------------------------------------------- tests

def test_first_run_makes_one_incident_per_threat_and_nothing_for_blocked_events(stack, control):
    run, result = ingest(stack, control)
    assert run["status"] == "completed", run.get("terminate_reason")
    assert result["status"] == "completed" and result["windows_done"] == 25  # 24 settled, the last 28 min fresh
    keys = set(tap_incidents(stack))
    assert keys == {f"threat:{tid(n)}" for n in ("alpha", "bravo", "charlie", "hostile")}
    endpoints = stack.tap.stats()["endpoints"]
    assert "/v2/siem/messages/blocked" not in endpoints and "/v2/siem/clicks/blocked" not in endpoints
    (log,) = run_log(stack, control)
    assert log["pp_tap_run_status"] == "completed" and log["pp_tap_run_created"] == 4
    assert log["pp_tap_run_events_read"] == 6 and log["pp_tap_run_tap_calls"] == 50


def test_delivered_phish_incident_has_template_owner_fields_and_artifacts(stack, first_run):
    inc = one(stack, "alpha")
    assert inc["name"].startswith("Proofpoint TAP: phish")
    assert inc["severity_code"] == "High"
    assert inc["owner_id"] == "admin@example.com"
    props = inc["properties"]
    assert props["pp_tap_recipients_count"] == 3 and props["pp_tap_event_count"] == 4
    assert set(props["pp_tap_event_types"].split(", ")) == {"messagesDelivered", "clicksPermitted"}
    assert props["pp_tap_threat_ids"] == tid("alpha") and props["pp_tap_classification"] == "phish"
    assert props["pp_tap_threat_status"] == "active" and props["pp_tap_dashboard_url"].endswith(tid("alpha"))
    artifacts, rows, notes = children(stack, inc["id"])
    pairs = {(a["type"] if isinstance(a["type"], str) else a["type"]["name"], a["value"]) for a in artifacts}
    assert {("Email Recipient", f"r{i}@corp.example") for i in (1, 2, 3)} <= pairs
    assert ("URL", "https://alpha.bad.example/login") in pairs and ("Proofpoint TAP Threat ID", tid("alpha")) in pairs
    assert len(pairs) == len(artifacts)  # de-duplicated
    assert len(rows) == 4
    # the settle pass read the day at once: the incident was created with its click, which its description
    # says (no note: nothing changed since it was made)
    description = inc["description"]["content"] if isinstance(inc["description"], dict) else inc["description"]
    assert "<b>Clicks:</b> 1 permitted, 0 blocked" in description
    assert not [n for n in notes if "first click" in json.dumps(n).lower()]


def test_owner_rules_route_malware_to_tier_2(stack, first_run):
    inc = one(stack, "bravo")
    assert inc["owner_id"] == "SOC Tier 2" and "analyst1@example.com" in inc["members"]


def test_a_message_with_two_threats_is_evidence_in_both_incidents(stack, first_run):
    for name in ("bravo", "charlie"):
        _, rows, _ = children(stack, one(stack, name)["id"])
        assert [r["cells"]["pp_tap_message_id"]["value"] for r in rows] == ["<G-BC@bad.example>"]
    artifacts, _, _ = children(stack, one(stack, "bravo")["id"])
    assert any(a["value"] == "0" * 32 for a in artifacts) and any(a["value"] == "inv.xlsm" for a in artifacts)


def test_hostile_subject_and_sender_come_out_as_inert_text(stack, first_run):
    inc = one(stack, "hostile")
    description = inc["description"]["content"] if isinstance(inc["description"], dict) else inc["description"]
    assert "<script>" not in description and "&lt;script&gt;" in description
    subjects = description.split("<b>Subjects:</b>", 1)[1].split("</li>", 1)[0]
    assert "{{ 7*7 }}" in subjects and "49" not in subjects  # the data never became template text
    assert RLO not in description and "[U+202E]" in description
    assert len(description) < 70_000
    assert inc["properties"]["pp_tap_group_key"] == f"threat:{tid('hostile')}"
    assert "\n" not in inc["name"] and "<b>" not in inc["name"]


def test_repeats_add_to_the_open_incident_with_a_note_for_the_new_recipient(stack, cases, control, first_run):
    # a repeat is bookkeeping: the settle pass writes it once TAP has surely indexed its span
    stack.tap.add_events([{"type": "messagesDelivered",
                           "event": message("G-A2", "r9@corp.example", [threat_info("alpha", at="now-5h")],
                                            subject="Invoice 1 again", at="now-45m")}])
    settled = (utcnow() - timedelta(minutes=95)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    cases.patch_incident(cases.get_incident(control["id"]), {f"properties.{SETTLED_FIELD}": settled})
    before = len(tap_incidents(stack))
    run, result = ingest(stack, control)
    assert run["status"] == "completed" and result["created"] == 0 and result["updated"] == 1
    assert len(tap_incidents(stack)) == before
    inc = one(stack, "alpha")
    assert inc["properties"]["pp_tap_recipients_count"] == 4
    _, rows, notes = children(stack, inc["id"])
    assert len(rows) == 5
    assert [n for n in notes if "new recipient" in json.dumps(n)] and "r9@corp.example" in json.dumps(
        max(notes, key=lambda n: n["id"]))


def test_replay_of_a_window_creates_nothing_twice(stack, cases, control, first_run):
    for inc in tap_incidents(stack).values():  # the automatic enrichment of new incidents has written its notes
        stack.wait_for_runs(inc[0]["id"], timeout=120)
    before = everything(stack)
    set_cursor(cases, control, utcnow() - timedelta(hours=7))
    run, result = ingest(stack, control)
    assert run["status"] == "completed" and result["created"] == 0
    assert result["events_read"] == 6
    assert everything(stack) == before


def test_soar_500_mid_run_then_rerun_finishes_without_duplicates(stack, cases, control, first_run):
    new = [message(f"G-N{i}", "r1@corp.example", [threat_info(f"new{i}", at="now-8m")], at="now-8m")
           for i in range(5)]
    stack.tap.add_events([{"type": "messagesDelivered", "event": e} for e in new])
    e2e_helpers.rewind_fresh(cases, control, 10)  # the last 5-minute run was ten minutes ago
    stack.emulator.add_fault("POST", r"/incidents$", status=500, times=1, after=2)
    try:
        run, _ = ingest(stack, control)
    finally:
        stack.emulator.clear_faults()
    assert run["status"] == "terminated"
    assert "SOAR refused to create an incident (HTTP 500)" in run["terminate_reason"]
    new_keys = {f"threat:{tid(f'new{i}')}" for i in range(5)}
    created = [k for k in tap_incidents(stack) if k in new_keys]
    assert len(created) == 2
    assert run_log(stack, control)[-1]["pp_tap_run_status"] == "failed"
    assert lease_free(cases, control)  # released
    run, result = ingest(stack, control)
    assert run["status"] == "completed" and result["created"] == 3
    for i in range(5):
        one(stack, f"new{i}")  # exactly one each


def test_two_concurrent_runs_never_both_work(stack, cases, control, first_run):
    # TAP answers the first run's first SIEM call slowly, so the second run starts while the first holds
    # the lease: the second must end at once as "busy" and the first must finish normally.
    set_cursor(cases, control, utcnow() - timedelta(hours=3))  # a span to read (a replay)
    stack.tap.inject_fault(r"^/v2/siem/", None, times=1, delay=8)
    results = []
    first = threading.Thread(target=lambda: results.append(ingest(stack, control)))
    first.start()
    deadline = time.monotonic() + 60
    while not cases.get_incident(control["id"])["properties"].get("pp_tap_ingest_lease"):
        assert time.monotonic() < deadline, "the first run never took the lease"
        time.sleep(0.1)
    second = ingest(stack, control)
    first.join(300)
    stack.tap.clear_faults()
    assert second[1]["status"] == "busy" and "lease" in second[1]["error"]
    assert second[1]["tap_calls_total"] == 0
    (first_result,) = results
    assert first_result[1]["status"] == "completed"
    assert not cases.get_incident(control["id"])["properties"].get("pp_tap_ingest_lease")  # released


def test_429_mid_run_stops_cleanly_and_the_next_run_resumes(stack, cases, control, first_run):
    set_cursor(cases, control, utcnow() - timedelta(hours=3))
    used = stack.tap.stats()["pools"]["siem"]["inWindow"]
    stack.tap.set_limits(siem=used + 1)
    try:
        run, result = ingest(stack, control)
        assert run["status"] == "completed"
        assert result["status"] == "throttled" and "throttled" in result["error"]
        assert result["windows_done"] == 1  # one SIEM call was left: one window, then 429
        cursor = cases.get_incident(control["id"])["properties"][CURSOR_FIELD]
        assert cursor == result["window"].split("/")[1]  # the cursor stays where the data stops
        assert lease_free(cases, control)  # released
    finally:
        stack.tap.set_limits(siem=None)
    run, result = ingest(stack, control)
    assert result["status"] == "completed" and result["windows_done"] >= 3


def test_outage_catch_up_stays_within_the_budget_and_reports_progress(stack, cases, control):
    fresh = cases.get_incident(control["id"])
    hour = int(utcnow().timestamp()) // 3600
    cases.patch_incident(fresh, {"properties.pp_tap_ingest_budget": json.dumps({"siem": {str(hour): 1495}})})
    set_cursor(cases, control, utcnow() - timedelta(days=3))
    run, result = ingest(stack, control)
    assert result["status"] == "partial" and result["windows_done"] == 5  # 1,500 - 1,495
    assert result["tap_calls"]["siem"] == 5
    assert any("Window 5 of 5" in m for m in json.dumps(run.get("status_messages")).split('"'))
    run, result = ingest(stack, control)
    assert result["status"] == "budget" and result["tap_calls_total"] == 0
    assert "budget" in run_log(stack, control)[-1]["pp_tap_run_error"]
    cases.patch_incident(cases.get_incident(control["id"]), {"properties.pp_tap_ingest_budget": "{}"})
    runs = 0
    while result["status"] != "completed" and runs < 5:
        run, result = ingest(stack, control)
        runs += 1
    assert result["status"] == "completed" and runs == 3  # 72 windows to settle at 24 per run


def test_a_gap_beyond_seven_days_is_reported_not_hidden(stack, cases, control):
    set_cursor(cases, control, utcnow() - timedelta(days=8))
    run, result = ingest(stack, control)
    assert result["lost_span"]
    log = run_log(stack, control)[-1]
    assert log["pp_tap_run_error"] == result["lost_span"] or result["lost_span"] in log["pp_tap_run_error"]
    notes = stack.soar.get(f"/incidents/{control['id']}/comments")
    assert any("7-day look-back" in json.dumps(n) for n in notes)


def test_a_broken_template_is_reported_before_anything_is_created(stack, control):
    set_pre_script(stack, pp_tap_incident_template='{"name": "{{ group.key }", "description": "x"}')
    run, _ = ingest(stack, control)
    assert run["status"] == "terminated" and "name" in run["terminate_reason"]
    assert everything(stack) == {} and stack.tap.stats()["total"] == 0


def test_an_unknown_owner_is_named_before_anything_is_created(stack, control):
    set_pre_script(stack, pp_tap_owner_rules="default -> owner: nobody@example.com")
    run, _ = ingest(stack, control)
    assert run["status"] == "terminated" and "nobody@example.com" in run["terminate_reason"]
    assert everything(stack) == {} and stack.tap.stats()["total"] == 0

