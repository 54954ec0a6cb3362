"""The app's SOAR (v51) playbooks, built from the rules and workflows: one playbook per rule, nothing written twice.

A playbook here is a rule and its workflow in the form SOAR's playbook designer saves (IBM's own Proofpoint
TAP app, fn_watsonx_analyst and resilient-sdk's mock export are the models: every key, element and id pattern
follows them):

* activation: the rule's. A menu-item rule gives a manual playbook with the same conditions
  (``manual_settings``), an automatic rule an automatic one (``activation_details``), on the same object type;
  its display name is the rule's, so an analyst finds the same menu item whichever set the SOC runs.
* steps: the workflow's. A function step becomes a function element whose input script is the workflow's
  pre-processing script *file itself* (the SOC's decisions, e.g. ingestion's filters and templates, live in one
  file for both); its post-processing script becomes the playbook's local script that follows the function,
  that same file with one line before it, ``results = playbook.functions.results.<result_name>`` (playbooks have
  no post-processing scripts). A script step runs the same global script.
* status: ``disabled``. A SOC runs workflows or playbooks, never both (both would ingest, enrich and close
  twice): the rules ship enabled and the playbooks disabled; README "Playbooks" says how to switch.

Because the scripts are shared, they must work in both: a results envelope is read by key
(``results["content"]``, never ``results.content``: IBM's playbook scripts read results by key, and a playbook's
results are plain read-only values), and a script used by a playbook may not name ``workflow`` or ``rule``
(a playbook has ``playbook.properties`` and ``playbook.inputs`` instead). The build refuses a script that does.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from customize.common import EXPORT_DATE, BuildError, read_script, static_inputs, uid

SHIPPED_STATUS = "disabled"
PRINCIPAL = {"display_name": "fn_pp_tap_functions", "id": 1, "name": "fn_pp_tap_functions", "type": "user"}
PLAYBOOK_TYPE_ID = 28  # the type of a playbook's activation form (fields_type), as in every server export
START_ID = "StartEvent_155asxm"  # the designer's fixed id of a playbook's start event (every server export)
X_TASK, X_MIDDLE, TASK_W, TASK_H, STEP_Y = 623, 721, 196, 84, 140


def playbook_name(rule_name: str) -> str:
    """The API name: ``pb_pp_tap_`` and the rule's name after "Proofpoint TAP:" (``pb_`` as resilient-sdk names
    a playbook's file, so codegen writes ``data/<name>.md``)."""
    short = rule_name.split(":", 1)[1] if rule_name.startswith("Proofpoint TAP:") else rule_name
    slug = re.sub(r"[^a-z0-9]+", "_", short.lower()).strip("_")
    return f"pb_pp_tap_{slug}"


def handle_of(playbook_uuid: str) -> str:
    """The BPMN process id, deployment id and field type handle: ``playbook_`` + the uuid with ``_``."""
    return "playbook_" + playbook_uuid.replace("-", "_")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def check_shared_script(text: str, rel: str, kind: str) -> None:
    """Refuse what would work in a workflow and fail in its playbook (see the module docstring)."""
    try:
        tree = ast.parse(text)
    except SyntaxError as err:
        raise BuildError(f"customize/scripts/{rel}: not valid Python: {err}") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id == "results" and kind == "post":
                raise BuildError(f"customize/scripts/{rel} line {node.lineno}: read results by key "
                                 f"(results[{node.attr!r}]): the playbook's local script has no attribute access")
        if isinstance(node, ast.Name) and node.id in ("workflow", "rule"):
            raise BuildError(f"customize/scripts/{rel} line {node.lineno}: '{node.id}' does not exist in a playbook "
                             "(use playbook.properties or playbook.inputs in a playbook of its own)")


def _conditions(rule: dict) -> dict:
    cond: dict[str, Any] = {"conditions": [dict(c) for c in rule["conditions"]], "logic_type": rule["logic_type"]}
    if rule.get("custom_condition"):
        cond["custom_condition"] = rule["custom_condition"]
    return cond


class _Steps:
    """The elements of one playbook, in order, with the local scripts its post-processing scripts became."""

    def __init__(self, name: str, object_type: str, owner: str) -> None:
        self.name, self.object_type, self.owner = name, object_type, owner
        self.elements: list[tuple[str, str]] = []  # (node id, element XML without its flows)
        self.local_scripts: list[dict[str, Any]] = []

    def function(self, step: dict, fn: dict, inputs_by_name: dict) -> None:
        if not step.get("result_name"):
            raise BuildError(f"{self.owner}: step {fn['name']} needs a result_name (a playbook's local script reads "
                             "the results by it)")
        pre = read_script(step["pre"], self.owner) if step.get("pre") else ""
        if pre:
            check_shared_script(pre, step["pre"], "pre")
        body = {"inputs": static_inputs(step, fn, inputs_by_name, self.owner), "pre_processing_script": pre,
                "pre_processing_script_language": "python3", "result_name": step["result_name"]}
        node = f"ServiceTask_{len(self.elements) + 1}"
        text = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        self.elements.append((node, f'<serviceTask id="{node}" name={quoteattr(fn["display_name"])} '
                                    f'resilient:type="function"><extensionElements><resilient:function '
                                    f'uuid="{fn["uuid"]}">{escape(text)}</resilient:function></extensionElements>'))
        if step.get("post"):
            self.local_script(step, fn)

    def local_script(self, step: dict, fn: dict) -> None:
        post = read_script(step["post"], self.owner)
        check_shared_script(post, step["post"], "post")
        first = post.splitlines()[0] if post else ""
        description = re.sub(r"^#\s*(Post-processing:\s*)?", "", first).strip() if first.startswith("#") else ""
        name = f"{fn['display_name']}: write the results"
        text = (f"# Runs after the function \"{fn['display_name']}\", from customize/scripts/{step['post']} (the "
                "workflow's\n# post-processing script). The function's results are read-only.\n"
                f"results = playbook.functions.results.{step['result_name']}\n{post}")
        script_uuid = uid("local_script", f"{self.name}/{len(self.local_scripts)}")
        self.local_scripts.append({
            "actions": [], "created_date": EXPORT_DATE, "description": description, "enabled": False,
            "export_key": name, "id": 0, "language": "python3", "last_modified_by": PRINCIPAL["name"],
            "last_modified_time": EXPORT_DATE, "name": name, "object_type": self.object_type,
            "playbook_handle": self.name, "programmatic_name": f"{self.name}_{_slug(name)}", "script_text": text,
            "tags": [], "uuid": script_uuid})
        self.script(script_uuid, name)

    def script(self, script_uuid: str, name: str) -> None:
        node = f"ScriptTask_{len(self.elements) + 1}"
        self.elements.append((node, f'<scriptTask id="{node}" name={quoteattr(name)}><extensionElements>'
                                    f'<resilient:script uuid="{script_uuid}"/></extensionElements>'))


def playbook_xml(handle: str, elements: list[tuple[str, str]]) -> str:
    """A straight path (start, the elements, end point) with the designer's ids, drawn top to bottom."""
    end = f"EndPoint_{len(elements) + 1}"
    order = [START_ID, *[node for node, _ in elements], end]
    flows = [(f"Flow_{uid('flow', f'{handle}/{i}').replace('-', '')[:7]}", order[i], order[i + 1])
             for i in range(len(order) - 1)]
    parts = [f'<startEvent id="{START_ID}"><outgoing>{flows[0][0]}</outgoing></startEvent>']
    for index, (_node, element) in enumerate(elements):
        tag = "serviceTask" if element.startswith("<serviceTask") else "scriptTask"
        inner = f"<incoming>{flows[index][0]}</incoming><outgoing>{flows[index + 1][0]}</outgoing>"
        parts.append(element + inner + ("<script>script</script>" if tag == "scriptTask" else "") + f"</{tag}>")
        parts.append(f'<sequenceFlow id="{flows[index][0]}" sourceRef="{flows[index][1]}" '
                     f'targetRef="{flows[index][2]}"/>')
    parts.append(f'<endEvent id="{end}" resilient:documentation="End point"><incoming>{flows[-1][0]}</incoming>'
                 "</endEvent>")
    parts.append(f'<sequenceFlow id="{flows[-1][0]}" sourceRef="{flows[-1][1]}" targetRef="{end}"/>')
    tops = {START_ID: 65, end: 168 + STEP_Y * len(elements)}
    shapes = []
    for index, (node, _) in enumerate(elements):
        tops[node] = 168 + STEP_Y * index
        shapes.append(f'<bpmndi:BPMNShape bpmnElement="{node}" id="{node}_di"><omgdc:Bounds height="{TASK_H}" '
                      f'width="{TASK_W}" x="{X_TASK}" y="{tops[node]}"/></bpmndi:BPMNShape>')
    edges = [f'<bpmndi:BPMNEdge bpmnElement="{fid}" id="{fid}_di"><omgdi:waypoint x="{X_MIDDLE}" '
             f'y="{tops[src] + (52 if src == START_ID else TASK_H)}"/><omgdi:waypoint x="{X_MIDDLE}" '
             f'y="{tops[dst]}"/></bpmndi:BPMNEdge>' for fid, src, dst in flows]
    start_shape = (f'<bpmndi:BPMNShape bpmnElement="{START_ID}" id="{START_ID}_di"><omgdc:Bounds height="52" '
                   'width="180" x="631" y="65"/><bpmndi:BPMNLabel><omgdc:Bounds height="0" width="90" x="616" '
                   'y="100"/></bpmndi:BPMNLabel></bpmndi:BPMNShape>')
    end_shape = (f'<bpmndi:BPMNShape bpmnElement="{end}" id="{end}_di"><omgdc:Bounds height="52" width="132" '
                 f'x="655" y="{tops[end]}"/></bpmndi:BPMNShape>')
    return ('<?xml version="1.0" encoding="UTF-8" standalone="no"?><definitions '
            'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
            'xmlns:omgdc="http://www.omg.org/spec/DD/20100524/DC" xmlns:omgdi="http://www.omg.org/spec/DD/20100524/DI" '
            'xmlns:resilient="http://resilient.ibm.com/bpmn" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" targetNamespace="http://www.camunda.org/test">'
            f'<process id="{handle}" isExecutable="true" name="{handle}"><documentation/>{"".join(parts)}</process>'
            f'<bpmndi:BPMNDiagram id="BPMNDiagram_1"><bpmndi:BPMNPlane bpmnElement="{handle}" id="BPMNPlane_1">'
            f'{"".join(edges)}{start_shape}{"".join(shapes)}{end_shape}</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>'
            "</definitions>")


def build_playbooks(rules: list[dict], workflows: dict[str, dict], functions: dict[str, dict],
                    inputs_by_name: dict[str, dict], scripts: dict[str, dict]) -> list[dict[str, Any]]:
    """One playbook per rule (``rules`` as exported), from its workflow's source ``workflows[pid]``."""
    out: list[dict[str, Any]] = []
    next_script_id = len(scripts)
    scripts_by_name = {s["name"]: s for s in scripts.values()}
    for rule in rules:
        owner = f"playbook of rule {rule['name']!r}"
        if len(rule["workflows"]) != 1:
            raise BuildError(f"{owner}: a rule with a playbook runs exactly one workflow")
        if rule["view_items"]:
            raise BuildError(f"{owner}: activity fields are not carried over to playbooks (they would be "
                             "playbook inputs, read as playbook.inputs, not rule.properties)")
        wf = workflows[rule["workflows"][0]]
        name = playbook_name(rule["name"])
        pb_uuid = uid("playbook", name)
        handle = handle_of(pb_uuid)
        steps = _Steps(name, rule["object_type"], owner)
        for step in wf["steps"]:
            if "function" in step:
                steps.function(step, functions[step["function"]], inputs_by_name)
            else:
                script = scripts_by_name[step["script"]]
                check_shared_script(script["script_text"], f"script {script['name']}", "script")
                steps.script(script["uuid"], script["name"])
        for script in steps.local_scripts:
            next_script_id += 1
            script["id"] = next_script_id
        number = len(out) + 1
        playbook: dict[str, Any] = {
            "activation_type": "automatic" if rule["type"] == 0 else "manual",
            "content": {"content_version": 1, "xml": playbook_xml(handle, steps.elements)},
            "create_date": EXPORT_DATE, "creator_principal": dict(PRINCIPAL), "deployment_id": handle,
            "description": {"format": "text", "content": " ".join(str(wf.get("description", "")).split()).replace(
                "the pre-processing script", "the input script")},
            "display_name": rule["name"], "export_key": name, "field_type_handle": handle,
            "fields_type": {
                "actions": [], "display_name": rule["name"], "export_key": handle, "fields": {},
                "for_actions": False, "for_custom_fields": False, "for_notifications": False,
                "for_workflows": False, "id": None, "parent_types": ["__playbook"],
                "properties": {"can_create": False, "can_destroy": False, "for_who": []}, "scripts": [],
                "tags": [], "type_id": PLAYBOOK_TYPE_ID, "type_name": handle, "uuid": uid("playbook_type", name)},
            "has_logical_errors": False, "id": number, "is_deleted": False, "is_locked": False,
            "last_modified_principal": dict(PRINCIPAL), "last_modified_time": EXPORT_DATE,
            "local_scripts": steps.local_scripts, "name": name, "object_type": rule["object_type"],
            "status": SHIPPED_STATUS,
            "tag": {"display_name": f"Playbook_{pb_uuid}", "id": number, "name": handle, "type": "playbook",
                    "uuid": uid("playbook_tag", name)},
            "tags": [], "type": "default", "uuid": pb_uuid, "version": 1,
        }
        if rule["type"] == 0:
            playbook["activation_details"] = {"activation_conditions": _conditions(rule)}
        else:
            playbook["manual_settings"] = {"activation_conditions": _conditions(rule), "view_items": []}
        out.append(playbook)
    names = [p["name"] for p in out]
    if len(names) != len(set(names)):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise BuildError(f"two rules give playbooks the same API name: {twice}")
    return out
