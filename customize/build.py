"""Build `fn_pp_tap_functions/util/data/export.res` from the readable sources in `customize/`.

Why a build step: a SOAR export is one JSON document holding BPMN XML inside JSON strings,
with every cross-reference made by uuid. Nobody can review a change to that. The sources here
are YAML (one file per kind of object) and plain Python script files; this module turns them
into the export deterministically (uuids derived from names, fixed ids and dates), so the same
sources always give the same bytes and a test can insist that the committed export matches.

Usage: `python -m customize.build` writes the export; `--check` exits 1 when it is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EXPORT_PATH = ROOT / "fn_pp_tap_functions" / "util" / "data" / "export.res"
NAMESPACE = uuid.UUID("6f1c2a0e-2b7e-4d1a-9a53-5f0b8c3e7d11")
EXPORT_DATE = 1795737600000  # 2026-11-27T00:00:00Z: fixed so that builds are reproducible
SERVER_VERSION = {"build_number": 9339, "f": 0, "m": 0, "major": 0, "minor": 0, "r": 0, "v": 51,
                  "version": "51.0.0.0.9339"}
INTERNAL_FIELD = {
    "export_key": "incident/internal_customizations_field", "id": 0, "input_type": "text", "internal": True,
    "name": "internal_customizations_field", "read_only": True, "text": "Customizations Field (internal)",
    "type_id": 0, "uuid": "bfeec2d4-3770-11e8-ad39-4a0004044aa1",
}
INTERNAL_INCIDENT_TYPE = {
    "create_date": EXPORT_DATE, "description": "Customization Packages (internal)", "enabled": False,
    "export_key": "Customization Packages (internal)", "hidden": False, "id": 0,
    "name": "Customization Packages (internal)", "parent_id": None, "system": False,
    "update_date": EXPORT_DATE, "uuid": "bfeec2d4-3770-11e8-ad39-4a0004044aa0",
}
FIELD_TYPE_IDS = {"incident": 0, "artifact": 4, "actioninvocation": 6, "__function": 11}
INPUT_TYPES = {"text", "textarea", "number", "boolean", "select", "multiselect", "datepicker",
               "datetimepicker"}
RULE_TYPES = {"automatic": 0, "manual": 1}
STATIC_VALUE_KEYS = {"text": "text_value", "textarea": "text_content_value", "number": "number_value",
                     "boolean": "boolean_value", "select": "select_value", "multiselect": "multiselect_value"}


class BuildError(Exception):
    """A source file is wrong: the message names the file and the object."""


def uid(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


def load_yaml(name: str) -> Any:
    path = HERE / name
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def read_script(rel: str, owner: str) -> str:
    path = HERE / "scripts" / rel
    if not path.is_file():
        raise BuildError(f"{owner}: script file customize/scripts/{rel} does not exist")
    return path.read_text(encoding="utf-8").rstrip("\n")


# ---------------------------------------------------------------- fields

def field_object(spec: dict, prefix: str, owner: str, next_id: list[int]) -> dict:
    """One field in the shape SOAR exports it, whatever its kind (incident, input, activity, column)."""
    name = spec["name"]
    input_type = spec.get("input_type", "text")
    if input_type not in INPUT_TYPES:
        raise BuildError(f"{owner}: field {name} has unknown input_type {input_type!r}")
    values = []
    for index, label in enumerate(spec.get("values", []) or []):
        values.append({"default": index == 0 and bool(spec.get("default_first")), "enabled": True,
                       "hidden": False, "label": str(label), "properties": None,
                       "uuid": uid(f"value:{prefix}/{name}", str(label)), "value": index + 1})
    next_id[0] += 1
    obj = {
        "allow_default_value": False, "blank_option": bool(spec.get("blank_option", False)),
        "calculated": False, "changeable": True, "chosen": False, "default_chosen_by_server": False,
        "deprecated": False, "export_key": f"{prefix}/{name}", "hide_notification": False,
        "id": next_id[0], "input_type": input_type, "internal": False, "is_tracked": False, "name": name,
        "operation_perms": {}, "operations": [], "placeholder": spec.get("placeholder", ""),
        "prefix": "properties" if prefix in ("incident", "actioninvocation") else None,
        "read_only": bool(spec.get("read_only", False)), "rich_text": bool(spec.get("rich_text", False)),
        "tags": [], "templates": [], "text": spec.get("text", name), "tooltip": spec.get("tooltip", ""),
        "type_id": FIELD_TYPE_IDS.get(prefix, 1000), "uuid": uid(f"field:{prefix}", name), "values": values,
    }
    if spec.get("required"):
        obj["required"] = spec["required"]
    return obj


# ---------------------------------------------------------------- workflows (BPMN)

def _function_task_json(step: dict, fn: dict, inputs_by_name: dict, owner: str) -> str:
    static: dict[str, Any] = {}
    for input_name, value in (step.get("static_inputs") or {}).items():
        if input_name not in fn["input_names"]:
            raise BuildError(f"{owner}: static input {input_name} is not an input of {fn['name']}")
        field = inputs_by_name[input_name]
        key = STATIC_VALUE_KEYS.get(field["input_type"], "text_value")
        if field["input_type"] == "select":
            match = [v["uuid"] for v in field["values"] if v["label"] == value]
            if not match:
                raise BuildError(f"{owner}: {value!r} is not an option of {input_name}")
            value = match[0]
        static[field["uuid"]] = {"input_type": "static", "static_input": {key: value}}
    body = {
        "inputs": static,
        "pre_processing_script": read_script(step["pre"], owner) if step.get("pre") else "",
        "pre_processing_script_language": "python3",
        "post_processing_script": read_script(step["post"], owner) if step.get("post") else "",
        "post_processing_script_language": "python3",
    }
    if step.get("result_name"):
        body["result_name"] = step["result_name"]
    return json.dumps(body, ensure_ascii=False, sort_keys=True)


def workflow_xml(wf: dict, functions: dict, inputs_by_name: dict, scripts: dict) -> str:
    """A linear BPMN process (start, the steps in order, end) with a diagram so SOAR's designer draws it."""
    pid = wf["programmatic_name"]
    owner = f"workflow {pid}"
    nodes: list[tuple[str, str, str]] = [("StartEvent_" + _short(pid, "start"), "start", "")]
    for index, step in enumerate(wf["steps"]):
        node_id = f"Task_{_short(pid, str(index))}"
        if "function" in step:
            fn = functions.get(step["function"])
            if fn is None:
                raise BuildError(f"{owner}: step {index + 1} names unknown function {step['function']}")
            inner = _function_task_json(step, fn, inputs_by_name, owner)
            element = (f'<serviceTask id="{node_id}" name={quoteattr(fn["display_name"])} resilient:type="function">'
                       f'<extensionElements><resilient:function uuid="{fn["uuid"]}">{escape(inner)}'
                       f"</resilient:function></extensionElements>")
        elif "script" in step:
            script = scripts.get(step["script"])
            if script is None:
                raise BuildError(f"{owner}: step {index + 1} names unknown script {step['script']}")
            element = (f'<scriptTask id="{node_id}" name={quoteattr(script["name"])}><extensionElements>'
                       f'<resilient:script uuid="{script["uuid"]}"/></extensionElements>')
        else:
            raise BuildError(f"{owner}: step {index + 1} is neither a function nor a script")
        nodes.append((node_id, "task", element))
    nodes.append(("EndEvent_" + _short(pid, "end"), "end", ""))

    flows = [(f"Flow_{_short(pid, 'flow' + str(i))}", nodes[i][0], nodes[i + 1][0]) for i in range(len(nodes) - 1)]
    parts = []
    for index, (node_id, kind, element) in enumerate(nodes):
        incoming = f"<incoming>{flows[index - 1][0]}</incoming>" if index > 0 else ""
        outgoing = f"<outgoing>{flows[index][0]}</outgoing>" if index < len(flows) else ""
        if kind == "start":
            parts.append(f'<startEvent id="{node_id}">{outgoing}</startEvent>')
        elif kind == "end":
            parts.append(f'<endEvent id="{node_id}">{incoming}</endEvent>')
        else:
            tag = "serviceTask" if element.startswith("<serviceTask") else "scriptTask"
            parts.append(f"{element}{incoming}{outgoing}</{tag}>")
    for flow_id, source, target in flows:
        parts.append(f'<sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}"/>')

    shapes, x = [], 160
    centres = {}
    for node_id, kind, _ in nodes:
        width, height = (36, 36) if kind in ("start", "end") else (100, 80)
        y = 206 - height // 2
        shapes.append(f'<bpmndi:BPMNShape bpmnElement="{node_id}" id="{node_id}_di">'
                      f'<omgdc:Bounds height="{height}" width="{width}" x="{x}" y="{y}"/></bpmndi:BPMNShape>')
        centres[node_id] = (x, x + width)
        x += width + 80
    for flow_id, source, target in flows:
        shapes.append(f'<bpmndi:BPMNEdge bpmnElement="{flow_id}" id="{flow_id}_di">'
                      f'<omgdi:waypoint x="{centres[source][1]}" y="206"/>'
                      f'<omgdi:waypoint x="{centres[target][0]}" y="206"/></bpmndi:BPMNEdge>')

    description = escape(wf.get("description", ""))
    return ('<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
            'xmlns:omgdc="http://www.omg.org/spec/DD/20100524/DC" '
            'xmlns:omgdi="http://www.omg.org/spec/DD/20100524/DI" xmlns:resilient="http://resilient.ibm.com/bpmn" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'targetNamespace="http://www.camunda.org/test">'
            f'<process id="{pid}" isExecutable="true" name={quoteattr(wf["name"])}>'
            f"<documentation>{description}</documentation>{''.join(parts)}</process>"
            '<bpmndi:BPMNDiagram id="BPMNDiagram_1"><bpmndi:BPMNPlane bpmnElement="undefined" id="BPMNPlane_1">'
            f"{''.join(shapes)}</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></definitions>")


def _short(pid: str, salt: str) -> str:
    return uuid.uuid5(NAMESPACE, f"bpmn:{pid}:{salt}").hex[:7]


# ---------------------------------------------------------------- whole export

def build() -> dict:
    app = load_yaml("app.yaml")
    field_src = load_yaml("fields.yaml")
    fn_src = load_yaml("functions.yaml")
    rule_src = load_yaml("rules.yaml")
    wf_src = load_yaml("workflows.yaml")
    script_src = load_yaml("scripts.yaml")
    # One file per feature under features/ may add to any list above, so that a feature's objects
    # (fields, tables, functions, workflows, rules, scripts) can be reviewed together.
    for path in sorted((HERE / "features").glob("*.yaml")):
        feature = load_yaml(f"features/{path.name}")
        for target, keys in ((app, ("artifact_types", "datatables")),
                             (field_src, ("function_inputs", "incident_fields", "activity_fields")),
                             (fn_src, ("functions",)), (rule_src, ("rules",)), (wf_src, ("workflows",)),
                             (script_src, ("scripts",))):
            for key in keys:
                if feature.get(key):
                    target[key] = list(target.get(key) or []) + list(feature[key])
    next_id = [0]

    dest = app["message_destination"]
    destinations = [{
        "api_keys": [], "destination_type": 0, "expect_ack": True, "export_key": dest["programmatic_name"],
        "name": dest["name"], "programmatic_name": dest["programmatic_name"], "tags": [], "users": [],
        "uuid": uid("destination", dest["programmatic_name"]),
    }]

    fields: list[dict] = []
    seen: set[str] = set()

    def add_field(obj: dict) -> dict:
        if obj["export_key"] in seen:
            raise BuildError(f"duplicate field {obj['export_key']}")
        seen.add(obj["export_key"])
        fields.append(obj)
        return obj

    inputs_by_name = {s["name"]: add_field(field_object(s, "__function", "fields.yaml", next_id))
                      for s in field_src.get("function_inputs", [])}
    for spec in field_src.get("incident_fields", []) or []:
        add_field(field_object(spec, "incident", "fields.yaml", next_id))
    activity = {s["name"]: add_field(field_object(s, "actioninvocation", "fields.yaml", next_id))
                for s in field_src.get("activity_fields", []) or []}
    fields.append(dict(INTERNAL_FIELD))

    incident_types = [dict(INTERNAL_INCIDENT_TYPE)] + [{
        "create_date": EXPORT_DATE, "description": " ".join(str(t.get("description", "")).split()),
        "enabled": True, "export_key": t["name"], "hidden": False, "id": index + 1, "name": t["name"],
        "parent_id": None, "system": False, "update_date": EXPORT_DATE, "uuid": uid("incident_type", t["name"]),
    } for index, t in enumerate(app.get("incident_types", []) or [])]

    artifact_types = [{
        "default_scan_option": "unsupported", "desc": a.get("desc", ""), "enabled": True,
        "export_key": a["programmatic_name"], "file": False, "id": 0, "multi_aware": False, "name": a["name"],
        "parse_as_csv": False, "programmatic_name": a["programmatic_name"], "reg_exp": None, "system": False,
        "tags": [], "use_for_relationships": bool(a.get("use_for_relationships", True)),
        "uuid": uid("artifact_type", a["programmatic_name"]), "version": 0,
    } for a in app.get("artifact_types", []) or []]

    datatables = []
    for table in app.get("datatables", []) or []:
        columns = {}
        for order, col in enumerate(table["columns"]):
            obj = field_object(col, table["type_name"], f"datatable {table['type_name']}", next_id)
            obj.update({"order": order, "width": col.get("width", 150), "type_id": 1000})
            columns[col["name"]] = obj
        datatables.append({
            "actions": [], "display_name": table["display_name"], "export_key": table["type_name"],
            "fields": columns, "for_actions": False, "for_custom_fields": False, "for_notifications": False,
            "for_workflows": False, "id": None, "parent_types": ["incident"],
            "properties": {"can_create": False, "can_destroy": False, "for_who": []}, "scripts": [], "tags": [],
            "type_id": 8, "type_name": table["type_name"], "uuid": uid("datatable", table["type_name"]),
        })

    scripts: dict[str, dict[str, Any]] = {}
    for spec in script_src.get("scripts", []) or []:
        scripts[spec["name"]] = {
            "actions": [], "created_date": EXPORT_DATE, "description": spec.get("description", ""),
            "enabled": False, "export_key": spec["name"], "id": len(scripts) + 1, "language": "python3",
            "last_modified_by": "fn_pp_tap_functions", "last_modified_time": EXPORT_DATE, "name": spec["name"],
            "object_type": spec.get("object_type", "incident"), "playbook_handle": None,
            "programmatic_name": spec["programmatic_name"],
            "script_text": read_script(spec["file"], f"script {spec['name']}"), "tags": [],
            "uuid": uid("script", spec["name"]),
        }

    functions: dict[str, dict] = {}
    for spec in fn_src.get("functions", []) or []:
        for name in spec.get("inputs", []):
            if name not in inputs_by_name:
                raise BuildError(f"function {spec['name']}: input {name} is not defined in fields.yaml")
        functions[spec["name"]] = {
            "created_date": EXPORT_DATE,
            "description": {"content": spec["description"].strip(), "format": "text"},
            "destination_handle": dest["programmatic_name"], "display_name": spec["display_name"],
            "export_key": spec["name"], "id": len(functions) + 1,
            "last_modified_by": {"display_name": "fn_pp_tap_functions", "id": 1, "name": "fn_pp_tap_functions",
                                 "type": "user"},
            "last_modified_time": EXPORT_DATE, "name": spec["name"],
            "output_description": {"content": spec.get("output", "").strip() or None, "format": "text"},
            "tags": [], "uuid": uid("function", spec["name"]), "version": 1,
            "view_items": [{"content": inputs_by_name[n]["uuid"], "element": "field_uuid",
                            "field_type": "__function", "show_if": None, "show_link_header": False,
                            "step_label": None} for n in spec.get("inputs", [])],
            "workflows": [],
            "input_names": list(spec.get("inputs", [])),
        }
        example, schema = _payload_sample(spec["name"])
        if example is not None:
            functions[spec["name"]]["output_json_example"] = example
            functions[spec["name"]]["output_json_schema"] = schema

    workflows: list[dict[str, Any]] = []
    for spec in wf_src.get("workflows", []) or []:
        pid = spec["programmatic_name"]
        xml = workflow_xml(spec, functions, inputs_by_name, scripts)
        workflows.append({
            "actions": [], "content": {"version": 1, "workflow_id": pid, "xml": xml}, "content_version": 1,
            "description": spec.get("description", ""), "export_key": pid,
            "last_modified_by": "fn_pp_tap_functions", "last_modified_time": EXPORT_DATE, "name": spec["name"],
            "object_type": spec["object_type"], "programmatic_name": pid, "tags": [],
            "uuid": uid("workflow", pid), "workflow_id": len(workflows) + 1,
        })
        for step in spec["steps"]:
            if "function" in step:
                fn = functions[step["function"]]
                if not any(w["programmatic_name"] == pid for w in fn["workflows"]):
                    fn["workflows"].append({"actions": [], "description": None, "name": spec["name"],
                                            "object_type": spec["object_type"], "programmatic_name": pid,
                                            "tags": [], "uuid": None, "workflow_id": len(workflows)})

    wf_names = {w["programmatic_name"] for w in workflows}
    rules: list[dict[str, Any]] = []
    for spec in rule_src.get("rules", []) or []:
        for pid in spec.get("workflows", []):
            if pid not in wf_names:
                raise BuildError(f"rule {spec['name']!r} names unknown workflow {pid}")
        conditions = []
        for index, cond in enumerate(spec.get("conditions", []) or []):
            conditions.append({"evaluation_id": index + 1 if spec.get("logic_type") == "advanced" else None,
                               "field_name": cond.get("field_name"), "method": cond["method"],
                               "type": None, "value": cond.get("value")})
        rule = {
            "automations": [], "conditions": conditions, "enabled": True, "export_key": spec["name"],
            "id": len(rules) + 1, "logic_type": spec.get("logic_type", "all"), "message_destinations": [],
            "name": spec["name"], "object_type": spec["object_type"], "tags": [],
            "timeout_seconds": 86400, "type": RULE_TYPES[spec["type"]], "uuid": uid("rule", spec["name"]),
            "view_items": [{"content": activity[n]["uuid"], "element": "field_uuid", "field_type": "actioninvocation",
                            "show_if": None, "show_link_header": False, "step_label": None}
                           for n in spec.get("activity_fields", [])],
            "workflows": list(spec.get("workflows", [])),
        }
        if spec.get("custom_condition"):
            rule["custom_condition"] = spec["custom_condition"]
        rules.append(rule)

    for fn in functions.values():
        del fn["input_names"]

    return {
        "action_order": [], "actions": rules, "apps": [], "automatic_tasks": [], "case_matching_profiles": [],
        "export_date": EXPORT_DATE, "export_format_version": 2, "export_type": None, "fields": fields,
        "functions": list(functions.values()), "geos": None, "groups": None, "id": 1,
        "inbound_destinations": [], "inbound_mailboxes": None, "incident_artifact_types": artifact_types,
        "incident_types": incident_types, "layouts": [], "locale": None,
        "message_destinations": destinations, "notifications": None, "overrides": [], "phases": [],
        "playbooks": [], "regulators": None, "roles": [], "scripts": list(scripts.values()),
        "server_version": SERVER_VERSION, "tags": [], "task_order": [], "timeframes": None, "types": datatables,
        "workflows": workflows, "workspaces": [],
    }


def _payload_sample(function_name: str) -> tuple[str | None, str | None]:
    """The function's output example and schema, shown in SOAR's playbook designer, from payload_samples/."""
    folder = ROOT / "payload_samples" / function_name
    example, schema = folder / "output_json_example.json", folder / "output_json_schema.json"
    if not example.is_file() or not schema.is_file():
        return None, None
    return example.read_text(encoding="utf-8"), schema.read_text(encoding="utf-8")


def render(export: dict) -> str:
    return json.dumps(export, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when export.res differs from the sources")
    args = parser.parse_args(argv)
    try:
        text = render(build())
    except BuildError as err:
        print(f"customize build failed: {err}", file=sys.stderr)
        return 2
    current = EXPORT_PATH.read_text(encoding="utf-8") if EXPORT_PATH.is_file() else ""
    if args.check:
        if current != text:
            print(f"{EXPORT_PATH.relative_to(ROOT)} is stale: run `make export`", file=sys.stderr)
            return 1
        return 0
    EXPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
    EXPORT_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {EXPORT_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
