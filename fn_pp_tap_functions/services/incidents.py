"""Writing one window's groups into SOAR: find each group's incident, create it or add only what it lacks.

The decisions are the pure core's (:mod:`fn_pp_tap_functions.ingest.plan`); this module reads what SOAR
holds (an :class:`~fn_pp_tap_functions.ingest.IncidentSnapshot`), applies the plan, and orders the writes
so that a crash or a SOAR error at any point leaves nothing a rerun would duplicate:

* a new incident is created with its artifacts inline, then its rows, then its notes;
* an existing one gets missing artifacts (compared with what it has), table rows (compared by event key),
  notes (compared by text) and last the bookkeeping fields in one PATCH with SOAR's old_value check; a
  conflict (an analyst changed the incident meanwhile) re-reads it and applies what is still ours to apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.errors import SoarConflictError
from fn_pp_tap_functions.ingest import (
    ClosedAction,
    GroupEvidence,
    IncidentDraft,
    IncidentSnapshot,
    IngestInputs,
    apply_owner_rules,
    decide_closed,
    plan_create,
    plan_update,
)
from fn_pp_tap_functions.soar.cases import Incident, SoarCases, artifact_type_name, row_cells
from fn_pp_tap_functions.tap.timestamps import epoch_ms


@dataclass
class Tally:
    """What writing the groups did: counts, and the incidents created, updated or closed."""

    created: int = 0
    updated: int = 0
    closed: int = 0
    unchanged: int = 0
    incident_ids: list[int] = field(default_factory=list)

    def count_closed(self, incident_id: int) -> None:
        self.closed += 1
        self.incident_ids.append(incident_id)


def _pick(incidents: list[Incident]) -> Incident | None:
    """The incident a group's events go to: the newest open one, else the newest closed one."""
    if not incidents:
        return None
    open_ = [i for i in incidents if str(i.get("plan_status", "A")).upper().startswith("A")]
    pool = open_ or incidents
    return max(pool, key=lambda i: int(i["id"]))


def snapshot_of(cases: SoarCases, incident: Mapping[str, Any]) -> IncidentSnapshot:
    """What the pure core needs to know of an incident: fields, artifacts, event keys of its rows."""
    incident_id = int(incident["id"])
    artifacts = [(artifact_type_name(a), a.get("value")) for a in cases.artifacts(incident_id)]
    rows = [row_cells(r) for r in cases.rows(incident_id, F.EVENTS_TABLE)]
    severity = incident.get("severity_code")
    return IncidentSnapshot.build(
        incident_id, str(incident.get("plan_status") or "A"), incident.get("properties") or {},
        artifacts=[(t, str(v)) for t, v in artifacts if t and v is not None],
        event_keys=[str(r.get(F.COL_EVENT_KEY)) for r in rows if r.get(F.COL_EVENT_KEY)],
        severity=severity if isinstance(severity, str) else None,
        row_count=len(rows),
    )


def write_groups(cases: SoarCases, groups: Mapping[str, GroupEvidence], request: IngestInputs, tally: Tally, *,
                 now: datetime) -> None:
    """Create or update the incident of every group (one incident query per 200 group keys), counting in
    ``tally`` as it goes (a SOAR error midway leaves the counts of what was written)."""
    if not groups:
        return
    existing = cases.find_by_values(F.GROUP_KEY, groups.keys())
    for key in sorted(groups):
        group = groups[key]
        draft = apply_owner_rules(request.template.render(group, now=now), request.owner_rules, group)
        target = _pick(existing.get(key, []))
        if target is None:
            tally.incident_ids.append(_create(cases, group, draft, now=now))
            tally.created += 1
            continue
        snapshot = snapshot_of(cases, target)
        action = decide_closed(request.policy, snapshot, group)
        if action is ClosedAction.SKIP:
            tally.unchanged += 1
        elif action is ClosedAction.NEW:
            tally.incident_ids.append(_create(cases, group, draft, now=now))
            tally.created += 1
        elif _update(cases, target, snapshot, group, draft, request):
            tally.updated += 1
            tally.incident_ids.append(int(target["id"]))
        else:
            tally.unchanged += 1


def _create(cases: SoarCases, group: GroupEvidence, draft: IncidentDraft, *, now: datetime) -> int:
    plan = plan_create(group, draft)
    body = dict(plan.incident)
    body.setdefault("discovered_date", epoch_ms(now))
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


def _update(cases: SoarCases, incident: Incident, snapshot: IncidentSnapshot, group: GroupEvidence,
            draft: IncidentDraft, request: IngestInputs) -> bool:
    closed_policy = request.policy.closed_policy
    update = plan_update(snapshot, group, draft, closed_policy=closed_policy)
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
        have = cases.note_texts(incident_id)
        for note in update.notes:
            if note not in have:
                cases.add_note(incident_id, note)
    if update.field_changes:
        try:
            cases.patch_incident(incident, update.field_changes)
        except SoarConflictError:
            # an analyst changed the incident meanwhile: re-read it and apply what is still ours to apply
            fresh = cases.get_incident(incident_id)
            again = plan_update(snapshot_of(cases, fresh), group, draft, closed_policy=closed_policy)
            cases.patch_incident(fresh, again.field_changes)
    return True
