"""One ingestion run: TAP SIEM windows in, the right SOAR incidents out, state kept on the control incident.

The decisions (filters, grouping, template, owners) come from the workflow as
:class:`~fn_pp_tap_functions.ingest.IngestInputs` (read and checked before this module runs); the pure
core in :mod:`fn_pp_tap_functions.ingest` turns events into create/update plans; this module is the I/O
around it, ordered so that a crash or a SOAR error at any point leaves nothing half-done that a rerun
would duplicate:

1. owner names are checked against SOAR before anything is written;
2. the lease on the control incident (old_value check, :mod:`fn_pp_tap_functions.soar.control`): a second
   run at the same time stops at once;
3. per window, oldest first: read every SIEM endpoint of the plan, select, group, then write each group
   (:mod:`.incidents`) and apply the close policy to the incidents of falsePositive events
   (:func:`.closing.close_from_events`);
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

from fn_pp_tap_functions.closing import ClosePolicy
from fn_pp_tap_functions.errors import InputError, SoarError, TapAppError, TapRateLimitError
from fn_pp_tap_functions.ingest import IngestInputs, IngestPolicy, group_events, select_events
from fn_pp_tap_functions.services.closing import close_from_events
from fn_pp_tap_functions.services.incidents import Tally, write_groups
from fn_pp_tap_functions.settings import IngestSettings
from fn_pp_tap_functions.soar import control as ctl
from fn_pp_tap_functions.soar.cases import Incident, SoarCases
from fn_pp_tap_functions.tap.client import TapClient
from fn_pp_tap_functions.tap.events import TapEvent
from fn_pp_tap_functions.tap.timestamps import format_tap_time
from fn_pp_tap_functions.tap.windows import plan_windows

LOG = logging.getLogger(__name__)


@dataclass
class RunReport(Tally):
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
    tap_calls: dict[str, int] = field(default_factory=dict)
    soar_calls: int = 0
    duration_s: float = 0.0
    lost_span: str | None = None
    deferred: str | None = None
    error: str | None = None
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

    def log_row(self) -> ctl.RunLogRow:
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(self.dropped.items()) if v) or "none"
        return ctl.RunLogRow(
            kind="ingest", started=self.started, window=self.window_text() or "none", status=self.status,
            error=self.error or self.lost_span or self.deferred or "", events_read=self.events_read, kept=self.kept,
            dropped=dropped, created=self.created, updated=self.updated, closed=self.closed,
            tap_calls=sum(self.tap_calls.values()), duration_s=self.duration_s)



Progress = Callable[[str], None]


def check_owners(cases: SoarCases, request: IngestInputs) -> None:
    """Every owner/member name the rules name must be a SOAR user (email) or group, before any incident."""
    names = request.owner_rules.names()
    if not names:
        return
    emails, groups = cases.principals()
    unknown = [n for n in names if n.lower() not in emails and n.lower() not in groups]
    if unknown:
        raise InputError(f"Owner rules name {', '.join(repr(n) for n in unknown)}, which "
                         f"{'is' if len(unknown) == 1 else 'are'} neither a SOAR user (by e-mail) nor a SOAR "
                         "group: correct pp_tap_owner_rules in the workflow's pre-processing script.")


def run_ingestion(cases: SoarCases, tap: TapClient, request: IngestInputs, settings: IngestSettings, *,
                  control_id: int | None = None, now: Callable[[], datetime] = ctl.utcnow,
                  progress: Progress = LOG.info, close_policy: ClosePolicy | None = None) -> RunReport:
    """One run over the windows the cursor, the window limit and the SIEM budget allow (see the module)."""
    report = RunReport(started=now(), policy=request.describe())
    clock = time.monotonic()
    check_owners(cases, request)

    control = cases.get_incident(control_id) if control_id else ctl.ensure_control(cases, now=now())
    ctl.require_control(control)
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
    written: Incident | None = None  # the control incident as the run last wrote it (None: the run broke off)
    try:
        written = _run_windows(cases, tap, request, settings, control, holder, ttl, report, now, progress,
                               close_policy)
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
        ctl.add_run_log(cases, control, report.log_row())
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


def _run_windows(cases: SoarCases, tap: TapClient, request: IngestInputs, settings: IngestSettings,
                 control: Incident, holder: str, ttl: timedelta, report: RunReport, now: Callable[[], datetime],
                 progress: Progress, close_policy: ClosePolicy | None) -> Incident:
    """Read, select, group and apply each planned window; returns the control incident as last written."""
    policy = request.policy
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
        events: list[TapEvent] = []
        for call in policy.siem_plan():
            result = tap.siem(call.endpoint, window, **filters)
            wanted = set(call.event_types)
            events.extend(e for e in result.events() if str(e.event_type) in wanted)
        report.events_read += len(events)
        selection = select_events(events, policy)
        report.kept += len(selection.kept)
        for reason, count in selection.dropped.items():
            report.dropped[reason] = report.dropped.get(reason, 0) + count
        write_groups(cases, group_events(selection.kept, policy), request, report, now=now())
        if close_policy is not None:
            close_from_events(cases, tap, events, close_policy, now=now(), on_close=report.count_closed)
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
