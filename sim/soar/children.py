"""What lives under an incident: notes, artifacts, attachments and data-table rows.

Each part stores its documents with the incident's id (``inc_id``), so the store finds an incident's
children through its index. The caller has found the incident (a 404 names it) before it asks a part
here; the parts check everything else (an artifact's type, a note's text, a row's columns) and, like the
incidents, never fire a rule: an artifact write answers with the :class:`~sim.soar.documents.Change`.

Choices made where SOAR's behaviour is not documented (the stricter plausible one): unknown keys in a
note or artifact body are refused; an artifact's type and value cannot change once it exists; a file
artifact type cannot be created from a plain value; a row PUT with a stale ``version`` answers 409.
"""

from __future__ import annotations

import base64
import copy
import uuid as uuidlib
from typing import Any

from sim.soar import builtins
from sim.soar.catalog import is_empty, text_content, to_internal, to_output
from sim.soar.documents import Change, Doc, Ref, now_ms, public
from sim.soar.errors import SoarError, bad_request, not_found
from sim.soar.registry import DocumentPart

_NOTE_KEYS = {"text", "parent_id", "children", "mentioned_users", "id", "inc_id", "type", "create_date"}


class Notes(DocumentPart):
    """Notes (comments) of incidents."""

    def prepare(self, inc_id: int, body: Any) -> Doc:
        """A checked note document with its id, not stored yet."""
        text = body.get("text") if isinstance(body, dict) else body
        if isinstance(body, dict):
            unknown = set(body) - _NOTE_KEYS
            if unknown:
                raise bad_request(f"Unrecognized field '{sorted(unknown)[0]}' in note")
        try:
            content, fmt = text_content(text)
        except ValueError as exc:
            raise bad_request(f"note text: {exc}") from None
        if is_empty(content):
            raise bad_request("A note needs non-empty 'text'")
        ts = now_ms()
        return {"id": self.store.next_id("note"), "inc_id": inc_id, "text": content,
                "_format": fmt or "text", "create_date": ts, "modify_date": ts,
                "parent_id": body.get("parent_id") if isinstance(body, dict) else None,
                "principal": self.org.api_principal}

    def render(self, note: Doc) -> Doc:
        p = note.get("principal") or self.org.api_principal
        return {"id": note["id"], "parent_id": note.get("parent_id"), "user_id": p["id"],
                "user_fname": p.get("display_name", ""), "user_lname": "", "text": note["text"],
                "create_date": note["create_date"], "modify_date": note["modify_date"], "children": [],
                "mentioned_users": [], "is_deleted": False, "modify_user": p, "inc_id": note["inc_id"],
                "task_id": None, "type": "incident", "actions": [], "comment_perms": {"update": True,
                                                                                     "delete": True}}

    def add(self, inc_id: int, body: Any) -> Doc:
        with self.lock:
            note = self.prepare(inc_id, body)
            self.store.put("note", note["id"], note)
            return self.render(note)

    def of(self, inc_id: int) -> list[Doc]:
        with self.lock:
            return [self.render(n) for n in self.store.children("note", inc_id)]

    def is_html(self, note_id: int) -> bool:
        note = self.store.peek("note", note_id)
        return note is not None and note.get("_format") == "html"


class Artifacts(DocumentPart):
    """Artifacts of incidents, typed by the registry's artifact types."""

    def prepare(self, inc_id: int, body: Any) -> Doc:
        """A checked artifact document with its id, not stored yet."""
        if not isinstance(body, dict):
            raise bad_request("An artifact must be an object")
        for key in body:
            if key not in builtins.ARTIFACT_BUILTIN_FIELDS:
                raise bad_request(f"Unrecognized field '{key}' in artifact")
        atype = self.registry.artifact_type(body.get("type"))
        if atype is None:
            raise bad_request(f"Unknown artifact type {body.get('type')!r}", error_code="unknownArtifactType")
        if not atype.get("enabled", True):
            raise bad_request(f"Artifact type '{atype['name']}' is disabled")
        if atype.get("file"):
            raise bad_request(f"Artifact type '{atype['name']}' holds a file: create it with POST "
                              f"/incidents/{inc_id}/artifacts/files")
        value = body.get("value")
        if not isinstance(value, str) or not value.strip():
            raise bad_request("An artifact needs a non-empty string 'value'")
        try:
            description, _fmt = text_content(body.get("description"))
        except ValueError as exc:
            raise bad_request(f"artifact description: {exc}") from None
        props = body.get("properties") or []
        ts = now_ms()
        return {"id": self.store.next_id("artifact"), "inc_id": inc_id, "type": atype["id"], "value": value,
                "description": description, "created": ts, "last_modified_time": ts, "hits": [],
                "relating": body.get("relating"), "properties": props,
                "creator_principal": self.org.api_principal}

    def render(self, art: Doc, names: bool = False) -> Doc:
        atype = self.registry.artifact_type(art["type"])
        out = copy.deepcopy(public(art))
        out["type"] = atype["name"] if (names and atype) else art["type"]
        out["attachment"] = None
        out["perms"] = {"read": True, "write": True, "delete": True}
        out["actions"] = []
        return out

    def add(self, inc_id: int, body: Any, names: bool = False) -> tuple[list[Doc], Change]:
        """``POST /incidents/{id}/artifacts`` answers a list of the created artifacts, as SOAR does."""
        with self.lock:
            art = self.prepare(inc_id, body)
            self.store.put("artifact", art["id"], art)
            return [self.render(art, names)], Change("artifact", inc_id, None, art)

    def of(self, inc_id: int, names: bool = False) -> list[Doc]:
        with self.lock:
            return [self.render(a, names) for a in self.store.children("artifact", inc_id)]

    def doc(self, inc_id: int, art_id: Ref) -> Doc:
        """The stored artifact (a copy), or 404 when it is not one of this incident's."""
        try:
            art = self.store.get("artifact", int(art_id))
        except (TypeError, ValueError):
            art = None
        if art is None or art["inc_id"] != inc_id:
            raise not_found(f"Artifact {art_id} not found in incident {inc_id}")
        return art

    def get(self, inc_id: int, art_id: Ref, names: bool = False) -> Doc:
        with self.lock:
            return self.render(self.doc(inc_id, art_id), names)

    def update(self, inc_id: int, art_id: Ref, body: Any, names: bool = False) -> tuple[Doc, Change]:
        with self.lock:
            art = self.doc(inc_id, art_id)
            new = self._set_fields(art, body)
            return self.render(new, names), Change("artifact", new["inc_id"], art, new)

    def _set_fields(self, art: Doc, body: Any) -> Doc:
        if not isinstance(body, dict):
            raise bad_request("An artifact must be an object")
        new = copy.deepcopy(art)
        for key, value in body.items():
            if key not in builtins.ARTIFACT_BUILTIN_FIELDS:
                raise bad_request(f"Unrecognized field '{key}' in artifact")
            if key == "description":
                try:
                    new["description"] = text_content(value)[0]
                except ValueError as exc:
                    raise bad_request(f"artifact description: {exc}") from None
            elif key == "type":
                atype = self.registry.artifact_type(value)
                if atype is None:
                    raise bad_request(f"Unknown artifact type {value!r}")
                if atype["id"] != art["type"]:
                    raise bad_request("The type of an existing artifact cannot be changed")
            elif key == "value":
                if value != art["value"]:
                    raise bad_request("The value of an existing artifact cannot be changed")
            elif key in ("properties", "relating", "hits"):
                new[key] = value
        if new != art:
            new["last_modified_time"] = now_ms()
            self.store.put("artifact", new["id"], new)
        return new


class Attachments(DocumentPart):
    """Files attached to incidents (kept base64 in the document)."""

    def add(self, inc: Doc, filename: str, content_type: str, data: bytes) -> Doc:
        with self.lock:
            if not filename:
                raise bad_request("An attachment needs a file name")
            att = {"id": self.store.next_id("attachment"), "inc_id": inc["id"], "name": filename,
                   "content_type": content_type or "application/octet-stream", "size": len(data),
                   "created": now_ms(), "creator_id": self.org.api_key["handle"], "uuid": str(uuidlib.uuid4()),
                   "vers": 1, "_content": base64.b64encode(data).decode("ascii")}
            self.store.put("attachment", att["id"], att)
            return self.render(att, inc)

    @staticmethod
    def render(att: Doc, inc: Doc | None = None) -> Doc:
        out = public(att)
        out.update({"type": "incident", "actions": [], "task_id": None, "task_name": None,
                    "inc_name": inc["name"] if inc else None, "inc_owner": inc.get("owner_id") if inc else None})
        return out

    def of(self, inc: Doc) -> list[Doc]:
        with self.lock:
            return [self.render(a, inc) for a in self.store.children("attachment", inc["id"])]

    def _doc(self, inc: Doc, att_id: Ref) -> Doc:
        att = self.store.get("attachment", int(att_id)) if str(att_id).isdigit() else None
        if att is None or att["inc_id"] != inc["id"]:
            raise not_found(f"Attachment {att_id} not found in incident {inc['id']}")
        return att

    def get(self, inc: Doc, att_id: Ref) -> Doc:
        with self.lock:
            return self.render(self._doc(inc, att_id), inc)

    def contents(self, inc: Doc, att_id: Ref) -> tuple[str, bytes]:
        """(content type, bytes) of one attachment."""
        with self.lock:
            att = self._doc(inc, att_id)
            return att["content_type"], base64.b64decode(att["_content"])


class Rows(DocumentPart):
    """Rows of the registered data tables, per incident."""

    def coerce_cells(self, table: Doc, cells: Any) -> Doc:
        """Cells ``{column: {"value": v}}`` checked against the table's columns, in stored form."""
        if not isinstance(cells, dict):
            raise bad_request("'cells' must be an object: {column: {\"value\": v}}")
        out = {}
        for col, cell in cells.items():
            fd = table["fields"].get(col)
            if fd is None:
                raise bad_request(f"Unknown column '{col}' in data table '{table['type_name']}'",
                                  error_code="unknownField")
            if not isinstance(cell, dict) or "value" not in cell:
                raise bad_request(f"cell '{col}' must be {{\"value\": v}}")
            value = cell["value"]
            if fd["input_type"] == "textarea" and isinstance(value, dict):
                value = text_content(value)[0]
            out[col] = to_internal(fd, value, f"{table['type_name']}.{col}", self.org.principals)
        return out

    def prepare(self, inc_id: int, table_name: str, cells: Any) -> Doc:
        """A checked row document with its id, not stored yet."""
        cells = self.coerce_cells(self.registry.table(table_name), cells)
        return {"id": self.store.next_id("row"), "inc_id": inc_id, "table": table_name, "cells": cells,
                "version": 1, "create_date": now_ms()}

    def render(self, row: Doc, names: bool = False) -> Doc:
        table = self.registry.table(row["table"])
        cells = {}
        for col, value in row["cells"].items():
            fd = table["fields"].get(col)
            shown = to_output(fd, value, names, self.org.principals) if fd else value
            cells[col] = {"id": col, "row_id": row["id"], "value": shown}
        return {"id": row["id"], "type_id": table.get("id"), "inc_id": row["inc_id"], "cells": cells,
                "actions": [], "playbooks": [], "version": row["version"]}

    def table_data(self, inc_id: int, table_name: str, names: bool = False) -> Doc:
        with self.lock:
            table = self.registry.table(table_name)
            rows = [self.render(r, names) for r in self.store.children("row", inc_id) if r["table"] == table_name]
            return {"id": table.get("id"), "table_name": table_name, "display_name": table.get("display_name"),
                    "rows": rows}

    def add(self, inc_id: int, table_name: str, body: Any, names: bool = False) -> Doc:
        with self.lock:
            row = self.prepare(inc_id, table_name, (body or {}).get("cells"))
            self.store.put("row", row["id"], row)
            return self.render(row, names)

    def doc(self, inc_id: int, table_name: str, row_id: Ref) -> Doc:
        """The stored row (a copy), or 404 when it is not in this table of this incident."""
        self.registry.table(table_name)
        row = self.store.get("row", int(row_id)) if str(row_id).isdigit() else None
        if row is None or row["inc_id"] != inc_id or row["table"] != table_name:
            raise not_found(f"Row {row_id} not found in table '{table_name}' of incident {inc_id}")
        return row

    def get(self, inc_id: int, table_name: str, row_id: Ref, names: bool = False) -> Doc:
        with self.lock:
            return self.render(self.doc(inc_id, table_name, row_id), names)

    def update(self, inc_id: int, table_name: str, row_id: Ref, body: Any, names: bool = False) -> Doc:
        with self.lock:
            row = self.doc(inc_id, table_name, row_id)
            table = self.registry.table(table_name)
            given = (body or {}).get("version")
            if given is not None and int(given) != row["version"]:
                raise SoarError(409, f"Row {row['id']} was changed by someone else", error_code="conflict")
            row["cells"].update(self.coerce_cells(table, (body or {}).get("cells")))
            row["version"] += 1
            self.store.put("row", row["id"], row)
            return self.render(row, names)

    def delete(self, inc_id: int, table_name: str, row_id: Ref) -> None:
        with self.lock:
            row = self.doc(inc_id, table_name, row_id)
            self.store.delete("row", row["id"])
