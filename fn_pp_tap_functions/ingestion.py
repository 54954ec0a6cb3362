"""One ingestion run: TAP SIEM windows in, the right SOAR incidents out, state kept on the control incident.

The decisions (filters, grouping, template, owners) come from the workflow as an :class:`IngestPolicy`;
the pure core in :mod:`fn_pp_tap_functions.ingest` turns events into create/update plans; this module
is the I/O around it, ordered so that a crash or a SOAR error at any point leaves nothing half-done
that a rerun would duplicate:

1. checks that cost nothing (template renders, owner names exist) before anything is written;
2. the lease on the control incident (old_value check): a second run at the same time stops at once;
3. per window, oldest first: read every SIEM endpoint of the plan, select, group, then for each group
   find its incident by group key (one query per 200 groups), create it or add only what it lacks:
   artifacts (compared with what it has), table rows (compared by event key), notes (compared by
   text), and last the bookkeeping fields in one PATCH;
4. after each window the cursor moves to the window's end in the same PATCH that renews the lease;
5. a 429 stops the run cleanly (the cursor stays where the data stops); any other error stops it too;
   either way a row is added to the run log and the lease is released.

A rerun over the same window therefore finds what was already written and adds only the rest.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fn_pp_tap_functions import control as ctl
from fn_pp_tap_functions.errors import InputError, SoarConflictError, SoarError, TapAppError, TapRateLimitError
from fn_pp_tap_functions.fp_closing import apply as apply_decision
from fn_pp_tap_functions.fp_closing import check_threats
from fn_pp_tap_functions.ingest import (
    ClosedAction,
    GroupEvidence,
    IncidentSnapshot,
    IngestPolicy,
    apply_owner_rules,
    decide_closed,
    group_events,
    plan_create,
    plan_update,
    select_events,
    select_template,
)
from fn_pp_tap_functions.ingest import fields as F
from fn_pp_tap_functions.soar_cases import SoarCases, row_cells
from fn_pp_tap_functions.tap.client import TapClient
from fn_pp_tap_functions.tap.timestamps import format_tap_time
from fn_pp_tap_functions.tap.windows import plan_windows
from fn_pp_tap_functions.threat_status import ClosePolicy, ThreatCheck, decide, threat_ids_of

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestSettings:
    """Operational limits from app.config (the SOC's decisions are in the policy, not here)."""

    max_windows_per_run: int = 24
    overlap_minutes: int = 30
    lease_minutes: int = 15
    siem_daily_budget: int = 1500
    incident_template_path: str | None = None


@dataclass
class RunReport:
    """What one run did; becomes the run-log row and the function result."""

    status: str = "completed"
    started: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    windows_done: int = 0
    windows_left: bool = False
    events_read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    created: int = 0
    updated: int = 0
    closed: int = 0
    unchanged: int = 0
    tap_calls: dict[str, int] = field(default_factory=dict)
    soar_calls: int = 0
    duration_s: float = 0.0
    lost_span: str | None = None
    deferred: str | None = None
    error: str | None = None
    incident_ids: list[int] = field(default_factory=list)
    policy: dict[str, Any] = field(default_factory=dict)

    def window_text(self) -> str:
        if self.window_start is None or self.window_end is None:
            return ""
        return f"{format_tap_time(self.window_start)}/{format_tap_time(self.window_end)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "window": self.window_text(), "windows_done": self.windows_done,
            "windows_left": self.windows_left, "events_read": self.events_read, "kept": self.kept,
            "dropped": dict(self.dropped), "created": self.created, "updated": self.updated,
            "closed": self.closed, "unchanged": self.unchanged, "tap_calls": dict(self.tap_calls),
            "tap_calls_total": sum(self.tap_calls.values()), "soar_calls": self.soar_calls,
            "duration_s": round(self.duration_s, 2), "lost_span": self.lost_span, "deferred": self.deferred,
            "error": self.error, "incident_ids": sorted(set(self.incident_ids)), "policy": self.policy,
        }

    def log_row(self) -> dict[str, Any]:
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(self.dropped.items()) if v) or "none"
        return {
            "pp_tap_run_started": int(self.started.timestamp() * 1000) if self.started else None,
            "pp_tap_run_kind": "ingest",
            "pp_tap_run_window": self.window_text() or "none",
            "pp_tap_run_events_read": self.events_read,
            "pp_tap_run_kept": self.kept,
            "pp_tap_run_dropped": dropped,
            "pp_tap_run_created": self.created,
            "pp_tap_run_updated": self.updated,
            "pp_tap_run_closed": self.closed,
            "pp_tap_run_tap_calls": sum(self.tap_calls.values()),
            "pp_tap_run_duration": round(self.duration_s, 1),
            "pp_tap_run_status": self.status,
            "pp_tap_run_error": (self.error or self.lost_span or self.deferred or "")[:4000],
        }


Progress = Callable[[str], None]


def check_owners(cases: SoarCases, policy: IngestPolicy, template_owner_names: tuple[str, ...]) -> None:
    """Every owner/member name the rules name must be a SOAR user (email) or group, before any incident."""
    names = tuple(policy.owner_rules.names()) + template_owner_names
    if not names:
        return
    emails, groups = cases.principals()
    unknown = [n for n in names if n.lower() not in emails and n.lower() not in groups]
    if unknown:
        raise InputError(f"Owner rules name {', '.join(repr(n) for n in unknown)}, which "
                         f"{'is' if len(unknown) == 1 else 'are'} neither a SOAR user (by e-mail) nor a SOAR "
                         "group: correct pp_tap_owner_rules in the workflow's pre-processing script.")


def run_ingestion(cases: SoarCases, tap: TapClient, policy: IngestPolicy, settings: IngestSettings, *,
                  control_id: int | None = None, now: Callable[[], datetime] = ctl.utcnow,
                  template_file_text: str | None = None, progress: Progress = LOG.info,
                  close_policy: ClosePolicy | None = None) -> RunReport:
    report = RunReport(started=now(), policy=policy.describe())
    clock = time.monotonic()
    template = policy.template or select_template(None, template_file_text, settings.incident_template_path)
    template.check()  # a template that cannot render is reported before anything is written
    check_owners(cases, policy, ())

    control = cases.get_incident(control_id) if control_id else ctl.ensure_control(cases, now=now())
    if ctl.props(control).get(ctl.CONTROL_FIELD) != ctl.CONTROL_VALUE:
        raise InputError(f"Incident {control.get('id')} is not the Proofpoint TAP ingestion control incident "
                         f"(its field {ctl.CONTROL_FIELD} is not '{ctl.CONTROL_VALUE}'); run ingestion from "
                         "the control incident.")
    holder = uuid.uuid4().hex
    ttl = timedelta(minutes=settings.lease_minutes)
    try:
        control = ctl.acquire_lease(cases, control, holder, now=now(), ttl=ttl)
    except ctl.LeaseBusy as busy:
        report.status = "busy"
        report.error = f"Skipped: {busy}."
        report.soar_calls = cases.calls
        return report

    tap_calls_before = dict(tap.calls)
    written: dict | None = None  # the control incident as the run last wrote it (None: the run broke off)
    try:
        written = _run_windows(cases, tap, policy, settings, template, control, holder, ttl, report, now,
                               progress, close_policy)
    except TapRateLimitError as err:
        report.status = "throttled"
        report.error = str(err)
    except (TapAppError, SoarError) as err:
        report.status = "failed"
        report.error = str(err)
    finally:
        report.tap_calls = {k: v - tap_calls_before.get(k, 0) for k, v in tap.calls.items()
                            if v - tap_calls_before.get(k, 0)}
        report.duration_s = time.monotonic() - clock
        _finish(cases, control, written, holder, report)
    return report


def _finish(cases: SoarCases, control: Mapping[str, Any], written: Mapping[str, Any] | None, holder: str,
            report: RunReport) -> None:
    """Run-log row and lease release: best effort, a failure here must not hide the run's own error."""
    try:
        cases.add_row(int(control["id"]), ctl.RUNS_TABLE, report.log_row())
        if report.lost_span:
            cases.add_note(int(control["id"]), f"<p><b>Proofpoint TAP ingestion could not read {report.lost_span}"
                                               "</b>: it is older than TAP's 7-day look-back. Events of that span "
                                               "are lost to ingestion; review them in the TAP dashboard.</p>")
    except SoarError as err:
        LOG.warning("could not write the ingestion run log: %s", err)
        if report.status == "completed":
            report.status, report.error = "failed", str(err)
    try:
        # a run that broke off may or may not have landed its last PATCH: read the lease before releasing
        # it; otherwise our last save is what SOAR holds (and a clean end already gave the lease up there)
        current = written if written is not None else cases.get_incident(int(control["id"]))
        ctl.release_lease(cases, current, holder)
    except SoarError as err:
        LOG.warning("could not release the ingestion lease (it expires by itself): %s", err)
    report.soar_calls = cases.calls


def _calls_per_window(policy: IngestPolicy) -> dict[str, int]:
    per_pool: dict[str, int] = {}
    for call in policy.siem_plan():
        per_pool[str(call.pool)] = per_pool.get(str(call.pool), 0) + 1
    return per_pool


def _run_windows(cases: SoarCases, tap: TapClient, policy: IngestPolicy, settings: IngestSettings, template: Any,
                 control: dict, holder: str, ttl: timedelta, report: RunReport, now: Callable[[], datetime],
                 progress: Progress, close_policy: ClosePolicy | None) -> dict:
    """Read, select, group and apply each planned window; returns the control incident as last written."""
    current = now()
    cursor = ctl.read_cursor(control)
    if cursor is None:
        start = current - timedelta(hours=policy.lookback_hours)
    else:
        start = cursor - timedelta(minutes=settings.overlap_minutes)
    budget = ctl.Budget.parse(ctl.props(control).get(ctl.BUDGET_FIELD), now=current)
    per_window = _calls_per_window(policy)
    allowed = settings.max_windows_per_run
    for pool, calls in per_window.items():
        allowed = min(allowed, (settings.siem_daily_budget - budget.used_24h(pool)) // calls)
    if allowed < 1:
        report.status = "budget"
        report.error = (f"The SIEM budget of {settings.siem_daily_budget} calls per 24 h per pool is used up "
                        f"({', '.join(f'{p}: {budget.used_24h(p)}' for p in per_window)}); ingestion resumes "
                        "when older calls age out of the 24-hour window.")
        return control
    if start >= current:
        report.status = "nothing to do"
        return control
    plan = plan_windows(start, now=current, max_windows=allowed)
    if plan.skipped is not None:
        report.lost_span = f"{plan.skipped.interval}"
        if cursor is not None or policy.lookback_hours >= 168:
            progress(f"Events from {plan.skipped.interval} are older than TAP's 7-day look-back and are lost")
        else:
            report.lost_span = None
    if plan.deferred_tail is not None:
        report.deferred = f"{plan.deferred_tail.interval} left for a later run ({plan.deferred_reason})"
        report.windows_left = plan.deferred_reason == "window limit reached"
    if not plan.windows:
        report.status = "nothing to do"
        if plan.skipped is not None:
            control = ctl.save_progress(cases, control, holder, {ctl.CURSOR_FIELD: format_tap_time(plan.next_start)},
                                        now=now(), ttl=ttl, release=True)
        return control

    filters = policy.siem_filters()
    if close_policy is not None:
        # ask TAP for the closing statuses too (it leaves false positives out unless asked): such events
        # never create incidents (the selection drops them) but close the incidents of their threats now
        wanted = set(filters["threat_statuses"]) | set(close_policy.close_statuses)
        filters = dict(filters, threat_statuses=tuple(sorted(wanted)))
    total = len(plan.windows)
    for index, window in enumerate(plan.windows, start=1):
        progress(f"Window {index} of {total}: {window.interval}")
        before = dict(tap.calls)
        events = []
        for call in policy.siem_plan():
            result = tap.siem(call.endpoint, window, **filters)
            wanted = set(call.event_types)
            events.extend(e for e in result.events() if str(e.event_type) in wanted)
        report.events_read += len(events)
        selection = select_events(events, policy)
        report.kept += len(selection.kept)
        for reason, count in selection.dropped.items():
            report.dropped[reason] = report.dropped.get(reason, 0) + count
        groups = group_events(selection.kept, policy)
        apply_groups(cases, groups, policy, template, report, now=now())
        if close_policy is not None:
            close_from_events(cases, tap, events, close_policy, report, now=now())
        budget.add({k: v - before.get(k, 0) for k, v in tap.calls.items()}, now=now())
        control = ctl.save_progress(
            cases, control, holder, {ctl.CURSOR_FIELD: format_tap_time(window.end), ctl.BUDGET_FIELD: budget.text()},
            now=now(), ttl=ttl, release=index == total)
        report.window_start = report.window_start or window.start
        report.window_end = window.end
        report.windows_done = index
    if plan.skipped is not None and report.lost_span:
        report.window_start = plan.skipped.start
    progress(f"Read {report.events_read} events, kept {report.kept}: {report.created} incidents created, "
             f"{report.updated} updated")
    if report.windows_left:
        report.status = "partial"
    return control


# ---------------------------------------------------------------------------------------- verdicts

def close_from_events(cases: SoarCases, tap: TapClient, events: list, policy: ClosePolicy, report: RunReport, *,
                      now: datetime) -> None:
    """SIEM events that carry a closing status (falsePositive, cleared if chosen) apply the close policy to
    the open incidents of their threats at once, without waiting for the sweep."""
    verdicts: dict[str, ThreatCheck] = {}
    for event in events:
        for threat in event.threats:
            if threat.threat_id and threat.status in policy.close_statuses:
                verdicts[threat.threat_id] = ThreatCheck(threat.threat_id, status=threat.status,
                                                         dashboard_url=threat.threat_url,
                                                         changed_at=threat.threat_time)
    if not verdicts:
        return
    incidents: dict[int, dict] = {}
    for threat_id in sorted(verdicts):
        for incident in cases.query([{"field_name": f"properties.{F.THREAT_IDS}", "method": "contains",
                                      "value": threat_id},
                                     {"field_name": "plan_status", "method": "equals", "value": "A"}]):
            incidents[int(incident["id"])] = incident
    if not incidents:
        return
    others = {t for inc in incidents.values() for t in threat_ids_of(inc)} - set(verdicts)
    checks = dict(check_threats(tap, others)) if others and policy.match == "all" else {}
    checks.update(verdicts)
    for incident_id in sorted(incidents):
        outcome = apply_decision(cases, incidents[incident_id], decide(incidents[incident_id], checks, policy,
                                                                       now=now))
        if outcome == "close":
            report.closed += 1
            report.incident_ids.append(incident_id)


# ---------------------------------------------------------------------------------------- incidents

def _pick(incidents: list[dict]) -> dict | None:
    """The incident a group's events go to: the newest open one, else the newest closed one."""
    if not incidents:
        return None
    open_ = [i for i in incidents if str(i.get("plan_status", "A")).upper().startswith("A")]
    pool = open_ or incidents
    return max(pool, key=lambda i: int(i["id"]))


def snapshot_of(cases: SoarCases, incident: Mapping[str, Any]) -> IncidentSnapshot:
    incident_id = int(incident["id"])
    artifacts = [((a.get("type") or {}).get("name") if isinstance(a.get("type"), Mapping) else a.get("type"),
                  a.get("value")) for a in cases.artifacts(incident_id)]
    rows = [row_cells(r) for r in cases.rows(incident_id, F.EVENTS_TABLE)]
    return IncidentSnapshot.build(
        incident_id, str(incident.get("plan_status") or "A"), incident.get("properties") or {},
        artifacts=[(str(t), str(v)) for t, v in artifacts if t and v is not None],
        event_keys=[str(r.get(F.COL_EVENT_KEY)) for r in rows if r.get(F.COL_EVENT_KEY)],
        severity=incident.get("severity_code") if isinstance(incident.get("severity_code"), str) else None,
        row_count=len(rows),
    )


def apply_groups(cases: SoarCases, groups: Mapping[str, GroupEvidence], policy: IngestPolicy, template: Any,
                 report: RunReport, *, now: datetime) -> None:
    if not groups:
        return
    existing = cases.find_by_values(F.GROUP_KEY, groups.keys())
    for key in sorted(groups):
        group = groups[key]
        draft = apply_owner_rules(template.render(group, now=now), policy.owner_rules, group)
        target = _pick(existing.get(key, []))
        if target is None:
            report.incident_ids.append(_create(cases, group, draft, now=now))
            report.created += 1
            continue
        snapshot = snapshot_of(cases, target)
        action = decide_closed(policy, snapshot, group)
        if action is ClosedAction.SKIP:
            report.unchanged += 1
            continue
        if action is ClosedAction.NEW:
            report.incident_ids.append(_create(cases, group, draft, now=now))
            report.created += 1
            continue
        if _update(cases, target, snapshot, group, draft, policy):
            report.updated += 1
            report.incident_ids.append(int(target["id"]))
        else:
            report.unchanged += 1


def _create(cases: SoarCases, group: GroupEvidence, draft: Any, *, now: datetime) -> int:
    plan = plan_create(group, draft)
    body = dict(plan.incident)
    body.setdefault("discovered_date", int(now.timestamp() * 1000))
    body["artifacts"] = [{"type": {"name": a.type}, "value": a.value,
                          "description": {"format": "text", "content": a.description or ""}}
                         for a in plan.artifacts]
    incident = cases.create_incident(body)
    incident_id = int(incident["id"])
    for row in plan.rows:
        cases.add_row(incident_id, F.EVENTS_TABLE, row)
    for note in plan.notes:
        cases.add_note(incident_id, note)
    return incident_id


def _update(cases: SoarCases, incident: dict, snapshot: IncidentSnapshot, group: GroupEvidence, draft: Any,
            policy: IngestPolicy) -> bool:
    update = plan_update(snapshot, group, draft, closed_policy=policy.closed_policy)
    if update.is_empty:
        return False
    incident_id = int(incident["id"])
    for artifact in update.new_artifacts:
        cases.add_artifact(incident_id, artifact.type, artifact.value, artifact.description or "")
    for row in update.new_rows:
        cases.add_row(incident_id, F.EVENTS_TABLE, row)
    if update.notes:
        # Notes before the bookkeeping PATCH, compared by text: a rerun after a failed PATCH
        # finds them and does not write them twice; a crash before them loses none.
        have = {((n.get("text") or {}).get("content") if isinstance(n.get("text"), Mapping) else n.get("text"))
                for n in cases.notes(incident_id)}
        for note in update.notes:
            if note not in have:
                cases.add_note(incident_id, note)
    if update.field_changes:
        try:
            cases.patch_incident(incident, update.field_changes)
        except SoarConflictError:
            # an analyst changed the incident meanwhile: re-read it and apply what is still ours to apply
            fresh = cases.get_incident(incident_id)
            again = plan_update(snapshot_of(cases, fresh), group, draft, closed_policy=policy.closed_policy)
            cases.patch_incident(fresh, again.field_changes)
    return True
