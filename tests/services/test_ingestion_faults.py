"""Issue 11's ingestion findings, each against the in-process stand-ins: duplicate incidents and fenced
writes, counts that never drift after an interruption, a corrupt control field, a malformed SIEM 200, every
unexpected error ending the run as failed, a holder with a skewed clock, SOAR's 409 retried within bounds,
and the close note written exactly once."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import resilient
from scenario_builder import message, threat_info, tid
from service_helpers import SimClock, one, props, run_log, tap_client, tap_incidents

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.closing import ClosePolicy
from fn_pp_tap_functions.errors import SoarRequestError
from fn_pp_tap_functions.ingest import read_inputs
from fn_pp_tap_functions.services import ingestion
from fn_pp_tap_functions.services.closing import sync_threat_status
from fn_pp_tap_functions.services.ingestion import RunReport, run_ingestion
from fn_pp_tap_functions.settings import IngestSettings
from fn_pp_tap_functions.soar import control as ctl
from fn_pp_tap_functions.soar.cases import SoarCases, row_cells
from fn_pp_tap_functions.tap.timestamps import epoch_ms, format_tap_time


def many(count: int = 4, at: str = "now-90m", recipients: int = 1) -> dict[str, Any]:
    return {"events": {"messagesDelivered": [
        message(f"G-N{i}-{r}", f"r{r}@corp.example", [threat_info(f"new{i}", at=at)], at=at)
        for i in range(count) for r in range(recipients)]}}


def ingest(cases: SoarCases, sim: Any, control: dict[str, Any], **kwargs: Any) -> RunReport:
    settings = kwargs.pop("settings", IngestSettings())
    tap = kwargs.pop("tap", None) or tap_client(sim)
    return run_ingestion(cases, tap, read_inputs({"pp_tap_lookback_hours": 3}), settings,
                         control_id=control["id"], **kwargs)


def counts(cases: SoarCases, key: str) -> tuple[int, int, int]:
    """(event count, recipients count, rows) of the one incident of a group."""
    incident = one(cases, key)
    rows = cases.rows(int(incident["id"]), F.EVENTS_TABLE)
    return incident["properties"][F.EVENT_COUNT], incident["properties"][F.RECIPIENTS_COUNT], len(rows)


def set_fields(cases: SoarCases, control: dict[str, Any], **values: Any) -> None:
    cases.patch_incident(cases.get_incident(control["id"]), {f"properties.{k}": v for k, v in values.items()})


# ----------------------------------------------------------------------------- 1. duplicates and the fence

def test_two_incidents_for_one_group_are_merged_into_the_lowest_id(cases, make_tap, control):
    sim = make_tap(many(1, recipients=2))
    key = f"threat:{tid('new0')}"
    ingest(cases, sim, control)
    first = one(cases, key)
    # a second instance's create that landed after its client gave up: same group, one more recipient
    second = cases.create_incident({"name": "late twin", "discovered_date": epoch_ms(datetime.now(UTC)),
                                    "properties": {F.GROUP_KEY: key, F.THREAT_IDS: tid("new0"),
                                                   F.LEDGER: first["properties"][F.LEDGER] + " r" + "9" * 12}})
    sim.add_events([{"type": "messagesDelivered", "event": message("G-X", "r7@corp.example",
                                                                   [threat_info("new0", at="now-60m")],
                                                                   at="now-60m")}])
    set_fields(cases, control, **{ctl.CURSOR_FIELD: format_tap_time(datetime.now(UTC) - timedelta(hours=3)),
                                  ctl.SETTLED_FIELD: format_tap_time(datetime.now(UTC) - timedelta(hours=3))})
    report = ingest(cases, sim, control)
    assert report.merged == 1 and report.created == 0
    incidents = tap_incidents(cases)[key]
    canonical = cases.get_incident(min(int(i["id"]) for i in incidents))
    duplicate = cases.get_incident(second["id"])
    assert canonical["id"] == first["id"] and canonical["plan_status"] == "A"
    assert duplicate["plan_status"] == "C" and duplicate["resolution_id"] == "Duplicate"
    assert any(f"#{first['id']}" in n for n in cases.note_texts(second["id"]))
    # 3 recipients seen plus the one only the duplicate had; events: the two and the new one
    assert canonical["properties"][F.RECIPIENTS_COUNT] == 4 and canonical["properties"][F.EVENT_COUNT] == 3


def test_a_write_is_never_started_when_the_lease_is_about_to_end(cases, make_tap, control, monkeypatch):
    """SOAR slower than the lease: the run renews the lease before each write that would outlive it, and
    stops (writing nothing more) when another instance took it meanwhile."""
    sim = make_tap(many(4))
    elapsed = [0.0]

    class SlowTime:
        @staticmethod
        def monotonic() -> float:
            elapsed[0] += 500.0  # every look at the clock: 500 s later (each SOAR call is slow)
            return elapsed[0]

    monkeypatch.setattr(ingestion, "time", SlowTime)
    stolen = ctl.Lease("other-instance", datetime.now(UTC) + timedelta(minutes=15)).text()
    writes: list[str] = []
    real = SoarCases.patch_incident

    def patch(self: SoarCases, incident: Any, changes: Any, *, expected: Any = None) -> None:
        if int(incident["id"]) == int(control["id"]) and len(writes) == 1:
            # the other instance takes the (expired) lease just before our second renewal
            fresh = self.get_incident(control["id"])
            real(self, fresh, {f"properties.{ctl.LEASE_FIELD}": stolen})
        writes.append(str(incident["id"]))
        real(self, incident, changes, expected=expected)

    monkeypatch.setattr(SoarCases, "patch_incident", patch)
    report = ingest(cases, sim, control, settings=IngestSettings(lease_minutes=15))
    assert report.status == "failed" and "no longer holds the ingestion lease" in str(report.error)
    assert report.created < 4  # it stopped before writing under the other instance's lease
    assert props(cases, control)[ctl.LEASE_FIELD] == stolen


# ----------------------------------------------------------------------------- 2. counts never drift

def test_a_run_that_stops_between_the_create_and_its_rows_gives_exact_counts_on_rerun(cases, make_tap, control,
                                                                                        soar):
    sim = make_tap(many(2, recipients=3))
    soar.add_fault("POST", r"/table_data/pp_tap_events/row_data$", status=500, times=1, after=1)
    failed = ingest(cases, sim, control)
    assert failed.status == "failed" and "HTTP 500" in str(failed.error)
    rerun = ingest(cases, sim, control)
    assert rerun.status == "completed"
    for i in range(2):
        assert counts(cases, f"threat:{tid(f'new{i}')}") == (3, 3, 3)  # not 6: counts come from the ledger
    assert all(not (i["properties"].get(F.PENDING)) for i in cases.query(
        [{"field_name": f"properties.{F.GROUP_KEY}", "method": "has_a_value"}]))  # journals finished


def test_an_update_that_lands_after_the_client_gave_up_is_finished_once(cases, make_tap, control, soar):
    clock = SimClock()
    sim = make_tap(many(1, recipients=2), clock=clock)
    ingest(cases, sim, control, now=clock, tap=tap_client(sim, clock=clock))
    sim.add_events([{"type": "messagesDelivered", "event": message(
        f"G-M{r}", f"more{r}@corp.example", [threat_info("new0", at="now")], at="now")} for r in range(3)])
    clock.advance(minutes=65)
    slow = SoarCases(resilient.get_client(soar.app_opts()), timeout=1)
    soar.add_fault("PATCH", rf"/incidents/(?!{control['id']})\d+$", hang_seconds=2, times=1)
    failed = ingest(slow, sim, control, now=clock, tap=tap_client(sim, clock=clock))
    assert failed.status == "failed"
    time.sleep(2.5)  # the PATCH (ledger, counts, journal) lands after the client gave up
    key = f"threat:{tid('new0')}"
    assert one(cases, key)["properties"][F.PENDING]  # its rows and note are still to be written
    rerun = ingest(cases, sim, control, now=clock, tap=tap_client(sim, clock=clock))
    assert rerun.status == "completed"
    assert counts(cases, key) == (5, 5, 5)
    incident = one(cases, key)
    assert len([n for n in cases.note_texts(incident["id"]) if "3 new recipients" in n]) == 1
    assert not incident["properties"].get(F.PENDING)


def test_a_conflict_on_the_update_replans_from_what_soar_holds(cases, make_tap, control):
    clock = SimClock()
    sim = make_tap(many(1, recipients=2), clock=clock)
    ingest(cases, sim, control, now=clock, tap=tap_client(sim, clock=clock))
    sim.add_events([{"type": "messagesDelivered", "event": message(
        "G-M", "more@corp.example", [threat_info("new0", at="now")], at="now")}])
    clock.advance(minutes=65)
    key = f"threat:{tid('new0')}"
    real = SoarCases.find_by_values

    def stale(self: SoarCases, *args: Any, **kwargs: Any) -> Any:
        found = real(self, *args, **kwargs)
        if key in found:  # an analyst edits a field between the query and the PATCH
            incident = found[key][0]
            self.patch_incident(incident, {f"properties.{F.CAMPAIGN_ID}": "set by an analyst"})
        return found

    SoarCases.find_by_values = stale  # type: ignore[method-assign]
    try:
        report = ingest(cases, sim, control, now=clock, tap=tap_client(sim, clock=clock))
    finally:
        SoarCases.find_by_values = real  # type: ignore[method-assign]
    assert report.status == "completed" and report.updated == 1
    assert counts(cases, key) == (3, 3, 3)
    assert one(cases, key)["properties"][F.CAMPAIGN_ID] == "set by an analyst"


# ----------------------------------------------------------------------------- 3. control fields, errors

@pytest.mark.parametrize("field, value", [
    (ctl.BUDGET_FIELD, json.dumps({"siem": "oops"})),
    (ctl.BUDGET_FIELD, "[1, 2]"),
    (ctl.BUDGET_FIELD, json.dumps({"siem": {"x": 3}})),
    (ctl.LEASE_FIELD, "{not json"),
    (ctl.CURSOR_FIELD, "yesterday-ish"),
    (ctl.QUIET_FIELD, "lots of runs"),
])
def test_a_corrupt_control_field_is_reset_with_a_note_and_the_run_goes_on(cases, make_tap, control, field, value):
    sim = make_tap(many(2))
    set_fields(cases, control, **{field: value})
    report = ingest(cases, sim, control)
    assert report.status == "completed" and report.created == 2
    assert report.reset and field in report.reset[0] and value[:20] in report.reset[0]
    notes = [n for n in cases.note_texts(control["id"]) if "control fields it cannot use" in n]
    assert len(notes) == 1 and field in notes[0]
    assert run_log(cases, control)[-1]["pp_tap_run_status"] == "completed"
    assert ingest(cases, sim, control).reset == []  # fixed for good: the next run finds nothing to reset


def test_an_unexpected_error_ends_the_run_as_failed_naming_it(cases, make_tap, control, monkeypatch):
    sim = make_tap(many(2))

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("threatsInfoMap")

    monkeypatch.setattr(ingestion, "select_events", broken)
    report = ingest(cases, sim, control)
    assert report.status == "failed" and "Unexpected error KeyError" in str(report.error)
    assert "threatsInfoMap" in str(report.error)
    row = run_log(cases, control)[-1]
    assert row["pp_tap_run_status"] == "failed" and "KeyError" in row["pp_tap_run_error"]
    assert ctl.Lease.parse(props(cases, control)[ctl.LEASE_FIELD]) is None  # released
    assert props(cases, control).get(ctl.CURSOR_FIELD) is None  # nothing was read: nothing moves


# ----------------------------------------------------------------------------- 4. SIEM answers by shape

@pytest.mark.parametrize("body, what", [
    ('{"messagesDelivered": {"not": "a list"}}', "messagesDelivered array is an object, not a list"),
    ('{"messagesDelivered": [1, 2]}', "messagesDelivered[0] is a number, not an event object"),
    ('[{"messagesDelivered": []}]', "the answer is a list, not an object"),
    ('{"messagesDelivered": [{"GUID": "x"}', "broken JSON"),
])
def test_a_malformed_siem_200_fails_the_window_and_keeps_the_cursor(cases, make_tap, control, body, what):
    sim = make_tap(many(2))
    sim.inject_fault(r"^/v2/siem/messages/delivered", 200, times=1, body=body)
    report = ingest(cases, sim, control)
    assert report.status == "failed" and "/v2/siem/messages/delivered" in str(report.error)
    assert what in str(report.error) and report.windows_done == 0
    assert props(cases, control).get(ctl.CURSOR_FIELD) is None and tap_incidents(cases) == {}
    assert ingest(cases, sim, control).created == 2  # the next run reads the window again


# ----------------------------------------------------------------------------- the clock-skew case

def test_a_lease_from_a_holder_whose_clock_is_hours_ahead_ends_by_soars_clock(cases, make_tap, control):
    sim = make_tap(many(2))
    skewed = ctl.Lease("skewed-instance", datetime.now(UTC) + timedelta(hours=5), timedelta(minutes=15))
    set_fields(cases, control, **{ctl.LEASE_FIELD: skewed.text()})
    assert ingest(cases, sim, control).status == "busy"  # within its stated 15 minutes it holds
    later = SimClock(datetime.now(UTC) + timedelta(minutes=20))
    report = ingest(cases, sim, control, now=later, tap=tap_client(sim))
    assert report.status != "busy"  # 20 minutes by SOAR's clock after it was written: expired, whatever it says
    holder = cases.get_incident(control["id"])
    assert skewed.expires(holder["inc_last_modified_date"]) < skewed.until


# ----------------------------------------------------------------------------- SOAR's 409 and the close note

def test_a_soar_409_is_sent_again_a_few_times_then_named(cases, control, soar):
    soar.add_fault("PATCH", rf"/incidents/{control['id']}$", status=409, times=10)
    quick = SoarCases(resilient.get_client(soar.app_opts()), sleep=lambda _s: None)
    with pytest.raises(SoarRequestError, match="409 .*4 times"):
        quick.patch_incident(quick.get_incident(control["id"]), {f"properties.{ctl.CURSOR_FIELD}": "x"})
    assert quick.calls == 1 + 4


def test_a_close_note_whose_post_failed_is_written_exactly_once_later(cases, make_tap, control, soar):
    sim = make_tap({"events": {}})
    incident = cases.create_incident({"name": "TAP one", "discovered_date": epoch_ms(datetime.now(UTC)),
                                      "properties": {F.GROUP_KEY: f"threat:{tid('one')}", F.THREAT_IDS: tid("one"),
                                                     F.THREAT_STATUS: "active"}})
    sim.add_threat({"id": tid("one"), "threat": "https://one.bad.example", "type": "url", "status": "active"})
    sim.set_threat_status(tid("one"), "falsePositive")
    soar.add_fault("POST", rf"/incidents/{incident['id']}/comments$", status=500, times=1)
    first = sync_threat_status(cases, tap_client(sim), ClosePolicy(), control_id=control["id"], check_campaigns=False)
    assert first.status == "partial" and "add a note" in first.incident_errors[str(incident["id"])]
    assert cases.get_incident(incident["id"])["plan_status"] == "C"
    assert cases.note_texts(incident["id"]) == set()  # the POST failed after the close PATCH
    assert cases.get_incident(incident["id"])["properties"][F.CLOSE_NOTED].startswith("pending:")
    soar.add_fault("PATCH", rf"/incidents/{incident['id']}$", status=500, times=1)  # the note lands, not the record
    future = SimClock(datetime.now(UTC) + timedelta(minutes=15))
    sync_threat_status(cases, tap_client(sim), ClosePolicy(), control_id=control["id"], check_campaigns=False,
                       now=future)
    sync_threat_status(cases, tap_client(sim), ClosePolicy(), control_id=control["id"], check_campaigns=False,
                       now=SimClock(datetime.now(UTC) + timedelta(minutes=30)))
    closes = [n for n in cases.note_texts(incident["id"]) if "incident closed" in n]
    assert len(closes) == 1
    assert not cases.get_incident(incident["id"])["properties"][F.CLOSE_NOTED].startswith("pending:")


def test_two_instances_racing_never_make_two_incidents_for_one_group(cases, make_tap, control, soar):
    """SOAR slower than the client's patience on creates, two runs at once: the group gets ONE open incident
    once both have finished (a late twin is merged by the next run)."""
    sim = make_tap(many(3))
    soar.add_fault("POST", r"/incidents$", hang_seconds=1.5, times=1)
    slow = SoarCases(resilient.get_client(soar.app_opts()), timeout=1)
    results: list[RunReport] = []
    first = threading.Thread(target=lambda: results.append(ingest(slow, sim, control)))
    first.start()
    first.join(30)
    time.sleep(1)
    for _ in range(2):
        ingest(cases, sim, control)
    open_ = {k: [i for i in v if i["plan_status"] == "A"] for k, v in tap_incidents(cases).items()}
    assert sorted(len(v) for v in open_.values()) == [1, 1, 1]
    for i in range(3):
        key = f"threat:{tid(f'new{i}')}"
        assert open_[key][0]["properties"][F.EVENT_COUNT] == 1
    assert [row_cells] and results[0].status == "failed"
