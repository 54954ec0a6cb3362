"""Sample playbooks for exercising the emulator, in the form SOAR's playbook designer saves them (the keys of
the playbooks in the public server-made exports: IBM's Proofpoint TAP app, fn_watsonx_analyst).

``sample_playbook()`` builds one playbook of the echo app (:mod:`sim.soar.samples`) from a list of elements:
``("function", {"inputs": ..., "pre_processing_script": ..., "result_name": ...})`` calls ``emu_echo``,
``("local", name, script_text)`` runs a local script of the playbook, ``("script", uuid)`` a global script.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sim.soar.samples import U

START = "StartEvent_155asxm"
PRINCIPAL = {"display_name": "Admin", "id": 1, "name": "admin@example.com", "type": "user"}


def _xml(handle: str, elements: list[tuple[str, str, str]]) -> str:
    """(node id, tag, inner XML) elements on a straight path from the start event to the end point."""
    order = [START, *[node for node, _, _ in elements], f"EndPoint_{len(elements) + 1}"]
    flows = [(f"Flow_{i}", order[i], order[i + 1]) for i in range(len(order) - 1)]
    parts = [f'<startEvent id="{START}"><outgoing>Flow_0</outgoing></startEvent>']
    for index, (node, tag, inner) in enumerate(elements):
        extra = ' resilient:type="function"' if tag == "serviceTask" else ""
        script = "<script>script</script>" if tag == "scriptTask" else ""
        parts.append(f'<{tag} id="{node}" name="{node}"{extra}><extensionElements>{inner}</extensionElements>'
                     f"<incoming>Flow_{index}</incoming><outgoing>Flow_{index + 1}</outgoing>{script}</{tag}>")
    parts.append(f'<endEvent id="{order[-1]}" resilient:documentation="End point"><incoming>Flow_{len(elements)}'
                 "</incoming></endEvent>")
    parts += [f'<sequenceFlow id="{fid}" sourceRef="{src}" targetRef="{dst}"/>' for fid, src, dst in flows]
    return ('<?xml version="1.0" encoding="UTF-8" standalone="no"?><definitions '
            'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
            'xmlns:omgdc="http://www.omg.org/spec/DD/20100524/DC" xmlns:omgdi="http://www.omg.org/spec/DD/20100524/DI" '
            'xmlns:resilient="http://resilient.ibm.com/bpmn" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" targetNamespace="http://www.camunda.org/test">'
            f'<process id="{handle}" isExecutable="true" name="{handle}"><documentation/>{"".join(parts)}</process>'
            f'<bpmndi:BPMNDiagram id="BPMNDiagram_1"><bpmndi:BPMNPlane bpmnElement="{handle}" id="BPMNPlane_1"/>'
            "</bpmndi:BPMNDiagram></definitions>")


def sample_playbook(name: str, elements: list[tuple[Any, ...]], *, activation: str = "manual",
                    conditions: list[dict] | None = None, object_type: str = "incident",
                    status: str = "enabled") -> dict[str, Any]:
    pb_uuid = str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"emu-playbook:{name}"))
    handle = "playbook_" + pb_uuid.replace("-", "_")
    nodes: list[tuple[str, str, str]] = []
    local_scripts = []
    for index, element in enumerate(elements, start=1):
        if element[0] == "function":
            body = {"inputs": {}, "pre_processing_script": "", "pre_processing_script_language": "python3",
                    "result_name": "", **element[1]}
            text = escape(json.dumps(body))
            nodes.append((f"ServiceTask_{index}", "serviceTask",
                          f'<resilient:function uuid="{U["function"]}">{text}</resilient:function>'))
        elif element[0] == "local":
            script_uuid = str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"emu-local:{name}:{element[1]}"))
            local_scripts.append({
                "actions": [], "created_date": 0, "description": "", "enabled": False, "export_key": element[1],
                "id": 100 + index, "language": "python3", "last_modified_by": PRINCIPAL["name"],
                "last_modified_time": 0, "name": element[1], "object_type": object_type, "playbook_handle": name,
                "programmatic_name": f"{name}_{element[1]}", "script_text": element[2], "tags": [],
                "uuid": script_uuid})
            nodes.append((f"ScriptTask_{index}", "scriptTask", f"<resilient:script uuid={quoteattr(script_uuid)}/>"))
        else:
            nodes.append((f"ScriptTask_{index}", "scriptTask", f"<resilient:script uuid={quoteattr(element[1])}/>"))
    activation_conditions = {"conditions": conditions or [], "logic_type": "all"}
    pb: dict[str, Any] = {
        "activation_type": activation, "content": {"content_version": 1, "xml": _xml(handle, nodes)},
        "create_date": 0, "creator_principal": PRINCIPAL, "deployment_id": handle,
        "description": {"content": "emulator sample", "format": "text"}, "display_name": f"Emu {name}",
        "export_key": name, "field_type_handle": handle,
        "fields_type": {"actions": [], "display_name": f"Emu {name}", "export_key": handle, "fields": {},
                        "for_actions": False, "for_custom_fields": False, "for_notifications": False,
                        "for_workflows": False, "id": None, "parent_types": ["__playbook"],
                        "properties": {"can_create": False, "can_destroy": False, "for_who": []}, "scripts": [],
                        "tags": [], "type_id": 28, "type_name": handle,
                        "uuid": str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"emu-playbook-type:{name}"))},
        "has_logical_errors": False, "id": 1, "is_deleted": False, "is_locked": False,
        "last_modified_principal": PRINCIPAL, "last_modified_time": 0, "local_scripts": local_scripts,
        "name": name, "object_type": object_type, "status": status,
        "tag": {"display_name": f"Playbook_{pb_uuid}", "id": 1, "name": handle, "type": "playbook",
                "uuid": str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"emu-playbook-tag:{name}"))},
        "tags": [], "type": "default", "uuid": pb_uuid, "version": 1,
    }
    if activation == "automatic":
        pb["activation_details"] = {"activation_conditions": activation_conditions}
    else:
        pb["manual_settings"] = {"activation_conditions": activation_conditions, "view_items": []}
    return pb


def condition(field_name: str | None, method: str, value: Any = None) -> dict:
    return {"evaluation_id": None, "field_name": field_name, "method": method, "type": None, "value": value}
