"""End to end, through the real runtime: issue 14's steady state.

The runtime runs on the machine's clock, so these tests make time pass the way the TAP simulator and the
control incident allow: events are added as TAP would deliver them (created in the past, some indexed
late) and the control incident's cursors are set as a later run would find them (an operator may set them
back to replay a span; nothing is created twice). The full 5-minute schedule on a simulated clock, hours
long, is in tests/services/test_steady_state.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import e2e_helpers
import pytest
from e2e_helpers import SwitchedStack, incident, notes_text, rewind_fresh, run_rule
from scenario_builder import click, message, threat_info, tid

from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.soar.control import CURSOR_FIELD, SETTLED_FIELD, ensure_control, utcnow

pytestmark = pytest.mark.e2e

INGEST = "Proofpoint TAP: Ingest events"
SYNC = "Proofpoint TAP: Sync threat status"


def spread(names: tuple[str, ...] = ("east", "west", "north")) -> list[dict]:
    """Three threats over the last three hours (all older than the overlap): messages to several recipients
    each, a click, repeats, a new classification. Times are absolute, fixed now, so the same events can be
    delivered twice (run by run, then in one batch)."""
    base = utcnow().replace(microsecond=0)

    def at(minutes: int) -> str:
        return (base - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    out = []
    for n, name in enumerate(names):
        for k in range(4):  # with the click, 5 events: each gets a row (the default cap)
            age = 190 - 35 * k - 7 * n
            event = message(f"G-{name}-{k}", f"u{(k + n) % 4}@corp.example",
                            [threat_info(name, at=at(240), classification="malware" if k == 3 else "phish")],
                            subject=f"Invoice {name}", at=at(age))
            out.append({"type": "messagesDelivered", "event": dict(event, id=f"m-{name}-{k}"), "age": age})
        clicked = dict(click(f"G-{name}-1", f"u{(1 + n) % 4}@corp.example", name, at=at(60 + n)), threatTime=at(240))
        out.append({"type": "clicksPermitted", "age": 60 + n, "event": dict(clicked, id=f"c-{name}")})
    return out


class TapClock:
    """The TAP simulator's clock, which a test sets back to date a verdict change a few minutes ago (the fresh
    pass reads windows that ended two minutes ago)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset


CLOCK = TapClock()


@pytest.fixture(scope="module")
def running():
    with SwitchedStack(scenario={"events": {}}, tap_kwargs={"clock": CLOCK}) as stack:
        yield stack


@pytest.fixture
def stack(running):
    CLOCK.offset = timedelta(0)
    running.fresh_world({"events": {}}, clock=CLOCK)
    e2e_helpers.reset_customizations(running)
    return running


@pytest.fixture
def control(cases):
    return ensure_control(cases, now=utcnow())


def ingest(stack, control) -> dict:
    run, result = run_rule(stack, INGEST, control["id"])
    assert run["status"] == "completed", run.get("terminate_reason")
    return result


def set_cursors(cases: SoarCases, control: dict, *, fresh: datetime | None = None,
                settled: datetime | None = None) -> None:
    changes = {f"properties.{name}": when.strftime("%Y-%m-%dT%H:%M:%S.000Z")
               for name, when in ((CURSOR_FIELD, fresh), (SETTLED_FIELD, settled)) if when is not None}
    cases.patch_incident(cases.get_incident(control["id"]), changes)


def tap_state(stack) -> dict:
    """Each TAP incident as a SOC sees it: counts, fields, the events table's events, artifacts, text."""
    body = {"filters": [{"conditions": [{"field_name": "properties.pp_tap_group_key", "method": "has_a_value"}]}],
            "start": 0, "length": 1000}
    out: dict = {}
    for inc in stack.soar.post("/incidents/query_paged?return_level=full&handle_format=names", body)["data"]:
        p = inc["properties"]
        key = p["pp_tap_group_key"]
        assert key not in out, f"two incidents for {key}"
        rows = stack.soar.get(f"/incidents/{inc['id']}/table_data/pp_tap_events")["rows"]
        artifacts = stack.soar.get(f"/incidents/{inc['id']}/artifacts?handle_format=names")
        out[key] = {
            "counts": (p["pp_tap_event_count"], p["pp_tap_recipients_count"]),
            "fields": [p.get(n) for n in ("pp_tap_threat_ids", "pp_tap_classification", "pp_tap_event_types",
                                          "pp_tap_threat_status", "pp_tap_first_seen", "pp_tap_last_seen")],
            "rows": sorted(r["cells"]["pp_tap_event_key"]["value"] for r in rows),
            "artifacts": sorted((a["type"] if isinstance(a["type"], str) else a["type"]["name"], a["value"])
                                for a in artifacts),
            "name": inc["name"], "description": inc["description"],
        }
    return out


def test_a_span_ingested_run_by_run_equals_one_batch_run(stack, cases, control):
    events = spread()
    start = utcnow() - timedelta(hours=3, minutes=25)
    # run by run: each part of the span arrives, the next run settles from the span's start again (a replay
    # of what it has, the new part on top); clicks and repeats land on incidents made by earlier runs
    for oldest, newest in ((999, 140), (140, 90), (90, 0)):
        stack.tap.add_events([{"type": e["type"], "event": e["event"]} for e in events
                              if newest <= e["age"] < oldest])
        set_cursors(cases, control, fresh=start, settled=start)
        assert ingest(stack, control)["status"] == "completed"
    run_by_run = tap_state(stack)
    assert len(run_by_run) == 3

    stack.fresh_world({"events": {}}, clock=CLOCK)
    stack.tap.add_events([{"type": e["type"], "event": e["event"]} for e in events])
    batch_control = ensure_control(cases, now=utcnow())
    set_cursors(cases, batch_control, fresh=start, settled=start)
    assert ingest(stack, batch_control)["created"] == 3
    assert tap_state(stack) == run_by_run


def test_a_rerun_with_nothing_new_makes_the_same_few_calls_for_any_number_of_incidents(stack, cases, control):
    costs = []
    for count in (2, 12):
        stack.tap.add_events([{"type": "messagesDelivered", "event": message(
            f"G-{count}-{i}", "r@corp.example", [threat_info(f"calls-{count}-{i}", at="now-50m")], at="now-50m")}
            for i in range(count)])
        start = utcnow() - timedelta(hours=2)
        set_cursors(cases, control, fresh=start, settled=start)
        ingest(stack, control)
        set_cursors(cases, control, fresh=start, settled=start)
        replay = ingest(stack, control)
        assert replay["created"] == replay["updated"] == 0 and replay["events_read"] > 0
        costs.append(replay["soar_calls"])
    # read the control incident, take the lease, one incident query, save and release: whatever the count
    assert costs == [4, 4]


def test_a_late_indexed_event_is_found_and_notes_and_description_follow(stack, cases, control):
    stack.tap.add_events([{"type": "messagesDelivered", "event": message(
        "G-L1", "first@corp.example", [threat_info("late", at="now-2h")], at="now-90m")}])
    start = utcnow() - timedelta(hours=2)
    set_cursors(cases, control, fresh=start, settled=start)
    assert ingest(stack, control)["created"] == 1
    key = f"threat:{tid('late')}"
    (inc_id,) = [i["id"] for i in cases.find_by_values("pp_tap_group_key", [key])[key]]
    stack.wait_for_runs(inc_id, timeout=120)  # the automatic enrichment of the new incident has written its note
    before = len(notes_text(stack, inc_id))
    # events created 40 minutes ago that TAP indexed only now (every earlier read of their span missed them);
    # the next settle pass (due: its span is over an hour) finds them, coalesced in one note
    stack.tap.add_events([{"type": "messagesDelivered", "event": message(
        f"G-L{n}", f"{who}@corp.example", [threat_info("late", at="now-2h")], at="now-40m")}
        for n, who in ((2, "second"), (3, "third"))])
    stack.tap.add_events([{"type": "clicksPermitted", "event": click("G-L2", "second@corp.example", "late",
                                                                     at="now-39m")}])
    set_cursors(cases, control, settled=utcnow() - timedelta(minutes=95))
    found = ingest(stack, control)
    assert found["updated"] == 1 and "settle" in found["passes"]
    after = incident(stack, inc_id)
    assert after["properties"]["pp_tap_event_count"] == 4 and after["properties"]["pp_tap_recipients_count"] == 3
    description = after["description"]["content"] if isinstance(after["description"], dict) else after["description"]
    assert "Recipients (3):</b> first@corp.example, second@corp.example, third@corp.example" in description
    notes = notes_text(stack, inc_id)[before:]
    assert len(notes) == 1 and "2 new recipients" in notes[0] and "First click" in notes[0]
    # TAP clears the threat: a status change is urgent, the fresh pass writes it, the description follows
    e2e_helpers.set_pre_script(stack, "wf_pp_tap_ingest_events", pp_tap_threat_statuses="active, cleared")
    CLOCK.offset = -timedelta(minutes=4)  # TAP changed its verdict four minutes ago
    try:
        stack.tap.set_threat_status(tid("late"), "cleared")
    finally:
        CLOCK.offset = timedelta(0)
    rewind_fresh(cases, control, 5)
    cleared = ingest(stack, control)
    assert cleared["updated"] == 1 and list(cleared["passes"]) == ["fresh"]
    after = incident(stack, inc_id)
    description = after["description"]["content"] if isinstance(after["description"], dict) else after["description"]
    assert "<b>Threat status:</b> cleared" in description


def test_an_analysts_edit_survives_later_runs(stack, cases, control):
    stack.tap.add_events([{"type": "messagesDelivered", "event": message(
        "G-E1", "a@corp.example", [threat_info("edited", at="now-2h")], at="now-90m")}])
    start = utcnow() - timedelta(hours=2)
    set_cursors(cases, control, fresh=start, settled=start)
    ingest(stack, control)
    key = f"threat:{tid('edited')}"
    (found,) = cases.find_by_values("pp_tap_group_key", [key])[key]
    mine = "<p>Reviewed by Kim: user reset, mailbox purged.</p>"
    cases.patch_incident(cases.get_incident(found["id"]), {"description": {"format": "html", "content": mine}})
    stack.tap.add_events([{"type": "messagesDelivered", "event": message(
        "G-E2", "b@corp.example", [threat_info("edited", at="now-2h")], at="now-45m")}])
    set_cursors(cases, control, settled=utcnow() - timedelta(minutes=95))
    assert ingest(stack, control)["updated"] == 1
    after = incident(stack, found["id"])
    description = after["description"]["content"] if isinstance(after["description"], dict) else after["description"]
    assert description == mine
    (note,) = [n for n in notes_text(stack, found["id"]) if "new recipient" in n]
    assert "edited in SOAR" in note and "b@corp.example" in note


def test_the_sweep_backs_off_and_rechecks_within_24_hours(stack, cases, control):
    stack.tap.add_events([{"type": "messagesDelivered", "event": message(
        f"G-S{n}", "a@corp.example", [threat_info(f"sweep{n}", at="now-2h")], at="now-90m")} for n in range(3)])
    start = utcnow() - timedelta(hours=2)
    set_cursors(cases, control, fresh=start, settled=start)
    assert ingest(stack, control)["created"] == 3
    # just ingested: TAP's word on each is fresh (the SIEM events), so the sweep asks TAP about none of them
    run, first = run_rule(stack, SYNC, control["id"])
    assert run["status"] == "completed" and (first["incidents"], first["due"], first["threats"]) == (3, 0, 0)
    # one incident last known 25 hours ago: the sweep re-checks exactly that one
    key = f"threat:{tid('sweep1')}"
    (stale,) = cases.find_by_values("pp_tap_group_key", [key])[key]
    long_ago = int((utcnow() - timedelta(hours=25)).timestamp() * 1000)
    cases.patch_incident(cases.get_incident(stale["id"]), {"properties.pp_tap_checked": long_ago})
    run, second = run_rule(stack, SYNC, control["id"])
    assert (second["due"], second["threats"]) == (1, 1)
    assert incident(stack, stale["id"])["properties"]["pp_tap_checked"] > long_ago
    quiet = incident(stack, control["id"])["properties"].get("pp_tap_sync_quiet") or ""
    assert quiet.startswith("2 quiet runs"), json.dumps(quiet)
