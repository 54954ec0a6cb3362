"""Writing one window's groups into SOAR: find each group's incident, create it or add only what it lacks.

The decisions are the pure core's (:mod:`fn_pp_tap_functions.ingest.plan`); this module finds the incidents
(one query per 200 group keys: the query's fields are all a decision needs, no artifact, row or note is
read), applies the plans and orders the writes so that a crash, a timeout or a SOAR error at any point
leaves nothing a rerun would duplicate or lose:

* a create is ONE call when it has no rows (artifacts inline); with rows, its journal is in the POST body
  and the rows follow (:mod:`.journal`);
* an update writes its fields first, in one PATCH with SOAR's old_value check on everything it read (the
  ledger among them, so two writers on one incident cannot both apply: the loser reads the incident again
  and plans again), with the journal of the rows, artifacts and note that follow;
* the journals are cleared by the caller, with the window's save;
* every write is fenced by the lease (``fence``, called before each call that writes);
* when one group key has several OPEN incidents (a create that landed after the client gave up, two
  instances), the lowest id is canonical: the others' events and recipients are merged into it and they
  are closed as Duplicate with a note naming it. Deterministic, so two instances doing it at once agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    Ledger,
    apply_owner_rules,
    decide_closed,
    plan_create,
    plan_update,
)
from fn_pp_tap_functions.ingest.plan import list_text
from fn_pp_tap_functions.services.journal import Journal, Pending, journal_of, reconcile, write_rest
from fn_pp_tap_functions.soar.cases import Incident, SoarCases, artifact_type_name, row_cells
from fn_pp_tap_functions.tap.timestamps import epoch_ms

Fence = Callable[[], None]
"""Called before each call that writes: raises when the run may no longer write (its lease is ending)."""


@dataclass
class Tally:
    """What writing the groups did: counts, and the incidents created, updated or closed."""

    created: int = 0
    updated: int = 0
    closed: int = 0
    unchanged: int = 0
    deferred: int = 0
    merged: int = 0
    incident_ids: list[int] = field(default_factory=list)

    def count_closed(self, incident_id: int) -> None:
        self.closed += 1
        self.incident_ids.append(incident_id)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.closed or self.merged)


def _is_open(incident: Mapping[str, Any]) -> bool:
    return str(incident.get("plan_status", "A")).upper().startswith("A")


def _pick(incidents: list[Incident]) -> Incident | None:
    """The incident a group's events go to: the oldest open one (see merge), else the newest closed one."""
    if not incidents:
        return None
    open_ = [i for i in incidents if _is_open(i)]
    if open_:
        return min(open_, key=lambda i: int(i["id"]))
    return max(incidents, key=lambda i: int(i["id"]))


def _with(incident: Mapping[str, Any], changes: Mapping[str, Any]) -> Incident:
    """The incident as our successful PATCH left it (see control._with_props)."""
    out = dict(incident)
    out["properties"] = dict(incident.get("properties") or {})
    for name, value in changes.items():
        if name.startswith("properties."):
            out["properties"][name.removeprefix("properties.")] = value
        elif name == "description":
            out["description"] = value.get("content") if isinstance(value, Mapping) else value
        else:
            out[name] = value
    return out


@dataclass
class Writer:
    """Writes groups for one run: ``rows_cap`` rows per incident; ``fence`` before each write.

    ``pending`` collects the journals of the current window for the caller's save; ``urgent_only`` (the
    fresh pass) writes creates and the updates an analyst must see at once, and leaves the rest to the
    settle pass, which reads the same events again.
    """

    cases: SoarCases
    request: IngestInputs
    tally: Tally
    run: str
    rows_cap: int
    fence: Fence = lambda: None
    now: datetime | None = None
    pending: Pending = field(default_factory=Pending)

    # ------------------------------------------------------------------------------------- rendering

    def render(self, group: GroupEvidence, merged: Mapping[str, object]) -> IncidentDraft:
        return apply_owner_rules(self.request.template.render(group, now=self.now, merged=merged),
                                 self.request.owner_rules, group)

    def render_evidence(self, group: GroupEvidence, merged: Mapping[str, object],
                        filled: frozenset[int]) -> IncidentDraft:
        """What an update takes from the create template (no owner: an update never changes it)."""
        return self.request.template.render(group, now=self.now, merged=merged, evidence_only=True,
                                            skip_specs=filled)

    def render_text(self, merged: Mapping[str, object]) -> tuple[str | None, str | None, str | None]:
        return self.request.updates.render_text(merged, now=self.now)

    @property
    def caps(self) -> dict[int, int]:
        return self.request.template.artifact_caps()

    # ------------------------------------------------------------------------------------- groups

    def write(self, groups: Mapping[str, GroupEvidence], *, now: datetime, urgent_only: bool = False) -> None:
        """Create or update the incident of every group, counting in the tally as it goes (a SOAR error
        midway leaves the counts of what was written)."""
        if not groups:
            return
        self.now = now
        existing = self.cases.find_by_values(F.GROUP_KEY, groups.keys())
        for key in sorted(groups):
            group = groups[key]
            incidents = existing.get(key, [])
            if sum(1 for i in incidents if _is_open(i)) > 1:
                incidents = self.merge_duplicates(incidents)
            target = _pick(incidents)
            if target is not None:
                target = self.prepare(target)
            if target is None:
                self.tally.incident_ids.append(self.create(group))
                self.tally.created += 1
                continue
            snapshot = IncidentSnapshot.of(target)
            action = decide_closed(self.request.policy, snapshot, group)
            if action is ClosedAction.SKIP:
                self.tally.unchanged += 1
            elif action is ClosedAction.NEW:
                fresh = group.restricted_to(k for k in group.event_keys if not snapshot.ledger.knows_event(k))
                self.tally.incident_ids.append(self.create(fresh or group))
                self.tally.created += 1
            elif action is ClosedAction.NOTE and urgent_only:
                self.tally.deferred += 1
            else:
                outcome = self.update(target, group, urgent_only=urgent_only)
                if outcome == "updated":
                    self.tally.updated += 1
                    self.tally.incident_ids.append(int(target["id"]))
                elif outcome == "deferred":
                    self.tally.deferred += 1
                else:
                    self.tally.unchanged += 1

    def prepare(self, incident: Incident) -> Incident:
        """An incident ready to plan on: another run's journal finished, a ledger of the old format rebuilt."""
        props = incident.get("properties") or {}
        journal = Journal.parse(props.get(F.PENDING))
        if journal is not None and journal.run != self.run:
            incident = reconcile(self.cases, incident, before=self.fence)
        if Ledger.is_legacy((incident.get("properties") or {}).get(F.LEDGER)):
            incident = self.migrate(incident)
        return incident

    # ------------------------------------------------------------------------------------- create

    def create(self, group: GroupEvidence) -> int:
        plan = plan_create(group, self.render, artifact_caps=self.caps, rows_cap=self.rows_cap)
        body = dict(plan.incident)
        body.setdefault("discovered_date", epoch_ms(self.now))
        properties = dict(body["properties"])  # type: ignore[call-overload]
        properties[F.CHECKED] = epoch_ms(self.now)
        journal = journal_of(self.run, list(zip(plan.row_keys, plan.rows, strict=True)))
        if not journal.empty:
            properties[F.PENDING] = journal.text()
        body["properties"] = properties
        body["artifacts"] = [{"type": {"name": a.type}, "value": a.value,
                              "description": {"format": "text", "content": a.description or ""}}
                             for a in plan.artifacts]
        self.fence()
        incident = self.cases.create_incident(body)
        incident_id = int(incident["id"])
        if not journal.empty:
            write_rest(self.cases, incident_id, journal, before=self.fence)
            self.pending.add({"properties": properties, **incident, "id": incident_id}, journal.text())
        return incident_id

    # ------------------------------------------------------------------------------------- update

    def update(self, incident: Incident, group: GroupEvidence, *, urgent_only: bool) -> str:
        for attempt in (1, 2):
            update = plan_update(IncidentSnapshot.of(incident), group, self.render_evidence, self.render_text,
                                 closed_policy=self.request.policy.closed_policy, artifact_caps=self.caps,
                                 rows_cap=self.rows_cap)
            if update.is_empty:
                return "unchanged"
            if urgent_only and not update.urgent:
                return "deferred"
            changes = dict(update.field_changes)
            changes[f"properties.{F.CHECKED}"] = epoch_ms(self.now)
            journal = journal_of(self.run, list(zip(update.row_keys, update.new_rows, strict=True)),
                                 update.new_artifacts, update.note)
            if not journal.empty:
                changes[f"properties.{F.PENDING}"] = journal.text()
            self.fence()
            try:
                self.cases.patch_incident(incident, changes)
            except SoarConflictError:
                if attempt == 2:
                    raise
                # someone else changed it meanwhile (an analyst, another instance): read it and plan again
                incident = self.prepare(self.cases.get_incident(int(incident["id"])))
                continue
            if not journal.empty:
                write_rest(self.cases, int(incident["id"]), journal, before=self.fence)
                self.pending.add(_with(incident, changes), journal.text())
            return "updated"
        return "unchanged"

    # ------------------------------------------------------------------------------------- duplicates

    def merge_duplicates(self, incidents: list[Incident]) -> list[Incident]:
        """Several open incidents for one group: merge into the lowest id, close the others as Duplicate."""
        open_ = sorted((i for i in incidents if _is_open(i)), key=lambda i: int(i["id"]))
        canonical, duplicates = self.prepare(open_[0]), [self.prepare(i) for i in open_[1:]]
        changes = _merged_fields(canonical, duplicates)
        if changes:
            self.fence()
            try:
                self.cases.patch_incident(canonical, changes)
                canonical = _with(canonical, changes)
                names = ", ".join(f"#{d['id']}" for d in duplicates)
                self.cases.add_note(int(canonical["id"]), f"<p><b>Proofpoint TAP:</b> incident(s) {names} had the "
                                    "same group key; their events and recipients are merged into this incident and "
                                    "they are closed as duplicates.</p>")
            except SoarConflictError:
                canonical = self.prepare(self.cases.get_incident(int(canonical["id"])))
        closed = []
        for duplicate in duplicates:
            summary = f"Duplicate of incident {canonical['id']} (same Proofpoint TAP group key)."
            try:
                self.fence()
                self.cases.patch_incident(duplicate, {"plan_status": "C", "resolution_id": "Duplicate",
                                                      "resolution_summary": summary},
                                          expected={"plan_status": duplicate.get("plan_status")})
            except SoarConflictError:
                continue  # another instance closed it: it wrote the note
            self.cases.add_note(int(duplicate["id"]), f"<p><b>Proofpoint TAP:</b> closed as a duplicate of incident "
                                                      f"#{canonical['id']}, which now holds its events.</p>")
            self.tally.merged += 1
            closed.append(_with(duplicate, {"plan_status": "C"}))
        return [canonical, *closed, *(i for i in incidents if not _is_open(i))]

    # ------------------------------------------------------------------------------------- old ledgers

    def migrate(self, incident: Incident) -> Incident:
        """An incident written before the ledger recorded every event and artifact: rebuild its ledger once
        from its rows and artifacts (the old read path), so its counts can be derived from then on."""
        incident_id = int(incident["id"])
        props = dict(incident.get("properties") or {})
        ledger = Ledger.parse(props.get(F.LEDGER))
        for row in self.cases.rows(incident_id, F.EVENTS_TABLE):
            cells = row_cells(row)
            if cells.get(F.COL_EVENT_KEY):
                ledger.add_event(str(cells[F.COL_EVENT_KEY]), str(cells.get(F.COL_EVENT_TYPE) or ""), row=True)
        for artifact in self.cases.artifacts(incident_id):
            ledger.add_artifact(artifact_type_name(artifact), str(artifact.get("value")), 99)
        ledger.legacy = False
        text = ledger.text()
        self.fence()
        try:
            self.cases.patch_incident(incident, {f"properties.{F.LEDGER}": text})
        except SoarConflictError:
            return self.cases.get_incident(incident_id)
        return _with(incident, {f"properties.{F.LEDGER}": text})


def _merged_fields(canonical: Incident, duplicates: list[Incident]) -> dict[str, Any]:
    """The canonical incident's fields with the duplicates' events, recipients and lists merged in."""
    props = canonical.get("properties") or {}
    ledger = Ledger.parse(props.get(F.LEDGER))
    before = ledger.text()
    values = {name: set(str(props.get(name) or "").replace("\u2026", "").split(", ")) - {""}
              for name in (F.THREAT_IDS, F.CAMPAIGN_ID, F.CLASSIFICATION, F.EVENT_TYPES)}
    first, last = props.get(F.FIRST_SEEN), props.get(F.LAST_SEEN)
    for duplicate in duplicates:
        other = duplicate.get("properties") or {}
        ledger.merge(Ledger.parse(other.get(F.LEDGER)))
        for name in values:
            values[name] |= set(str(other.get(name) or "").replace("\u2026", "").split(", ")) - {""}
        if isinstance(other.get(F.FIRST_SEEN), int) and (not isinstance(first, int) or other[F.FIRST_SEEN] < first):
            first = other[F.FIRST_SEEN]
        if isinstance(other.get(F.LAST_SEEN), int) and (not isinstance(last, int) or other[F.LAST_SEEN] > last):
            last = other[F.LAST_SEEN]
    wanted: dict[str, Any] = {name: list_text(v) or None for name, v in values.items()}
    wanted.update({F.FIRST_SEEN: first, F.LAST_SEEN: last, F.EVENT_COUNT: ledger.event_count,
                   F.RECIPIENTS_COUNT: ledger.recipients_count})
    if ledger.text() != before:
        wanted[F.LEDGER] = ledger.text()
    return {f"properties.{name}": value for name, value in wanted.items()
            if value is not None and props.get(name) != value}

