"""The chaos suite's scenario, its truth, and the comparison of SOAR's whole state with it.

One scenario in two waves: wave 1 makes three incidents (a baseline run ingests it); wave 2 brings what
makes every kind of write happen in the next run: two new threats (incident creates), a new recipient of an
open incident (artifact, row, note, PATCH), a first click (row, note, PATCH), the cursor saves and the run
log on the control incident. A fault is injected into that second run; then runs follow, as a scheduler
would start them, until one completes; then SOAR must hold exactly what the scenario says:

* from the scenario itself (independent of the app's code): one incident per threat, ``pp_tap_event_count``
  = its events, ``pp_tap_recipients_count`` = its distinct recipients, one events-table row per event;
* from a run of the same scenario without any fault (what a template and the note policy decide):
  the same artifacts and the same number of notes on every incident.

Each comparison is a :class:`Report` (0 lost, 0 duplicated, exact counts, or what differs); the suite
prints them as one table at the end and writes them to ``build/chaos-report.md``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from scenario_builder import click, message, threat_info, tid

from fn_pp_tap_functions.soar import control as ctl
from fn_pp_tap_functions.tap.timestamps import format_tap_time, parse_tap_time

EVENT_COUNT, RECIPIENTS = "pp_tap_event_count", "pp_tap_recipients_count"
EVENTS_TABLE, EVENT_KEY = "pp_tap_events", "pp_tap_event_key"

# ----------------------------------------------------------------------------------------- the scenario


def _wave1() -> dict[str, list[dict[str, Any]]]:
    return {
        "messagesDelivered": [
            message("C-A", "r1@corp.example", [threat_info("c-alpha", at="now-5h")], at="now-5h"),
            message("C-A", "r2@corp.example", [threat_info("c-alpha", at="now-5h")], at="now-5h"),
            message("C-B", "r3@corp.example", [threat_info("c-bravo", classification="malware", at="now-4h")],
                    at="now-4h"),
            message("C-C", "r4@corp.example", [threat_info("c-charlie", at="now-3h")], at="now-3h"),
            message("C-C", "r5@corp.example", [threat_info("c-charlie", at="now-3h")], at="now-3h"),
        ],
        "clicksPermitted": [click("C-A", "r1@corp.example", "c-alpha", at="now-4h")],
    }


def _wave2() -> list[dict[str, Any]]:
    return [
        # indexed late: older than the overlap when it appears, so the settle pass finds it
        {"type": "messagesDelivered", "event": message("C-A2", "r6@corp.example",
                                                       [threat_info("c-alpha", at="now-5h")], at="now-40m")},
        {"type": "clicksPermitted", "event": click("C-B", "r3@corp.example", "c-bravo", at="now-12m",
                                                   classification="malware")},
        {"type": "messagesDelivered", "event": message("C-D", "r7@corp.example", [threat_info("c-delta", at="now-12m")],
                                                       at="now-12m")},
        {"type": "messagesDelivered", "event": message("C-E", "r8@corp.example", [threat_info("c-echo", at="now-12m")],
                                                       at="now-12m")},
        {"type": "messagesDelivered", "event": message("C-E", "r9@corp.example", [threat_info("c-echo", at="now-12m")],
                                                       at="now-12m")},
    ]


WAVE1 = _wave1()
WAVE2 = _wave2()
"""Built once, so event ids are the same in every test (and in the reference run)."""


def key(name: str) -> str:
    return f"threat:{tid(name)}"


def count(every: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """(events, distinct recipients) per group key, counted from raw TAP events."""
    events: dict[str, set[str]] = {}
    recipients: dict[str, set[str]] = {}
    for event in every:
        ids = [t["threatID"] for t in event.get("threatsInfoMap", [])] or [event["threatID"]]
        for threat_id in ids:
            events.setdefault(f"threat:{threat_id}", set()).add(event["id"])
            people = event["recipient"] if isinstance(event["recipient"], list) else [event["recipient"]]
            recipients.setdefault(f"threat:{threat_id}", set()).update(people)
    return {k: (len(v), len(recipients[k])) for k, v in events.items()}


WAVE1_TRUTH = count([e for items in WAVE1.values() for e in items])
"""The truth after wave 1 alone (what the tests that never add wave 2 compare with)."""
TRUTH = count([e for items in WAVE1.values() for e in items] + [w["event"] for w in WAVE2])
"""The truth after both waves."""


def tap_scenario() -> dict[str, Any]:
    return {"events": {k: [dict(e) for e in v] for k, v in WAVE1.items()}}


def wave2_events() -> list[dict[str, Any]]:
    return [{"type": w["type"], "event": dict(w["event"])} for w in WAVE2]


LATER_MINUTES = 65
"""How much later than the baseline run the wave-2 run comes: enough for both of its passes (the fresh pass
and the settle pass, due every 60 minutes by default) to run, as they do in production an hour on."""


def add_wave2(tap: Any, cases: Any, control_id: int) -> None:
    """Wave 2 arrives and the next run comes :data:`LATER_MINUTES` later. The stand-ins run on the real clock,
    so "later" is the control incident's two cursors moved back by that much (what a run that much later
    finds, relative to the events); the events themselves are dated as TAP would date them."""
    tap.add_events(wave2_events())
    later_cursors(cases, control_id, LATER_MINUTES)


def later_cursors(cases: Any, control_id: int, minutes: float) -> None:
    """Both cursors of the control incident moved back by ``minutes`` (those it has)."""
    control = cases.get_incident(control_id)
    props = control.get("properties") or {}
    changes = {}
    for name in (ctl.CURSOR_FIELD, ctl.SETTLED_FIELD):
        when = parse_tap_time(props.get(name)) if isinstance(props.get(name), str) else None
        if when is not None:
            changes[f"properties.{name}"] = format_tap_time(when - timedelta(minutes=minutes))
    cases.patch_incident(control, changes)


WRITES: dict[str, tuple[str, str, int]] = {
    # each kind of write in the wave-2 run -> (method, path regex below the org, how many pass before the
    # one hit); {control} is the control incident's id
    "incident create": ("POST", r"/incidents$", 1),
    "artifact": ("POST", r"/incidents/\d+/artifacts$", 0),
    "row": ("POST", r"/incidents/\d+/table_data/pp_tap_events/row_data$", 2),
    "note": ("POST", r"/incidents/\d+/comments$", 0),
    "incident PATCH": ("*", r"/incidents/(?!{control}$)\d+$|/incidents/patch$", 0),
    "control PATCH": ("*", r"/incidents/{control}$|/incidents/patch$", 1),
    "run-log row": ("POST", r"/incidents/{control}/table_data/pp_tap_ingest_runs/row_data$", 0),
}

# ----------------------------------------------------------------------------------------- SOAR's state

@dataclass
class Seen:
    """One TAP incident as SOAR holds it."""

    id: int
    key: str
    open: bool
    duplicate: bool
    fields: dict[str, Any]
    artifacts: Counter[tuple[str, str]]
    rows: Counter[str]
    notes: int


def _text(value: Any) -> str:
    return value.get("name", "") if isinstance(value, dict) else str(value or "")


def read_state(client: Any) -> dict[str, list[Seen]]:
    """Every TAP incident (open or closed) with its artifacts, rows and notes, by group key."""
    body = {"filters": [{"conditions": [{"field_name": "properties.pp_tap_group_key", "method": "has_a_value"}]}],
            "start": 0, "length": 1000}
    found: dict[str, list[Seen]] = {}
    for inc in client.post("/incidents/query_paged?return_level=full&handle_format=names", body)["data"]:
        iid = int(inc["id"])
        artifacts = client.get(f"/incidents/{iid}/artifacts?handle_format=names")
        rows = client.get(f"/incidents/{iid}/table_data/{EVENTS_TABLE}")["rows"]
        notes = client.get(f"/incidents/{iid}/comments")
        props = inc.get("properties") or {}
        status = str(inc.get("plan_status") or "A")
        seen = Seen(
            id=iid, key=props["pp_tap_group_key"], open=status.upper().startswith("A"),
            duplicate=not status.upper().startswith("A") and "duplicate" in _text(inc.get("resolution_id")).lower(),
            fields={EVENT_COUNT: props.get(EVENT_COUNT), RECIPIENTS: props.get(RECIPIENTS)},
            artifacts=Counter((_text(a.get("type")), str(a.get("value"))) for a in artifacts),
            rows=Counter(str((r.get("cells") or {}).get(EVENT_KEY, {}).get("value")) for r in rows),
            notes=len(notes))
        found.setdefault(seen.key, []).append(seen)
    return found


# ----------------------------------------------------------------------------------------- comparing

@dataclass
class Report:
    """What one fault left: all zeros (and ``exact``) is the only passing outcome."""

    fault: str
    incidents: str = ""
    lost: int = 0
    duplicated: int = 0
    merged: int = 0
    artifacts: str = ""
    rows: str = ""
    notes: str = ""
    counts_wrong: list[str] = field(default_factory=list)
    runs: int = 0
    note: str = ""

    @property
    def exact(self) -> bool:
        return not (self.lost or self.duplicated or self.counts_wrong or self.note)

    def problems(self) -> str:
        parts = [f"{self.lost} lost", f"{self.duplicated} duplicated"] + self.counts_wrong
        return "; ".join(parts + ([self.note] if self.note else []))


REPORTS: list[Report] = []
"""Every report of the session, for the summary table."""


def _canonical(items: list[Seen]) -> tuple[Seen | None, int]:
    """The incident that stands for a group, and how many others were merged into it (closed as duplicates)."""
    live = [s for s in items if not s.duplicate]
    return (min(live, key=lambda s: s.id) if live else None), len(items) - len(live)


def compare(fault: str, state: dict[str, list[Seen]], reference: dict[str, list[Seen]] | None, *,
            runs: int = 0, keys: dict[str, tuple[int, int]] | None = None) -> Report:
    """SOAR's state against the truth (and the fault-free ``reference`` for artifacts and notes)."""
    truth = TRUTH if keys is None else keys
    report = Report(fault=fault, runs=runs)
    lost_art = dup_art = lost_rows = dup_rows = 0
    want_art = got_art = want_rows = got_rows = want_notes = got_notes = 0
    for group, (events, recipients) in sorted(truth.items()):
        items = state.get(group, [])
        incident, merged = _canonical(items)
        report.merged += merged
        if incident is None:
            report.lost += 1
            continue
        report.duplicated += len(items) - merged - 1
        ref = (reference or {}).get(group)
        expected_art = ref[0].artifacts if ref else None
        if expected_art is not None:
            want_art += sum(expected_art.values())
            got_art += sum(incident.artifacts.values())
            lost_art += sum((expected_art - incident.artifacts).values())
            dup_art += sum((incident.artifacts - expected_art).values())
            want_notes += ref[0].notes if ref else 0
            got_notes += incident.notes
            if ref:
                report.lost += max(0, ref[0].notes - incident.notes)
                report.duplicated += max(0, incident.notes - ref[0].notes)
                if ref[0].notes != incident.notes:
                    report.counts_wrong.append(f"{group[7:15]} notes {ref[0].notes}->{incident.notes}")
        want_rows += events
        got_rows += sum(incident.rows.values())
        lost_rows += max(0, events - len(incident.rows))
        dup_rows += sum(n - 1 for n in incident.rows.values() if n > 1)
        for name, value in ((EVENT_COUNT, events), (RECIPIENTS, recipients)):
            if incident.fields.get(name) != value:
                report.counts_wrong.append(f"{group[7:15]} {name[7:]} {value}->{incident.fields.get(name)}")
    extra = [g for g in state if g not in truth]
    report.duplicated += sum(len(state[g]) for g in extra)
    report.lost += lost_art + lost_rows
    report.duplicated += dup_art + dup_rows
    report.incidents = f"{len(truth)}/{sum(len(v) for v in state.values())}"
    report.artifacts = f"{want_art}/{got_art}" if reference is not None else "-"
    report.rows = f"{want_rows}/{got_rows}"
    report.notes = f"{want_notes}/{got_notes}" if reference is not None else "-"
    REPORTS.append(report)
    return report


def check(report: Report) -> None:
    """The assertion every chaos test ends with."""
    assert report.exact, f"{report.fault}: {report.problems()} (incidents {report.incidents}, artifacts " \
                         f"{report.artifacts}, rows {report.rows}, notes {report.notes})"


def until_completed(run: Callable[[], str], *, lease_s: float, tries: int = 4,
                    lease_left: Callable[[], float] | None = None) -> int:
    """Run again as a scheduler would, until a run completes; a run that finds the lease taken waits for it
    to expire first (``lease_left``: seconds until the lease held now expires, else ``lease_s``). Returns the
    number of runs made."""
    for attempt in range(1, tries + 1):
        status = run()
        if status in ("completed", "nothing to do"):  # nothing to do: the interrupted run had applied it all
            return attempt
        if status == "busy":
            wait = lease_s if lease_left is None else min(lease_s, lease_left())
            time.sleep(max(0.0, wait) + 0.3)
    raise AssertionError(f"no run completed in {tries} tries (last: {status})")


def table(reports: list[Report]) -> str:
    """The summary, one line per fault."""
    head = ("fault", "incidents exp/got", "lost", "dup", "merged", "artifacts exp/got", "rows exp/got",
            "notes exp/got", "runs", "counts")
    lines = [head] + [(r.fault, r.incidents, str(r.lost), str(r.duplicated), str(r.merged), r.artifacts, r.rows,
                       r.notes, str(r.runs), "exact" if r.exact else ", ".join(r.counts_wrong + [r.note])[:90])
                      for r in reports]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)
