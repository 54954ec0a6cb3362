"""services.ingestion against the in-process stand-ins: lease, the two cursors, SIEM budget, 429, SOAR
errors and the run log, each in a fraction of a second (a shared SimClock moves time where a test needs a
later run)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scenario_builder import click, message, threat_info, tid
from service_helpers import SimClock, one, props, run_log, state, tap_client, tap_incidents

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.closing import ClosePolicy
from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.ingest import read_inputs
from fn_pp_tap_functions.services.ingestion import RunReport, run_ingestion
from fn_pp_tap_functions.settings import IngestSettings
from fn_pp_tap_functions.soar import control as ctl
from fn_pp_tap_functions.soar.cases import SoarCases, row_cells
from fn_pp_tap_functions.tap.timestamps import format_tap_time, parse_tap_time


def scenario() -> dict[str, Any]:
    alpha = threat_info("alpha", at="now-150m")
    return {"events": {
        "messagesDelivered": [
            message("G-A", "r1@corp.example", [alpha], at="now-150m"),
            message("G-A", "r2@corp.example", [alpha], at="now-150m"),
            message("G-B", "r3@corp.example", [threat_info("bravo", classification="malware", at="now-100m")],
                    at="now-100m"),
        ],
        "messagesBlocked": [message("G-D", "r4@corp.example", [threat_info("delta", at="now-100m")], at="now-100m")],
        "clicksPermitted": [click("G-A", "r1@corp.example", "alpha", at="now-70m")],
    }}


def ingest(cases: SoarCases, sim: Any, *, inputs: dict[str, Any] | None = None,
           settings: IngestSettings | None = None, control: dict[str, Any] | None = None,
           clock: SimClock | None = None, **kwargs: Any) -> RunReport:
    request = read_inputs({"pp_tap_lookback_hours": 3, **(inputs or {})})
    if clock is not None:
        kwargs.setdefault("now", clock)
        kwargs.setdefault("tap", tap_client(sim, clock=clock))
    return run_ingestion(cases, kwargs.pop("tap", None) or tap_client(sim), request, settings or IngestSettings(),
                         control_id=control["id"] if control else None, **kwargs)


def set_fields(cases: SoarCases, control: dict[str, Any], **values: Any) -> None:
    fresh = cases.get_incident(control["id"])
    cases.patch_incident(fresh, {f"properties.{k}": v for k, v in values.items()})


def cursor(cases: SoarCases, control: dict[str, Any]) -> datetime | None:
    return parse_tap_time(props(cases, control).get(ctl.CURSOR_FIELD))


def lease_text(cases: SoarCases, control: dict[str, Any]) -> str | None:
    return props(cases, control).get(ctl.LEASE_FIELD)  # exactly what SOAR holds: a released lease is null


def lease_free(cases: SoarCases, control: dict[str, Any]) -> bool:
    return ctl.Lease.parse(props(cases, control).get(ctl.LEASE_FIELD)) is None


# ----------------------------------------------------------------------------------------- a first run

def test_first_run_creates_one_incident_per_threat_moves_the_cursor_and_logs_the_run(cases, make_tap, control):
    sim = make_tap(scenario())
    before = datetime.now(UTC)
    report = ingest(cases, sim, control=control)
    # the first run settles the look-back up to the overlap (3 windows) and freshly reads the rest (1)
    assert report.status == "completed" and report.windows_done == 4 and report.created == 2
    assert set(tap_incidents(cases)) == {f"threat:{tid('alpha')}", f"threat:{tid('bravo')}"}  # blocked: none
    assert report.events_read == 4 and report.tap_calls == {"siem": 4, "siem_clicks_permitted": 4}
    alpha = one(cases, f"threat:{tid('alpha')}")
    assert alpha["properties"]["pp_tap_recipients_count"] == 2 and alpha["properties"]["pp_tap_event_count"] == 3
    moved = cursor(cases, control)
    assert moved is not None and before - timedelta(minutes=3) < moved <= datetime.now(UTC)
    assert format_tap_time(moved) == report.window_text().split("/")[1]
    settled = parse_tap_time(props(cases, control)[ctl.SETTLED_FIELD])
    assert settled is not None and abs((moved - settled) - timedelta(minutes=28)) < timedelta(seconds=5)
    assert lease_text(cases, control) is None  # the last save released it
    (row,) = run_log(cases, control)
    assert row["pp_tap_run_kind"] == "ingest" and row["pp_tap_run_status"] == "completed"
    assert (row["pp_tap_run_created"], row["pp_tap_run_events_read"], row["pp_tap_run_tap_calls"]) == (2, 4, 8)
    assert row["pp_tap_run_window"].startswith("settle ") and " + fresh " in row["pp_tap_run_window"]
    words = props(cases, control)[ctl.BUDGET_TEXT_FIELD]
    assert "SIEM clicks/permitted: 4 of 1,500 calls in the last 24 hours" in words


def test_the_control_incident_is_created_once_and_other_incidents_are_refused(cases, make_tap):
    sim = make_tap(scenario())
    first = ingest(cases, sim)
    second = ingest(cases, sim)
    assert first.status == "completed" and second.status == "nothing to do"  # seconds later: no window yet
    assert len(cases.find_by_values(ctl.CONTROL_FIELD, [ctl.CONTROL_VALUE]).get(ctl.CONTROL_VALUE, [])) == 1
    alpha = one(cases, f"threat:{tid('alpha')}")
    with pytest.raises(InputError, match="not the Proofpoint TAP ingestion control incident"):
        ingest(cases, sim, control=alpha)


def test_an_unknown_owner_is_named_before_anything_is_read_or_written(cases, make_tap, control):
    sim = make_tap(scenario())
    with pytest.raises(InputError, match="nobody@example.com"):
        ingest(cases, sim, control=control, inputs={"pp_tap_owner_rules": "default -> owner: nobody@example.com"})
    assert tap_incidents(cases) == {} and sim.stats()["total"] == 0 and lease_text(cases, control) is None


# ----------------------------------------------------------------------------------------- the lease

def test_a_lease_held_by_another_run_stops_the_run_at_once(cases, make_tap, control):
    sim = make_tap(scenario())
    held = ctl.Lease("other-run-holder", datetime.now(UTC) + timedelta(minutes=10)).text()
    set_fields(cases, control, **{ctl.LEASE_FIELD: held})
    report = ingest(cases, sim, control=control)
    assert report.status == "busy" and "holds the lease until" in str(report.error)
    assert sim.stats()["total"] == 0 and tap_incidents(cases) == {}
    assert lease_text(cases, control) == held and cursor(cases, control) is None  # nothing of theirs touched


def test_an_expired_lease_is_taken_over(cases, make_tap, control):
    sim = make_tap(scenario())
    set_fields(cases, control, **{ctl.LEASE_FIELD: ctl.Lease("crashed-run", datetime.now(UTC) - timedelta(
        minutes=1)).text()})
    report = ingest(cases, sim, control=control)
    assert report.status == "completed" and report.created == 2
    assert lease_text(cases, control) is None


def test_a_run_that_loses_its_lease_stops_without_saving_over_the_new_holder(cases, make_tap, control):
    sim = make_tap(scenario())
    taken = ctl.Lease("second-instance", datetime.now(UTC) + timedelta(minutes=15)).text()

    def progress(message: str) -> None:
        if message.startswith("Window 2 of"):  # another instance takes the lease while window 2 is read
            set_fields(cases, control, **{ctl.LEASE_FIELD: taken})

    report = ingest(cases, sim, control=control, progress=progress)
    assert report.status == "failed" and "no longer holds the ingestion lease" in str(report.error)
    assert report.windows_done == 0  # the settle pass reads its span, writes it once, then saves: it could not
    assert lease_text(cases, control) == taken  # the new holder keeps it
    assert cursor(cases, control) is None  # not saved over the new holder: it reads the span again
    assert run_log(cases, control)[-1]["pp_tap_run_status"] == "failed"


# ----------------------------------------------------------------------------------------- cursors and passes

def test_setting_both_cursors_back_replays_the_span_and_adds_nothing(cases, make_tap, control):
    sim = make_tap(scenario())
    ingest(cases, sim, control=control)
    before = state(cases)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    set_fields(cases, control, **{ctl.CURSOR_FIELD: format_tap_time(start), ctl.SETTLED_FIELD: format_tap_time(start)})
    report = ingest(cases, sim, control=control)
    assert report.window_start == start
    assert report.status == "completed" and report.events_read == 4 and report.created == 0
    assert report.updated == 0 and report.unchanged == 2  # alpha and bravo: the settle pass writes its span once
    assert state(cases) == before
    assert run_log(cases, control)[-1]["pp_tap_run_created"] == 2  # the replay changed nothing: no row of its own
    assert "1 quiet run (4 events read, 8 TAP calls)" in props(cases, control)[ctl.QUIET_FIELD]


def test_an_event_indexed_late_is_found_by_the_settle_pass(cases, make_tap, control):
    clock = SimClock()
    sim = make_tap(scenario(), indexing_lag_seconds=0, clock=clock)
    ingest(cases, sim, control=control, clock=clock)
    sim.set_indexing_lag(25 * 60)  # TAP indexes this one 25 minutes late: the fresh passes cannot see it
    sim.add_events([{"type": "messagesDelivered", "event": message(
        "G-L", "late@corp.example", [threat_info("late", at="now")], at="now")}])
    for _ in range(6):  # half an hour of 5-minute runs: fresh passes only, the settle pass is not due yet
        clock.advance(minutes=5)
        assert ingest(cases, sim, control=control, clock=clock).created == 0
    sim.set_indexing_lag(0)
    clock.advance(minutes=60)
    found = ingest(cases, sim, control=control, clock=clock)
    assert found.created == 1 and "settle" in found.passes and one(cases, f"threat:{tid('late')}")


def test_a_repeat_is_bookkeeping_for_the_settle_pass_with_one_note(cases, make_tap, control):
    clock = SimClock()
    sim = make_tap(scenario(), clock=clock)
    ingest(cases, sim, control=control, clock=clock)
    sim.add_events([{"type": "messagesDelivered", "event": message(
        "G-A2", "r9@corp.example", [threat_info("alpha", at="now-150m")], at="now")}])
    clock.advance(minutes=5)
    fresh = ingest(cases, sim, control=control, clock=clock)
    assert fresh.created == 0 and fresh.updated == 0 and fresh.deferred == 1  # not urgent: left for the settle pass
    alpha = one(cases, f"threat:{tid('alpha')}")
    assert alpha["properties"]["pp_tap_recipients_count"] == 2
    clock.advance(minutes=65)
    settle = ingest(cases, sim, control=control, clock=clock)
    assert settle.created == 0 and settle.updated == 1
    alpha = one(cases, f"threat:{tid('alpha')}")
    assert alpha["properties"]["pp_tap_recipients_count"] == 3
    notes = [n for n in cases.note_texts(alpha["id"]) if "new recipient" in n]
    assert len(notes) == 1 and "r9@corp.example" in notes[0]


# ----------------------------------------------------------------------------------------- SIEM budget

def test_the_siem_budget_limits_the_windows_and_then_stops_the_run(cases, make_tap, control):
    sim = make_tap(scenario())
    hour = int(datetime.now(UTC).timestamp()) // 3600
    set_fields(cases, control, **{ctl.BUDGET_FIELD: json.dumps({"siem": {str(hour): 1498}})})
    report = ingest(cases, sim, control=control, inputs={"pp_tap_lookback_hours": 5})
    assert report.status == "partial" and report.windows_done == 2 and report.windows_left
    assert report.tap_calls["siem"] == 2 and "window limit reached" in str(report.deferred_span)
    budget = ctl.Budget.parse(props(cases, control)[ctl.BUDGET_FIELD], now=datetime.now(UTC))
    assert budget.used_24h("siem") == 1500 and budget.used_24h("siem_clicks_permitted") == 2
    spent = ingest(cases, sim, control=control)
    assert spent.status == "budget" and "1500 calls per 24 h" in str(spent.error)
    assert spent.tap_calls == {} and run_log(cases, control)[-1]["pp_tap_run_status"] == "budget"


def test_calls_older_than_24_hours_free_the_budget(cases, make_tap, control):
    sim = make_tap(scenario())
    old = int((datetime.now(UTC) - timedelta(hours=25)).timestamp()) // 3600
    set_fields(cases, control, **{ctl.BUDGET_FIELD: json.dumps({"siem": {str(old): 1500}})})
    assert ingest(cases, sim, control=control).status == "completed"


# ----------------------------------------------------------------------------------------- TAP 429

def test_a_429_mid_run_stops_cleanly_where_the_data_stops_and_the_next_run_resumes(cases, make_tap, control):
    sim = make_tap(scenario())
    sim.set_limits(siem=1)  # one SIEM call left in the pool: one window, then 429
    report = ingest(cases, sim, control=control)
    assert report.status == "throttled" and "throttled" in str(report.error) and report.windows_done == 1
    assert report.created == 1  # alpha, from the first window
    assert format_tap_time(cursor(cases, control)) == report.window_text().split("/")[1]
    assert lease_free(cases, control)
    assert run_log(cases, control)[-1]["pp_tap_run_status"] == "throttled"
    sim.set_limits(siem=None)
    resumed = ingest(cases, sim, control=control)
    assert resumed.status == "completed" and resumed.created == 1  # bravo; alpha is not created twice
    assert len(tap_incidents(cases)) == 2


# ----------------------------------------------------------------------------------------- SOAR errors

def test_a_soar_500_on_a_create_fails_the_run_and_the_rerun_finishes_without_duplicates(cases, make_tap, control,
                                                                                       soar):
    sim = make_tap({"events": {"messagesDelivered": [
        message(f"G-N{i}", "r1@corp.example", [threat_info(f"new{i}", at="now-90m")], at="now-90m")
        for i in range(4)]}})
    soar.add_fault("POST", r"/incidents$", status=500, times=1, after=2)
    report = ingest(cases, sim, control=control)
    assert report.status == "failed" and "SOAR refused to create an incident (HTTP 500)" in str(report.error)
    assert len(tap_incidents(cases)) == 2 and report.created == 2
    assert lease_free(cases, control) and run_log(cases, control)[-1]["pp_tap_run_status"] == "failed"
    rerun = ingest(cases, sim, control=control)
    assert rerun.status == "completed" and rerun.created == 2
    for i in range(4):
        one(cases, f"threat:{tid(f'new{i}')}")


def test_a_run_log_that_cannot_be_written_turns_a_completed_run_into_a_failed_one(cases, make_tap, control, soar):
    sim = make_tap(scenario())
    soar.add_fault("POST", rf"/incidents/{control['id']}/table_data/{ctl.RUNS_TABLE}/row_data$", status=503)
    report = ingest(cases, sim, control=control)
    assert report.status == "failed" and "HTTP 503" in str(report.error) and report.created == 2
    assert lease_text(cases, control) is None


def test_soar_unreachable_at_the_first_read_writes_nothing(cases, make_tap, control, soar):
    sim = make_tap(scenario())
    soar.add_fault("GET", rf"/incidents/{control['id']}$", status=502, times=1)
    with pytest.raises(Exception, match="HTTP 502"):
        ingest(cases, sim, control=control)
    assert sim.stats()["total"] == 0 and tap_incidents(cases) == {}


# ----------------------------------------------------------------------------------------- verdicts in the feed

def test_a_false_positive_in_the_feed_closes_the_incident_of_its_threat_at_once(cases, make_tap, control):
    clock = SimClock()
    sim = make_tap(scenario(), clock=clock)
    ingest(cases, sim, control=control, clock=clock)
    # TAP reports the verdict on the threat's events (a status change shows as of when it was made)
    sim.add_events([{"type": "messagesDelivered", "event": message(
        "G-B2", "r3@corp.example", [threat_info("bravo", classification="malware", status="falsePositive",
                                                at="now")], at="now")}])
    clock.advance(minutes=5)
    report = ingest(cases, sim, control=control, close_policy=ClosePolicy(), clock=clock)
    bravo = one(cases, f"threat:{tid('bravo')}")
    assert report.passes.keys() == {"fresh"}  # the fresh pass: the close reaches SOAR in the run that read it
    assert report.closed == 1 and bravo["plan_status"] == "C" and bravo["resolution_id"] == "Not an Issue"
    assert one(cases, f"threat:{tid('alpha')}")["plan_status"] == "A"
    description = bravo["description"]
    assert "Threat status:</b> falsePositive" in description and "Closed by the Proofpoint TAP app" in description


# ------------------------------------------------------------------ what an analyst reads about each event

def test_events_table_and_description_show_the_header_fields_inert(cases, make_tap, control):
    """From/Reply-To/To/Cc headers, X-Mailer, quarantine, message parts and scores reach the events table (one
    line of inert text each) and the From/Reply-To headers the incident's description; attacker-chosen header
    text stays text: no markup, no line breaks, bidi and zero-width characters shown as [U+....]."""
    hostile_from = '"Pay\u202eroll <b>Team</b>" <payroll@bad.example>\r\nX-Injected: 1'
    part = {"disposition": "attached", "filename": "invoice.xlsm", "contentType": "application/vnd.ms-excel",
            "oContentType": "application/pdf", "sandboxStatus": "threat", "md5": "5" * 32, "sha256": tid("kilo")}
    raw = message("G-K", "r1@corp.example", [threat_info("kilo", classification="malware", kind="attachment",
                                                         threat=tid("kilo"), at="now-100m")],
                  at="now-100m", header_from=hostile_from, parts=[part])
    raw.update({"headerReplyTo": "Pay Desk <pay\u200b@other.example>", "replyToAddress": ["pay@other.example"],
                "toAddresses": ["r1@corp.example", "r2@corp.example"], "ccAddresses": ["boss@corp.example"],
                "headerTo": "R1 <r1@corp.example>, R2 <r2@corp.example>", "headerCC": "Boss <boss@corp.example>",
                "xmailer": "Spambot v2.5\n<script>x</script>", "malwareScore": 100})
    blocked = message("G-L", "r3@corp.example", [threat_info("lima", at="now-100m")], at="now-100m")
    blocked.update({"quarantineFolder": "Phish", "quarantineRule": "module.spam.phish"})
    sim = make_tap({"events": {"messagesDelivered": [raw], "messagesBlocked": [blocked],
                               "clicksPermitted": [click("G-K", "r1@corp.example", "kilo", at="now-90m")]}})
    ingest(cases, sim, control=control,
           inputs={"pp_tap_event_types": "messagesDelivered, messagesBlocked, clicksPermitted"})

    incident = one(cases, f"threat:{tid('kilo')}")
    rows = sorted((row_cells(r) for r in cases.rows(int(incident["id"]), F.EVENTS_TABLE)),
                  key=lambda c: c[F.COL_EVENT_TYPE])
    click_row, message_row = rows
    assert message_row[F.COL_HEADER_FROM] == \
        '"Pay[U+202E]roll <b>Team</b>" <payroll@bad.example> X-Injected: 1'
    assert message_row[F.COL_HEADER_REPLY_TO] == "Pay Desk <pay[U+200B]@other.example>"
    assert message_row[F.COL_TO_CC] == "To (2): r1@corp.example, r2@corp.example; Cc (1): boss@corp.example"
    assert message_row[F.COL_XMAILER] == "Spambot v2.5 <script>x</script>"
    assert message_row[F.COL_MESSAGE_PARTS] == (
        f"invoice.xlsm (application/vnd.ms-excel, declared application/pdf, sandbox threat) SHA-256 {tid('kilo')} "
        f"MD5 {'5' * 32}")
    assert message_row[F.COL_SCORES] == "phish 90, malware 100, spam 5, impostor 0"
    assert message_row[F.COL_SENDER_IP] == "198.51.100.7" and message_row[F.COL_URL_OR_FILE] == "invoice.xlsm"
    assert click_row[F.COL_USER_AGENT] == "Mozilla/5.0" and click_row[F.COL_CLICK_IP] == "10.0.0.8"
    for cells in rows:
        assert set(cells) <= set(F.EVENT_COLUMNS)
        assert not any(ch in str(v) for v in cells.values() for ch in "\r\n\u202e\u200b")

    description = incident["description"]
    text = description if isinstance(description, str) else description.get("content", "")
    assert "From (header):" in text and "&lt;b&gt;Team&lt;/b&gt;" in text and "<b>Team" not in text
    assert "[U+202E]" in text and "\u202e" not in text and "X-Injected" in text and "\r" not in text
    assert "Reply-To:</b> Pay Desk &lt;pay[U+200B]@other.example&gt;" in text

    (lima,) = cases.rows(int(one(cases, f"threat:{tid('lima')}")["id"]), F.EVENTS_TABLE)
    assert row_cells(lima)[F.COL_QUARANTINE] == "Phish (module.spam.phish)"
