"""Incident documents: create with field checks, read in either handle format, PUT with ``vers``, PATCH with
``old_value`` checks, delete with everything under it. A write answers with the
:class:`~sim.soar.documents.Change` it made and fires no rule: the facade hands changes to automation.

Choices made where SOAR's behaviour is not documented (the stricter plausible one, always):

* Unknown top-level keys in an incident body are refused (SOAR's JSON mapper rejects unrecognized
  properties); unknown ``properties`` keys are refused naming the field.
* Select values are checked against the field's enabled options; owners and members against the seeded
  users and groups.
* Closing (``plan_status`` "C") requires every field marked ``required: "close"`` — the built-in
  ``resolution_id`` and ``resolution_summary`` plus imported ones and the org's own — and fields
  ``required: "always"`` (the built-in ``name`` and ``discovered_date``, and custom fields an org makes
  required, :meth:`~sim.soar.importer.Importer.register_required_fields`) must have a value on create and
  keep it on every write. A refusal is SOAR's generic HTTP 400 ``{"message": "Bad Request",
  "error_code": "generic"}``, which does not name the field (as SOAR answered a close whose fields did not
  fit, ibmresilient/resilient-python-api#28; the stricter reading, since no source shows SOAR naming it):
  a client that wants to say which field is missing reads ``GET /types/incident/fields`` for the fields
  marked ``required``, as resilient-lib's ``close_incident`` does. The emulator logs the names.
  A closed incident gets ``end_date``; re-opening clears it.
* PATCH compares each change's ``old_value`` with the value SOAR stores (a select's or owner's name is
  taken for the id it names, as with ``handle_format=names``) and answers HTTP 200 ``success: false``
  with ``field_failures`` on any mismatch, applying nothing; the ``version`` alone never causes a
  conflict. Text is compared exactly, as stored: ``""`` does not match a field with no value, and a
  text object (``{"format", "content"}``) does not match the string SOAR keeps and answers with (the
  stricter reading: SOAR compares what it stores, and what a client read is what it must send back).
  PUT of a whole incident with a stale ``vers`` answers 409.
* An empty text (``""``, or a text object with empty content) is stored as no value (``null``), as a
  cleared field reads in SOAR: a client must not expect its ``""`` back.
"""

from __future__ import annotations

import copy
import logging
import threading
import uuid as uuidlib
from typing import Any

from sim.soar import builtins
from sim.soar.catalog import is_empty, text_content, to_internal, to_output
from sim.soar.children import Artifacts, Notes
from sim.soar.documents import Change, Doc, Ref, now_ms
from sim.soar.errors import SoarError, bad_request, not_found
from sim.soar.org import Org
from sim.soar.query import query_incidents
from sim.soar.registry import DocumentPart, Registry
from sim.soar.store import Store

LOG = logging.getLogger("sim.soar")

_PARTIAL_KEYS = {"id", "name", "discovered_date", "create_date", "plan_status", "severity_code", "owner_id",
                 "phase_id", "inc_last_modified_date", "vers", "end_date", "resolution_id", "properties"}


def _typed_value(v: Any) -> tuple[bool, Any]:
    """The value inside a PATCH typed value (``{"object": x}``, ``{"text": x}``, ``{"id": x}``...)."""
    if not isinstance(v, dict):
        return False, None
    if not v:
        return True, None
    for key in ("object", "text", "textarea", "date", "id", "ids", "boolean", "number", "name", "names",
                "user", "users"):
        if key in v:
            return True, v[key]
    return True, next(iter(v.values()))


class Incidents(DocumentPart):
    """The incidents of one org (created artifacts and notes go through their own parts)."""

    def __init__(self, store: Store, lock: threading.RLock, org: Org, registry: Registry, notes: Notes,
                 artifacts: Artifacts) -> None:
        super().__init__(store, lock, org, registry)
        self.notes = notes
        self.artifacts = artifacts

    # -- reading --------------------------------------------------------------------------------
    def doc(self, inc_id: Ref) -> Doc:
        """The stored incident (a copy), or 404."""
        try:
            inc_id = int(inc_id)
        except (TypeError, ValueError):
            raise not_found(f"Incident '{inc_id}' not found") from None
        inc = self.store.get("incident", inc_id)
        if inc is None:
            raise not_found(f"Incident {inc_id} not found")
        return inc

    def render(self, inc: Doc, names: bool = False, level: str = "full") -> Doc:
        principals = self.org.principals
        out: dict[str, Any] = {}
        for name, fd in self.registry.incident_fields_by_name().items():
            if fd.get("prefix") == "properties":
                continue
            out[name] = to_output(fd, inc.get(name), names, principals)
        out["properties"] = {f["name"]: to_output(f, inc.get("properties", {}).get(f["name"]), names, principals)
                             for f in self.store.values("field") if f["_type"] == "incident"}
        out["vers"] = inc["vers"]
        out["org_id"] = self.org.org_id
        out["org_handle"] = self.org.org_id
        out["creator_id"] = inc.get("creator_id")
        out["creator_principal"] = inc.get("creator_principal")
        out["is_scenario"] = False
        out["artifacts"] = None
        out["comments"] = None
        out["tasks"] = None
        out["uuid"] = inc["uuid"]
        out["actions"] = [] if level == "partial" else self.registry.menu_items("incident")
        if level == "partial":
            out = {k: v for k, v in out.items() if k in _PARTIAL_KEYS}
        return out

    def engine_view(self, inc: Doc) -> Doc:
        """The incident as rules and scripts see it: names format, description as ``{format, content}``."""
        out = self.render(inc, names=True)
        out.pop("actions", None)
        out["description"] = None if inc.get("description") is None else {
            "format": inc.get("_description_format") or "html", "content": inc["description"]}
        return out

    def get(self, inc_id: Ref, names: bool = False) -> Doc:
        with self.lock:
            return self.render(self.doc(inc_id), names)

    def summaries(self, names: bool = False) -> list[Doc]:
        with self.lock:
            return [self.render(i, names, "partial") for i in
                    sorted(self.store.values("incident"), key=lambda i: i["id"])]

    def query(self, body: Any, names: bool = False, level: str = "normal", paged: bool = True) -> Doc | list[Doc]:
        """``POST /incidents/query_paged`` (``paged``) and ``/incidents/query``."""
        with self.lock:
            incidents = sorted(self.store.values("incident"), key=lambda i: i["id"])
            selected, total = query_incidents(body, incidents, self.registry, paged)
            rendered = [self.render(i, names, level) for i in selected]
            if paged:
                return {"recordsTotal": total, "recordsFiltered": total, "data": rendered}
            return rendered

    # -- values -----------------------------------------------------------------------------------
    def assign(self, values: Doc, props: Doc, fd: Doc, name: str, is_prop: bool, value: Any, where: str, *,
               description_format: str = "html") -> None:
        """Convert one written field value into ``values`` (built-ins) or ``props`` (custom fields)."""
        if name == "description":
            try:
                content, fmt = text_content(value)
            except ValueError as exc:
                raise bad_request(f"field 'description': {exc}") from None
            values["description"] = content or None
            values["_description_format"] = fmt or description_format
            return
        if name == "plan_status" and value in ("Active", "Closed"):
            value = value[0]
        (props if is_prop else values)[name] = to_internal(fd, value, where, self.org.principals)

    def field_for_path(self, name: str) -> tuple[Doc, str, bool]:
        """(field, name, is_property) for a field path as PATCH and scripts name it (``properties.x``)."""
        if name.startswith("properties."):
            name = name[len("properties."):]
            fd = self.registry.custom_incident_field(name)
            if fd is None:
                raise bad_request(f"Unknown incident field 'properties.{name}'", error_code="unknownField")
            return fd, name, True
        fd = self.registry.incident_field(name)
        if fd is None:
            raise bad_request(f"Unknown incident field '{name}'", error_code="unknownField")
        return fd, name, fd.get("prefix") == "properties"

    def _coerce(self, body: Doc, *, creating: bool) -> tuple[Doc, Doc, list, list]:
        """Validate an incident body; returns (builtin values, property values, artifacts, comments)."""
        fields = {name: f for name, f in self.registry.incident_fields_by_name().items()
                  if f.get("prefix") != "properties"}
        values: dict[str, Any] = {}
        props: dict[str, Any] = {}
        for key, value in body.items():
            if key in fields:
                fd = fields[key]
                if fd["read_only"] or key in ("id",):
                    continue  # read-only fields are ignored on write, as SOAR does
                self.assign(values, props, fd, key, False, value, key)
            elif key == "properties":
                if value is None:
                    continue
                if not isinstance(value, dict):
                    raise bad_request("'properties' must be an object")
                for pname, pvalue in value.items():
                    pfd = self.registry.custom_incident_field(pname)
                    if pfd is None:
                        raise bad_request(f"Unknown incident field 'properties.{pname}': no custom incident "
                                          f"field named '{pname}' is defined", error_code="unknownField")
                    if pfd.get("read_only") and not creating:
                        continue
                    props[pname] = to_internal(pfd, pvalue, f"properties.{pname}", self.org.principals)
            elif key in ("artifacts", "comments"):
                continue
            elif key in builtins.INCIDENT_DTO_EXTRA:
                continue
            else:
                raise bad_request(f"Unrecognized field '{key}' in incident", error_code="unknownField")
        artifacts = body.get("artifacts") or []
        comments = body.get("comments") or []
        if not isinstance(artifacts, list) or not isinstance(comments, list):
            raise bad_request("'artifacts' and 'comments' must be lists")
        return values, props, artifacts, comments

    def check_required(self, inc: Doc) -> None:
        missing_always = []
        missing_close = []
        for fd in self.registry.incident_fields_shared():
            value = inc.get("properties", {}).get(fd["name"]) if fd.get("prefix") == "properties" \
                else inc.get(fd["name"])
            if fd.get("required") == "always" and is_empty(value):
                missing_always.append(fd)
            if fd.get("required") == "close" and inc.get("plan_status") == "C" and is_empty(value):
                missing_close.append(fd)

        def names(fds: list) -> str:
            return ", ".join(f"{f['text']} ({'properties.' if f.get('prefix') == 'properties' else ''}"
                             f"{f['name']})" for f in fds)
        if missing_always or missing_close:
            # SOAR's answer does not name the field (its log does): a client reads the field definitions
            LOG.info("400: required fields have no value: %s", names(missing_always + missing_close))
            raise SoarError(400, "Bad Request", error_code="generic")

    def changed(self, inc: Doc, values: Doc, props: Doc, *, by_script: bool = False) -> Doc:
        """The incident with the changes applied and checked, not stored. A script that changes the owner
        keeps the previous owner as a member."""
        new = copy.deepcopy(inc)
        if by_script and "owner_id" in values and new.get("owner_id") not in (None, values["owner_id"]):
            members = list(values["members"] if "members" in values else new.get("members") or [])
            if new["owner_id"] not in members:
                members.append(new["owner_id"])
            values = dict(values, members=members)
        new.update(values)
        new["properties"].update(props)
        if new.get("plan_status") == "C" and inc.get("plan_status") != "C":
            new["end_date"] = now_ms()
        elif new.get("plan_status") == "A" and inc.get("plan_status") == "C":
            new["end_date"] = None
        self.check_required(new)
        return new

    def commit(self, old: Doc, new: Doc) -> Change | None:
        """Store ``new`` as the next version of ``old``, unless nothing changed."""
        if new == old:
            return None
        new["vers"] = old["vers"] + 1
        new["inc_last_modified_date"] = now_ms()
        self.store.put("incident", new["id"], new)
        return Change("incident", new["id"], old, new)

    # -- writing ----------------------------------------------------------------------------------
    def create(self, body: Any, names: bool = False) -> tuple[Doc, list[Change]]:
        if not isinstance(body, dict):
            raise bad_request("Incident body must be a JSON object")
        with self.lock:
            values, props, artifacts, comments = self._coerce(body, creating=True)
            inc_id = self.store.next_id("incident", 2095)
            ts = now_ms()
            inc: dict[str, Any] = {f["name"]: None for f in builtins.builtin_incident_fields()}
            inc.update({"members": [], "incident_type_ids": [], "nist_attack_vectors": [], "plan_status": "A",
                        "phase_id": builtins.DEFAULT_PHASE_ID, "confirmed": False, "inc_training": False,
                        "negative_pr_likely": None, "_description_format": "html"})
            inc.update(values)
            inc["properties"] = {f["name"]: [] if f["input_type"] == "multiselect" else None
                                 for f in self.store.values("field") if f["_type"] == "incident"}
            inc["properties"].update(props)
            inc.update({"id": inc_id, "create_date": ts, "inc_last_modified_date": ts, "vers": 1,
                        "uuid": str(uuidlib.uuid4()), "creator_id": self.org.api_key["handle"],
                        "creator_principal": self.org.api_principal})
            if inc["plan_status"] == "C":
                inc["end_date"] = ts
            self.check_required(inc)
            # validate children before anything is stored
            prepared_artifacts = [self.artifacts.prepare(inc_id, a) for a in artifacts]
            prepared_notes = [self.notes.prepare(inc_id, c) for c in comments]
            self.store.put("incident", inc_id, inc)
            for art in prepared_artifacts:
                self.store.put("artifact", art["id"], art)
            for note in prepared_notes:
                self.store.put("note", note["id"], note)
            result = self.render(inc, names)
        return result, [Change("incident", inc_id, None, inc)] + [Change("artifact", inc_id, None, a)
                                                                   for a in prepared_artifacts]

    def replace(self, inc_id: Ref, body: Any, names: bool = False) -> tuple[Doc, Change | None]:
        """Whole-object update (PUT): a stale ``vers`` is a 409 conflict."""
        if not isinstance(body, dict):
            raise bad_request("Incident body must be a JSON object")
        with self.lock:
            inc = self.doc(inc_id)
            given = body.get("vers", body.get("version"))
            if given is None:
                raise bad_request("'vers' is required to update an incident with PUT")
            if int(given) != inc["vers"]:
                raise SoarError(409, f"Incident {inc['id']} was changed by someone else (your version {given}, "
                                     f"current version {inc['vers']})", error_code="conflict")
            values, props, _a, _c = self._coerce(body, creating=False)
            new = self.changed(inc, values, props)
            change = self.commit(inc, new)
            return self.render(new, names), change

    def patch(self, inc_id: Ref, body: Any, names: bool = False) -> tuple[Doc, Change | None]:
        """``PATCH /incidents/{id}``: returns the PatchStatusDTO (HTTP 200 either way)."""
        if not isinstance(body, dict) or not isinstance(body.get("changes"), list):
            raise bad_request("A patch needs a 'changes' list")
        with self.lock:
            inc = self.doc(inc_id)
            failures = []
            values: dict[str, Any] = {}
            props: dict[str, Any] = {}
            for change in body["changes"]:
                failure = self._patch_change(inc, change, values, props, names)
                if failure is not None:
                    failures.append(failure)
            if failures:
                return {"success": False, "title": None,
                        "message": "Conflicting changes to: " + ", ".join(f["field"] for f in failures),
                        "hints": [], "field_failures": failures}, None
            committed = self.commit(inc, self.changed(inc, values, props))
            return {"success": True, "title": None, "message": None, "hints": [], "field_failures": []}, committed

    def _patch_change(self, inc: Doc, change: Any, values: Doc, props: Doc, names: bool) -> Doc | None:
        """Take one change into ``values``/``props``; a field failure when its ``old_value`` is stale."""
        if not isinstance(change, dict):
            raise bad_request("each change must be an object")
        fname = change.get("field")
        if isinstance(fname, dict):
            fname = fname.get("name")
        if not isinstance(fname, str):
            raise bad_request("each change needs a 'field'")
        fd, name, is_prop = self.field_for_path(fname)
        if fd.get("read_only") or name == "id":
            raise bad_request(f"Field '{fname}' is read-only")
        has_new, new_value = _typed_value(change.get("new_value"))
        if not has_new:
            raise bad_request(f"change of '{fname}' needs a 'new_value'")
        current = inc["properties"].get(fd["name"]) if is_prop else inc.get(fd["name"])
        has_old, old_value = _typed_value(change.get("old_value"))
        if has_old and not self._values_equal(fd, old_value, current):
            return {"field": fname, "your_original_value": old_value,
                    "actual_current_value": to_output(fd, current, names, self.org.principals),
                    "message": f"The value of '{fname}' was changed by someone else"}
        self.assign(values, props, fd, name, is_prop, new_value, fname)
        return None

    def _values_equal(self, fd: Doc, given: Any, current: Any) -> bool:
        """Whether an ``old_value`` is what SOAR stores: text exactly (``""`` is not ``null``, and a
        ``{"format", "content"}`` object is not the string SOAR keeps and answers with); other values
        after converting a name to the id stored (``handle_format=names`` old values are names)."""
        if fd["input_type"] in ("text", "textarea"):
            return given == current
        try:
            internal = to_internal(fd, given, fd["name"], self.org.principals)
        except SoarError:
            return False
        if isinstance(internal, list) and isinstance(current, list):
            return sorted(map(str, internal)) == sorted(map(str, current))
        if isinstance(internal, list) and not internal and current is None:
            return True
        return internal == current

    def delete(self, inc_id: Ref) -> None:
        with self.lock:
            inc = self.doc(inc_id)
            for kind in ("artifact", "note", "attachment", "row"):
                for doc in self.store.children(kind, inc["id"]):
                    self.store.delete(kind, doc["id"])
            self.store.delete("incident", inc["id"])
