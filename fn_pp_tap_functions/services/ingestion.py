"""One ingestion run: TAP SIEM windows in, the right SOAR incidents out, state kept on the control incident.

The decisions (filters, grouping, templates, owners) come from the workflow as
:class:`~fn_pp_tap_functions.ingest.IngestInputs` (read and checked before this module runs); the pure
core in :mod:`fn_pp_tap_functions.ingest` turns events into create/update plans; this module is the I/O
around it, ordered so that a crash or a SOAR error at any point leaves nothing half-done that a rerun
would duplicate:

1. owner names are checked against SOAR before anything is written;
2. the control incident is read and every field checked (:func:`~.control.read_state`): a value the app
   cannot use is reset in the lease PATCH, with a note saying what was found;
3. the lease (old_value check; never trusted beyond SOAR's clock): a second run at the same time stops at
   once. Every later write checks on the monotonic clock that the lease outlives the SOAR timeout
   (``fence``), renewing it when it does not;
4. journals a broken-off run left on incidents are finished (:mod:`.journal`), when its lease says so;
5. the SETTLE pass (when due) and the FRESH pass (:mod:`.passes`), window by window, oldest first: read
   every SIEM endpoint of the plan (an answer of the wrong shape fails the window), select, group, write
   (:mod:`.incidents`), apply the close policy to the incidents of falsePositive events
   (:func:`.closing.close_from_events`);
6. after each window its cursor moves, in the same call that renews the lease and clears the window's
   journals; the last window's call releases the lease instead of renewing it;
7. a 429 stops the run cleanly (the cursor stays where the data stops); any other error, expected or not,
   stops it as ``failed`` with a message naming the cause; either way the run log gets a row (a run that
   changed nothing is only counted, see :class:`~.control.Quiet`) and the lease is released.

A rerun over the same window therefore finds what was already written and adds only the rest.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.closing import ClosePolicy
from fn_pp_tap_functions.errors import InputError, SoarConflictError, SoarError, TapAppError, TapRateLimitError
from fn_pp_tap_functions.ingest import IngestInputs, IngestPolicy, group_events, select_events
from fn_pp_tap_functions.services.closing import close_from_events
from fn_pp_tap_functions.services.incidents import Tally, Writer
from fn_pp_tap_functions.services.journal import reconcile
from fn_pp_tap_functions.services.passes import FRESH, SETTLE, plan_passes
from fn_pp_tap_functions.settings import IngestSettings
from fn_pp_tap_functions.soar import control as ctl
from fn_pp_tap_functions.soar.cases import Incident, SoarCases
from fn_pp_tap_functions.tap.client import TapClient
from fn_pp_tap_functions.tap.events import TapEvent
from fn_pp_tap_functions.tap.timestamps import format_tap_time
from fn_pp_tap_functions.tap.windows import Window, WindowPlan

LOG = logging.getLogger(__name__)
MIN_MARGIN_S = 60.0
MAX_BATCH_EVENTS = 60_000
"""A pass's windows are read together and written once, up to this many events (a catch-up after an
outage writes in batches of about this size, so memory stays bounded)."""
LEASE_LOST = ("This run no longer holds the ingestion lease (another run took it, or someone changed the control "
              "incident's lease); it stopped without writing more. The next run continues from the last saved "
              "cursor and finishes what this one started.")


@dataclass
class RunReport(Tally):
    """What one run did; becomes the run-log row and the function result."""

    status: str = "completed"
    started: datetime | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    windows_done: int = 0
    windows_left: bool = False
    passes: dict[str, str] = field(default_factory=dict)
    events_read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    tap_calls: dict[str, int] = field(default_factory=dict)
    soar_calls: int = 0
    duration_s: float = 0.0
    lost_span: str | None = None
    deferred_span: str | None = None
    error: str | None = None
    reset: list[str] = field(default_factory=list)
    policy: dict[str, Any] = field(default_factory=dict)

    def window_text(self) -> str:
        if self.window_start is None or self.window_end is None:
            return ""
        return f"{format_tap_time(self.window_start)}/{format_tap_time(self.window_end)}"

    @property
    def quiet(self) -> bool:
        """Nothing changed and nothing went wrong: counted on the control incident, no run-log row."""
        return self.status in ("completed", "nothing to do") and not self.changed and not self.lost_span \
            and not self.reset

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status, "window": self.window_text(), "passes": dict(self.passes),
            "windows_done": self.windows_done, "windows_left": self.windows_left, "events_read": self.events_read,
            "kept": self.kept, "dropped": dict(self.dropped), "created": self.created, "updated": self.updated,
            "closed": self.closed, "merged": self.merged, "unchanged": self.unchanged, "deferred": self.deferred,
            "tap_calls": dict(self.tap_calls), "tap_calls_total": sum(self.tap_calls.values()),
            "soar_calls": self.soar_calls, "duration_s": round(self.duration_s, 2), "lost_span": self.lost_span,
            "deferred_span": self.deferred_span, "error": self.error, "reset": list(self.reset),
            "incident_ids": sorted(set(self.incident_ids)), "policy": self.policy,
        }

    def log_row(self) -> ctl.RunLogRow:
        dropped = ", ".join(f"{k} {v}" for k, v in sorted(self.dropped.items()) if v) or "none"
        remarks = [r for r in (self.error, self.lost_span, self.deferred_span) if r]
        if self.merged:
            remarks.append(f"{self.merged} duplicate incident(s) merged and closed")
        if self.reset:
            remarks.append("control fields reset: " + "; ".join(self.reset))
        window = " + ".join(f"{name} {span}" for name, span in self.passes.items()) or "none"
        return ctl.RunLogRow(
            kind="ingest", started=self.started, window=window, status=self.status, error=" | ".join(remarks),
            events_read=self.events_read, kept=self.kept, dropped=dropped, created=self.created,
            updated=self.updated, closed=self.closed, tap_calls=sum(self.tap_calls.values()),
            duration_s=self.duration_s)


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
    """One run over the windows the cursors, the window limit and the SIEM budget allow (see the module)."""
    report = RunReport(started=now(), policy=request.describe())
    check_owners(cases, request)
    control = cases.get_incident(control_id) if control_id else ctl.ensure_control(cases, now=now())
    ctl.require_control(control)
    return _Run(cases, tap, request, settings, control, report, now, progress, close_policy).execute()


class _Run:
    """One run's state: the control incident as last written, the lease, the budget, the writer."""

    def __init__(self, cases: SoarCases, tap: TapClient, request: IngestInputs, settings: IngestSettings,
                 control: Incident, report: RunReport, now: Callable[[], datetime], progress: Progress,
                 close_policy: ClosePolicy | None) -> None:
        self.cases, self.tap, self.request, self.settings = cases, tap, request, settings
        self.control, self.report, self.now, self.progress = control, report, now, progress
        self.close_policy = close_policy
        self.holder = uuid.uuid4().hex
        self.run = self.holder[:12]
        self.ttl = timedelta(minutes=settings.lease_minutes)
        self.margin = min(max(MIN_MARGIN_S, 3.0 * (cases.timeout or 0)), self.ttl.total_seconds() / 3)
        self.deadline = 0.0
        self.state = ctl.read_state(control, now=now())
        self.budget = self.state.budget
        self.released = False
        self.broke = False  # an error stopped the run: its last write may or may not have landed
        self.journals_left = False
        self.summary: ctl.Quiet | None = None
        self.unsaved = False  # a pass was written whose cursor the next save moves
        self.done: list[tuple[str, list[Window]]] = []
        self.tap_before: dict[str, int] = {}
        self.writer = Writer(cases, request, report, self.run, settings.rows_per_incident, fence=self.fence)

    # ------------------------------------------------------------------------------------- the run

    def execute(self) -> RunReport:
        clock = started = time.monotonic()
        report = self.report
        try:
            self.control = ctl.acquire_lease(self.cases, self.control, self.holder, now=self.now(), ttl=self.ttl,
                                             also=self.state.resets)
        except ctl.LeaseBusy as busy:
            report.status, report.error = "busy", f"Skipped: {busy}."
            report.soar_calls = self.cases.calls
            return report
        self.deadline = started + self.ttl.total_seconds()
        self.tap_before = tap_before = dict(self.tap.calls)
        try:
            if self.state.found:
                report.reset = list(self.state.found)
                self.cases.add_note(int(self.control["id"]), ctl.reset_note(self.state.found))
            if self.state.journals:
                self.finish_journals()
            self.passes()
        except TapRateLimitError as err:
            self.broke = True
            report.status, report.error = "throttled", str(err)
        except (TapAppError, SoarError) as err:
            self.broke = True
            report.status, report.error = "failed", str(err)
        except Exception as err:  # a bug or the unforeseen: the run still ends as failed, naming the cause
            LOG.exception("Proofpoint TAP ingestion: unexpected error")
            self.broke = True
            report.status = "failed"
            report.error = f"Unexpected error {type(err).__name__}: {str(err)[:300]} (a bug: please report it)"
        finally:
            report.tap_calls = {k: v - tap_before.get(k, 0) for k, v in self.tap.calls.items()
                                if v - tap_before.get(k, 0)}
            report.duration_s = time.monotonic() - clock
            self.finish()
        return report

    def fence(self) -> None:
        """Before each write: the lease must outlive the SOAR timeout by the margin, else it is renewed."""
        if time.monotonic() < self.deadline - self.margin:
            return
        started = time.monotonic()
        try:
            self.control = ctl.save_progress(self.cases, self.control, self.holder, {}, now=self.now(), ttl=self.ttl)
        except SoarConflictError as err:
            raise SoarConflictError(LEASE_LOST, fields=err.fields) from None
        self.deadline = started + self.ttl.total_seconds()

    def finish_journals(self) -> None:
        """Journals a broken-off run left (one query, only after such a run)."""
        found = list(self.cases.query([{"field_name": f"properties.{F.PENDING}", "method": "has_a_value"}]))
        if found:
            self.progress(f"Finishing {len(found)} interrupted writes")
        for incident in found:
            reconcile(self.cases, incident, before=self.fence)

    def passes(self) -> None:
        policy = self.request.policy
        current = self.now()
        allowed = self.settings.max_windows_per_run + 1
        per_window = _calls_per_window(policy)
        for pool, calls in per_window.items():
            allowed = min(allowed, (self.settings.siem_daily_budget - self.budget.used_24h(pool)) // calls)
        if allowed < 1:
            self.report.status = "budget"
            self.report.error = (f"The SIEM budget of {self.settings.siem_daily_budget} calls per 24 h per pool is "
                                 f"used up ({self.budget.words(self.settings.siem_daily_budget)}); ingestion resumes "
                                 "when older calls age out of the 24-hour window.")
            return
        plan = plan_passes(self.state.cursor, self.state.settled, now=current,
                           lookback=timedelta(hours=policy.lookback_hours),
                           overlap=timedelta(minutes=self.settings.overlap_minutes),
                           settle_every=timedelta(minutes=self.settings.settle_minutes),
                           max_windows=self.settings.max_windows_per_run, budget_windows=allowed,
                           fresh_pass=self.settings.fresh_pass)
        self.settled, self.cursor = plan.settled, plan.cursor
        work: list[tuple[str, Window]] = []
        if plan.settle is not None:
            self._note_plan(plan.settle, SETTLE)
            work += [(SETTLE, w) for w in plan.settle.windows]
        if plan.fresh is not None:
            work += [(FRESH, w) for w in plan.fresh.windows]
        if not work:
            self.report.status = "nothing to do"
            if plan.settle is not None and plan.settle.skipped is not None:
                self.settled = plan.settle.next_start
                self.save({}, release=True)
            return
        filters = dict(policy.siem_filters())
        if self.close_policy is not None:
            # ask TAP for the closing statuses too (it leaves false positives out unless asked): such events
            # never create incidents (the selection drops them) but close the incidents of their threats now
            wanted = set(filters["threat_statuses"]) | set(self.close_policy.close_statuses)
            filters = dict(filters, threat_statuses=tuple(sorted(wanted)))
        index = 0
        carried: list[tuple[str, list[Window]]] = []  # the settle pass's last batch, written with the fresh pass
        events: dict[str, TapEvent] = {}
        for name in (SETTLE, FRESH):
            windows = [w for n, w in work if n == name]
            batch: list[Window] = []
            for position, window in enumerate(windows, start=1):
                index += 1
                self.progress(f"Window {index} of {len(work)} ({name}): {window.interval}")
                try:
                    self.read(window, filters, events)
                except TapAppError:
                    parts = carried + ([(name, batch)] if batch else [])
                    if parts:  # what was read before a 429 (or a broken answer) is still applied and saved
                        self.apply(parts, events, last=False, force=True)
                    elif self.unsaved:
                        self.save({}, release=False)
                    raise
                batch.append(window)
                if len(events) >= MAX_BATCH_EVENTS or position == len(windows):
                    parts = [*carried, (name, batch)]
                    if name == SETTLE and position == len(windows) and index < len(work) \
                            and len(events) < MAX_BATCH_EVENTS:
                        # the settle pass's last batch is written together with the fresh pass's window: each
                        # incident is written once in the run (one change note at most) and saved once
                        carried = parts
                    else:
                        self.apply(parts, events, last=index == len(work), force=position < len(windows))
                        carried, events = [], {}
                    batch = []
        self.progress(f"Read {self.report.events_read} events, kept {self.report.kept}: {self.report.created} "
                      f"incidents created, {self.report.updated} updated, {self.report.deferred} left for the "
                      "settle pass")
        if self.report.windows_left:
            self.report.status = "partial"

    def _note_plan(self, plan: WindowPlan, name: str) -> None:
        if plan.skipped is not None:
            self.report.lost_span = f"{plan.skipped.interval}"
            self.progress(f"Events from {plan.skipped.interval} are older than TAP's 7-day look-back and are lost")
        if plan.deferred_tail is not None and plan.deferred_reason == "window limit reached":
            self.report.deferred_span = f"{plan.deferred_tail.interval} left for a later run (window limit reached)"
            self.report.windows_left = True

    def read(self, window: Window, filters: dict[str, Any], events: dict[str, TapEvent]) -> None:
        """One window's events into ``events`` (by key: an event TAP returns again in a later window, after a
        verdict change, is the later one); its TAP calls go into the budget at once."""
        before = dict(self.tap.calls)
        count = 0
        try:
            for call in self.request.policy.siem_plan():
                result = self.tap.siem(call.endpoint, window, **filters)
                wanted = set(call.event_types)
                for event in result.events():
                    if str(event.event_type) in wanted:
                        events.pop(event.key, None)
                        events[event.key] = event
                        count += 1
                del result
        finally:
            self.budget.add({k: v - before.get(k, 0) for k, v in self.tap.calls.items()}, now=self.now())
        self.report.events_read += count

    def apply(self, parts: list[tuple[str, list[Window]]], events: dict[str, TapEvent], *, last: bool,
              force: bool = False) -> None:
        """Select, group and write the events of the windows read together (``parts``: pass name and its
        windows): each incident is written ONCE for all of them (the settle pass coalesces its whole span;
        with the fresh pass's window of the same run, the fresh events' bookkeeping is written now too), then
        the cursors move past them."""
        policy = self.request.policy
        report = self.report
        kept_events = list(events.values())
        selection = select_events(kept_events, policy)
        report.kept += len(selection.kept)
        for reason, count in selection.dropped.items():
            report.dropped[reason] = report.dropped.get(reason, 0) + count
        groups = group_events(selection.kept, policy)
        del selection
        self.writer.write(groups, now=self.now(), urgent_only=all(name == FRESH for name, _ in parts))
        del groups
        if self.close_policy is not None:
            close_from_events(self.cases, self.tap, kept_events, self.close_policy, now=self.now(),
                              on_close=report.count_closed, fence=self.fence, templates=self.request)
        for name, windows in parts:
            end = windows[-1].end
            if name == SETTLE:
                self.settled = end
                self.cursor = max(self.cursor, self.settled)
            else:
                self.cursor = end
            self.done.append((name, windows))
        if last or force:
            self.save({}, release=last)
        else:
            # the run's next save (moments later, at the latest its last) moves the cursor and clears the journals
            self.unsaved = True

    def _count_done(self) -> None:
        """The windows the save that just succeeded made durable, into the report."""
        report = self.report
        for name, windows in self.done:
            end = windows[-1].end
            span = report.passes.get(name)
            report.passes[name] = f"{span.split('/')[0] if span else format_tap_time(windows[0].start)}/" \
                                  f"{format_tap_time(end)}"
            report.window_start = min(report.window_start or windows[0].start, windows[0].start)
            report.window_end = max(report.window_end or end, end)
            report.windows_done += len(windows)
        self.done = []
        self.unsaved = False

    # ------------------------------------------------------------------------------------- saving

    def save(self, extra: dict[str, Any], *, release: bool) -> None:
        """Cursors, budget and lease in one call with the window's journal clears (SOAR's bulk patch)."""
        changes = {ctl.CURSOR_FIELD: format_tap_time(self.cursor), ctl.SETTLED_FIELD: format_tap_time(self.settled),
                   ctl.BUDGET_FIELD: self.budget.text(),
                   ctl.BUDGET_TEXT_FIELD: self.budget.words(self.settings.siem_daily_budget), **extra}
        if release:
            changes.update(self._quiet_changes())
        props = ctl.props(self.control)
        changes = {k: v for k, v in changes.items() if props.get(k) != v or k == ctl.LEASE_FIELD}
        started = time.monotonic()
        fields = ctl.lease_changes(self.control, self.holder, changes, now=self.now(), ttl=self.ttl,
                                   release=release)
        clears = self.writer.pending.clears()
        control_changes = {f"properties.{n}": v for n, v in fields.items()}
        expected = {f"properties.{ctl.LEASE_FIELD}": props.get(ctl.LEASE_FIELD)}
        try:
            if clears:
                failures = self.cases.patch_many([(self.control, control_changes, expected), *clears])
                if int(self.control["id"]) in failures:
                    raise failures[int(self.control["id"])]
                if failures:
                    self.journals_left = True
                    LOG.warning("%d journals could not be cleared; the next run finishes them", len(failures))
            else:
                self.cases.patch_incident(self.control, control_changes, expected=expected)
        except SoarConflictError as err:
            raise SoarConflictError(LEASE_LOST, fields=err.fields) from None
        self.writer.pending = type(self.writer.pending)()
        self.control = ctl.applied(self.control, fields)
        self.deadline = started + self.ttl.total_seconds()
        self.released = release
        self._count_done()

    def _quiet_changes(self) -> dict[str, Any]:
        """The quiet-run count as the run's last save writes it: this run added when it changed nothing;
        once the count is older than the retention it becomes one run-log row (:meth:`finish`)."""
        quiet = self.state.quiet
        if self.report.quiet:
            calls = sum(self.tap.calls.values()) - sum(self.tap_before.values())
            quiet = quiet.add(events_read=self.report.events_read, tap_calls=calls, now=self.now())
        if quiet.due(self.now(), timedelta(hours=self.settings.quiet_summary_hours)):
            self.summary = quiet
            return {ctl.QUIET_FIELD: None}
        return {ctl.QUIET_FIELD: quiet.text()}

    def finish(self) -> None:
        """Run-log row (or the quiet count) and the lease released: best effort, a failure here must not
        hide the run's own error."""
        report = self.report
        if not self.released:
            try:
                # a run that broke off may or may not have landed its last PATCH: read the lease before
                # releasing it (and say some incident may still hold this run's journal)
                current = self.cases.get_incident(int(self.control["id"])) if self.broke else self.control
                also = {ctl.BUDGET_FIELD: self.budget.text(),
                        ctl.BUDGET_TEXT_FIELD: self.budget.words(self.settings.siem_daily_budget)}
                if not self.broke:
                    also.update(self._quiet_changes())
                ctl.release_lease(self.cases, current, self.holder, journals=self.broke or self.journals_left,
                                  also=also)
            except SoarError as err:
                LOG.warning("could not release the ingestion lease (it expires by itself): %s", err)
        try:
            if not report.quiet:
                ctl.add_run_log(self.cases, self.control, report.log_row())
            if self.summary is not None:
                ctl.add_run_log(self.cases, self.control, self.summary.row("ingest"))
            if report.lost_span:
                self.cases.add_note(int(self.control["id"]), f"<p><b>Proofpoint TAP ingestion could not read "
                                    f"{report.lost_span}</b>: it is older than TAP's 7-day look-back. Events of that "
                                    "span are lost to ingestion; review them in the TAP dashboard.</p>")
        except SoarError as err:
            LOG.warning("could not write the ingestion run log: %s", err)
            if report.status == "completed":
                report.status, report.error = "failed", str(err)
        report.soar_calls = self.cases.calls


def _calls_per_window(policy: IngestPolicy) -> dict[str, int]:
    per_pool: dict[str, int] = {}
    for call in policy.siem_plan():
        per_pool[str(call.pool)] = per_pool.get(str(call.pool), 0) + 1
    return per_pool

