"""The journal of a write that spans several SOAR calls: nothing lost, nothing twice, without reading back.

A create (incident with inline artifacts, then its rows) or an update (the fields, then rows, artifacts and
one note) is several calls, and a crash, a timeout or a SOAR error can stop between them. So the FIRST call
(the create's POST, the update's PATCH) also writes the incident field ``pp_tap_pending``: the run that
wrote it and everything still to come (the rows' cells, the artifacts, the note). The ledger in the same
call already records the events, so a rerun plans nothing twice; the journal says what may still be
missing. When the writes are done the journal is cleared, for all incidents of a window in one call with
the window's save (SOAR's bulk ``PUT /incidents/patch``).

A journal that is not the current run's (the run that wrote it broke off) is finished once by
:func:`reconcile`, by the old read path: read the incident's rows, artifacts or notes (only those the
journal names), write what is missing, clear the journal (old_value check, so two instances finishing it
at once write it once). A run finds such journals for the incidents it writes, and, when the previous run
did not end cleanly (its lease says so), with one query over ``pp_tap_pending`` at the start of the run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.errors import SoarConflictError
from fn_pp_tap_functions.ingest import text_digest
from fn_pp_tap_functions.ingest.templates import ArtifactDraft
from fn_pp_tap_functions.soar.cases import Incident, SoarCases, artifact_type_name, row_cells

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Journal:
    """What a write still has to do after its first call: rows (event key, cells), artifacts, one note."""

    run: str
    rows: tuple[tuple[str, dict[str, Any]], ...] = ()
    artifacts: tuple[ArtifactDraft, ...] = ()
    note: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.rows or self.artifacts or self.note)

    def text(self) -> str:
        return json.dumps({"run": self.run, "rows": [[k, c] for k, c in self.rows],
                           "artifacts": [[a.type, a.value, a.description] for a in self.artifacts],
                           "note": self.note}, ensure_ascii=False, separators=(",", ":"), default=str)

    @classmethod
    def parse(cls, text: object) -> Journal | None:
        """The journal in a field value; ``None`` when empty. An unreadable value is a journal with nothing
        to finish (it is cleared), never an error that stops ingestion."""
        if not isinstance(text, str) or not text.strip():
            return None
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            LOG.warning("an incident journal (pp_tap_pending) is unreadable; it is cleared")
            return cls(run="?")
        rows = tuple((str(r[0]), dict(r[1])) for r in data.get("rows") or []
                     if isinstance(r, list) and len(r) == 2 and isinstance(r[1], dict))
        artifacts = tuple(ArtifactDraft(str(a[0]), str(a[1]), str(a[2] or "")) for a in data.get("artifacts") or []
                          if isinstance(a, list) and len(a) == 3)
        note = data.get("note") if isinstance(data.get("note"), str) else None
        return cls(str(data.get("run") or "?"), rows, artifacts, note)


@dataclass
class Pending:
    """The journals this run wrote in the current window, to clear with the window's save."""

    items: dict[int, tuple[Incident, str]] = field(default_factory=dict)

    def add(self, incident: Incident, text: str) -> None:
        """``incident`` as SOAR now holds it (its ``pp_tap_pending`` is ``text``)."""
        self.items[int(incident["id"])] = (incident, text)

    def clears(self) -> list[tuple[Incident, dict[str, Any], dict[str, Any]]]:
        key = f"properties.{F.PENDING}"
        return [(incident, {key: None}, {key: text}) for incident, text in self.items.values()]

    def __len__(self) -> int:
        return len(self.items)


def write_rest(cases: SoarCases, incident_id: int, journal: Journal, *, before: Any = None) -> None:
    """The writes a journal announces, in order (rows, artifacts, the note); ``before()`` is called ahead of
    each (the lease fence)."""
    for _key, cells in journal.rows:
        if before:
            before()
        cases.add_row(incident_id, F.EVENTS_TABLE, cells)
    for artifact in journal.artifacts:
        if before:
            before()
        cases.add_artifact(incident_id, artifact.type, artifact.value, artifact.description or "")
    if journal.note:
        if before:
            before()
        cases.add_note(incident_id, journal.note)


def reconcile(cases: SoarCases, incident: Incident, *, before: Any = None) -> Incident:
    """Finish another run's journal on ``incident`` (see the module) and return the incident as it now is."""
    text = (incident.get("properties") or {}).get(F.PENDING)
    journal = Journal.parse(text)
    if journal is None:
        return incident
    incident_id = int(incident["id"])
    missing = Journal(journal.run, _missing_rows(cases, incident_id, journal.rows),
                      _missing_artifacts(cases, incident_id, journal.artifacts),
                      journal.note if journal.note and _note_missing(cases, incident_id, journal.note) else None)
    if not missing.empty:
        LOG.info("incident %s: finishing an interrupted write (%d rows, %d artifacts, %s note)", incident_id,
                 len(missing.rows), len(missing.artifacts), "a" if missing.note else "no")
    write_rest(cases, incident_id, missing, before=before)
    key = f"properties.{F.PENDING}"
    try:
        cases.patch_incident(incident, {key: None}, expected={key: text})
    except SoarConflictError:
        return cases.get_incident(incident_id)  # another instance finished it at the same time
    out = dict(incident)
    out["properties"] = {**(incident.get("properties") or {}), F.PENDING: None}
    return out


def _missing_rows(cases: SoarCases, incident_id: int, rows: Sequence[tuple[str, dict[str, Any]]]
                  ) -> tuple[tuple[str, dict[str, Any]], ...]:
    if not rows:
        return ()
    have = {str(row_cells(r).get(F.COL_EVENT_KEY)) for r in cases.rows(incident_id, F.EVENTS_TABLE)}
    return tuple((k, c) for k, c in rows if k not in have)


def _missing_artifacts(cases: SoarCases, incident_id: int, artifacts: Sequence[ArtifactDraft]
                       ) -> tuple[ArtifactDraft, ...]:
    if not artifacts:
        return ()
    have = {(artifact_type_name(a), str(a.get("value"))) for a in cases.artifacts(incident_id)}
    return tuple(a for a in artifacts if (a.type, a.value) not in have)


def _note_missing(cases: SoarCases, incident_id: int, note: str) -> bool:
    wanted = text_digest(note)
    return all(text_digest(text) != wanted for text in cases.note_texts(incident_id))


def journal_of(run: str, rows: Sequence[tuple[str, Mapping[str, Any]]], artifacts: Sequence[ArtifactDraft] = (),
               note: str | None = None) -> Journal:
    return Journal(run, tuple((k, dict(c)) for k, c in rows), tuple(artifacts), note)
