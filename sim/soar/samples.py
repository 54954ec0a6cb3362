"""A tiny self-contained app for exercising the emulator with the real runtime.

``echo_export()`` is an export (format 2, as SOAR writes them) holding: function ``emu_echo`` on message
destination ``emu_test`` (inputs ``emu_text``, ``emu_choice`` select, ``emu_fail`` boolean, ``emu_delay``
number), workflow ``emu_echo_wf`` (pre-processing script sets the text from the rule's activity field,
static select input, post-processing script writes a note and a custom field), a manual rule
"Emu: Echo" with activity field ``emu_note``, an automatic rule "Emu: Auto Echo" firing when
``emu_verdict`` changes to "malicious", custom incident fields, a data table and an artifact type.

``ECHO_COMPONENT`` is the source of a ``componentsdir`` component implementing ``emu_echo`` with the
modern ``AppFunctionComponent`` API.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

U = {
    "f_internal": "bfeec2d4-3770-11e8-ad39-4a0004044aa1",
    "f_verdict": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0001",
    "f_verdict_benign": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0002",
    "f_verdict_malicious": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0003",
    "f_count": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0004",
    "f_summary": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0005",
    "i_text": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0011",
    "i_choice": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0012",
    "i_choice_one": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0013",
    "i_choice_two": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0014",
    "i_fail": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0015",
    "i_delay": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0016",
    "a_note": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0021",
    "a_fail": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0022",
    "function": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0031",
    "dest": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0041",
    "workflow": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0051",
    "rule_manual": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0061",
    "rule_auto": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0062",
    "table": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0071",
    "col_indicator": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0072",
    "col_hits": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0073",
    "atype": "6c1d1a52-0d4e-4c44-9a69-2f4b8d1c0081",
    "itype": "bfeec2d4-3770-11e8-ad39-4a0004044aa0",
}

PRE_SCRIPT = """note = getattr(rule.properties, "emu_note", None)
inputs.emu_text = note if note else incident.name
inputs.emu_fail = bool(getattr(rule.properties, "emu_fail", False))
"""
POST_SCRIPT = """incident.addNote("echo: {} ({})".format(results.content["text"], results.content["choice"]))
incident.properties.emu_summary = results.content["text"]
"""


def _field(name: str, type_id: int, input_type: str, uuid: str, *, text: str | None = None,
           values: list[tuple[str, str]] | None = None, prefix: str | None = None, required: str | None = None,
           export_type: str = "") -> dict:
    return {
        "allow_default_value": False, "blank_option": False, "calculated": False, "changeable": True,
        "chosen": False, "default_chosen_by_server": False, "deprecated": False,
        "export_key": f"{export_type}/{name}", "hide_notification": False, "id": 0, "input_type": input_type,
        "internal": False, "is_tracked": False, "name": name, "operation_perms": {}, "operations": [],
        "placeholder": "", "prefix": prefix, "read_only": False, "required": required, "rich_text": False,
        "tags": [], "templates": [], "text": text or name, "tooltip": "", "type_id": type_id, "uuid": uuid,
        "values": [{"default": i == 0, "enabled": True, "hidden": False, "label": label, "properties": None,
                    "uuid": vuuid, "value": 100 + i} for i, (label, vuuid) in enumerate(values or [])],
    }


def workflow_xml(process_id: str, name: str, function_uuid: str, function_json: dict,
                 function_name: str) -> str:
    fn = escape(json.dumps(function_json))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:omgdc="http://www.omg.org/spec/DD/20100524/DC" '
        'xmlns:omgdi="http://www.omg.org/spec/DD/20100524/DI" xmlns:resilient="http://resilient.ibm.com/bpmn" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'targetNamespace="http://www.camunda.org/test">'
        f'<process id="{process_id}" isExecutable="true" name="{escape(name)}">'
        '<documentation>emulator sample</documentation>'
        '<startEvent id="StartEvent_1"><outgoing>Flow_1</outgoing></startEvent>'
        f'<serviceTask id="ServiceTask_1" name="{escape(function_name)}" resilient:type="function">'
        f'<extensionElements><resilient:function uuid="{function_uuid}">{fn}</resilient:function>'
        '</extensionElements><incoming>Flow_1</incoming><outgoing>Flow_2</outgoing></serviceTask>'
        '<endEvent id="EndEvent_1"><incoming>Flow_2</incoming></endEvent>'
        '<sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="ServiceTask_1"/>'
        '<sequenceFlow id="Flow_2" sourceRef="ServiceTask_1" targetRef="EndEvent_1"/>'
        '</process>'
        '<bpmndi:BPMNDiagram id="BPMNDiagram_1"><bpmndi:BPMNPlane bpmnElement="undefined" id="BPMNPlane_1">'
        '<bpmndi:BPMNShape bpmnElement="StartEvent_1" id="StartEvent_1_di">'
        '<omgdc:Bounds height="36" width="36" x="162" y="188"/></bpmndi:BPMNShape>'
        '<bpmndi:BPMNShape bpmnElement="ServiceTask_1" id="ServiceTask_1_di">'
        '<omgdc:Bounds height="80" width="100" x="260" y="166"/></bpmndi:BPMNShape>'
        '<bpmndi:BPMNShape bpmnElement="EndEvent_1" id="EndEvent_1_di">'
        '<omgdc:Bounds height="36" width="36" x="420" y="188"/></bpmndi:BPMNShape>'
        '<bpmndi:BPMNEdge bpmnElement="Flow_1" id="Flow_1_di"><omgdi:waypoint x="198" y="206"/>'
        '<omgdi:waypoint x="260" y="206"/></bpmndi:BPMNEdge>'
        '<bpmndi:BPMNEdge bpmnElement="Flow_2" id="Flow_2_di"><omgdi:waypoint x="360" y="206"/>'
        '<omgdi:waypoint x="420" y="206"/></bpmndi:BPMNEdge>'
        '</bpmndi:BPMNPlane></bpmndi:BPMNDiagram></definitions>'
    )


def echo_export() -> dict:
    fields = [
        {"export_key": "incident/internal_customizations_field", "id": 0, "input_type": "text", "internal": True,
         "name": "internal_customizations_field", "read_only": True, "text": "Customizations Field (internal)",
         "type_id": 0, "uuid": U["f_internal"]},
        _field("emu_verdict", 0, "select", U["f_verdict"], text="Emu verdict", prefix="properties",
               values=[("benign", U["f_verdict_benign"]), ("malicious", U["f_verdict_malicious"])],
               export_type="incident"),
        _field("emu_count", 0, "number", U["f_count"], text="Emu count", prefix="properties", export_type="incident"),
        _field("emu_summary", 0, "textarea", U["f_summary"], text="Emu summary", prefix="properties",
               export_type="incident"),
        _field("emu_text", 11, "text", U["i_text"], export_type="__function"),
        _field("emu_choice", 11, "select", U["i_choice"], values=[("one", U["i_choice_one"]),
                                                                   ("two", U["i_choice_two"])],
               export_type="__function"),
        _field("emu_fail", 11, "boolean", U["i_fail"], export_type="__function"),
        _field("emu_delay", 11, "number", U["i_delay"], export_type="__function"),
        _field("emu_note", 6, "text", U["a_note"], text="Note", prefix="properties", export_type="actioninvocation"),
        _field("emu_fail", 6, "boolean", U["a_fail"], text="Fail?", prefix="properties",
               export_type="actioninvocation"),
    ]
    view = [{"content": U[k], "element": "field_uuid", "field_type": "__function", "show_if": None,
             "show_link_header": False, "step_label": None} for k in ("i_text", "i_choice", "i_fail", "i_delay")]
    function = {
        "created_date": 0, "description": {"content": "Echo the inputs back (emulator sample).", "format": "text"},
        "destination_handle": "emu_test", "display_name": "Emu: Echo", "export_key": "emu_echo", "id": 1,
        "name": "emu_echo", "tags": [], "uuid": U["function"], "version": 1, "view_items": view,
        "workflows": [{"actions": [], "description": None, "name": "Emu: Echo workflow", "object_type": "incident",
                       "programmatic_name": "emu_echo_wf", "tags": [], "uuid": None, "workflow_id": 1}],
    }
    fn_json = {"inputs": {U["i_choice"]: {"input_type": "static", "static_input": {
        "multiselect_value": [], "select_value": U["i_choice_two"]}}},
        "pre_processing_script": PRE_SCRIPT, "pre_processing_script_language": "python3",
        "post_processing_script": POST_SCRIPT, "post_processing_script_language": "python3",
        "result_name": "echo_result"}
    workflow = {
        "actions": [], "content": {"version": 1, "workflow_id": "emu_echo_wf",
                                   "xml": workflow_xml("emu_echo_wf", "Emu: Echo workflow", U["function"], fn_json,
                                                       "Emu: Echo")},
        "content_version": 1, "description": "Echo through the emulator", "export_key": "emu_echo_wf",
        "name": "Emu: Echo workflow", "object_type": "incident", "programmatic_name": "emu_echo_wf", "tags": [],
        "uuid": U["workflow"], "workflow_id": 1,
    }
    rule_view = [{"content": U[k], "element": "field_uuid", "field_type": "actioninvocation", "show_if": None,
                  "show_link_header": False, "step_label": None} for k in ("a_note", "a_fail")]
    rules = [
        {"automations": [], "conditions": [{"evaluation_id": None, "field_name": "incident.plan_status",
                                            "method": "equals", "type": None, "value": "A"}],
         "enabled": True, "export_key": "Emu: Echo", "id": 1, "logic_type": "all", "message_destinations": [],
         "name": "Emu: Echo", "object_type": "incident", "tags": [], "timeout_seconds": 86400, "type": 1,
         "uuid": U["rule_manual"], "view_items": rule_view, "workflows": ["emu_echo_wf"]},
        {"automations": [], "conditions": [{"evaluation_id": None, "field_name": "incident.properties.emu_verdict",
                                            "method": "changed_to", "type": None, "value": "malicious"}],
         "enabled": True, "export_key": "Emu: Auto Echo", "id": 2, "logic_type": "all", "message_destinations": [],
         "name": "Emu: Auto Echo", "object_type": "incident", "tags": [], "timeout_seconds": 86400, "type": 0,
         "uuid": U["rule_auto"], "view_items": [], "workflows": ["emu_echo_wf"]},
    ]
    table = {
        "actions": [], "display_name": "Emu table", "export_key": "emu_table", "for_actions": False,
        "for_custom_fields": False, "for_notifications": False, "for_workflows": False, "id": None,
        "parent_types": ["incident"], "properties": {"can_create": False, "can_destroy": False, "for_who": []},
        "scripts": [], "tags": [], "type_id": 8, "type_name": "emu_table", "uuid": U["table"],
        "fields": {
            "indicator": dict(_field("indicator", 1000, "text", U["col_indicator"], export_type="emu_table"),
                              order=0, width=200),
            "hits": dict(_field("hits", 1000, "number", U["col_hits"], export_type="emu_table"), order=1, width=80),
        },
    }
    return {
        "action_order": [], "actions": rules, "apps": [], "automatic_tasks": [], "case_matching_profiles": [],
        "export_date": 1700000000000, "export_format_version": 2, "export_type": None, "fields": fields,
        "functions": [function], "geos": None, "groups": None, "id": 1, "inbound_destinations": [],
        "inbound_mailboxes": None,
        "incident_artifact_types": [{"desc": "An emulator ticket id", "enabled": True, "export_key": "emu_ticket",
                                     "file": False, "id": 0, "multi_aware": True, "name": "Emu Ticket",
                                     "parse_as_csv": False, "programmatic_name": "emu_ticket", "reg_exp": None,
                                     "system": False, "tags": [], "use_for_relationships": True,
                                     "uuid": U["atype"], "version": 0}],
        "incident_types": [{"create_date": 0, "description": "Customization Packages (internal)", "enabled": False,
                            "export_key": "Customization Packages (internal)", "hidden": False, "id": 0,
                            "name": "Customization Packages (internal)", "parent_id": None, "system": False,
                            "update_date": 0, "uuid": U["itype"]}],
        "layouts": [], "locale": None,
        "message_destinations": [{"api_keys": [], "destination_type": 0, "expect_ack": True, "export_key": "emu_test",
                                  "name": "Emu test", "programmatic_name": "emu_test", "tags": [], "users": [],
                                  "uuid": U["dest"]}],
        "notifications": None, "overrides": None, "phases": [], "playbooks": [], "regulators": None, "roles": [],
        "scripts": [], "server_version": {"build_number": 9339, "major": 0, "minor": 0, "version": "51.0.0.0.9339",
                                          "v": 51}, "tags": [], "task_order": [], "timeframes": None,
        "types": [table], "workflows": [workflow], "workspaces": [],
    }


ECHO_COMPONENT = '''"""emu_echo: echoes its inputs (SOAR emulator sample component, loaded through componentsdir)."""
import time

import resilient_circuits as rc

PACKAGE_NAME = "emu_echo_app"


class FunctionComponent(rc.AppFunctionComponent):
    def __init__(self, opts):
        super().__init__(opts, PACKAGE_NAME)

    @rc.app_function("emu_echo")
    def _emu_echo(self, fn_inputs):
        text = getattr(fn_inputs, "emu_text", None)
        choice = getattr(fn_inputs, "emu_choice", None)
        yield self.status_message("echoing {!r}".format(text))
        delay = getattr(fn_inputs, "emu_delay", None)
        if delay:
            time.sleep(float(delay))
        if getattr(fn_inputs, "emu_fail", False):
            raise ValueError("emu_echo was asked to fail on {!r}".format(text))
        yield rc.FunctionResult({"text": text, "choice": choice,
                                 "inputs_seen": sorted(fn_inputs._fields)})
'''
