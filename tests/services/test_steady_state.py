"""Issue 14's steady state against the in-process stand-ins, on a simulated clock: hours at the 5-minute
schedule give the same incidents, rows and artifacts as one batch run; a run with nothing new costs a fixed
number of SOAR calls whatever the number of incidents; TAP reads each event twice; notes are coalesced;
the description follows the evidence and an analyst's edit survives; the run log stays readable; the sweep
backs off, re-checks every open incident within 24 hours and leaves old closed ones alone."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from scenario_builder import click, message, threat_info, tid
from service_helpers import SimClock, one, props, run_log, tap_client, tap_incidents

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.closing import ClosePolicy
from fn_pp_tap_functions.ingest import read_inputs
from fn_pp_tap_functions.services.closing import sync_threat_status
from fn_pp_tap_functions.services.ingestion import RunReport, run_ingestion
from fn_pp_tap_functions.settings import IngestSettings, SweepSettings
from fn_pp_tap_functions.soar import control as ctl
from fn_pp_tap_functions.soar.cases import SoarCases, artifact_type_name, row_cells
from fn_pp_tap_functions.tap.timestamps import epoch_ms, format_tap_time

HOURS = 4
UNDER_CAP = IngestSettings(rows_per_incident=20)
"""Every event gets a row (beyond the cap, WHICH events have rows depends on when they arrived)."""


def ingest(cases: SoarCases, sim: Any, control: dict[str, Any], clock: SimClock, **kwargs: Any) -> RunReport:
    request = read_inputs({"pp_tap_lookback_hours": kwargs.pop("lookback", 2), **kwargs.pop("inputs", {})})
    return run_ingestion(cases, tap_client(sim, clock=clock), request, kwargs.pop("settings", IngestSettings()),
                         control_id=control["id"], now=clock, **kwargs)


def stream(start: datetime, seed: int = 3) -> list[dict[str, Any]]:
    """Threats arriving in bursts over HOURS hours: messages to several recipients, clicks, repeats."""
    rng = random.Random(seed)
    out = []
    for n in range(8):
        name = f"s{n}"
        burst = start + timedelta(minutes=rng.randrange(0, HOURS * 60 - 90))
        info_at = (burst - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        for k in range(rng.randrange(3, 9)):
            when = burst + timedelta(minutes=rng.randrange(0, 80))
            at = when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            who = f"u{rng.randrange(12)}@corp.example"
            out.append({"type": "messagesDelivered", "event": dict(message(
                f"G-{name}-{k}", who, [threat_info(name, at=info_at, classification=rng.choice(["phish", "malware"]))],
                subject=f"Invoice {name} {k % 2}", at=at), id=f"m-{name}-{k}")})
            if k == 2:
                out.append({"type": "clicksPermitted", "event": dict(click(f"G-{name}-{k}", who, name, at=at),
                                                                     id=f"c-{name}-{k}", threatTime=info_at)})
    return out


def one_incident(cases: SoarCases, make_tap: Any, control: dict[str, Any]) -> tuple[SimClock, Any, str]:
    """A TAP simulator with one delivered message, ingested: (clock, simulator, the incident's group key)."""
    clock = SimClock()
    sim = make_tap({"events": {"messagesDelivered": [
        message("G1", "a@corp.example", [threat_info("t", at="now-50m")], at="now-50m")]}}, clock=clock)
    ingest(cases, sim, control, clock)
    return clock, sim, f"threat:{tid('t')}"


def snapshot(cases: SoarCases) -> dict[str, Any]:
    """Everything a SOC sees of each TAP incident that does not depend on when it was written."""
    out = {}
    for key, incidents in tap_incidents(cases).items():
        (incident,) = incidents
        iid = int(incident["id"])
        p = incident["properties"]
        out[key] = {
            "counts": (p[F.EVENT_COUNT], p[F.RECIPIENTS_COUNT]),
            "fields": {n: p.get(n) for n in (F.THREAT_IDS, F.CLASSIFICATION, F.EVENT_TYPES, F.THREAT_STATUS,
                                             F.FIRST_SEEN, F.LAST_SEEN)},
            "rows": sorted(str(row_cells(r)[F.COL_EVENT_KEY]) for r in cases.rows(iid, F.EVENTS_TABLE)),
            "artifacts": sorted((artifact_type_name(a), str(a["value"])) for a in cases.artifacts(iid)),
            "name": incident["name"], "description": incident["description"],
        }
    return out


def test_hours_at_the_schedule_equal_one_batch_run_and_each_event_is_read_twice(cases, make_tap, control, soar):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    clock = SimClock(start)
    events = stream(start)
    sim = make_tap({"events": {}}, clock=clock)
    sim.add_events(events)
    read = kept = runs = 0
    late = False
    while clock() < start + timedelta(hours=HOURS + 1):
        clock.advance(minutes=5)
        if clock() >= start + timedelta(hours=1) and not late:  # an hour of TAP indexing 20 minutes late
            sim.set_indexing_lag(20 * 60)
            late = True
        elif clock() >= start + timedelta(hours=2):
            sim.set_indexing_lag(0)
        report = ingest(cases, sim, control, clock, settings=UNDER_CAP)
        assert report.status in ("completed", "nothing to do"), report.error
        read += report.events_read
        kept += report.kept
        runs += 1
    scheduled = snapshot(cases)
    assert len(scheduled) == 8 and all(len(v) == 1 for v in tap_incidents(cases).values())
    distinct = len(events)
    assert read <= 2 * distinct + 10, (read, distinct)  # each event once fresh, once settled (a few late ones)

    for incident in list(cases.query([{"field_name": f"properties.{F.GROUP_KEY}", "method": "has_a_value"}])):
        soar.client().delete(f"/incidents/{incident['id']}")  # an administrator removes them
    begin = format_tap_time(start)
    fresh = cases.get_incident(control["id"])
    cases.patch_incident(fresh, {f"properties.{ctl.CURSOR_FIELD}": begin, f"properties.{ctl.SETTLED_FIELD}": begin})
    batch = ingest(cases, sim, control, clock, settings=UNDER_CAP)
    assert batch.status == "completed" and batch.created == 8
    assert snapshot(cases) == scheduled


def test_a_run_with_nothing_new_costs_the_same_few_calls_whatever_the_number_of_incidents(cases, make_tap, control,
                                                                                          soar):
    costs = []
    for count in (3, 30):
        for incident in list(cases.query([{"field_name": f"properties.{F.GROUP_KEY}", "method": "has_a_value"}])):
            soar.client().delete(f"/incidents/{incident['id']}")
        clock = SimClock()
        sim = make_tap({"events": {"messagesDelivered": [
            message(f"G{i}", f"r{i}@corp.example", [threat_info(f"n{count}-{i}", at="now-50m")], at="now-50m")
            for i in range(count)]}}, clock=clock)
        cursor = format_tap_time(clock() - timedelta(hours=2))
        cases.patch_incident(cases.get_incident(control["id"]), {f"properties.{ctl.CURSOR_FIELD}": cursor,
                                                                 f"properties.{ctl.SETTLED_FIELD}": cursor})
        assert ingest(cases, sim, control, clock).created == count
        clock.advance(minutes=5)
        client = soar.client()
        client.post("/_emulator/reset-calls", expect=204)
        before = cases.calls
        idle = ingest(cases, sim, control, clock)
        assert idle.status == "completed" and idle.events_read == 0
        idle_calls = cases.calls - before
        # a replay of the same span: every event read again, nothing new
        cases.patch_incident(cases.get_incident(control["id"]), {f"properties.{ctl.CURSOR_FIELD}": cursor,
                                                                 f"properties.{ctl.SETTLED_FIELD}": cursor})
        client.post("/_emulator/reset-calls", expect=204)
        before = cases.calls
        replay = ingest(cases, sim, control, clock)
        assert replay.events_read == count and replay.created == replay.updated == 0
        kinds = client.get("/_emulator/calls")
        assert not [k for k in kinds if "artifacts" in k or "table_data/pp_tap_events" in k or "comments" in k], kinds
        costs.append((idle_calls, cases.calls - before - 1))
    assert costs[0] == costs[1], costs  # fixed: read, lease, (query), save
    assert costs[0][0] == 3


def test_notes_coalesce_and_the_description_follows_status_and_recipients(cases, make_tap, control):
    clock, sim, key = one_incident(cases, make_tap, control)
    created = one(cases, key)
    assert "Recipients (1):</b> a@corp.example" in created["description"]
    # within one settle span: three new recipients and the first click, all for one incident
    sim.add_events([{"type": "messagesDelivered", "event": message(f"G{n}", f"{n}@corp.example",
                                                                   [threat_info("t", at="now-50m")], at="now")}
                    for n in ("b", "c", "d")])
    clock.advance(minutes=65)
    ingest(cases, sim, control, clock)
    updated = one(cases, key)
    notes = sorted(cases.note_texts(updated["id"]))
    assert len(notes) == 1 and "3 new recipients" in notes[0]
    assert "Recipients (4):</b> a@corp.example, b@corp.example, c@corp.example, d@corp.example" in \
        updated["description"]
    assert "delivered to 4 recipients" in updated["name"]
    # TAP changes its verdict: the status change is urgent (the fresh pass), the description follows it
    sim.set_threat_status(tid("t"), "cleared")
    clock.advance(minutes=5)
    report = ingest(cases, sim, control, clock, inputs={"pp_tap_threat_statuses": "active, cleared"})
    assert report.updated == 1 and report.passes.keys() == {"fresh"}
    after = one(cases, key)
    assert "<b>Threat status:</b> cleared" in after["description"]
    assert len(cases.note_texts(after["id"])) == 2


def test_a_run_with_both_passes_writes_each_incident_once_with_one_note(cases, make_tap, control):
    """The settle pass (new recipients) and the fresh pass (the first click) of ONE run touch one incident:
    one change note naming both, not one per pass."""
    clock, sim, key = one_incident(cases, make_tap, control)
    created = one(cases, key)
    sim.add_events([{"type": "messagesDelivered", "event": message(f"G{n}", f"{n}@corp.example",
                                                                   [threat_info("t", at="now-50m")], at="now")}
                    for n in ("b", "c")])
    clock.advance(minutes=65)
    sim.add_events([{"type": "clicksPermitted", "event": dict(click("G1", "a@corp.example", "t", at="now-10m"),
                                                              threatTime="now-50m")}])
    report = ingest(cases, sim, control, clock)
    assert report.passes.keys() == {"settle", "fresh"} and report.updated == 1
    notes = sorted(cases.note_texts(created["id"]))
    assert len(notes) == 1 and "2 new recipients" in notes[0] and "click" in notes[0].lower(), notes
    after = one(cases, key)
    assert after["properties"][F.EVENT_COUNT] == 4 and after["properties"][F.RECIPIENTS_COUNT] == 3
    clock.advance(minutes=65)  # the next settle pass re-reads the fresh span: nothing new, no note
    assert ingest(cases, sim, control, clock).updated == 0
    assert len(cases.note_texts(created["id"])) == 1


def test_an_analysts_edit_survives_and_the_new_state_goes_into_the_note(cases, make_tap, control):
    clock, sim, key = one_incident(cases, make_tap, control)
    incident = one(cases, key)
    analyst = "<p>Confirmed phishing. Finance informed; do not change.</p>"
    cases.patch_incident(incident, {"description": {"format": "html", "content": analyst},
                                    "name": "Phish to finance (handled by Kim)"})
    sim.add_events([{"type": "messagesDelivered", "event": message("G2", "b@corp.example",
                                                                   [threat_info("t", at="now-50m")], at="now")}])
    clock.advance(minutes=65)
    assert ingest(cases, sim, control, clock).updated == 1
    after = one(cases, key)
    assert after["description"] == analyst and after["name"] == "Phish to finance (handled by Kim)"
    (note,) = cases.note_texts(after["id"])
    assert "edited in SOAR" in note and "Recipients (2)" in note and "1 new recipient" in note
    assert after["properties"][F.RECIPIENTS_COUNT] == 2


def test_quiet_runs_are_counted_and_summarised_in_one_row(cases, make_tap, control):
    clock = SimClock()
    sim = make_tap({"events": {}}, clock=clock)
    settings = IngestSettings(quiet_summary_hours=1)
    for _ in range(13):
        clock.advance(minutes=5)
        assert ingest(cases, sim, control, clock, settings=settings).status in ("completed", "nothing to do")
    rows = run_log(cases, control)
    assert len(rows) == 1 and rows[0]["pp_tap_run_status"] == "quiet"
    assert "12 runs that changed nothing" in rows[0]["pp_tap_run_error"] or "13 runs" in rows[0]["pp_tap_run_error"]
    remaining = props(cases, control).get(ctl.QUIET_FIELD) or ""
    assert remaining == "" or remaining.startswith("1 quiet run")
    assert "SIEM (every SIEM endpoint but clicks/permitted):" in props(cases, control)[ctl.BUDGET_TEXT_FIELD]


def test_the_sweep_backs_off_rechecks_within_24_hours_and_skips_old_closed_incidents(cases, make_tap, control):
    sim = make_tap({"events": {}})
    now = datetime.now(UTC).replace(microsecond=0)
    threats = {}
    for n, age in enumerate((0.5, 3, 30, 200)):  # hours since TAP last reported the threat
        name = f"q{n}"
        sim.add_threat({"id": tid(name), "threat": f"https://{name}.bad.example", "type": "url", "status": "active"})
        threats[name] = cases.create_incident({
            "name": name, "discovered_date": epoch_ms(now - timedelta(hours=age)),
            "properties": {F.GROUP_KEY: f"threat:{tid(name)}", F.THREAT_IDS: tid(name), F.THREAT_STATUS: "active",
                           F.LAST_SEEN: epoch_ms(now - timedelta(hours=age)),
                           F.CHECKED: epoch_ms(now - timedelta(hours=age / 2 if age < 100 else 23))}})
    settings = SweepSettings()
    first = sync_threat_status(cases, tap_client(sim), ClosePolicy(), control_id=control["id"],
                               check_campaigns=False, settings=settings, now=lambda: now)
    # back-off = the age since TAP last reported the threat (at least 1 h, at most 24 h): q0 (30 min old,
    # checked 15 min ago), q1 (3 h, 1.5 h ago), q2 (30 h, 15 h ago) and q3 (200 h, 23 h ago) are not due
    assert (first.incidents, first.due, first.tap_calls) == (4, 0, 0)
    later = now + timedelta(hours=2)
    second = sync_threat_status(cases, tap_client(sim), ClosePolicy(), control_id=control["id"],
                                check_campaigns=False, settings=settings, now=lambda: later)
    assert second.due == 1 and second.tap_calls == 1  # q3: its last check is now 25 hours old
    day = now + timedelta(hours=27)
    third = sync_threat_status(cases, tap_client(sim), ClosePolicy(), control_id=control["id"],
                               check_campaigns=False, settings=settings, now=lambda: day)
    assert third.due == 4 and third.tap_calls == 4  # every open incident re-checked within 24 hours
    assert props(cases, threats["q3"])[F.CHECKED] == epoch_ms(day)
    # sweeps that changed nothing are counted, not logged one by one: after 24 hours, one summary row
    (summary,) = run_log(cases, control)
    assert summary["pp_tap_run_status"] == "quiet" and summary["pp_tap_run_error"].startswith("3 sweeps that")
    assert not props(cases, control).get(ctl.SYNC_QUIET_FIELD)

    closed = cases.create_incident({"name": "closed", "discovered_date": epoch_ms(now),
                                    "properties": {F.GROUP_KEY: f"threat:{tid('old')}", F.THREAT_IDS: tid("old"),
                                                   F.CLOSED_BY_APP: format_tap_time(now),
                                                   F.CLOSE_NOTED: format_tap_time(now)}})
    cases.patch_incident(cases.get_incident(closed["id"]), {"plan_status": "C", "resolution_id": "Not an Issue",
                                                            "resolution_summary": "closed"})
    recent = sync_threat_status(cases, tap_client(sim), ClosePolicy(), control_id=control["id"],
                                check_campaigns=False, settings=settings, now=lambda: day)
    assert recent.incidents == 5  # closed by the app today: still re-checked (a threat may come back)
    month = now + timedelta(days=31)
    old = sync_threat_status(cases, tap_client(sim), ClosePolicy(), control_id=control["id"],
                             check_campaigns=False, settings=settings, now=lambda: month)
    assert old.incidents == 4  # closed more than 30 days ago: no longer re-checked
