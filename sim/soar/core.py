"""The emulated SOAR org: its registered customizations, incidents and everything under them, rules and
workflow instances. Transport-free: the REST layer, the STOMP broker, the UI and the test harness all
call into :class:`Soar`, which answers data or raises :class:`~sim.soar.errors.SoarError`.

Choices made where SOAR's behaviour is not documented (the stricter plausible one, always):

* Unknown top-level keys in an incident body are refused (SOAR's JSON mapper rejects unrecognized
  properties); unknown ``properties`` keys are refused naming the field.
* Select values are checked against the field's enabled options; owners and members against the seeded
  users and groups.
* Closing (``plan_status`` "C") requires every field marked ``required: "close"`` — the built-in
  ``resolution_id`` and ``resolution_summary`` plus imported ones — and fields ``required: "always"``
  must keep a value on every write. A closed incident gets ``end_date``; re-opening clears it.
* PATCH compares each change's ``old_value`` with the current value (in the format of the request's
  ``handle_format``) and answers HTTP 200 ``success: false`` with ``field_failures`` on any mismatch,
  applying nothing; the ``version`` alone never causes a conflict. PUT of a whole incident with a stale
  ``vers`` answers 409.
* Automatic rules are evaluated synchronously when an incident or artifact is created or changed (so a
  client that returns from the REST call will find the workflow instance already created); their
  scripts and workflows run asynchronously in a thread pool, as do manual rules' ones.
* A change made by a script may trigger automatic rules again (as in SOAR); the cascade is cut at a
  depth of 10 and the cut is recorded as a terminated workflow instance, never silently.
"""

from __future__ import annotations

import base64
import copy
import logging
import threading
import time
import traceback
import uuid as uuidlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sim.soar import builtins
from sim.soar.catalog import (
    Principals,
    builtin_artifact_types,
    is_empty,
    resolve_option,
    text_content,
    to_internal,
    to_output,
)
from sim.soar.errors import SoarError, bad_request, not_found
from sim.soar.store import Store

LOG = logging.getLogger("sim.soar")

MAX_RULE_DEPTH = 10
_local = threading.local()


def now_ms() -> int:
    return int(time.time() * 1000)


class Soar:
    """One org of an emulated SOAR server."""

    def __init__(self, store: Store, *, org_name: str = builtins.DEFAULT_ORG_NAME, principals: dict | None = None,
                 api_key_id: str | None = None, api_key_secret: str | None = None,
                 workers: int = 16) -> None:
        self.store = store
        self.lock = threading.RLock()
        self.org_id = builtins.ORG_ID
        self.org_name = org_name
        self.principals = Principals(principals or builtins.load_principals(None))
        key = store.meta("api_key")
        if not key or (api_key_id and key.get("id") != api_key_id):
            key = {"id": api_key_id or str(uuidlib.uuid4()),
                   "secret": api_key_secret or base64.urlsafe_b64encode(uuidlib.uuid4().bytes * 2).decode()[:43],
                   "handle": 7, "uuid": str(uuidlib.uuid4()), "name": "SOAR emulator app key"}
            store.set_meta("api_key", key)
        self.api_key = key
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="soar-run")
        self.dispatcher = None  # set by the server: sim.soar.dispatch.Dispatcher
        self.function_timeout = 600.0
        self._models: dict[str, tuple[int, Any]] = {}
        self._derived_cache: dict[str, tuple[tuple[int, ...], Any]] = {}
        self._recover_instances()

    # ------------------------------------------------------------------------------------------------
    # principals and api key
    @property
    def api_principal(self) -> dict:
        return {"id": self.api_key["handle"], "type": "apikey", "name": self.api_key["id"],
                "display_name": self.api_key["name"]}

    def check_api_key(self, key_id: str | None, secret: str | None) -> bool:
        return key_id == self.api_key["id"] and secret == self.api_key["secret"]

    # ------------------------------------------------------------------------------------------------
    # fields
    def _derived(self, name: str, kinds: tuple[str, ...], build: Callable[[], Any]) -> Any:
        """``build()``, kept until a document of one of ``kinds`` changes (the caller must not mutate it).

        Fields and types are derived from the registrations on every request that renders an incident;
        rebuilding them each time made the emulator's cost grow with an incident's artifacts, not SOAR's."""
        key = tuple(self.store.generation(k) for k in kinds)
        hit = self._derived_cache.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = build()
        self._derived_cache[name] = (key, value)
        return value

    def incident_fields(self) -> list[dict]:
        """Built-in fields (with owner/phase/type values of this org) then the imported custom ones."""
        return copy.deepcopy(self._incident_fields())

    def _incident_fields(self) -> list[dict]:
        return self._derived("incident_fields", ("field", "phase", "incident_type"), self._build_incident_fields)

    def _incident_fields_by_name(self) -> dict[str, dict]:
        return self._derived("incident_fields_by_name", ("field", "phase", "incident_type"),
                             lambda: {f["name"]: f for f in self._incident_fields()})

    def _build_incident_fields(self) -> list[dict]:
        out = []
        for fd in builtins.builtin_incident_fields():
            if fd["name"] in ("owner_id", "members"):
                fd["values"] = [{"value": v, "label": label, "enabled": True, "default": False,
                                 "hidden": False, "properties": None, "uuid": None}
                                for v, label in self.principals.select_values()]
            elif fd["name"] == "phase_id":
                fd["values"] += [{"value": p["id"], "label": p["name"], "enabled": p.get("enabled", True),
                                  "default": False, "hidden": False, "properties": None, "uuid": p["uuid"]}
                                 for p in self.store.values("phase")]
            elif fd["name"] == "incident_type_ids":
                fd["values"] += [{"value": t["id"], "label": t["name"], "enabled": t.get("enabled", True),
                                  "default": False, "hidden": False, "properties": None, "uuid": t["uuid"]}
                                 for t in self.store.values("incident_type")]
            out.append(fd)
        out += sorted((copy.deepcopy(f) for f in self.store.values("field") if f["_type"] == "incident"),
                      key=lambda f: f["id"])
        return [self._public_field(f) for f in out]

    @staticmethod
    def _public_field(field: dict) -> dict:
        return {k: v for k, v in field.items() if not k.startswith("_")}

    def fields_of(self, type_name: str) -> list[dict]:
        if type_name == "incident":
            return self.incident_fields()
        return [self._public_field(f) for f in sorted(self.store.values("field"), key=lambda f: f["id"])
                if f["_type"] == type_name]

    def incident_field(self, name: str) -> dict | None:
        fd = self._incident_fields_by_name().get(name)
        return copy.deepcopy(fd) if fd is not None else None

    def custom_incident_field(self, name: str) -> dict | None:
        f = self.store.peek("field", f"incident/{name}")
        return self._public_field(f) if f else None

    def field_by_uuid(self, field_uuid: str) -> dict | None:
        for f in self.store.values("field"):
            if f.get("uuid") == field_uuid:
                return self._public_field(copy.deepcopy(f))
        for table in self.store.values("datatable"):
            for col in table["fields"].values():
                if col.get("uuid") == field_uuid:
                    return copy.deepcopy(col)
        return None

    def types(self) -> dict:
        """``GET /types``: every type by name with its fields keyed by name."""
        out = {}
        for type_id, name in ((0, "incident"), (6, "actioninvocation"), (11, "__function")):
            out[name] = {"id": type_id, "type_id": type_id, "type_name": name, "display_name": name,
                         "fields": {f["name"]: f for f in self.fields_of(name)}, "parent_types": [],
                         "properties": {}, "actions": [], "scripts": [], "uuid": builtins._stable_uuid("type", name)}
        art_field = {"name": "type", "text": "Type", "input_type": "select", "type_id": 4, "required": "always",
                     "internal": True, "prefix": None, "uuid": builtins._stable_uuid("artifact", "type"),
                     "values": [{"value": t["id"], "label": t["name"], "enabled": t["enabled"], "default": False,
                                 "hidden": False, "properties": None, "uuid": t["uuid"]}
                                for t in self.artifact_types()]}
        art_fields = {"type": art_field}
        for name, input_type in (("value", "text"), ("description", "textarea")):
            art_fields[name] = {"name": name, "text": name.title(), "input_type": input_type, "type_id": 4,
                                "internal": True, "prefix": None, "values": []}
        art_fields.update({f["name"]: f for f in self.fields_of("artifact")})
        out["artifact"] = {"id": 4, "type_id": 4, "type_name": "artifact", "display_name": "Artifact",
                           "fields": art_fields, "parent_types": ["incident"], "properties": {}}
        for table in self.store.values("datatable"):
            out[table["type_name"]] = self._public_table(table)
        return out

    def type_named(self, name: str) -> dict:
        types = self.types()
        if name not in types:
            raise not_found(f"Type '{name}' not found")
        return types[name]

    @staticmethod
    def _public_table(table: dict) -> dict:
        return {k: copy.deepcopy(v) for k, v in table.items() if not k.startswith("_")}

    # ------------------------------------------------------------------------------------------------
    # artifact types, functions, destinations, rules, workflows (read side of the registrations)
    def artifact_types(self) -> list[dict]:
        return copy.deepcopy(self._artifact_types())

    def _artifact_types(self) -> list[dict]:
        return self._derived("artifact_types", ("artifact_type",),
                             lambda: builtin_artifact_types() + [copy.deepcopy(t)
                                                                 for t in self.store.values("artifact_type")])

    def _artifact_type_index(self) -> dict[Any, dict]:
        """Every artifact type by id, name and programmatic name (the first type that has the key wins)."""
        def build() -> dict[Any, dict]:
            index: dict[Any, dict] = {}
            for t in self._artifact_types():
                for key in (t["id"], t["name"], t.get("programmatic_name")):
                    if key is not None:
                        index.setdefault(key, t)
            return index
        return self._derived("artifact_type_index", ("artifact_type",), build)

    def artifact_type(self, ref: Any) -> dict | None:
        """The type (read-only: callers must not change it) by id, name or programmatic name."""
        if isinstance(ref, dict):
            ref = ref.get("id", ref.get("name"))
        if isinstance(ref, str) and ref.isdigit():
            ref = int(ref)
        try:
            return self._artifact_type_index().get(ref)
        except TypeError:  # an unhashable reference names no type
            return None

    def functions(self) -> list[dict]:
        return [self.function(f["name"]) for f in sorted(self.store.values("function"), key=lambda f: f["id"])]

    def function(self, name: str) -> dict:
        fn = self.store.get("function", name)
        if fn is None:
            raise not_found(f"Function '{name}' not found")
        fn["workflows"] = [{"workflow_id": w["workflow_id"], "programmatic_name": w["programmatic_name"],
                            "name": w["name"], "object_type": w["object_type"], "uuid": w.get("uuid"),
                            "description": None, "actions": [], "tags": []}
                           for w in self.store.values("workflow") if fn["uuid"] in w.get("_function_uuids", [])]
        return fn

    def function_by_uuid(self, fn_uuid: str) -> dict | None:
        for f in self.store.values("function"):
            if f["uuid"] == fn_uuid:
                return self.function(f["name"])
        return None

    def destinations(self) -> list[dict]:
        return [copy.deepcopy(d) for d in sorted(self.store.values("destination"), key=lambda d: d["id"])]

    def destination(self, ref: Any) -> dict | None:
        if isinstance(ref, str) and ref.isdigit():
            ref = int(ref)
        for d in self.store.values("destination"):
            if ref in (d["id"], d["programmatic_name"], d["name"]):
                return copy.deepcopy(d)
        return None

    def update_destination(self, dest_id: int, body: dict) -> dict:
        with self.lock:
            dest = self.destination(dest_id)
            if dest is None:
                raise not_found(f"Message destination {dest_id} not found")
            for key in ("name", "expect_ack", "users", "api_keys"):
                if key in body:
                    dest[key] = body[key]
            keys = []
            for k in dest.get("api_keys") or []:
                if k in (self.api_key["handle"], self.api_key["uuid"], self.api_key["id"]):
                    keys.append(self.api_key["handle"])
                elif not isinstance(k, int):
                    keys.append(k)
            dest["api_keys"] = sorted(set(keys), key=str)
            self.store.put("destination", dest["programmatic_name"], dest)
            return dest

    def destination_authorized(self, programmatic_name: str) -> bool:
        dest = self.store.peek("destination", programmatic_name)
        return bool(dest) and self.api_key["handle"] in (dest.get("api_keys") or [])

    def rules(self, names: bool = True) -> list[dict]:
        out = []
        for r in sorted(self.store.values("rule"), key=lambda r: r["id"]):
            out.append(self.render_rule(r, names))
        return out

    def render_rule(self, rule: dict, names: bool = True) -> dict:
        r = self._public_field(copy.deepcopy(rule))
        if not names:
            obj_ids = {"incident": 0, "task": 1, "note": 2, "milestone": 3, "artifact": 4, "attachment": 5}
            r["object_type"] = obj_ids.get(r["object_type"], r["object_type"])
            r["workflows"] = [self.store.peek("workflow", w)["workflow_id"] for w in r.get("workflows", [])
                              if self.store.peek("workflow", w)]
            r["message_destinations"] = [d["id"] for d in (self.destination(m) for m in
                                                            r.get("message_destinations", [])) if d]
        return r

    def rule(self, ref: Any) -> dict | None:
        if isinstance(ref, str) and ref.isdigit():
            ref = int(ref)
        for r in self.store.values("rule"):
            if ref in (r["id"], r["name"]):
                return copy.deepcopy(r)
        return None

    def workflows(self) -> list[dict]:
        return [self._public_field(copy.deepcopy(w)) for w in sorted(self.store.values("workflow"),
                                                                      key=lambda w: w["workflow_id"])]

    def script_by_uuid(self, script_uuid: str) -> dict | None:
        for s in self.store.values("script"):
            if s["uuid"] == script_uuid:
                return self._public_field(copy.deepcopy(s))
        return None

    # ------------------------------------------------------------------------------------------------
    # incidents
    def _get_incident_doc(self, inc_id: Any) -> dict:
        try:
            inc_id = int(inc_id)
        except (TypeError, ValueError):
            raise not_found(f"Incident '{inc_id}' not found") from None
        inc = self.store.get("incident", inc_id)
        if inc is None:
            raise not_found(f"Incident {inc_id} not found")
        return inc

    def render_incident(self, inc: dict, names: bool = False, level: str = "full") -> dict:
        fields = self._incident_fields_by_name()
        out: dict[str, Any] = {}
        for name, fd in fields.items():
            if fd.get("prefix") == "properties":
                continue
            out[name] = to_output(fd, inc.get(name), names, self.principals)
        props = {}
        for f in self.store.values("field"):
            if f["_type"] == "incident":
                props[f["name"]] = to_output(f, inc.get("properties", {}).get(f["name"]), names, self.principals)
        out["properties"] = props
        out["vers"] = inc["vers"]
        out["org_id"] = self.org_id
        out["org_handle"] = self.org_id
        out["creator_id"] = inc.get("creator_id")
        out["creator_principal"] = inc.get("creator_principal")
        out["is_scenario"] = False
        out["artifacts"] = None
        out["comments"] = None
        out["tasks"] = None
        out["uuid"] = inc["uuid"]
        out["actions"] = [] if level == "partial" else self._menu_items("incident", out)
        if level == "partial":
            keep = {"id", "name", "discovered_date", "create_date", "plan_status", "severity_code", "owner_id",
                    "phase_id", "inc_last_modified_date", "vers", "end_date", "resolution_id", "properties"}
            out = {k: v for k, v in out.items() if k in keep}
        return out

    def _menu_items(self, object_type: str, obj_ids: dict) -> list[dict]:
        """Enabled manual rules shown on the object (the engine's conditions decide)."""
        items = []
        for r in sorted(self.store.values("rule"), key=lambda r: r["id"]):
            if r.get("type") == 1 and r.get("object_type") == object_type and r.get("enabled", True):
                items.append({"id": r["id"], "name": r["name"], "enabled": True})
        return items

    def get_incident(self, inc_id: Any, names: bool = False) -> dict:
        with self.lock:
            return self.render_incident(self._get_incident_doc(inc_id), names)

    def list_incidents(self, names: bool = False) -> list[dict]:
        with self.lock:
            return [self.render_incident(i, names, "partial") for i in
                    sorted(self.store.values("incident"), key=lambda i: i["id"])]

    def _coerce_incident_values(self, body: dict, *, creating: bool) -> tuple[dict, dict, list, list]:
        """Validate an incident body; returns (builtin values, property values, artifacts, comments)."""
        fields = {name: f for name, f in self._incident_fields_by_name().items() if f.get("prefix") != "properties"}
        values: dict[str, Any] = {}
        props: dict[str, Any] = {}
        allowed_extra = builtins.INCIDENT_DTO_EXTRA
        for key, value in body.items():
            if key in fields:
                fd = fields[key]
                if fd["read_only"] or key in ("id",):
                    continue  # read-only fields are ignored on write, as SOAR does
                if key == "plan_status" and value in ("Active", "Closed"):
                    value = value[0]
                if key == "description":
                    try:
                        content, fmt = text_content(value)
                    except ValueError as exc:
                        raise bad_request(f"field 'description': {exc}") from None
                    values["description"] = content
                    values["_description_format"] = fmt or "html"
                    continue
                values[key] = to_internal(fd, value, key, self.principals)
            elif key == "properties":
                if value is None:
                    continue
                if not isinstance(value, dict):
                    raise bad_request("'properties' must be an object")
                for pname, pvalue in value.items():
                    fd = self.custom_incident_field(pname)
                    if fd is None:
                        raise bad_request(f"Unknown incident field 'properties.{pname}': no custom incident "
                                          f"field named '{pname}' is defined", error_code="unknownField")
                    if fd.get("read_only") and not creating:
                        continue
                    props[pname] = to_internal(fd, pvalue, f"properties.{pname}", self.principals)
            elif key in ("artifacts", "comments"):
                continue
            elif key in allowed_extra:
                continue
            else:
                raise bad_request(f"Unrecognized field '{key}' in incident", error_code="unknownField")
        artifacts = body.get("artifacts") or []
        comments = body.get("comments") or []
        if not isinstance(artifacts, list) or not isinstance(comments, list):
            raise bad_request("'artifacts' and 'comments' must be lists")
        return values, props, artifacts, comments

    def _check_required(self, inc: dict) -> None:
        missing_always = []
        missing_close = []
        for fd in self._incident_fields():
            value = inc.get("properties", {}).get(fd["name"]) if fd.get("prefix") == "properties" \
                else inc.get(fd["name"])
            if fd.get("required") == "always" and is_empty(value):
                missing_always.append(fd)
            if fd.get("required") == "close" and inc.get("plan_status") == "C" and is_empty(value):
                missing_close.append(fd)

        def names(fds: list) -> str:
            return ", ".join(f"{f['text']} ({'properties.' if f.get('prefix') == 'properties' else ''}"
                             f"{f['name']})" for f in fds)
        if missing_always:
            raise bad_request(f"Required fields have no value: {names(missing_always)}",
                              error_code="requiredField")
        if missing_close:
            raise bad_request(f"The incident cannot be closed: the following fields are required to close it: "
                              f"{names(missing_close)}", error_code="requiredOnClose")

    def create_incident(self, body: dict, names: bool = False) -> dict:
        if not isinstance(body, dict):
            raise bad_request("Incident body must be a JSON object")
        with self.lock:
            values, props, artifacts, comments = self._coerce_incident_values(body, creating=True)
            inc_id = self.store.next_id("incident", 2095)
            ts = now_ms()
            inc: dict[str, Any] = {f["name"]: None for f in builtins.builtin_incident_fields()}
            inc.update({"members": [], "incident_type_ids": [], "nist_attack_vectors": [], "plan_status": "A",
                        "phase_id": builtins.DEFAULT_PHASE_ID, "confirmed": False, "inc_training": False,
                        "negative_pr_likely": None, "_description_format": "html"})
            inc.update(values)
            inc["properties"] = {}
            for f in self.store.values("field"):
                if f["_type"] == "incident":
                    inc["properties"][f["name"]] = [] if f["input_type"] == "multiselect" else None
            inc["properties"].update(props)
            inc.update({"id": inc_id, "create_date": ts, "inc_last_modified_date": ts, "vers": 1,
                        "uuid": str(uuidlib.uuid4()), "creator_id": self.api_key["handle"],
                        "creator_principal": self.api_principal})
            if inc["plan_status"] == "C":
                inc["end_date"] = ts
            self._check_required(inc)
            # validate children before anything is stored
            prepared_artifacts = [self._prepare_artifact(inc_id, a) for a in artifacts]
            prepared_notes = [self._prepare_note(inc_id, c) for c in comments]
            self.store.put("incident", inc_id, inc)
            for art in prepared_artifacts:
                self.store.put("artifact", art["id"], art)
            for note in prepared_notes:
                self.store.put("note", note["id"], note)
            result = self.render_incident(inc, names)
        self._after_change("incident", inc_id, None, inc)
        for art in prepared_artifacts:
            self._after_change("artifact", inc_id, None, art)
        return result

    def update_incident_put(self, inc_id: Any, body: dict, names: bool = False) -> dict:
        """Whole-object update: a stale ``vers`` is a 409 conflict."""
        if not isinstance(body, dict):
            raise bad_request("Incident body must be a JSON object")
        with self.lock:
            inc = self._get_incident_doc(inc_id)
            given = body.get("vers", body.get("version"))
            if given is None:
                raise bad_request("'vers' is required to update an incident with PUT")
            if int(given) != inc["vers"]:
                raise SoarError(409, f"Incident {inc['id']} was changed by someone else (your version {given}, "
                                     f"current version {inc['vers']})", error_code="conflict")
            values, props, _a, _c = self._coerce_incident_values(body, creating=False)
            old = copy.deepcopy(inc)
            changed = self._commit_incident_changes(inc, values, props)
            result = self.render_incident(changed, names)
        self._after_change("incident", changed["id"], old, changed)
        return result

    def _commit_incident_changes(self, inc: dict, values: dict, props: dict, *, script: bool = False) -> dict:
        new = copy.deepcopy(inc)
        if script and "owner_id" in values and new.get("owner_id") not in (None, values["owner_id"]):
            members = list(values.get("members", new.get("members") or []))
            if new["owner_id"] not in members:
                members.append(new["owner_id"])
            values = dict(values, members=members)
        new.update(values)
        new["properties"].update(props)
        ts = now_ms()
        if new.get("plan_status") == "C" and inc.get("plan_status") != "C":
            new["end_date"] = ts
        elif new.get("plan_status") == "A" and inc.get("plan_status") == "C":
            new["end_date"] = None
        self._check_required(new)
        if new == inc:
            return new
        new["vers"] = inc["vers"] + 1
        new["inc_last_modified_date"] = ts
        self.store.put("incident", new["id"], new)
        return new

    @staticmethod
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

    def _patch_field(self, name: str) -> tuple[dict, str, bool]:
        """(field, path, is_property) for a PATCH field name."""
        if name.startswith("properties."):
            name = name[len("properties."):]
            fd = self.custom_incident_field(name)
            if fd is None:
                raise bad_request(f"Unknown incident field 'properties.{name}'", error_code="unknownField")
            return fd, name, True
        fd = self.incident_field(name)
        if fd is None:
            raise bad_request(f"Unknown incident field '{name}'", error_code="unknownField")
        return fd, name, fd.get("prefix") == "properties"

    def _current_value(self, inc: dict, fd: dict, is_prop: bool) -> Any:
        return inc["properties"].get(fd["name"]) if is_prop else inc.get(fd["name"])

    def _values_equal(self, fd: dict, given: Any, current: Any) -> bool:
        if fd["input_type"] in ("text", "textarea"):
            try:
                given = text_content(given)[0]
            except ValueError:
                return False
            return (given or None) == (current or None)
        try:
            internal = to_internal(fd, given, fd["name"], self.principals)
        except SoarError:
            return False
        if isinstance(internal, list) and isinstance(current, list):
            return sorted(map(str, internal)) == sorted(map(str, current))
        if isinstance(internal, list) and not internal and current is None:
            return True
        return internal == current

    def patch_incident(self, inc_id: Any, body: dict, names: bool = False) -> dict:
        """``PATCH /incidents/{id}``: returns the PatchStatusDTO (HTTP 200 either way)."""
        if not isinstance(body, dict) or not isinstance(body.get("changes"), list):
            raise bad_request("A patch needs a 'changes' list")
        with self.lock:
            inc = self._get_incident_doc(inc_id)
            status, new = self._apply_patch(inc, body, names)
        if new is not None:
            self._after_change("incident", inc["id"], inc, new)
        return status

    def _apply_patch(self, inc: dict, body: dict, names: bool) -> tuple[dict, dict | None]:
        failures = []
        values: dict[str, Any] = {}
        props: dict[str, Any] = {}
        for change in body["changes"]:
            if not isinstance(change, dict):
                raise bad_request("each change must be an object")
            fname = change.get("field")
            if isinstance(fname, dict):
                fname = fname.get("name")
            if not isinstance(fname, str):
                raise bad_request("each change needs a 'field'")
            fd, name, is_prop = self._patch_field(fname)
            if fd.get("read_only") or name == "id":
                raise bad_request(f"Field '{fname}' is read-only")
            has_new, new_value = self._typed_value(change.get("new_value"))
            if not has_new:
                raise bad_request(f"change of '{fname}' needs a 'new_value'")
            current = self._current_value(inc, fd, is_prop)
            has_old, old_value = self._typed_value(change.get("old_value"))
            if has_old and not self._values_equal(fd, old_value, current):
                failures.append({"field": fname, "your_original_value": old_value,
                                 "actual_current_value": to_output(fd, current, names, self.principals),
                                 "message": f"The value of '{fname}' was changed by someone else"})
                continue
            if name == "description":
                try:
                    content, fmt = text_content(new_value)
                except ValueError as exc:
                    raise bad_request(f"field 'description': {exc}") from None
                values["description"] = content
                values["_description_format"] = fmt or "html"
            elif name == "plan_status" and new_value in ("Active", "Closed"):
                values["plan_status"] = new_value[0]
            elif is_prop:
                props[name] = to_internal(fd, new_value, fname, self.principals)
            else:
                values[name] = to_internal(fd, new_value, fname, self.principals)
        if failures:
            return {"success": False, "title": None,
                    "message": "Conflicting changes to: " + ", ".join(f["field"] for f in failures),
                    "hints": [], "field_failures": failures}, None
        new = self._commit_incident_changes(inc, values, props)
        return {"success": True, "title": None, "message": None, "hints": [], "field_failures": []}, \
            (new if new != inc else None)

    def bulk_patch(self, body: dict, names: bool = False) -> dict:
        """``PUT /incidents/patch``: answers ``{"<id>": PatchStatusDTO}`` for the patches that failed
        (inferred from resilient-lib calling the answer a "dictionary of failures")."""
        patches = body.get("patches") if isinstance(body, dict) else None
        if not isinstance(patches, dict):
            raise bad_request("A bulk patch needs 'patches': {incident id: patch}")
        failures = {}
        for inc_id, patch in patches.items():
            try:
                status = self.patch_incident(inc_id, patch, names)
            except SoarError as err:
                status = {"success": False, "title": None, "message": err.message, "hints": [],
                          "field_failures": []}
            if not status["success"]:
                failures[str(inc_id)] = status
        return failures

    def delete_incident(self, inc_id: Any) -> None:
        with self.lock:
            inc = self._get_incident_doc(inc_id)
            for kind in ("artifact", "note", "attachment", "row"):
                for doc in self.store.children(kind, inc["id"]):
                    self.store.delete(kind, doc["id"])
            self.store.delete("incident", inc["id"])

    # -- query -----------------------------------------------------------------------------------------
    def _query_value(self, inc: dict, field_name: str) -> tuple[dict | None, Any]:
        if field_name.startswith("properties."):
            fd = self.custom_incident_field(field_name[len("properties."):])
            if fd is None:
                raise bad_request(f"Unknown field '{field_name}' in query", error_code="unknownField")
            return fd, inc["properties"].get(fd["name"])
        if field_name in ("vers",):
            return None, inc.get(field_name)
        fd = self._incident_fields_by_name().get(field_name)  # read-only here: no copy per incident
        if fd is None:
            raise bad_request(f"Unknown field '{field_name}' in query", error_code="unknownField")
        return fd, inc.get(field_name)

    def _normalize_query_value(self, fd: dict | None, value: Any) -> Any:
        if fd is None or value is None:
            return value
        if fd["input_type"] in ("select", "multiselect"):
            try:
                return resolve_option(fd, value, fd["name"])
            except SoarError:
                return value
        if fd["input_type"] in ("select_owner", "multiselect_members"):
            p = self.principals.resolve(value)
            return p["id"] if p else value
        return value

    def _condition_matches(self, inc: dict, cond: dict) -> bool:
        field_name = cond.get("field_name")
        method = cond.get("method")
        if not isinstance(field_name, str) or not isinstance(method, str):
            raise bad_request("each condition needs 'field_name' and 'method'")
        fd, current = self._query_value(inc, field_name)
        value = cond.get("value")
        if method in ("has_a_value", "not_has_a_value", "does_not_have_a_value"):
            has = not is_empty(current)
            return has if method == "has_a_value" else not has
        if method in ("in", "not_in"):
            options = value if isinstance(value, list) else [value]
            options = [self._normalize_query_value(fd, v) for v in options]
            cur = current if isinstance(current, list) else [current]
            hit = any(c in options for c in cur)
            return hit if method == "in" else not hit
        target = self._normalize_query_value(fd, value)
        if method in ("equals", "not_equals"):
            if isinstance(current, list):
                hit = target in current if not isinstance(target, list) else sorted(map(str, target)) == sorted(
                    map(str, current))
            else:
                hit = current == target
            return hit if method == "equals" else not hit
        if method in ("contains", "not_contains"):
            if isinstance(current, list):
                hit = target in current
            else:
                hit = current is not None and str(target).lower() in str(current).lower()
            return hit if method == "contains" else not hit
        if method in ("gt", "gte", "lt", "lte"):
            if current is None or target is None:
                return False
            try:
                return {"gt": current > target, "gte": current >= target, "lt": current < target,
                        "lte": current <= target}[method]
            except TypeError:
                raise bad_request(f"cannot compare field '{field_name}' with {value!r}") from None
        raise bad_request(f"Unsupported query method '{method}'")

    def query_incidents(self, body: dict, names: bool = False, level: str = "normal",
                        paged: bool = True) -> Any:
        if not isinstance(body, dict):
            raise bad_request("query body must be an object")
        filters = body.get("filters") or []
        sorts = body.get("sorts") or []
        with self.lock:
            incidents = sorted(self.store.values("incident"), key=lambda i: i["id"])
            matched = []
            for inc in incidents:
                ok = True
                if filters:
                    ok = any(all(self._condition_matches(inc, c) for c in (f.get("conditions") or []))
                             for f in filters)
                if ok:
                    matched.append(inc)
            for sort in reversed(sorts):
                fname = sort.get("field_name")
                if not isinstance(fname, str):
                    raise bad_request("each sort needs a 'field_name'")
                self._query_value({"properties": {}}, fname)  # refuses unknown fields
                reverse = str(sort.get("type", "asc")).lower() == "desc"

                def key(i: dict, fname: str = fname) -> tuple:
                    v = i["properties"].get(fname[11:]) if fname.startswith("properties.") else i.get(fname)
                    return (v is None, v if not isinstance(v, (list, dict)) else str(v))
                matched.sort(key=key, reverse=reverse)
            total = len(matched)
            if paged:
                start = int(body.get("start") or 0)
                length = body.get("length")
                page = matched[start:] if length in (None, -1) else matched[start:start + int(length)]
                return {"recordsTotal": total, "recordsFiltered": total,
                        "data": [self.render_incident(i, names, level) for i in page]}
            return [self.render_incident(i, names, level) for i in matched]

    # ------------------------------------------------------------------------------------------------
    # notes
    def _prepare_note(self, inc_id: int, body: Any) -> dict:
        text = body.get("text") if isinstance(body, dict) else body
        if isinstance(body, dict):
            unknown = set(body) - {"text", "parent_id", "children", "mentioned_users", "id", "inc_id",
                                   "type", "create_date"}
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
                "principal": self.api_principal}

    def render_note(self, note: dict) -> dict:
        p = note.get("principal") or self.api_principal
        return {"id": note["id"], "parent_id": note.get("parent_id"), "user_id": p["id"],
                "user_fname": p.get("display_name", ""), "user_lname": "", "text": note["text"],
                "create_date": note["create_date"], "modify_date": note["modify_date"], "children": [],
                "mentioned_users": [], "is_deleted": False, "modify_user": p, "inc_id": note["inc_id"],
                "task_id": None, "type": "incident", "actions": [], "comment_perms": {"update": True,
                                                                                     "delete": True}}

    def add_note(self, inc_id: Any, body: Any) -> dict:
        with self.lock:
            inc = self._get_incident_doc(inc_id)
            note = self._prepare_note(inc["id"], body)
            self.store.put("note", note["id"], note)
            return self.render_note(note)

    def notes(self, inc_id: Any) -> list[dict]:
        with self.lock:
            inc = self._get_incident_doc(inc_id)
            return [self.render_note(n) for n in self.store.children("note", inc["id"])]

    # ------------------------------------------------------------------------------------------------
    # artifacts
    def _prepare_artifact(self, inc_id: int, body: dict) -> dict:
        if not isinstance(body, dict):
            raise bad_request("An artifact must be an object")
        allowed = builtins.ARTIFACT_BUILTIN_FIELDS
        for key in body:
            if key not in allowed:
                raise bad_request(f"Unrecognized field '{key}' in artifact")
        atype = self.artifact_type(body.get("type"))
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
                "relating": body.get("relating"), "properties": props, "creator_principal": self.api_principal}

    def render_artifact(self, art: dict, names: bool = False) -> dict:
        atype = self.artifact_type(art["type"])
        out = {k: copy.deepcopy(v) for k, v in art.items() if not k.startswith("_")}
        out["type"] = atype["name"] if (names and atype) else art["type"]
        out["attachment"] = None
        out["perms"] = {"read": True, "write": True, "delete": True}
        out["actions"] = []
        return out

    def add_artifact(self, inc_id: Any, body: dict, names: bool = False) -> list[dict]:
        """``POST /incidents/{id}/artifacts`` answers a list of the created artifacts, as SOAR does."""
        with self.lock:
            inc = self._get_incident_doc(inc_id)
            art = self._prepare_artifact(inc["id"], body)
            self.store.put("artifact", art["id"], art)
            out = [self.render_artifact(art, names)]
        self._after_change("artifact", inc["id"], None, art)
        return out

    def artifacts(self, inc_id: Any, names: bool = False) -> list[dict]:
        with self.lock:
            inc = self._get_incident_doc(inc_id)
            return [self.render_artifact(a, names) for a in self.store.children("artifact", inc["id"])]

    def _get_artifact_doc(self, inc_id: Any, art_id: Any) -> dict:
        inc = self._get_incident_doc(inc_id)
        try:
            art = self.store.get("artifact", int(art_id))
        except (TypeError, ValueError):
            art = None
        if art is None or art["inc_id"] != inc["id"]:
            raise not_found(f"Artifact {art_id} not found in incident {inc['id']}")
        return art

    def get_artifact(self, inc_id: Any, art_id: Any, names: bool = False) -> dict:
        with self.lock:
            return self.render_artifact(self._get_artifact_doc(inc_id, art_id), names)

    def update_artifact(self, inc_id: Any, art_id: Any, body: dict, names: bool = False) -> dict:
        with self.lock:
            art = self._get_artifact_doc(inc_id, art_id)
            old = copy.deepcopy(art)
            new = self._set_artifact_fields(art, body)
            out = self.render_artifact(new, names)
        self._after_change("artifact", new["inc_id"], old, new)
        return out

    def _set_artifact_fields(self, art: dict, body: dict) -> dict:
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
                atype = self.artifact_type(value)
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

    # ------------------------------------------------------------------------------------------------
    # attachments
    def add_attachment(self, inc_id: Any, filename: str, content_type: str, data: bytes) -> dict:
        with self.lock:
            inc = self._get_incident_doc(inc_id)
            if not filename:
                raise bad_request("An attachment needs a file name")
            att = {"id": self.store.next_id("attachment"), "inc_id": inc["id"], "name": filename,
                   "content_type": content_type or "application/octet-stream", "size": len(data),
                   "created": now_ms(), "creator_id": self.api_key["handle"], "uuid": str(uuidlib.uuid4()),
                   "vers": 1, "_content": base64.b64encode(data).decode("ascii")}
            self.store.put("attachment", att["id"], att)
            return self.render_attachment(att, inc)

    def render_attachment(self, att: dict, inc: dict | None = None) -> dict:
        out = {k: v for k, v in att.items() if not k.startswith("_")}
        out.update({"type": "incident", "actions": [], "task_id": None, "task_name": None,
                    "inc_name": inc["name"] if inc else None, "inc_owner": inc.get("owner_id") if inc else None})
        return out

    def attachments(self, inc_id: Any) -> list[dict]:
        with self.lock:
            inc = self._get_incident_doc(inc_id)
            return [self.render_attachment(a, inc) for a in self.store.children("attachment", inc["id"])]

    def attachment(self, inc_id: Any, att_id: Any, content: bool = False) -> Any:
        with self.lock:
            inc = self._get_incident_doc(inc_id)
            att = self.store.get("attachment", int(att_id)) if str(att_id).isdigit() else None
            if att is None or att["inc_id"] != inc["id"]:
                raise not_found(f"Attachment {att_id} not found in incident {inc['id']}")
            if content:
                return att["content_type"], base64.b64decode(att["_content"])
            return self.render_attachment(att, inc)

    # ------------------------------------------------------------------------------------------------
    # data tables
    def _table(self, name: str) -> dict:
        table = self.store.peek("datatable", name)
        if table is None:
            raise not_found(f"Data table '{name}' not found")
        return table

    def _coerce_cells(self, table: dict, cells: Any, where: str) -> dict:
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
            out[col] = to_internal(fd, value, f"{table['type_name']}.{col}", self.principals)
        return out

    def render_row(self, row: dict, names: bool = False) -> dict:
        table = self._table(row["table"])
        cells = {}
        for col, value in row["cells"].items():
            fd = table["fields"].get(col)
            shown = to_output(fd, value, names, self.principals) if fd else value
            cells[col] = {"id": col, "row_id": row["id"], "value": shown}
        return {"id": row["id"], "type_id": table.get("id"), "inc_id": row["inc_id"], "cells": cells,
                "actions": [], "playbooks": [], "version": row["version"]}

    def table_data(self, inc_id: Any, table_name: str, names: bool = False) -> dict:
        with self.lock:
            inc = self._get_incident_doc(inc_id)
            table = self._table(table_name)
            rows = [self.render_row(r, names) for r in self.store.children("row", inc["id"])
                    if r["table"] == table_name]
            return {"id": table.get("id"), "table_name": table_name, "display_name": table.get("display_name"),
                    "rows": rows}

    def add_row(self, inc_id: Any, table_name: str, body: dict, names: bool = False) -> dict:
        with self.lock:
            inc = self._get_incident_doc(inc_id)
            table = self._table(table_name)
            cells = self._coerce_cells(table, (body or {}).get("cells"), table_name)
            row = {"id": self.store.next_id("row"), "inc_id": inc["id"], "table": table_name, "cells": cells,
                   "version": 1, "create_date": now_ms()}
            self.store.put("row", row["id"], row)
            return self.render_row(row, names)

    def _get_row(self, inc_id: Any, table_name: str, row_id: Any) -> dict:
        inc = self._get_incident_doc(inc_id)
        self._table(table_name)
        row = self.store.get("row", int(row_id)) if str(row_id).isdigit() else None
        if row is None or row["inc_id"] != inc["id"] or row["table"] != table_name:
            raise not_found(f"Row {row_id} not found in table '{table_name}' of incident {inc['id']}")
        return row

    def update_row(self, inc_id: Any, table_name: str, row_id: Any, body: dict, names: bool = False) -> dict:
        with self.lock:
            row = self._get_row(inc_id, table_name, row_id)
            table = self._table(table_name)
            given = (body or {}).get("version")
            if given is not None and int(given) != row["version"]:
                raise SoarError(409, f"Row {row['id']} was changed by someone else", error_code="conflict")
            row["cells"].update(self._coerce_cells(table, (body or {}).get("cells"), table_name))
            row["version"] += 1
            self.store.put("row", row["id"], row)
            return self.render_row(row, names)

    def delete_row(self, inc_id: Any, table_name: str, row_id: Any) -> None:
        with self.lock:
            row = self._get_row(inc_id, table_name, row_id)
            self.store.delete("row", row["id"])

    # ------------------------------------------------------------------------------------------------
    # users / groups / org / session
    def users(self) -> list[dict]:
        return [copy.deepcopy(u) for u in self.principals.users]

    def groups(self) -> list[dict]:
        return [copy.deepcopy(g) for g in self.principals.groups]

    def session(self) -> dict:
        return {"orgs": [self.org_summary()], "user_id": None, "user_email": None,
                "user_fname": self.api_key["name"], "user_lname": "", "api_key_handle": self.api_key["handle"],
                "api_key_id": self.api_key["id"], "csrf_token": uuidlib.uuid4().hex, "is_ldap": False,
                "is_saml": False, "saml_alias": None, "session_ip": "127.0.0.1"}

    def org_summary(self) -> dict:
        return {"id": self.org_id, "name": self.org_name, "enabled": True, "uuid": builtins._stable_uuid(
            "org", self.org_name), "cloud_account": None, "attachments_enabled": True, "tasks_private": False,
            "has_saml": False, "require_saml": False, "supports_ldap": False, "twofactor_auth_domain": None,
            "perms": {"administrator": False, "observer": False, "master_administrator": False,
                      "create_incs": True}}

    def org(self) -> dict:
        out = self.org_summary()
        out.update({"actions_framework_enabled": True, "playbooks_enabled": False, "incident_deletion_allowed":
                    True, "users": {str(u["id"]): u for u in self.users()},
                    "groups": {str(g["id"]): g for g in self.groups()}})
        return out

    @staticmethod
    def const() -> dict:
        return {"server_version": {"major": 51, "minor": 0, "build_number": 9339, "version": "51.0.0.0.9339",
                                   "v": 51, "r": 0, "f": 0, "m": 0},
                "incident_statuses": {"A": {"id": "A", "name": "Active"}, "C": {"id": "C", "name": "Closed"}},
                "max_artifacts": 1000, "max_page_size": 1000, "actions_framework": {"enabled": True},
                "script_languages": ["python3"]}

    # ------------------------------------------------------------------------------------------------
    # objects as the engine sees them (names format)
    def engine_incident(self, inc_id: int) -> dict:
        with self.lock:
            inc = self._get_incident_doc(inc_id)
            out = self.render_incident(inc, names=True)
            out.pop("actions", None)
            out["description"] = None if inc.get("description") is None else {
                "format": inc.get("_description_format") or "html", "content": inc["description"]}
            return out

    def engine_artifact(self, inc_id: int, art_id: int) -> dict:
        with self.lock:
            return self.render_artifact(self._get_artifact_doc(inc_id, art_id), names=True)

    # ------------------------------------------------------------------------------------------------
    # rules
    def _after_change(self, object_type: str, inc_id: int, old: dict | None, new: dict) -> None:
        """Evaluate automatic rules for a created/changed object and start what matches."""
        if old is not None and old == new:
            return
        rules = sorted((r for r in self.store.values("rule") if r.get("type") == 0 and r.get("enabled", True)
                        and r.get("object_type") == object_type), key=lambda r: r["id"])
        if not rules:
            return  # no automatic rule can match: nothing to evaluate (and no object to render for it)
        depth = getattr(_local, "depth", 0)
        try:
            incident = self.engine_incident(inc_id)
        except SoarError:
            return
        if object_type == "incident":
            new_obj = incident
            old_obj = None
            if old is not None:
                with self.lock:
                    old_obj = self.render_incident(old, names=True)
                    old_obj.pop("actions", None)
                    old_obj["description"] = None if old.get("description") is None else {
                        "format": old.get("_description_format") or "html", "content": old["description"]}
            artifact_id = None
        else:
            with self.lock:
                new_obj = self.render_artifact(new, names=True)
                old_obj = self.render_artifact(old, names=True) if old is not None else None
            artifact_id = new["id"]
        from sim.soar.engine import rule_matches  # the engine is imported lazily: it is written separately

        for rule in rules:
            try:
                hit = rule_matches(self._public_field(rule), object_type, new_obj, old_obj, incident)
            except Exception as exc:  # a broken condition must not break the REST write
                LOG.error("rule '%s' condition failed: %s", rule["name"], exc)
                self._record_rule_failure(rule, object_type, inc_id, artifact_id, f"condition failed: {exc}")
                continue
            if not hit:
                continue
            if depth >= MAX_RULE_DEPTH:
                self._record_rule_failure(rule, object_type, inc_id, artifact_id,
                                          f"rule cascade deeper than {MAX_RULE_DEPTH}: not run")
                continue
            self._run_rule(rule, object_type, inc_id, artifact_id, {}, depth + 1)

    def _record_rule_failure(self, rule: dict, object_type: str, inc_id: int, artifact_id: int | None,
                             reason: str) -> None:
        with self.lock:
            iid = self.store.next_id("workflow_instance")
            ts = now_ms()
            self.store.put("workflow_instance", iid, {
                "workflow_instance_id": iid, "workflow": {"programmatic_name": None, "name": f"(rule {rule['name']})",
                                                          "workflow_id": None, "object_type": object_type},
                "object": {"id": artifact_id or inc_id, "object_type": object_type, "parent_id": inc_id},
                "incident_id": inc_id, "artifact_id": artifact_id, "status": "terminated", "start_date": ts,
                "end_date": ts, "terminate_reason": reason, "status_messages": [], "function_calls": [],
                "rule": {"id": rule["id"], "name": rule["name"]}, "properties": {}})

    def invoke_action(self, inc_id: Any, action_id: Any, properties: dict | None, artifact_id: Any = None) -> None:
        """``POST .../action_invocations``: run a manual rule on an incident or artifact."""
        rule = self.rule(action_id)
        if rule is None:
            raise not_found(f"Action {action_id} not found")
        object_type = "artifact" if artifact_id is not None else "incident"
        with self.lock:
            inc = self._get_incident_doc(inc_id)
            if artifact_id is not None:
                art = self._get_artifact_doc(inc["id"], artifact_id)
        if rule.get("type") != 1:
            raise bad_request(f"Rule '{rule['name']}' is automatic: it cannot be invoked as a menu item")
        if not rule.get("enabled", True):
            raise bad_request(f"Rule '{rule['name']}' is disabled")
        if rule.get("object_type") != object_type:
            raise bad_request(f"Rule '{rule['name']}' applies to {rule.get('object_type')} objects, not to "
                              f"{object_type} objects")
        incident = self.engine_incident(inc["id"])
        obj = incident if artifact_id is None else self.engine_artifact(inc["id"], art["id"])
        from sim.soar.engine import rule_matches

        if not rule_matches(self._public_field(rule), object_type, obj, None, incident):
            raise bad_request(f"Rule '{rule['name']}' is not applicable to this {object_type}: its conditions "
                              f"are not met", error_code="actionNotApplicable")
        props = self._activity_properties(rule, properties or {})
        self._run_rule(rule, object_type, inc["id"], art["id"] if artifact_id is not None else None, props, 1)

    def _activity_properties(self, rule: dict, properties: dict) -> dict:
        if not isinstance(properties, dict):
            raise bad_request("'properties' must be an object")
        allowed = {}
        for item in rule.get("view_items") or []:
            if item.get("field_type") == "actioninvocation" and item.get("element") == "field_uuid":
                fd = self.field_by_uuid(item.get("content"))
                if fd:
                    allowed[fd["name"]] = fd
        out = {}
        for name, value in properties.items():
            fd = allowed.get(name)
            if fd is None:
                raise bad_request(f"'{name}' is not an activity field of rule '{rule['name']}'",
                                  error_code="unknownField")
            internal = to_internal(fd, value, f"properties.{name}", self.principals)
            out[name] = to_output(fd, internal, True, self.principals)
        for name, fd in allowed.items():
            if fd.get("required") == "always" and is_empty(out.get(name)):
                raise bad_request(f"Activity field '{fd.get('text', name)}' ({name}) is required by rule "
                                  f"'{rule['name']}'", error_code="requiredField")
            out.setdefault(name, None)
        return out

    def _run_rule(self, rule: dict, object_type: str, inc_id: int, artifact_id: int | None, props: dict,
                  depth: int) -> None:
        """Create the instances now, run the rule's automations and workflows in the pool."""
        instance_ids = []
        for wf_name in rule.get("workflows") or []:
            wf = self.store.get("workflow", wf_name)
            if wf is None:
                self._record_rule_failure(rule, object_type, inc_id, artifact_id,
                                          f"workflow '{wf_name}' no longer exists")
                continue
            instance_ids.append(self._new_instance(wf, rule, object_type, inc_id, artifact_id, props))
        automations = [a for a in rule.get("automations") or []]
        dests = list(rule.get("message_destinations") or [])

        def run() -> None:
            _local.depth = depth
            try:
                if automations:
                    self._run_automations(rule, automations, object_type, inc_id, artifact_id, props)
                for dest in dests:
                    self._send_action_message(rule, dest, object_type, inc_id, artifact_id, props)
                for iid in instance_ids:
                    self._execute_instance(iid)
            finally:
                _local.depth = 0
        self.executor.submit(run)

    def _run_automations(self, rule: dict, automations: list, object_type: str, inc_id: int,
                         artifact_id: int | None, props: dict) -> None:
        from sim.soar.engine import EffectError, ScriptFailed, SetField, run_script

        for auto in automations:
            kind = auto.get("type")
            try:
                if kind == "modify_field":
                    field = auto.get("field")
                    path = field if self.incident_field(field) and not self.custom_incident_field(field) \
                        else f"properties.{field}"
                    self.apply_effects([SetField("incident", inc_id, path, auto.get("value"))],
                                       {"incident_id": inc_id})
                elif kind == "run_script":
                    script = next((s for s in self.store.values("script")
                                   if s["name"] == auto.get("scripts_to_run")), None)
                    if script is None:
                        raise ScriptFailed(f"script '{auto.get('scripts_to_run')}' not found")
                    if script.get("language") != "python3":
                        raise ScriptFailed(f"script '{script['name']}' is in {script.get('language')!r}: only "
                                           f"python3 scripts are run by the emulator")
                    ctx = {"object_type": object_type, "incident_id": inc_id, "artifact_id": artifact_id,
                           "rule_properties": props, "principal": self.api_principal}
                    outcome = run_script(script["script_text"], kind="rule", host=self.host, context=ctx,
                                         rule_properties=props, object_type=object_type, name=script["name"])
                    if outcome.effects:
                        self.apply_effects(list(outcome.effects), ctx)
                else:
                    LOG.warning("rule '%s': automation '%s' is not modelled by the emulator", rule["name"], kind)
            except (ScriptFailed, EffectError) as exc:
                self._record_rule_failure(rule, object_type, inc_id, artifact_id,
                                          f"automation {kind} failed: {exc}")
            except Exception as exc:
                LOG.error("rule '%s' automation failed: %s\n%s", rule["name"], exc, traceback.format_exc())
                self._record_rule_failure(rule, object_type, inc_id, artifact_id,
                                          f"automation {kind} failed: {exc}")

    def _send_action_message(self, rule: dict, dest_name: str, object_type: str, inc_id: int,
                             artifact_id: int | None, props: dict) -> None:
        dest = self.destination(dest_name)
        if dest is None or self.dispatcher is None:
            return
        message = {"action_id": rule["id"], "object_type": object_type, "properties": props,
                   "incident": self.get_incident(inc_id), "user": None, "principal": self.api_principal}
        if artifact_id is not None:
            message["artifact"] = self.get_artifact(inc_id, artifact_id)
        self.dispatcher.send_action(dest["programmatic_name"], message)

    # ------------------------------------------------------------------------------------------------
    # workflow instances
    def _new_instance(self, wf: dict, rule: dict | None, object_type: str, inc_id: int | None,
                      artifact_id: int | None, props: dict) -> int:
        with self.lock:
            iid = self.store.next_id("workflow_instance")
            self.store.put("workflow_instance", iid, {
                "workflow_instance_id": iid,
                "workflow": {"workflow_id": wf.get("workflow_id"), "programmatic_name": wf.get("programmatic_name"),
                             "name": wf.get("name"), "object_type": wf.get("object_type")},
                "object": {"id": artifact_id if artifact_id is not None else inc_id, "object_type": object_type,
                           "parent_id": inc_id if artifact_id is not None else None},
                "incident_id": inc_id, "artifact_id": artifact_id, "status": "running", "start_date": now_ms(),
                "end_date": None, "terminate_reason": None, "status_messages": [], "function_calls": [],
                "rule": {"id": rule["id"], "name": rule["name"]} if rule else None, "rule_properties": props,
                "properties": {}})
            return iid

    def instance(self, iid: Any) -> dict:
        doc = self.store.get("workflow_instance", iid)
        if doc is None:
            raise not_found(f"Workflow instance {iid} not found")
        return doc

    def instances(self, inc_id: Any = None, status: str | None = None) -> list[dict]:
        with self.lock:
            out = []
            for doc in sorted(self.store.values("workflow_instance"), key=lambda d: d["workflow_instance_id"]):
                if inc_id is not None and doc.get("incident_id") != int(inc_id):
                    continue
                if status and doc["status"] != status:
                    continue
                out.append(copy.deepcopy(doc))
            return out

    def _update_instance(self, iid: int, **changes: Any) -> None:
        with self.lock:
            doc = self.store.get("workflow_instance", iid)
            if doc is None:
                return
            doc.update(changes)
            self.store.put("workflow_instance", iid, doc)

    def _append_instance(self, iid: int, key: str, item: Any) -> int:
        with self.lock:
            doc = self.store.get("workflow_instance", iid)
            if doc is None:
                return -1
            doc[key].append(item)
            self.store.put("workflow_instance", iid, doc)
            return len(doc[key]) - 1

    def _model(self, wf: dict) -> Any:
        from sim.soar.engine import parse_workflow

        version = wf.get("content", {}).get("version", 0)
        cached = self._models.get(wf["programmatic_name"])
        if cached and cached[0] == version:
            return cached[1]
        model = parse_workflow(wf["content"]["xml"])
        self._models[wf["programmatic_name"]] = (version, model)
        return model

    def _execute_instance(self, iid: int) -> None:
        from sim.soar.engine import EngineError, run_workflow

        inst = self.instance(iid)
        wf = self.store.get("workflow", inst["workflow"]["programmatic_name"])
        status, reason, props, log = "terminated", None, {}, []
        try:
            if wf is None:
                raise SoarError(404, f"workflow '{inst['workflow']['programmatic_name']}' no longer exists")
            ctx = {"object_type": inst["object"]["object_type"], "incident_id": inst["incident_id"],
                   "artifact_id": inst["artifact_id"], "rule_properties": inst.get("rule_properties") or {},
                   "workflow_instance_id": iid, "workflow": self._public_field(copy.deepcopy(wf)),
                   "principal": self.api_principal}
            outcome = run_workflow(self._model(wf), self.host, ctx)
            status = outcome.status
            reason = outcome.reason
            props = getattr(outcome, "properties", {}) or {}
            log = getattr(outcome, "log", None) or []
        except (EngineError, SoarError) as exc:
            reason = str(exc)
        except Exception as exc:
            LOG.error("workflow instance %s failed in the emulator: %s\n%s", iid, exc, traceback.format_exc())
            reason = f"emulator error: {exc}"
        self._update_instance(iid, status=status, terminate_reason=reason, end_date=now_ms(),
                              properties=_jsonable(props), log=[str(line) for line in log])

    def _recover_instances(self) -> None:
        for doc in list(self.store.values("workflow_instance")):
            if doc["status"] == "running":
                doc = copy.deepcopy(doc)
                doc.update(status="terminated", end_date=now_ms(),
                           terminate_reason="the SOAR emulator restarted while this instance was running")
                self.store.put("workflow_instance", doc["workflow_instance_id"], doc)

    # ------------------------------------------------------------------------------------------------
    # effects from scripts
    def apply_effects(self, effects: list, context: dict) -> None:
        """Apply a script's effects atomically (all or none), then run automatic rules on what changed."""
        from sim.soar.engine import AddArtifact, AddNote, AddRow, EffectError, SetArtifactField, SetField

        changed_incidents: dict[int, tuple[dict, dict]] = {}
        changed_artifacts: list[tuple[dict | None, dict]] = []
        with self.lock:
            staged_inc: dict[int, dict] = {}
            staged_art: dict[int, dict] = {}
            new_arts: list[dict] = []
            new_notes: list[dict] = []
            new_rows: list[dict] = []
            inc_values: dict[int, tuple[dict, dict]] = {}
            try:
                for eff in effects:
                    if isinstance(eff, SetField):
                        if eff.object_type != "incident":
                            raise EffectError(f"cannot set '{eff.field}' on a {eff.object_type}")
                        inc = staged_inc.setdefault(eff.object_id, self._get_incident_doc(eff.object_id))
                        values, props = inc_values.setdefault(eff.object_id, ({}, {}))
                        try:
                            fd, name, is_prop = self._patch_field(eff.field)
                        except SoarError as err:
                            raise EffectError(err.message) from None
                        if fd.get("read_only") or name == "id":
                            raise EffectError(f"field '{eff.field}' is read-only")
                        value = eff.value
                        if name == "description":
                            content, fmt = text_content(value)
                            values["description"], values["_description_format"] = content, fmt or "text"
                        elif name == "plan_status" and value in ("Active", "Closed"):
                            values["plan_status"] = value[0]
                        elif is_prop:
                            if fd["input_type"] == "textarea" and isinstance(value, dict):
                                value = text_content(value)[0]
                            props[name] = to_internal(fd, value, eff.field, self.principals)
                        else:
                            values[name] = to_internal(fd, value, eff.field, self.principals)
                    elif isinstance(eff, AddNote):
                        self._get_incident_doc(eff.incident_id)
                        new_notes.append(self._prepare_note(eff.incident_id, {"text": {
                            "format": eff.format, "content": eff.content}}))
                    elif isinstance(eff, AddArtifact):
                        self._get_incident_doc(eff.incident_id)
                        new_arts.append(self._prepare_artifact(eff.incident_id, {
                            "type": eff.type_name, "value": eff.value, "description": eff.description}))
                    elif isinstance(eff, SetArtifactField):
                        art = staged_art.get(eff.artifact_id) or self.store.get("artifact", eff.artifact_id)
                        if art is None:
                            raise EffectError(f"artifact {eff.artifact_id} does not exist")
                        if eff.field != "description":
                            raise EffectError(f"artifact field '{eff.field}' cannot be changed by a script")
                        staged_art[eff.artifact_id] = dict(art, description=text_content(eff.value)[0])
                    elif isinstance(eff, AddRow):
                        self._get_incident_doc(eff.incident_id)
                        table = self._table(eff.table)
                        cells = self._coerce_cells(table, {k: {"value": v} for k, v in eff.cells.items()}, eff.table)
                        new_rows.append({"id": self.store.next_id("row"), "inc_id": eff.incident_id,
                                         "table": eff.table, "cells": cells, "version": 1, "create_date": now_ms()})
                    else:
                        raise EffectError(f"effect {type(eff).__name__} is not supported by the emulator")
                # validate incident changes on copies, then commit everything
                finals = {}
                for inc_id, (values, props) in inc_values.items():
                    inc = staged_inc[inc_id]
                    new = copy.deepcopy(inc)
                    if "owner_id" in values and new.get("owner_id") not in (None, values["owner_id"]):
                        members = list(values.get("members", new.get("members") or []))
                        if new["owner_id"] not in members:
                            members.append(new["owner_id"])
                        values["members"] = members
                    new.update(values)
                    new["properties"].update(props)
                    if new.get("plan_status") == "C" and inc.get("plan_status") != "C":
                        new["end_date"] = now_ms()
                    elif new.get("plan_status") == "A" and inc.get("plan_status") == "C":
                        new["end_date"] = None
                    self._check_required(new)
                    finals[inc_id] = new
            except SoarError as err:
                raise EffectError(err.message) from None
            except ValueError as err:
                raise EffectError(str(err)) from None
            for inc_id, new in finals.items():
                old = staged_inc[inc_id]
                if new != old:
                    new["vers"] = old["vers"] + 1
                    new["inc_last_modified_date"] = now_ms()
                    self.store.put("incident", inc_id, new)
                    changed_incidents[inc_id] = (old, new)
            for note in new_notes:
                self.store.put("note", note["id"], note)
            for art in new_arts:
                self.store.put("artifact", art["id"], art)
                changed_artifacts.append((None, art))
            for art_id, art in staged_art.items():
                old = self.store.get("artifact", art_id)
                if old != art:
                    art["last_modified_time"] = now_ms()
                    self.store.put("artifact", art_id, art)
                    changed_artifacts.append((old, art))
            for row in new_rows:
                self.store.put("row", row["id"], row)
        for inc_id, (old, new) in changed_incidents.items():
            self._after_change("incident", inc_id, old, new)
        for old, art in changed_artifacts:
            self._after_change("artifact", art["inc_id"], old, art)

    # ------------------------------------------------------------------------------------------------
    @property
    def host(self) -> Any:
        from sim.soar.host import CoreHost

        return CoreHost(self)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return repr(value)

