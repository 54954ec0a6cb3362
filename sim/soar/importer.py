"""``/configurations/imports``: check an export (as ``resilient-circuits customize`` posts it) and, once
ACCEPTED, register everything in it.

The import is refused as a whole (HTTP 400 naming every reason) when SOAR would refuse it or when it
holds something the emulator does not model, rather than importing part of it:

* a name used twice inside one import (fields of one type, functions, workflows, rules, scripts,
  destinations, data tables, artifact types, phases, incident types);
* a field with an unknown ``type_id`` or ``input_type``; a select/multiselect without options;
* a function whose ``destination_handle`` is neither in the import nor registered, or whose view items
  name a field that is not a function input;
* a workflow whose BPMN the engine refuses (``UnsupportedWorkflow``), that names a function or script
  that is neither in the import nor registered, or whose object type is unknown;
* a rule naming a missing workflow, message destination (by display name), script or activity field,
  or whose conditions the engine's ``validate_rule`` refuses;
* playbooks (not modelled by the emulator).

Re-importing the same names updates in place (ids kept; select option ids kept by uuid or label), as a
second ``customize`` does on SOAR. Tasks (``automatic_tasks``, ``create_task`` automations) are accepted
and ignored: the emulator does not model tasks.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from sim.soar import builtins
from sim.soar.documents import now_ms, public
from sim.soar.engine import UnsupportedWorkflow, parse_workflow, validate_rule
from sim.soar.errors import SoarError, bad_request, not_found
from sim.soar.registry import DocumentPart

OBJECT_TYPES = {"incident", "artifact", "task", "note", "attachment", "milestone"}
CONDITION_METHODS = {"equals", "not_equals", "contains", "not_contains", "in", "not_in", "changed",
                     "changed_to", "not_changed_to", "has_a_value", "not_has_a_value", "lt", "lte", "gt", "gte",
                     "value_added", "value_removed", "object_added", "object_removed", "due_within",
                     "overdue_by", "script"}


def _names(items: list, key: str, what: str, errors: list[str]) -> None:
    seen = set()
    for item in items:
        name = item.get(key) if isinstance(item, dict) else None
        if not name:
            errors.append(f"{what} without '{key}'")
            continue
        if name in seen:
            errors.append(f"{what} '{name}' appears twice in this import")
        seen.add(name)


class Importer(DocumentPart):
    """Imports into one org's registry (it writes the registrations; the registry reads them)."""

    # -- REST entry points -------------------------------------------------------------------------
    def create(self, export: Any) -> dict:
        errors, messages = self.validate(export)
        if errors:
            raise bad_request("The import was refused: " + "; ".join(errors), error_code="importRefused",
                              extra={"messages": [{"type": "ERROR", "text": e} for e in errors]})
        with self.lock:
            import_id = self.store.next_id("import")
            doc = {"id": import_id, "status": "PENDING", "messages": messages, "create_date": now_ms(),
                   "_export": export}
            self.store.put("import", import_id, doc)
        return public(doc)

    def get(self, import_id: Any) -> dict:
        doc = self.store.get("import", import_id)
        if doc is None:
            raise not_found(f"Import {import_id} not found")
        return public(doc)

    def update(self, import_id: Any, body: dict) -> dict:
        with self.lock:
            doc = self.store.get("import", import_id)
            if doc is None:
                raise not_found(f"Import {import_id} not found")
            status = (body or {}).get("status")
            if doc["status"] != "PENDING":
                raise bad_request(f"Import {import_id} is {doc['status']}: it cannot change any more")
            if status == "REJECTED":
                doc["status"] = "REJECTED"
            elif status == "ACCEPTED":
                errors, _messages = self.validate(doc["_export"])
                if errors:
                    raise bad_request("The import was refused: " + "; ".join(errors), error_code="importRefused")
                self.register(doc["_export"])
                doc["status"] = "ACCEPTED"
                doc["accept_date"] = now_ms()
            else:
                raise bad_request(f"Import status must be ACCEPTED or REJECTED, not {status!r}")
            self.store.put("import", import_id, doc)
            return public(doc)

    # -- validation --------------------------------------------------------------------------------
    def validate(self, export: Any) -> tuple[list[str], list[dict]]:
        errors: list[str] = []
        messages: list[dict] = []
        if not isinstance(export, dict):
            return ["the import body is not an export object"], messages
        if export.get("export_format_version") not in (None, 2):
            errors.append(f"export_format_version {export.get('export_format_version')!r} is not supported")
        lists = {}
        for key in ("fields", "functions", "workflows", "actions", "scripts", "message_destinations", "types",
                    "incident_artifact_types", "phases", "incident_types", "playbooks", "automatic_tasks"):
            value = export.get(key) or []
            if not isinstance(value, list):
                errors.append(f"'{key}' must be a list")
                value = []
            lists[key] = value
        if lists["playbooks"]:
            errors.append(f"playbooks are not supported by the SOAR emulator ({len(lists['playbooks'])} in this "
                          f"import: {', '.join(str(p.get('name')) for p in lists['playbooks'])})")
        fields = lists["fields"]
        by_type: dict[str, list] = {}
        for fd in fields:
            if not isinstance(fd, dict):
                errors.append("a field entry is not an object")
                continue
            type_id = fd.get("type_id")
            type_name = builtins.FIELD_TYPE_IDS.get(type_id) if isinstance(type_id, int) else None
            if type_name is None:
                errors.append(f"field '{fd.get('name')}' has an unknown type_id {fd.get('type_id')!r}")
                continue
            by_type.setdefault(type_name, []).append(fd)
            self._check_field(fd, f"{type_name} field '{fd.get('name')}'", errors,
                              builtin_ok=type_name == "incident")
        for type_name, fds in by_type.items():
            _names(fds, "name", f"{type_name} field", errors)
        if not by_type.get("incident"):
            errors.append("an import needs at least one incident field (SDK exports carry "
                          "'internal_customizations_field')")
        _names(lists["functions"], "name", "function", errors)
        _names(lists["workflows"], "programmatic_name", "workflow", errors)
        _names(lists["actions"], "name", "rule", errors)
        _names(lists["scripts"], "name", "script", errors)
        _names(lists["message_destinations"], "programmatic_name", "message destination", errors)
        _names(lists["types"], "type_name", "data table", errors)
        _names(lists["incident_artifact_types"], "programmatic_name", "artifact type", errors)
        _names(lists["phases"], "name", "phase", errors)
        _names(lists["incident_types"], "name", "incident type", errors)

        # what exists after this import (registered + imported)
        dest_names = {d["programmatic_name"] for d in self.store.values("destination")}
        dest_names |= {d.get("programmatic_name") for d in lists["message_destinations"]}
        dest_display = {d["name"] for d in self.store.values("destination")}
        dest_display |= {d.get("name") for d in lists["message_destinations"]}
        fn_input_uuids = {f["uuid"] for f in self.store.values("field") if f["_type"] == "__function"}
        fn_input_uuids |= {f.get("uuid") for f in by_type.get("__function", [])}
        activity_uuids = {f["uuid"] for f in self.store.values("field") if f["_type"] == "actioninvocation"}
        activity_uuids |= {f.get("uuid") for f in by_type.get("actioninvocation", [])}
        fn_uuids = {f["uuid"] for f in self.store.values("function")}
        fn_uuids |= {f.get("uuid") for f in lists["functions"]}
        script_uuids = {s["uuid"] for s in self.store.values("script")}
        script_uuids |= {s.get("uuid") for s in lists["scripts"]}
        script_names = {s["name"] for s in self.store.values("script")} | {s.get("name") for s in lists["scripts"]}
        wf_names = {w["programmatic_name"] for w in self.store.values("workflow")}
        wf_names |= {w.get("programmatic_name") for w in lists["workflows"]}
        table_names = {t["type_name"] for t in self.store.values("datatable")}
        table_names |= {t.get("type_name") for t in lists["types"]}

        for dest in lists["message_destinations"]:
            if dest.get("destination_type", 0) != 0:
                errors.append(f"message destination '{dest.get('programmatic_name')}': only queues "
                              f"(destination_type 0) are supported")
        for fn in lists["functions"]:
            name = fn.get("name")
            if fn.get("destination_handle") not in dest_names:
                errors.append(f"function '{name}' uses message destination '{fn.get('destination_handle')}', "
                              f"which does not exist")
            for item in fn.get("view_items") or []:
                if item.get("element") == "field_uuid" and item.get("content") not in fn_input_uuids:
                    errors.append(f"function '{name}' shows field {item.get('content')}, which is not a "
                                  f"function input")
        for table in lists["types"]:
            tname = table.get("type_name")
            if table.get("type_id", 8) != 8:
                errors.append(f"type '{tname}' is not a data table (type_id {table.get('type_id')})")
            cols = table.get("fields")
            if not isinstance(cols, dict) or not cols:
                errors.append(f"data table '{tname}' has no columns")
                continue
            for cname, col in cols.items():
                if not isinstance(col, dict) or col.get("name", cname) != cname:
                    errors.append(f"data table '{tname}': column key '{cname}' does not match its name")
                    continue
                self._check_field(col, f"column '{tname}.{cname}'", errors)
        for atype in lists["incident_artifact_types"]:
            if not atype.get("name"):
                errors.append(f"artifact type '{atype.get('programmatic_name')}' has no name")
            builtin = self.registry.artifact_type(atype.get("name"))
            if builtin is not None and builtin.get("system"):
                errors.append(f"artifact type '{atype.get('name')}' clashes with a built-in artifact type")
        for script in lists["scripts"]:
            if script.get("language") not in ("python3", "python"):
                errors.append(f"script '{script.get('name')}': language {script.get('language')!r} is not "
                              f"supported")
            if script.get("object_type") not in OBJECT_TYPES | table_names:
                errors.append(f"script '{script.get('name')}': unknown object type {script.get('object_type')!r}")
        for wf in lists["workflows"]:
            self._check_workflow(wf, fn_uuids, script_uuids, table_names, errors)
        for rule in lists["actions"]:
            self._check_rule(rule, wf_names, dest_display, script_names, activity_uuids, table_names, errors)
        if not errors:
            for key, what in (("fields", "field"), ("functions", "function"), ("workflows", "workflow"),
                              ("actions", "rule"), ("message_destinations", "message destination"),
                              ("scripts", "script"), ("types", "data table")):
                if lists[key]:
                    messages.append({"type": "INFO", "text": f"{len(lists[key])} {what}(s) will be imported"})
            if lists["automatic_tasks"]:
                messages.append({"type": "WARN", "text": "tasks are not modelled by the SOAR emulator: "
                                                         f"{len(lists['automatic_tasks'])} task(s) ignored"})
        return errors, messages

    def _check_field(self, fd: dict, what: str, errors: list[str], builtin_ok: bool = False) -> None:
        if not fd.get("name"):
            errors.append(f"{what} has no name")
            return
        if builtin_ok and fd["name"] in builtins.BUILTIN_INCIDENT_FIELD_NAMES:
            errors.append(f"{what} clashes with a built-in incident field")
            return
        input_type = fd.get("input_type")
        if input_type not in builtins.CUSTOM_INPUT_TYPES:
            errors.append(f"{what} has an unknown input_type {input_type!r}")
            return
        if fd.get("required") not in (None, "always", "close"):
            errors.append(f"{what} has an unknown 'required' value {fd.get('required')!r}")
        if input_type in ("select", "multiselect"):
            values = fd.get("values")
            if not isinstance(values, list) or not values:
                errors.append(f"{what} is a {input_type} without values")
                return
            labels = [v.get("label") for v in values if isinstance(v, dict)]
            if len(labels) != len(values) or any(not isinstance(label, str) or not label for label in labels):
                errors.append(f"{what}: every value needs a label")
            elif len(set(labels)) != len(labels):
                errors.append(f"{what}: a value label appears twice")

    def _check_workflow(self, wf: dict, fn_uuids: set, script_uuids: set, table_names: set,
                        errors: list[str]) -> None:
        name = wf.get("programmatic_name")
        if wf.get("object_type") not in OBJECT_TYPES | table_names:
            errors.append(f"workflow '{name}': unknown object type {wf.get('object_type')!r}")
        content = wf.get("content") or {}
        xml = content.get("xml") if isinstance(content, dict) else None
        if not isinstance(xml, str) or not xml.strip():
            errors.append(f"workflow '{name}' has no BPMN content")
            return
        if content.get("workflow_id") not in (None, name):
            errors.append(f"workflow '{name}': content.workflow_id is '{content.get('workflow_id')}'")
        try:
            model = parse_workflow(xml)
        except UnsupportedWorkflow as exc:
            errors.append(f"workflow '{name}' is not supported: {exc.reason}")
            return
        except Exception as exc:  # malformed XML and the like
            errors.append(f"workflow '{name}' cannot be read: {exc}")
            return
        for fn_uuid in model.function_uuids():
            if fn_uuid not in fn_uuids:
                errors.append(f"workflow '{name}' calls function {fn_uuid}, which does not exist")
        for s_uuid in model.script_uuids():
            if s_uuid not in script_uuids:
                errors.append(f"workflow '{name}' runs script {s_uuid}, which does not exist")

    def _check_rule(self, rule: dict, wf_names: set, dest_display: set, script_names: set, activity_uuids: set,
                    table_names: set, errors: list[str]) -> None:
        name = rule.get("name")
        if rule.get("type") not in (0, 1):
            errors.append(f"rule '{name}': unknown type {rule.get('type')!r} (0 automatic, 1 manual)")
        if rule.get("object_type") not in OBJECT_TYPES | table_names:
            errors.append(f"rule '{name}': unknown object type {rule.get('object_type')!r}")
        for wf in rule.get("workflows") or []:
            if wf not in wf_names:
                errors.append(f"rule '{name}' starts workflow '{wf}', which does not exist")
        for dest in rule.get("message_destinations") or []:
            if dest not in dest_display:
                errors.append(f"rule '{name}' sends to message destination '{dest}', which does not exist")
        for auto in rule.get("automations") or []:
            if auto.get("type") == "run_script" and auto.get("scripts_to_run") not in script_names:
                errors.append(f"rule '{name}' runs script '{auto.get('scripts_to_run')}', which does not exist")
            if auto.get("type") not in ("run_script", "modify_field", "create_task"):
                errors.append(f"rule '{name}': automation {auto.get('type')!r} is not supported")
        for item in rule.get("view_items") or []:
            if item.get("field_type") == "actioninvocation" and item.get("element") == "field_uuid" \
                    and item.get("content") not in activity_uuids:
                errors.append(f"rule '{name}' shows activity field {item.get('content')}, which does not exist")
        for cond in rule.get("conditions") or []:
            if cond.get("method") not in CONDITION_METHODS:
                errors.append(f"rule '{name}': condition method {cond.get('method')!r} is not supported")
        if rule.get("logic_type", "all") not in ("all", "any", "advanced"):
            errors.append(f"rule '{name}': logic_type {rule.get('logic_type')!r} is not supported")
        try:
            problems = validate_rule(rule)
        except Exception as exc:
            errors.append(f"rule '{name}' cannot be evaluated: {exc}")
            return
        for problem in problems or []:
            errors.append(f"rule '{name}': {problem}")

    # -- registration ------------------------------------------------------------------------------
    def register(self, export: dict) -> None:
        """Register everything (the caller holds the core's lock and has validated the export)."""
        store = self.store
        for dest in export.get("message_destinations") or []:
            old = store.get("destination", dest["programmatic_name"])
            api_keys = old["api_keys"] if old else []
            for key in self.org.keys:
                if key["uuid"] in (dest.get("api_keys") or []):
                    api_keys = sorted(set(api_keys) | {key["handle"]}, key=str)
            doc = {"id": old["id"] if old else store.next_id("destination", 1),
                   "programmatic_name": dest["programmatic_name"], "name": dest.get("name") or
                   dest["programmatic_name"], "destination_type": 0, "expect_ack": dest.get("expect_ack", True),
                   "users": old["users"] if old else [], "api_keys": api_keys, "uuid": dest.get("uuid"),
                   "export_key": dest["programmatic_name"], "tags": []}
            store.put("destination", doc["programmatic_name"], doc)
        for fd in export.get("fields") or []:
            self._register_field(builtins.FIELD_TYPE_IDS[fd["type_id"]], fd)
        for table in export.get("types") or []:
            old = store.get("datatable", table["type_name"])
            doc = {k: copy.deepcopy(v) for k, v in table.items() if k not in ("fields",)}
            doc["id"] = old["id"] if old else store.next_id("type", 1000)
            doc["type_id"] = 8
            doc["fields"] = {}
            for cname, col in table["fields"].items():
                old_col = old["fields"].get(cname) if old else None
                doc["fields"][cname] = self._field_doc(f"{table['type_name']}", col, old_col)
            store.put("datatable", table["type_name"], doc)
        for atype in export.get("incident_artifact_types") or []:
            old = store.get("artifact_type", atype["programmatic_name"])
            doc = {"id": old["id"] if old else store.next_id("artifact_type", 1000), "name": atype["name"],
                   "programmatic_name": atype["programmatic_name"], "desc": atype.get("desc"),
                   "enabled": atype.get("enabled", True), "system": False, "multi_aware": atype.get("multi_aware"),
                   "use_for_relationships": atype.get("use_for_relationships"), "file": False,
                   "parse_as_csv": False, "uuid": atype.get("uuid")}
            store.put("artifact_type", doc["programmatic_name"], doc)
        for phase in export.get("phases") or []:
            if phase["name"] in {n for _i, n, _o in builtins.PHASES}:
                continue
            old = store.get("phase", phase["name"])
            store.put("phase", phase["name"], {"id": old["id"] if old else store.next_id("phase", 2000),
                                               "name": phase["name"], "order": phase.get("order"),
                                               "enabled": phase.get("enabled", True), "uuid": phase.get("uuid")})
        for itype in export.get("incident_types") or []:
            if itype["name"] in {n for _i, n in builtins.INCIDENT_TYPES}:
                continue
            old = store.get("incident_type", itype["name"])
            store.put("incident_type", itype["name"], {
                "id": old["id"] if old else store.next_id("incident_type", 2000), "name": itype["name"],
                "enabled": itype.get("enabled", True), "description": itype.get("description"),
                "uuid": itype.get("uuid")})
        for fn in export.get("functions") or []:
            old = store.get("function", fn["name"])
            doc = {"id": old["id"] if old else store.next_id("function", 1), "name": fn["name"],
                   "display_name": fn.get("display_name") or fn["name"], "description": fn.get("description"),
                   "destination_handle": fn["destination_handle"], "uuid": fn.get("uuid"),
                   "view_items": fn.get("view_items") or [], "version": (old["version"] + 1) if old else 1,
                   "export_key": fn["name"], "tags": [], "output_json_example": fn.get("output_json_example"),
                   "output_json_schema": fn.get("output_json_schema"), "last_modified_time": now_ms()}
            store.put("function", fn["name"], doc)
        for script in export.get("scripts") or []:
            old = store.get("script", script["name"])
            doc = copy.deepcopy(script)
            doc["id"] = old["id"] if old else store.next_id("script", 1)
            store.put("script", script["name"], doc)
        for wf in export.get("workflows") or []:
            old = store.get("workflow", wf["programmatic_name"])
            model = parse_workflow(wf["content"]["xml"])
            doc = {k: copy.deepcopy(v) for k, v in wf.items() if k not in ("actions", "last_modified_by")}
            doc["workflow_id"] = old["workflow_id"] if old else store.next_id("workflow", 1)
            doc["_function_uuids"] = sorted(model.function_uuids())
            doc["_script_uuids"] = sorted(model.script_uuids())
            store.put("workflow", wf["programmatic_name"], doc)
            self.registry.forget_model(wf["programmatic_name"])
        for rule in export.get("actions") or []:
            old = store.get("rule", rule["name"])
            doc = copy.deepcopy(rule)
            doc["id"] = old["id"] if old else store.next_id("rule", 1)
            doc.setdefault("enabled", True)
            doc.pop("export_key", None)
            doc["export_key"] = rule["name"]
            store.put("rule", rule["name"], doc)

    def _field_doc(self, type_name: str, fd: dict, old: dict | None) -> dict:
        store = self.store
        doc = copy.deepcopy(fd)
        doc.pop("tags", None)
        doc["tags"] = []
        doc["id"] = old["id"] if old else store.next_id("field", 1000)
        doc["_type"] = type_name
        doc.setdefault("required", None)
        doc.setdefault("read_only", False)
        doc.setdefault("internal", False)
        doc.setdefault("prefix", "properties" if type_name in ("incident", "actioninvocation") else None)
        doc["export_key"] = f"{type_name}/{fd['name']}"
        values = []
        old_values = old.get("values", []) if old else []
        for v in fd.get("values") or []:
            match = next((o for o in old_values if (v.get("uuid") and o.get("uuid") == v.get("uuid")) or
                          o.get("label") == v.get("label")), None)
            values.append({"value": match["value"] if match else store.next_id("field_value", 5000),
                           "label": v["label"], "enabled": v.get("enabled", True), "default": v.get("default", False),
                           "hidden": v.get("hidden", False), "properties": v.get("properties"),
                           "uuid": v.get("uuid")})
        # options that disappeared are kept, disabled (as customize does on SOAR)
        for o in old_values:
            if all(o["value"] != v["value"] for v in values):
                values.append(dict(o, enabled=False))
        doc["values"] = values
        return doc

    def _register_field(self, type_name: str, fd: dict) -> None:
        key = f"{type_name}/{fd['name']}"
        old = self.store.get("field", key)
        self.store.put("field", key, self._field_doc(type_name, fd, old))

    def register_required_fields(self, specs: list[dict | str]) -> None:
        """Custom incident fields of the org's own (not of an app) that every incident must have on create
        and keep (``required: "always"``), as many SOC orgs define (a business unit, a region...).

        A spec is a field name (a text field) or ``{"name", "text", "input_type": "text" | "select" |
        "number" | "boolean", "values": [labels of a select]}``. An app's import never removes them."""
        with self.lock:
            for spec in specs:
                fd = {"name": spec} if isinstance(spec, str) else dict(spec)
                name = fd["name"]
                labels = fd.get("values") or []
                self._register_field("incident", {
                    "name": name, "text": fd.get("text") or name.replace("_", " ").title(),
                    "input_type": fd.get("input_type", "text"), "type_id": 0, "prefix": "properties",
                    "required": "always", "blank_option": True, "tooltip": "", "placeholder": "",
                    "rich_text": False, "changeable": True, "templates": [], "operations": [],
                    "operation_perms": {}, "uuid": builtins.stable_uuid("org-field", name),
                    "values": [{"label": label, "uuid": builtins.stable_uuid("org-field-value", f"{name}/{label}")}
                               for label in labels]})


def parse_export_text(text: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SoarError(400, f"the export is not JSON: {exc}") from None
    return data
