"""TAP faults in the middle of a catch-up, in process: 429 and 5xx in the middle of a window, and 200 answers
of every wrong shape. The run must stop without moving the cursor past what it did not apply, naming the
endpoint; the runs after it must leave SOAR exactly at the scenario's truth (0 lost, 0 duplicated, exact
counts). The faults hit the first run, which reads six hours of windows: a window skipped there is older
than the next run's overlap, so a silent skip shows as lost incidents."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import truth
from inprocess import LEASE_S, clock_of, reference, run, run_report, settle, tap, wave2

from fn_pp_tap_functions.tap.timestamps import parse_tap_time

DELIVERED, CLICKS = "/v2/siem/messages/delivered", "/v2/siem/clicks/permitted"
END = '"queryEndTime": "2026-01-01T00:00:00Z"'

MALFORMED = {
    "an HTML page": ("<html><body>Please log in to continue</body></html>", "text/html"),
    "truncated JSON": ('{' + END + ', "messagesDelivered": [{"GUID": "x", "id": "y"', "application/json"),
    "a JSON list": ("[]", "application/json"),
    "a JSON string": ('"ok"', "application/json"),
    "JSON null": ("null", "application/json"),
    "the event array an object": ('{' + END + ', "messagesDelivered": {"GUID": "x", "id": "y"}}', "application/json"),
    "the event array a string": ('{' + END + ', "messagesDelivered": "none"}', "application/json"),
    "events that are not objects": ('{' + END + ', "messagesDelivered": [1, "two", null, []]}', "application/json"),
}


def _recover(soar, cases, sim, control, fault, want):
    """Runs until one completes, then wave 2 and its run: SOAR must then hold the whole truth."""
    runs = truth.until_completed(lambda: run(cases, sim, control), lease_s=LEASE_S)
    wave2(sim)
    assert run(cases, sim, control) == "completed"
    runs += settle(cases, sim, control)
    return truth.compare(fault, truth.read_state(soar.client()), want, runs=runs + 1)


def _cursor(cases, control):
    """The settled cursor: the settle pass never moves it past a span it has not applied."""
    return (cases.get_incident(control["id"]).get("properties") or {}).get("pp_tap_ingest_settled")


@pytest.mark.parametrize(("status", "expected"), [(429, "throttled"), (500, "failed"), (503, "failed")])
def test_tap_429_or_5xx_mid_window_stops_the_run_and_the_next_runs_finish_exactly(soar, cases, make_tap, control,
                                                                                 status, expected):
    want = reference(soar, cases, make_tap, control)
    sim = tap(make_tap)
    # the 4th window's second call fails (its first, messages/delivered, was read)
    sim.inject_fault(f"^{CLICKS}$", status, times=5, after=3)
    report = run_report(cases, sim, control)  # TAP faults never stop a run before it has a report
    sim.clear_faults()
    assert report.status == expected and CLICKS in str(report.error)
    cursor = parse_tap_time(_cursor(cases, control))
    assert cursor is None or cursor < clock_of(sim)() - timedelta(hours=1)  # not past the window that failed
    truth.check(_recover(soar, cases, sim, control, f"TAP {status} mid-window", want))


@pytest.mark.parametrize("shape", list(MALFORMED))
def test_a_malformed_tap_200_fails_the_window_naming_the_endpoint_and_nothing_is_lost(soar, cases, make_tap, control,
                                                                                     shape):
    want = reference(soar, cases, make_tap, control)
    sim = tap(make_tap)
    before = _cursor(cases, control)
    body, content_type = MALFORMED[shape]
    sim.inject_fault(f"^{DELIVERED}$", 200, times=20, body=body, content_type=content_type)
    report = run_report(cases, sim, control)  # TAP faults never stop a run before it has a report
    sim.clear_faults()
    after = _cursor(cases, control)
    outcome = _recover(soar, cases, sim, control, f"TAP 200 with {shape}", want)
    assert report.status == "failed", f"a 200 with {shape} was taken as {report.status}: {report.error}"
    assert DELIVERED in str(report.error), report.error
    assert after == before, "the cursor moved past a window whose answer was not used"
    truth.check(outcome)


def test_the_malformed_bodies_really_are_what_they_say(make_tap):
    for shape, (body, _type) in MALFORMED.items():
        if shape in ("an HTML page", "truncated JSON"):
            with pytest.raises(ValueError):
                json.loads(body)
        else:
            json.loads(body)
