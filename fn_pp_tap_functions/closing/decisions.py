"""Close decisions: given TAP's current word on an incident's threats and the close policy, what to change.

Pure decisions, no I/O (the service :mod:`fn_pp_tap_functions.services.closing` asks TAP and applies them).
Every decision is a set of field changes to be applied with SOAR's old_value check plus the notes
that only the writer that won the check may write, so a sweep and an analyst's menu click at the
same moment close an incident once and write one note.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from fn_pp_tap_functions.closing.policy import ClosePolicy
from fn_pp_tap_functions.fields import (
    CAMPAIGN_ID,
    CLOSE_NOTED,
    CLOSED_BY_APP,
    MISSING_THREATS,
    THREAT_IDS,
    THREAT_STATUS,
)
from fn_pp_tap_functions.tap.timestamps import format_tap_time, parse_tap_time


@dataclass(frozen=True)
class ThreatCheck:
    """What TAP says about one threat now. `missing`: TAP answered 404; `error`: TAP could not say."""

    threat_id: str
    status: str | None = None
    missing: bool = False
    error: str | None = None
    dashboard_url: str | None = None
    changed_at: datetime | None = None  # when TAP reported the status, if known (SIEM threatTime)


PENDING_NOTE = "pending:"
"""``pp_tap_fp_noted`` while the close note is being written: the close PATCH (or the claim of a later
sweep) sets it, the note follows, then a second PATCH records the note as written. A note whose POST failed
is finished by a later sweep, which first checks the incident's notes, so it is written exactly once."""
STALE_CLAIM_S = 600


@dataclass
class Decision:
    """``changes`` (with ``expected`` old values) in one PATCH; then, only if that PATCH won, ``notes``
    (``check_notes``: skip one the incident already has), then ``after`` in a second PATCH. ``close`` says
    why and how for the close template (statuses, resolution, reason)."""

    action: str  # close | reopen | update | none | leave_closed
    reason: str
    changes: dict[str, Any] = field(default_factory=dict)
    expected: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    after: dict[str, Any] = field(default_factory=dict)
    check_notes: bool = False
    close: dict[str, Any] | None = None


def threat_ids_of(incident: Mapping[str, Any]) -> list[str]:
    raw = (incident.get("properties") or {}).get(THREAT_IDS) or ""
    return [t.strip() for t in str(raw).replace("…", "").split(",") if t.strip()]


def _is_open(incident: Mapping[str, Any]) -> bool:
    return str(incident.get("plan_status") or "A").upper().startswith("A")


def _evidence_lines(checks: Iterable[ThreatCheck], now: datetime) -> list[str]:
    lines = []
    for check in checks:
        if check.missing:
            what = "no longer known to TAP (404)"
        elif check.error:
            what = f"could not be checked: {check.error}"
        else:
            when = format_tap_time(check.changed_at) if check.changed_at else f"checked {format_tap_time(now)}"
            what = f"{check.status} ({when})"
        link = f" {check.dashboard_url}" if check.dashboard_url else ""
        lines.append(f"{check.threat_id}: {what}{link}")
    return lines


def _note(title: str, lines: list[str], tail: str = "") -> str:
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f"<p><b>Proofpoint TAP: {escape(title)}</b></p><ul>{items}</ul>" + (f"<p>{escape(tail)}</p>" if tail else "")


def decide(incident: Mapping[str, Any], checks: Mapping[str, ThreatCheck], policy: ClosePolicy, *,
           now: datetime) -> Decision:
    """What to do with one incident given TAP's current word on each of its threats."""
    props = incident.get("properties") or {}
    ids = threat_ids_of(incident)
    if not ids:
        return Decision("none", "the incident names no Proofpoint TAP threat (pp_tap_threat_ids is empty)")
    mine = [checks[t] for t in ids if t in checks]
    known = [c for c in mine if c.status and not c.error and not c.missing]
    statuses = sorted({c.status for c in known if c.status})
    status_text = ", ".join(statuses) or None
    changes: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    notes: list[str] = []

    def change(name: str, value: Any) -> None:
        key = f"properties.{name}"
        if (props.get(name) or None) != (value or None):
            changes[key] = value
            expected[key] = props.get(name)

    # threats TAP no longer knows: one note, once
    missing = sorted(c.threat_id for c in mine if c.missing)
    noted = {t for t in str(props.get(MISSING_THREATS) or "").split(",") if t}
    newly_missing = [t for t in missing if t not in noted]
    if newly_missing:
        change(MISSING_THREATS, ",".join(sorted(noted | set(newly_missing))))
        if policy.notes:
            notes.append(_note("threat no longer known to TAP", newly_missing,
                               "TAP answers 404 for these threats (deleted or merged). The incident is left as it "
                               "is; this note is written once."))

    if not _is_open(incident):
        if not props.get(CLOSED_BY_APP):
            return Decision("leave_closed", "the incident was closed by an analyst; it is left alone",
                            changes, expected, notes)
        returned = [c for c in known if c.status not in policy.close_statuses]
        if returned and (props.get(THREAT_STATUS) or None) != status_text:
            change(THREAT_STATUS, status_text)
            lines = _evidence_lines(returned, now)
            if policy.reopen == "reopen":
                changes["plan_status"] = "A"
                expected["plan_status"] = incident.get("plan_status")
                change(CLOSED_BY_APP, None)
                change(CLOSE_NOTED, None)
                notes.append(_note("threat active again: incident reopened", lines,
                                   "This app had closed the incident as a false positive; TAP now reports the "
                                   "threat as active again (policy: reopen)."))
                return Decision("reopen", "a threat is active again (policy: reopen)", changes, expected, notes)
            notes.append(_note("threat active again", lines, "This app had closed the incident as a false positive; "
                                                               "it stays closed (policy: note)."))
            return Decision("update", "a threat is active again; the incident stays closed (policy: note)",
                            changes, expected, notes)
        if props.get(CLOSED_BY_APP) and policy.notes and _unfinished(str(props.get(CLOSE_NOTED) or ""), now):
            # the close note was not written last time (or its writer stopped): claim it, check, write it
            change(CLOSE_NOTED, PENDING_NOTE + format_tap_time(now))
            notes.append(_note("incident closed: threat status changed", _evidence_lines(mine, now)))
            return Decision("update", "finishing the close note of an earlier run", changes, expected, notes,
                            after={f"properties.{CLOSE_NOTED}": format_tap_time(now)}, check_notes=True)
        return Decision("leave_closed", "the incident is closed; nothing changed in TAP", changes, expected, notes)

    closing = [c for c in known if c.status in policy.close_statuses]
    unchecked = [c for c in mine if c.error]
    if policy.match == "all":
        close = bool(ids) and len(closing) == len(ids)
    else:
        close = bool(closing)
    if close:
        lines = _evidence_lines(mine, now)
        summary = "Proofpoint TAP changed its verdict: " + "; ".join(lines)
        changes.update({"plan_status": "C", "resolution_id": policy.resolution,
                        "resolution_summary": summary[:4000]})  # a string, as IBM's close templates send it
        expected["plan_status"] = incident.get("plan_status")
        change(THREAT_STATUS, status_text)
        change(CLOSED_BY_APP, format_tap_time(now))
        after: dict[str, Any] = {}
        if policy.notes:
            change(CLOSE_NOTED, PENDING_NOTE + format_tap_time(now))
            after[f"properties.{CLOSE_NOTED}"] = format_tap_time(now)
            notes.append(_note("incident closed: threat status changed", lines,
                               f"Closed by the Proofpoint TAP app as '{policy.resolution}' (policy: close when "
                               f"{policy.match} threats are {' or '.join(sorted(policy.close_statuses))})."))
        reason = f"{'every' if policy.match == 'all' else 'a'} threat is {' or '.join(sorted(policy.close_statuses))}"
        return Decision("close", reason, changes, expected, notes, after=after,
                        close={"statuses": tuple(statuses), "status": status_text, "resolution": policy.resolution,
                               "reason": reason, "when": format_tap_time(now)})

    reasons = []
    not_closing = [c for c in known if c.status not in policy.close_statuses]
    if not_closing:
        reasons.append("TAP reports " + ", ".join(f"{c.threat_id[:12]}… {c.status}" for c in not_closing))
    if unchecked:
        reasons.append(f"{len(unchecked)} threat(s) could not be checked")
    if missing:
        reasons.append(f"{len(missing)} threat(s) unknown to TAP")
    if status_text and (props.get(THREAT_STATUS) or None) != status_text:
        old = props.get(THREAT_STATUS)
        change(THREAT_STATUS, status_text)
        if policy.notes and old:
            notes.append(_note(f"threat status changed to {status_text}", _evidence_lines(known, now),
                               f"Was {old}. The incident stays open: " + "; ".join(reasons) + "."))
    reason = "stays open: " + ("; ".join(reasons) or "no threat has a closing status")
    return Decision("update" if changes else "none", reason, changes, expected, notes)


def _unfinished(noted: str, now: datetime) -> bool:
    """No close note recorded, or a claim on it that its writer did not finish within STALE_CLAIM_S."""
    if not noted:
        return True
    if not noted.startswith(PENDING_NOTE):
        return False
    claimed = parse_tap_time(noted[len(PENDING_NOTE):])
    return claimed is None or (now - claimed).total_seconds() >= STALE_CLAIM_S


def campaign_decision(incident: Mapping[str, Any], campaign_of: Mapping[str, str], *, notes_on: bool = True
                      ) -> Decision:
    """A threat of the incident joined a campaign TAP reports: record it, with one note."""
    props = incident.get("properties") or {}
    have = {c.strip() for c in str(props.get(CAMPAIGN_ID) or "").split(",") if c.strip()}
    joined = sorted({campaign_of[t] for t in threat_ids_of(incident) if t in campaign_of} - have)
    if not joined:
        return Decision("none", "no new campaign")
    value = ", ".join(sorted(have | set(joined)))
    key = f"properties.{CAMPAIGN_ID}"
    notes = [_note("threat joined a campaign", [f"campaign {c}" for c in joined],
                   "TAP now counts a threat of this incident in this campaign.")] if notes_on else []
    return Decision("update", "joined a campaign", {key: value}, {key: props.get(CAMPAIGN_ID)}, notes)
