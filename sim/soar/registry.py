"""What the org has registered: fields and types, artifact types, functions, message destinations, rules,
workflows and scripts. The :class:`~sim.soar.importer.Importer` writes them; everything else reads them
here, in the shapes SOAR's REST API answers with.

Fields and types are derived from the registrations on every request that renders an incident; they are
kept until a document of one of their kinds changes (the store's generation numbers), so the emulator's
cost per request does not grow with an org's size, as SOAR's does not. What a cached read hands out is a
copy, or read-only by contract where it says so.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from sim.soar import builtins
from sim.soar.catalog import Principals, builtin_artifact_types
from sim.soar.documents import Doc, public
from sim.soar.engine import WorkflowModel, parse_workflow
from sim.soar.errors import not_found
from sim.soar.org import Org
from sim.soar.store import Store


class Registry:
    """The registered customizations of one org (read side, plus a destination's API-key grants)."""

    def __init__(self, store: Store, lock: threading.RLock, org: Org) -> None:
        self.store = store
        self.lock = lock
        self.org = org
        self._derived_cache: dict[str, tuple[tuple[int, ...], Any]] = {}
        self._models: dict[str, tuple[int, WorkflowModel]] = {}

    @property
    def principals(self) -> Principals:
        return self.org.principals

    def _derived(self, name: str, kinds: tuple[str, ...], build: Callable[[], Any]) -> Any:
        """``build()``, kept until a document of one of ``kinds`` changes (the caller must not mutate it)."""
        key = tuple(self.store.generation(k) for k in kinds)
        hit = self._derived_cache.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = build()
        self._derived_cache[name] = (key, value)
        return value

    # -- fields -----------------------------------------------------------------------------------
    def incident_fields(self) -> list[Doc]:
        """Built-in fields (with owner/phase/type values of this org) then the imported custom ones."""
        return copy.deepcopy(self.incident_fields_shared())

    def incident_fields_shared(self) -> list[Doc]:
        """:meth:`incident_fields` without the copy: read-only."""
        return self._derived("incident_fields", ("field", "phase", "incident_type"), self._build_incident_fields)

    def incident_fields_by_name(self) -> dict[str, Doc]:
        """Every incident field by name, without copies: read-only."""
        return self._derived("incident_fields_by_name", ("field", "phase", "incident_type"),
                             lambda: {f["name"]: f for f in self.incident_fields_shared()})

    def _build_incident_fields(self) -> list[Doc]:
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
        return [public(f) for f in out]

    def custom_fields(self, type_name: str) -> list[Doc]:
        """Imported fields of one type (``incident``, ``artifact``, ``actioninvocation``...), stored form."""
        return sorted((f for f in self.store.values("field") if f["_type"] == type_name), key=lambda f: f["id"])

    def fields_of(self, type_name: str) -> list[Doc]:
        if type_name == "incident":
            return self.incident_fields()
        return [public(f) for f in self.custom_fields(type_name)]

    def incident_field(self, name: str) -> Doc | None:
        fd = self.incident_fields_by_name().get(name)
        return copy.deepcopy(fd) if fd is not None else None

    def custom_incident_field(self, name: str) -> Doc | None:
        f = self.store.peek("field", f"incident/{name}")
        return public(f) if f else None

    def field_by_uuid(self, field_uuid: Any) -> Doc | None:
        for f in self.store.values("field"):
            if f.get("uuid") == field_uuid:
                return public(copy.deepcopy(f))
        for table in self.store.values("datatable"):
            for col in table["fields"].values():
                if col.get("uuid") == field_uuid:
                    return copy.deepcopy(col)
        return None

    def _shown_fields(self, entry: Doc, field_type: str) -> dict[str, Doc]:
        """Fields of one type that an entry's ``view_items`` show, by name."""
        out = {}
        for item in entry.get("view_items") or []:
            if item.get("field_type") == field_type and item.get("element") == "field_uuid":
                fd = self.field_by_uuid(item.get("content"))
                if fd:
                    out[fd["name"]] = fd
        return out

    def function_inputs(self, fn: Doc) -> dict[str, Doc]:
        """Input name -> field definition, from the function's view items."""
        return self._shown_fields(fn, "__function")

    def activity_fields(self, rule: Doc) -> dict[str, Doc]:
        """A manual rule's activity fields (what a user fills in when invoking it), by name."""
        return self._shown_fields(rule, "actioninvocation")

    # -- types ------------------------------------------------------------------------------------
    def types(self) -> Doc:
        """``GET /types``: every type by name with its fields keyed by name."""
        out = {}
        for type_id, name in ((0, "incident"), (6, "actioninvocation"), (11, "__function")):
            out[name] = {"id": type_id, "type_id": type_id, "type_name": name, "display_name": name,
                         "fields": {f["name"]: f for f in self.fields_of(name)}, "parent_types": [],
                         "properties": {}, "actions": [], "scripts": [], "uuid": builtins.stable_uuid("type", name)}
        art_field = {"name": "type", "text": "Type", "input_type": "select", "type_id": 4, "required": "always",
                     "internal": True, "prefix": None, "uuid": builtins.stable_uuid("artifact", "type"),
                     "values": [{"value": t["id"], "label": t["name"], "enabled": t["enabled"], "default": False,
                                 "hidden": False, "properties": None, "uuid": t["uuid"]}
                                for t in self.artifact_types()]}
        art_fields: dict[str, Doc] = {"type": art_field}
        for name, input_type in (("value", "text"), ("description", "textarea")):
            art_fields[name] = {"name": name, "text": name.title(), "input_type": input_type, "type_id": 4,
                                "internal": True, "prefix": None, "values": []}
        art_fields.update({f["name"]: f for f in self.fields_of("artifact")})
        out["artifact"] = {"id": 4, "type_id": 4, "type_name": "artifact", "display_name": "Artifact",
                           "fields": art_fields, "parent_types": ["incident"], "properties": {}}
        for table in self.store.values("datatable"):
            out[table["type_name"]] = copy.deepcopy(public(table))
        # the type the org's layouts belong to (resilient-lib reads its type_id to find the incident tabs;
        # the id SOAR uses is not published, see sim.soar.layouts)
        out["organization"] = {"id": builtins.ORGANIZATION_TYPE_ID, "type_id": builtins.ORGANIZATION_TYPE_ID,
                               "type_name": "organization", "display_name": "Organization", "fields": {},
                               "parent_types": [], "properties": {}, "uuid": builtins.stable_uuid("type",
                                                                                              "organization")}
        return out

    def type_named(self, name: str) -> Doc:
        types = self.types()
        if name not in types:
            raise not_found(f"Type '{name}' not found")
        return types[name]

    def table(self, name: str) -> Doc:
        """A data table's definition (read-only), or 404."""
        table = self.store.peek("datatable", name)
        if table is None:
            raise not_found(f"Data table '{name}' not found")
        return table

    def tables(self) -> list[Doc]:
        """Every data table's definition (read-only), by API name."""
        return sorted(self.store.values("datatable"), key=lambda t: t["type_name"])

    # -- artifact types ---------------------------------------------------------------------------
    def artifact_types(self) -> list[Doc]:
        return copy.deepcopy(self._artifact_types())

    def _artifact_types(self) -> list[Doc]:
        return self._derived("artifact_types", ("artifact_type",),
                             lambda: builtin_artifact_types() + [copy.deepcopy(t)
                                                                 for t in self.store.values("artifact_type")])

    def _artifact_type_index(self) -> dict[Any, Doc]:
        """Every artifact type by id, name and programmatic name (the first type that has the key wins)."""
        def build() -> dict[Any, Doc]:
            index: dict[Any, Doc] = {}
            for t in self._artifact_types():
                for key in (t["id"], t["name"], t.get("programmatic_name")):
                    if key is not None:
                        index.setdefault(key, t)
            return index
        return self._derived("artifact_type_index", ("artifact_type",), build)

    def artifact_type(self, ref: Any) -> Doc | None:
        """The type (read-only: callers must not change it) by id, name or programmatic name."""
        if isinstance(ref, dict):
            ref = ref.get("id", ref.get("name"))
        if isinstance(ref, str) and ref.isdigit():
            ref = int(ref)
        try:
            return self._artifact_type_index().get(ref)
        except TypeError:  # an unhashable reference names no type
            return None

    # -- functions and destinations ---------------------------------------------------------------
    def functions(self) -> list[Doc]:
        return [self.function(f["name"]) for f in sorted(self.store.values("function"), key=lambda f: f["id"])]

    def function(self, name: str) -> Doc:
        fn = self.store.get("function", name)
        if fn is None:
            raise not_found(f"Function '{name}' not found")
        fn["workflows"] = [{"workflow_id": w["workflow_id"], "programmatic_name": w["programmatic_name"],
                            "name": w["name"], "object_type": w["object_type"], "uuid": w.get("uuid"),
                            "description": None, "actions": [], "tags": []}
                           for w in self.store.values("workflow") if fn["uuid"] in w.get("_function_uuids", [])]
        return fn

    def function_by_uuid(self, fn_uuid: str) -> Doc | None:
        for f in self.store.values("function"):
            if f["uuid"] == fn_uuid:
                return self.function(f["name"])
        return None

    def destinations(self) -> list[Doc]:
        return [copy.deepcopy(d) for d in sorted(self.store.values("destination"), key=lambda d: d["id"])]

    def destination(self, ref: Any) -> Doc | None:
        if isinstance(ref, str) and ref.isdigit():
            ref = int(ref)
        for d in self.store.values("destination"):
            if ref in (d["id"], d["programmatic_name"], d["name"]):
                return copy.deepcopy(d)
        return None

    def update_destination(self, dest_id: int, body: Doc) -> Doc:
        with self.lock:
            dest = self.destination(dest_id)
            if dest is None:
                raise not_found(f"Message destination {dest_id} not found")
            for key in ("name", "expect_ack", "users", "api_keys"):
                if key in body:
                    dest[key] = body[key]
            keys = []
            for k in dest.get("api_keys") or []:
                named = self.org.key_by_ref(k)
                if named is not None:
                    keys.append(named["handle"])
                elif not isinstance(k, int):
                    keys.append(k)
            dest["api_keys"] = sorted(set(keys), key=str)
            self.store.put("destination", dest["programmatic_name"], dest)
            return dest

    def destination_authorized(self, programmatic_name: str, key_id: str | None = None) -> bool:
        """Whether the key ``key_id`` (default: the app's) may read the destination's queue: the
        destination must list it in ``api_keys``."""
        dest = self.store.peek("destination", programmatic_name)
        key = self.org.key_by_ref(key_id) if key_id is not None else self.org.api_key
        if not dest or key is None:
            return False
        return key["handle"] in (dest.get("api_keys") or [])

    # -- rules ------------------------------------------------------------------------------------
    def rules(self, names: bool = True) -> list[Doc]:
        return [self.render_rule(r, names) for r in sorted(self.store.values("rule"), key=lambda r: r["id"])]

    def render_rule(self, rule: Doc, names: bool = True) -> Doc:
        """A rule as ``GET /actions`` answers (IBM's recorded answer, pytest-resilient-circuits'
        ``200_JSON_GET__actions.json``, and IBM's Scheduler app, which reads ``enabled`` and takes
        ``object_type`` for a type id): ``object_type`` is the type id (incident 0, task 1, note 2, milestone
        3, artifact 4, attachment 5, a data table its own type id) and ``workflows`` and
        ``message_destinations`` are ids, unless ``handle_format=names`` asks for names."""
        r = public(copy.deepcopy(rule))
        if not names:
            kind = r["object_type"]
            table = self.store.peek("datatable", kind) if kind not in builtins.OBJECT_TYPE_IDS else None
            r["object_type"] = table["id"] if table else builtins.OBJECT_TYPE_IDS.get(kind, kind)
            r["workflows"] = [wf["workflow_id"] for wf in (self.store.peek("workflow", w)
                                                           for w in r.get("workflows", [])) if wf]
            r["message_destinations"] = [d["id"] for d in (self.destination(m) for m in
                                                            r.get("message_destinations", [])) if d]
        return r

    def rule(self, ref: Any) -> Doc | None:
        if isinstance(ref, str) and ref.isdigit():
            ref = int(ref)
        for r in self.store.values("rule"):
            if ref in (r["id"], r["name"]):
                return copy.deepcopy(r)
        return None

    def automatic_rules(self, object_type: str) -> list[Doc]:
        """Enabled automatic rules on one object type, in id order (read-only)."""
        return sorted((r for r in self.store.values("rule") if r.get("type") == 0 and r.get("enabled", True)
                       and r.get("object_type") == object_type), key=lambda r: r["id"])

    def menu_items(self, object_type: str) -> list[Doc]:
        """Enabled manual rules shown on the object (the engine's conditions decide)."""
        items = []
        for r in sorted(self.store.values("rule"), key=lambda r: r["id"]):
            if r.get("type") == 1 and r.get("object_type") == object_type and r.get("enabled", True):
                items.append({"id": r["id"], "name": r["name"], "enabled": True})
        return items

    # -- workflows and scripts --------------------------------------------------------------------
    def workflows(self) -> list[Doc]:
        return [public(copy.deepcopy(w)) for w in sorted(self.store.values("workflow"),
                                                         key=lambda w: w["workflow_id"])]

    def workflow(self, programmatic_name: str) -> Doc | None:
        """The stored workflow (a copy, with the emulator's keys), or None."""
        return self.store.get("workflow", programmatic_name)

    def workflow_model(self, wf: Doc) -> WorkflowModel:
        """The workflow's parsed steps, parsed once per version of its content."""
        version = wf.get("content", {}).get("version", 0)
        cached = self._models.get(wf["programmatic_name"])
        if cached and cached[0] == version:
            return cached[1]
        model = parse_workflow(wf["content"]["xml"])
        self._models[wf["programmatic_name"]] = (version, model)
        return model

    def forget_model(self, programmatic_name: str) -> None:
        """Drop a parsed workflow (its content was imported again)."""
        self._models.pop(programmatic_name, None)

    def scripts(self) -> list[Doc]:
        return [public(s) for s in self.store.values("script")]

    def script_named(self, name: Any) -> Doc | None:
        """The stored script of that name (read-only), or None."""
        return next((s for s in self.store.values("script") if s["name"] == name), None)

    def script_by_uuid(self, script_uuid: str) -> Doc | None:
        for s in self.store.values("script"):
            if s["uuid"] == script_uuid:
                return public(copy.deepcopy(s))
        return None


class DocumentPart:
    """What each part that keeps documents beside the registrations holds (incidents, their children,
    the importer): the store, the org's lock, the org and its registry."""

    def __init__(self, store: Store, lock: threading.RLock, org: Org, registry: Registry) -> None:
        self.store = store
        self.lock = lock
        self.org = org
        self.registry = registry
