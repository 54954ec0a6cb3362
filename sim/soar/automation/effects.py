"""A script's effects written to the documents: all of them, or none.

Every effect is checked and staged first (fields, labels, artifact types, tables and columns, the
fields a close requires), then everything is stored under the lock at once. A refusal is an
:class:`~sim.soar.engine.EffectError` naming the cause and leaves nothing written, because SOAR commits
a script's changes together. The writer answers with the changes it made; which rules they fire is
automation's business.
"""

from __future__ import annotations

from sim.soar.catalog import text_content
from sim.soar.children import Rows
from sim.soar.documents import Change, Doc, now_ms
from sim.soar.engine import AddArtifact, AddNote, AddRow, Effect, EffectError, SetArtifactField, SetField
from sim.soar.errors import SoarError
from sim.soar.incidents import Incidents


class EffectWriter:
    """Writes effects through the incidents (with their notes and artifacts) and the rows."""

    def __init__(self, incidents: Incidents, rows: Rows) -> None:
        self.incidents = incidents
        self.rows = rows
        self.store = incidents.store
        self.lock = incidents.lock
        self.notes = incidents.notes
        self.artifacts = incidents.artifacts

    def apply(self, effects: list[Effect]) -> list[Change]:
        """Write all effects or raise EffectError and write none; the incident and artifact changes made."""
        with self.lock:
            try:
                staged = _Staged()
                for eff in effects:
                    self._stage(staged, eff)
                finals = {inc_id: self.incidents.changed(staged.incidents[inc_id], values, props, by_script=True)
                          for inc_id, (values, props) in staged.values.items()}
            except SoarError as err:
                raise EffectError(err.message) from None
            except ValueError as err:
                raise EffectError(str(err)) from None
            return self._commit(staged, finals)

    def _stage(self, staged: _Staged, eff: Effect) -> None:
        if isinstance(eff, SetField):
            if eff.object_type != "incident":
                raise EffectError(f"cannot set '{eff.field}' on a {eff.object_type}")
            staged.incidents.setdefault(eff.object_id, self.incidents.doc(eff.object_id))
            values, props = staged.values.setdefault(eff.object_id, ({}, {}))
            fd, name, is_prop = self.incidents.field_for_path(eff.field)
            if fd.get("read_only") or name == "id":
                raise EffectError(f"field '{eff.field}' is read-only")
            self.incidents.assign(values, props, fd, name, is_prop, eff.value, eff.field, description_format="text")
        elif isinstance(eff, AddNote):
            self.incidents.doc(eff.incident_id)
            staged.notes.append(self.notes.prepare(eff.incident_id, {"text": {
                "format": eff.format, "content": eff.content}}))
        elif isinstance(eff, AddArtifact):
            self.incidents.doc(eff.incident_id)
            staged.new_artifacts.append(self.artifacts.prepare(eff.incident_id, {
                "type": eff.type_name, "value": eff.value, "description": eff.description}))
        elif isinstance(eff, SetArtifactField):
            art = staged.artifacts.get(eff.artifact_id) or self.store.get("artifact", eff.artifact_id)
            if art is None:
                raise EffectError(f"artifact {eff.artifact_id} does not exist")
            if eff.field != "description":
                raise EffectError(f"artifact field '{eff.field}' cannot be changed by a script")
            staged.artifacts[eff.artifact_id] = dict(art, description=text_content(eff.value)[0])
        elif isinstance(eff, AddRow):
            self.incidents.doc(eff.incident_id)
            staged.rows.append(self.rows.prepare(eff.incident_id, eff.table,
                                                 {k: {"value": v} for k, v in eff.cells.items()}))
        else:
            raise EffectError(f"effect {type(eff).__name__} is not supported by the emulator")

    def _commit(self, staged: _Staged, finals: dict[int, Doc]) -> list[Change]:
        changes = []
        for inc_id, new in finals.items():
            change = self.incidents.commit(staged.incidents[inc_id], new)
            if change is not None:
                changes.append(change)
        for note in staged.notes:
            self.store.put("note", note["id"], note)
        for art in staged.new_artifacts:
            self.store.put("artifact", art["id"], art)
            changes.append(Change("artifact", art["inc_id"], None, art))
        for art_id, art in staged.artifacts.items():
            old = self.store.get("artifact", art_id)
            if old != art:
                art["last_modified_time"] = now_ms()
                self.store.put("artifact", art_id, art)
                changes.append(Change("artifact", art["inc_id"], old, art))
        for row in staged.rows:
            self.store.put("row", row["id"], row)
        return changes


class _Staged:
    """What the effects of one script will write, checked but not stored."""

    def __init__(self) -> None:
        self.incidents: dict[int, Doc] = {}
        self.values: dict[int, tuple[Doc, Doc]] = {}
        self.notes: list[Doc] = []
        self.new_artifacts: list[Doc] = []
        self.artifacts: dict[int, Doc] = {}
        self.rows: list[Doc] = []
