"""Keeping TAP incidents true: re-check threats with TAP and apply the close policy (the I/O around
:mod:`fn_pp_tap_functions.closing`).

Four entry points share one path — check each distinct threat once, decide per incident, apply the
decision with SOAR's old_value check, then (only if the check was won) write the notes:

* :func:`close_from_events` — ingestion, for the SIEM events that carry a closing status;
* :func:`check_incident` — the menu item "Proofpoint TAP: Check threat status" on one incident;
* :func:`sync_threat_status` — the scheduled sweep over the open TAP incidents (paged), plus the
  incidents this app closed in the last ``closed_days`` (a threat may come back to active), each re-checked
  only when due (a back-off by age, see :func:`due`), with a row in the run log when it changed something;
* :func:`close_campaign` — the menu item "Proofpoint TAP: Close campaign false positives".

A TAP error on one threat is reported for that threat and does not stop the others; a SOAR error on
one incident leaves that incident untouched (one PATCH per incident) and the next run finishes it. The
close note is written exactly once (:data:`~fn_pp_tap_functions.closing.decisions.PENDING_NOTE`), and the
name and description follow the change (:mod:`.retext`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.closing import ClosePolicy, Decision, ThreatCheck, campaign_decision, decide, threat_ids_of
from fn_pp_tap_functions.closing.decisions import PENDING_NOTE
from fn_pp_tap_functions.errors import (
    InputError,
    SoarConflictError,
    SoarError,
    TapAppError,
    TapError,
    TapNotFoundError,
    TapRateLimitError,
)
from fn_pp_tap_functions.ingest import IngestInputs, text_digest
from fn_pp_tap_functions.services.retext import Retext
from fn_pp_tap_functions.settings import SweepSettings
from fn_pp_tap_functions.soar import control as ctl
from fn_pp_tap_functions.soar.cases import Incident, SoarCases
from fn_pp_tap_functions.tap.client import TapClient
from fn_pp_tap_functions.tap.events import TapEvent
from fn_pp_tap_functions.tap.links import tenant_from_threat_url, threat_dashboard_url
from fn_pp_tap_functions.tap.threats import Campaign, ThreatSummary, parse_campaign_ids
from fn_pp_tap_functions.tap.timestamps import epoch_ms, format_tap_time, parse_tap_time
from fn_pp_tap_functions.tap.validation import validate_campaign_id

LOG = logging.getLogger(__name__)
WORKERS = 4
CAMPAIGN_CHECK_FIELD = "pp_tap_sync_campaign_checked"
"""Control incident field: when the sweep last asked TAP which threats joined campaigns."""


def check_threats(tap: TapClient, threat_ids: Iterable[str], *, tenant: str | None = None,
                  workers: int = WORKERS) -> dict[str, ThreatCheck]:
    """Ask TAP about each distinct threat once, a few at a time; errors are per threat, never fatal."""
    def one(threat_id: str) -> ThreatCheck:
        link = threat_dashboard_url(threat_id, tenant) if tenant else None
        try:
            summary = ThreatSummary.from_api(tap.threat_summary(threat_id))
        except TapNotFoundError:
            return ThreatCheck(threat_id, missing=True, dashboard_url=link)
        except TapError as err:
            return ThreatCheck(threat_id, error=str(err).split(". ")[0], dashboard_url=link)
        except InputError as err:
            return ThreatCheck(threat_id, error=str(err), dashboard_url=link)
        return ThreatCheck(threat_id, status=summary.status, dashboard_url=link)

    ids = sorted({t for t in threat_ids if t})
    if not ids:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(ids)))) as pool:
        return {c.threat_id: c for c in pool.map(one, ids)}


def _tenant(incident: Mapping[str, Any]) -> str | None:
    return tenant_from_threat_url((incident.get("properties") or {}).get("pp_tap_dashboard_url"))


def apply(cases: SoarCases, incident: Incident, decision: Decision, *, retext: Retext | None = None,
          now: datetime | None = None, fence: Callable[[], None] | None = None) -> str:
    """Apply with the old_value check; only the winner writes notes, then records them. Returns what happened."""
    if not decision.changes and not decision.notes:
        return decision.action if decision.action != "update" else "none"
    changes = dict(decision.changes)
    if retext is not None and changes and decision.action in ("close", "reopen", "update"):
        changes.update(retext.changes(incident, changes, now=now or ctl.utcnow(),
                                      close=decision.close if decision.action == "close" else None))
    if changes:
        if fence:
            fence()
        try:
            cases.patch_incident(incident, changes, expected=decision.expected)
        except SoarConflictError:
            return "conflict"  # someone else changed it first: they also wrote (or will write) the note
    incident_id = int(incident["id"])
    have = {text_digest(t) for t in cases.note_texts(incident_id)} if decision.check_notes and decision.notes else set()
    for note in decision.notes:
        if text_digest(note) not in have:
            if fence:
                fence()
            cases.add_note(incident_id, note)
    if decision.after:
        after = {**incident, "properties": {**(incident.get("properties") or {}),
                                            **{k.removeprefix("properties."): v for k, v in changes.items()
                                               if k.startswith("properties.")}}}
        try:
            cases.patch_incident(after, decision.after)
        except SoarConflictError:
            pass  # someone else recorded it
    return decision.action


def _tenant_link(checks: dict[str, ThreatCheck], incident: Incident) -> dict[str, ThreatCheck]:
    tenant = _tenant(incident)
    if not tenant:
        return checks
    out = {}
    for tid, check in checks.items():
        if check.dashboard_url is None:
            check = ThreatCheck(check.threat_id, check.status, check.missing, check.error,
                                threat_dashboard_url(tid, tenant), check.changed_at)
        out[tid] = check
    return out


# ------------------------------------------------------------------------------------------ SIEM verdicts

def close_from_events(cases: SoarCases, tap: TapClient, events: Iterable[TapEvent], policy: ClosePolicy, *,
                      now: datetime, on_close: Callable[[int], None], fence: Callable[[], None] | None = None,
                      templates: IngestInputs | None = None) -> None:
    """SIEM events that carry a closing status (falsePositive, cleared if chosen) apply the close policy to
    the open incidents of their threats at once, without waiting for the sweep; ``on_close`` hears of each
    incident closed, as it is closed."""
    verdicts: dict[str, ThreatCheck] = {}
    for event in events:
        for threat in event.threats:
            if threat.threat_id and threat.status in policy.close_statuses:
                verdicts[threat.threat_id] = ThreatCheck(threat.threat_id, status=threat.status,
                                                         dashboard_url=threat.threat_url,
                                                         changed_at=threat.threat_time)
    if not verdicts:
        return
    incidents: dict[int, Incident] = {}
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
    retext = Retext.of(templates) if templates is not None else None
    for incident_id in sorted(incidents):
        incident = incidents[incident_id]
        decision = decide(incident, checks, policy, now=now)
        if apply(cases, incident, decision, retext=retext, now=now, fence=fence) == "close":
            on_close(incident_id)


# ------------------------------------------------------------------------------------------ one incident

def check_incident(cases: SoarCases, tap: TapClient, incident_id: Any, policy: ClosePolicy, *,
                   now: datetime | None = None, retext: Retext | None = None) -> dict[str, Any]:
    if incident_id in (None, ""):
        raise InputError("pp_tap_incident_id is empty: set inputs.pp_tap_incident_id = incident.id.")
    incident = cases.get_incident(int(incident_id))
    now = now or ctl.utcnow()
    if not threat_ids_of(incident):
        raise InputError(f"Incident {incident['id']} names no Proofpoint TAP threat (its pp_tap_threat_ids field "
                         "is empty); this menu item is for incidents made by Proofpoint TAP ingestion.")
    if not str(incident.get("plan_status") or "A").startswith("A") and not (incident.get("properties") or {}).get(
            F.CLOSED_BY_APP):
        return {"incident_id": incident["id"], "action": "leave_closed", "threats": [],
                "reason": f"Incident {incident['id']} is closed (by an analyst); it is left alone."}
    checks = _tenant_link(check_threats(tap, threat_ids_of(incident)), incident)
    decision = decide(incident, checks, policy, now=now)
    outcome = apply(cases, incident, decision, retext=retext, now=now)
    if outcome == "conflict":
        fresh = cases.get_incident(int(incident["id"]))
        decision = decide(fresh, checks, policy, now=now)
        outcome = apply(cases, fresh, decision, retext=retext, now=now) if decision.action in ("update", "none") \
            else "already done"
    return {"incident_id": incident["id"], "action": outcome, "reason": decision.reason,
            "threats": [_check_dict(c) for c in checks.values()], "policy": policy.describe()}


def _check_dict(check: ThreatCheck) -> dict[str, Any]:
    return {"threat_id": check.threat_id, "status": check.status, "missing": check.missing, "error": check.error,
            "dashboard_url": check.dashboard_url}


# ------------------------------------------------------------------------------------------ the sweep

@dataclass
class SweepReport:
    status: str = "completed"
    started: datetime | None = None
    incidents: int = 0
    due: int = 0
    threats: int = 0
    closed: int = 0
    reopened: int = 0
    updated: int = 0
    conflicts: int = 0
    threat_errors: dict[str, str] = field(default_factory=dict)
    incident_errors: dict[str, str] = field(default_factory=dict)
    campaign_updates: int = 0
    tap_calls: int = 0
    soar_calls: int = 0
    duration_s: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "started"}

    @property
    def quiet(self) -> bool:
        """Nothing changed, nothing failed: counted on the control incident instead of a run-log row."""
        return self.status == "completed" and not (self.closed or self.reopened or self.updated or self.conflicts
                                                   or self.campaign_updates or self.threat_errors
                                                   or self.incident_errors)

    def log_row(self) -> ctl.RunLogRow:
        remarks = [self.error] if self.error else []
        if self.threat_errors:
            remarks.append(f"{len(self.threat_errors)} threat(s) not checked: "
                           + "; ".join(f"{t[:12]}…: {e}" for t, e in list(self.threat_errors.items())[:5]))
        if self.incident_errors:
            remarks.append(f"{len(self.incident_errors)} incident(s) not updated (next run retries): "
                           + "; ".join(f"#{i}: {e}" for i, e in list(self.incident_errors.items())[:5]))
        return ctl.RunLogRow(
            kind="sync", started=self.started,
            window=f"{self.incidents} incidents ({self.due} due), {self.threats} threats checked",
            status=self.status, error=" | ".join(remarks), updated=self.updated + self.reopened + self.campaign_updates,
            closed=self.closed, tap_calls=self.tap_calls, duration_s=self.duration_s)


def tap_incidents(cases: SoarCases, *, extra: list[dict[str, Any]] | None = None,
                  closed_since: datetime | None = None) -> list[Incident]:
    """Open TAP incidents, and those this app closed (since ``closed_since``: a threat may come back), paged."""
    open_ = list(cases.query([{"field_name": f"properties.{F.GROUP_KEY}", "method": "has_a_value"},
                              {"field_name": "plan_status", "method": "equals", "value": "A"}] + (extra or [])))
    since = [{"field_name": "end_date", "method": "gte", "value": epoch_ms(closed_since)}] if closed_since else []
    closed = list(cases.query([{"field_name": f"properties.{F.CLOSED_BY_APP}", "method": "has_a_value"},
                               {"field_name": "plan_status", "method": "equals", "value": "C"}, *since,
                               *(extra or [])]))
    return open_ + closed


def campaign_membership(tap: TapClient, *, since: datetime, now: datetime) -> dict[str, str]:
    """threat id -> campaign id for campaigns TAP updated since `since` (one /campaign/ids call per day span).

    The Campaign IDs API allows 50 calls a day, so the sweep asks at most once per run and only for the
    span since its last look (at most one day); campaign details have no published limit.
    """
    start = max(since, now - timedelta(days=1) + timedelta(minutes=1))
    if now - start < timedelta(seconds=30):
        return {}
    try:
        refs = parse_campaign_ids(tap.campaign_ids((start, now), page=1, size=200))
    except TapNotFoundError:
        return {}
    membership: dict[str, str] = {}
    for ref in refs:
        if not ref.id:
            continue
        campaign = Campaign.from_api(tap.campaign(ref.id))
        for member in campaign.members:
            if member.threat_id:
                membership[member.threat_id] = ref.id
    return membership


def _ms(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def due(incident: Mapping[str, Any], now: datetime, settings: SweepSettings) -> bool:
    """Whether the sweep re-checks the incident now: its last check (``pp_tap_checked``, written when
    ingestion read a SIEM event of it or the sweep asked TAP) is older than its age since TAP last reported
    activity (a doubling back-off), at least ``min_recheck_minutes`` and at most ``recheck_hours`` old. A
    close note still to be written is always due."""
    props = incident.get("properties") or {}
    noted = str(props.get(F.CLOSE_NOTED) or "")
    if props.get(F.CLOSED_BY_APP) and (not noted or noted.startswith(PENDING_NOTE)):
        return True
    now_ms = epoch_ms(now) or 0
    checked = _ms(props.get(F.CHECKED))
    if checked is None:
        return True
    active = _ms(props.get(F.LAST_SEEN)) or _ms(incident.get("create_date")) or checked
    interval = min(max(now_ms - active, settings.min_recheck_minutes * 60_000), settings.recheck_hours * 3_600_000)
    return now_ms - checked >= interval


def sync_threat_status(cases: SoarCases, tap: TapClient, policy: ClosePolicy, *, control_id: Any = None,
                       now: Callable[[], datetime] = ctl.utcnow, progress: Callable[[str], None] = LOG.info,
                       check_campaigns: bool = True, settings: SweepSettings | None = None,
                       retext: Retext | None = None) -> SweepReport:
    settings = settings or SweepSettings()
    report = SweepReport(started=now())
    clock = time.monotonic()
    calls_before = tap.total_calls
    control = cases.get_incident(int(control_id)) if control_id else ctl.ensure_control(cases, now=now())
    try:
        current = now()
        incidents = tap_incidents(cases, closed_since=current - timedelta(days=settings.closed_days))
        chosen = [i for i in incidents if due(i, current, settings)]
        report.incidents, report.due = len(incidents), len(chosen)
        ids = {t for inc in chosen for t in threat_ids_of(inc)}
        report.threats = len(ids)
        progress(f"Checking {len(ids)} threats of {len(chosen)} due incidents (of {len(incidents)}) with TAP")
        checks = check_threats(tap, ids)
        report.threat_errors = {t: c.error for t, c in checks.items() if c.error}
        membership: dict[str, str] = {}
        if check_campaigns:
            membership = _campaigns(cases, tap, control, now(), report)
        checked: list[Incident] = []
        for index, incident in enumerate(chosen, start=1):
            if index % 200 == 0:
                progress(f"{index} of {len(chosen)} incidents done")
            try:
                _sync_one(cases, incident, _tenant_link(checks, incident), membership, policy, now(), report, retext)
                if not any(checks.get(t, ThreatCheck(t, error="?")).error for t in threat_ids_of(incident)):
                    checked.append(incident)
            except SoarError as err:
                report.incident_errors[str(incident["id"])] = str(err)
        stamp = epoch_ms(now())
        failed = cases.patch_many([(i, {f"properties.{F.CHECKED}": stamp}, None) for i in checked])
        if failed:
            LOG.info("%d incidents changed during the sweep; their check time is recorded next time", len(failed))
        if report.incident_errors:
            report.status = "partial"
    except TapRateLimitError as err:
        report.status, report.error = "throttled", str(err)
    except (TapAppError, SoarError) as err:
        report.status, report.error = "failed", str(err)
    except Exception as err:  # a bug or the unforeseen: the sweep still ends as failed, naming the cause
        LOG.exception("Proofpoint TAP sweep: unexpected error")
        report.status = "failed"
        report.error = f"Unexpected error {type(err).__name__}: {str(err)[:300]} (a bug: please report it)"
    finally:
        report.tap_calls = tap.total_calls - calls_before
        report.duration_s = time.monotonic() - clock
        _log(cases, control, report, now(), settings)
        report.soar_calls = cases.calls
    return report


def _log(cases: SoarCases, control: Incident, report: SweepReport, now: datetime, settings: SweepSettings) -> None:
    """A run-log row, or (a sweep that changed nothing) one more in the quiet count, summarised once a day."""
    try:
        if not report.quiet:
            ctl.add_run_log(cases, control, report.log_row())
            return
        quiet, _problem = ctl.Quiet.read(ctl.props(control).get(ctl.SYNC_QUIET_FIELD))
        quiet = quiet.add(events_read=0, tap_calls=report.tap_calls, now=now)
        text = quiet.text()
        if quiet.due(now, timedelta(hours=settings.quiet_summary_hours)):
            ctl.add_run_log(cases, control, quiet.row("sync"))
            text = ""
        cases.patch_incident(control, {f"properties.{ctl.SYNC_QUIET_FIELD}": text})
    except SoarError as err:
        LOG.warning("could not write the sync run log: %s", err)


def _campaigns(cases: SoarCases, tap: TapClient, control: Incident, now: datetime, report: SweepReport
               ) -> dict[str, str]:
    """Campaign membership since the last sweep's look, remembered on the control incident."""
    last = parse_tap_time(ctl.props(control).get(CAMPAIGN_CHECK_FIELD)) or now - timedelta(days=1)
    if now - last < timedelta(minutes=30):
        return {}  # at most two campaign-id calls an hour: the API allows 50 a day
    try:
        membership = campaign_membership(tap, since=last, now=now)
    except TapError as err:
        report.threat_errors["campaigns"] = str(err).split(". ")[0]
        return {}
    try:
        cases.patch_incident(control, {f"properties.{CAMPAIGN_CHECK_FIELD}": format_tap_time(now)})
        control["properties"] = {**ctl.props(control), CAMPAIGN_CHECK_FIELD: format_tap_time(now)}
    except SoarError:
        pass  # another sweep recorded its look; either is fine
    return membership


def _sync_one(cases: SoarCases, incident: Incident, checks: dict[str, ThreatCheck], membership: Mapping[str, str],
              policy: ClosePolicy, now: datetime, report: SweepReport, retext: Retext | None) -> None:
    """Apply the policy (and any campaign TAP now reports) to one incident."""
    decision = decide(incident, checks, policy, now=now)
    outcome = apply(cases, incident, decision, retext=retext, now=now)
    if outcome == "conflict":
        report.conflicts += 1
        incident = cases.get_incident(int(incident["id"]))
        outcome = apply(cases, incident, decide(incident, checks, policy, now=now), retext=retext, now=now)
    if outcome == "close":
        report.closed += 1
    elif outcome == "reopen":
        report.reopened += 1
    elif outcome == "update":
        report.updated += 1
    if membership and str(incident.get("plan_status") or "A").startswith("A"):
        if outcome in ("close", "update", "reopen"):
            incident = cases.get_incident(int(incident["id"]))
        joined = campaign_decision(incident, membership, notes_on=policy.notes)
        if apply(cases, incident, joined) == "update":
            report.campaign_updates += 1


# ------------------------------------------------------------------------------------------ a campaign

def close_campaign(cases: SoarCases, tap: TapClient, campaign_id: Any, policy: ClosePolicy, *,
                   now: datetime | None = None, retext: Retext | None = None) -> dict[str, Any]:
    """Apply the policy to every open incident of one campaign (the campaign menu item)."""
    campaign_id = validate_campaign_id(campaign_id)
    now = now or ctl.utcnow()
    incidents = list(cases.query([{"field_name": f"properties.{F.CAMPAIGN_ID}", "method": "contains",
                                   "value": campaign_id},
                                  {"field_name": "plan_status", "method": "equals", "value": "A"}]))
    checks = check_threats(tap, {t for inc in incidents for t in threat_ids_of(inc)})
    outcomes: dict[str, str] = {}
    errors: dict[str, str] = {}
    for incident in incidents:
        try:
            decision = decide(incident, _tenant_link(checks, incident), policy, now=now)
            outcomes[str(incident["id"])] = apply(cases, incident, decision, retext=retext, now=now)
        except SoarError as err:
            errors[str(incident["id"])] = str(err)
    return {"campaign_id": campaign_id, "incidents": len(incidents),
            "closed": sum(1 for o in outcomes.values() if o == "close"), "outcomes": outcomes,
            "incident_errors": errors, "threats": [_check_dict(c) for c in checks.values()],
            "policy": policy.describe()}
