"""Workflow runs: steps in order, inputs, pre/post scripts, effects, and termination by step."""

from __future__ import annotations

import json
from typing import Any

from sim.soar.engine import FunctionFailed, parse_workflow, run_workflow
from tests.sim_soar_engine.fakes import (
    FN_UUID,
    IN_LIMIT,
    IN_MODE,
    IN_THREAT,
    OPT_BRIEF,
    SCRIPT_UUID,
    FakeHost,
    envelope,
)

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:resilient="http://resilient.ibm.com/bpmn" '
    'targetNamespace="http://www.camunda.org/test"><process id="pp_wf" isExecutable="true" name="PP WF">'
)
TAIL = "</process></definitions>"

PRE = """
inputs.pp_incident_id = incident.id
inputs.pp_threat_id = artifact.value
inputs.pp_limit = rule.properties.pp_days
"""
POST = """
if results.success:
    c = results.content
    incident.addNote(helper.createRichText(
        "<p>Threat <b>{}</b>: {}</p>".format(c["classification"], c["threatStatus"])))
    incident.addArtifact("DNS Name", "evil.example", "from TAP threat " + results.inputs.get("pp_threat_id", ""))
    row = incident.addRow("pp_threat_table")
    row["threat_id"] = workflow.properties.threat.content["classification"]
    row.url = artifact.value
    incident.properties.pp_threat_status = c["threatStatus"]
else:
    incident.addNote("TAP lookup failed: {}".format(results.reason))
"""


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fn_task(ident: str, inc: str, out: str, spec: dict[str, Any]) -> str:
    return (
        f'<serviceTask id="{ident}" name="pp_tap_get_threat" resilient:type="function"><extensionElements>'
        f'<resilient:function uuid="{FN_UUID}">{xml_escape(json.dumps(spec))}</resilient:function>'
        f"</extensionElements><incoming>{inc}</incoming><outgoing>{out}</outgoing></serviceTask>"
    )


def script_task(ident: str, inc: str, out: str) -> str:
    return (
        f'<scriptTask id="{ident}" name="mark"><extensionElements><resilient:script uuid="{SCRIPT_UUID}"/>'
        f"</extensionElements><incoming>{inc}</incoming><outgoing>{out}</outgoing></scriptTask>"
    )


def workflow(spec: dict[str, Any], with_script: bool = True) -> str:
    if with_script:
        body = (
            '<startEvent id="S"><outgoing>f1</outgoing></startEvent>' + fn_task("T1", "f1", "f2", spec)
            + script_task("T2", "f2", "f3") + '<endEvent id="E"><incoming>f3</incoming></endEvent>'
            + '<sequenceFlow id="f1" sourceRef="S" targetRef="T1"/>'
            + '<sequenceFlow id="f2" sourceRef="T1" targetRef="T2"/>'
            + '<sequenceFlow id="f3" sourceRef="T2" targetRef="E"/>'
        )
    else:
        body = (
            '<startEvent id="S"><outgoing>f1</outgoing></startEvent>' + fn_task("T1", "f1", "f2", spec)
            + '<endEvent id="E"><incoming>f2</incoming></endEvent>'
            + '<sequenceFlow id="f1" sourceRef="S" targetRef="T1"/><sequenceFlow id="f2" sourceRef="T1" targetRef="E"/>'
        )
    return HEAD + body + TAIL


def spec(pre: str | None = PRE, post: str | None = POST, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "inputs": {
            IN_THREAT: {"input_type": "static", "static_input": {"multiselect_value": [], "text_value": "static-id"}},
            IN_MODE: {"input_type": "static", "static_input": {"multiselect_value": [], "select_value": OPT_BRIEF}},
            IN_LIMIT: {"input_type": "static", "static_input": {"multiselect_value": [], "number_value": 10}},
        },
        "result_name": "threat",
    }
    if pre is not None:
        out.update(pre_processing_script=pre, pre_processing_script_language="python3")
    if post is not None:
        out.update(post_processing_script=post, post_processing_script_language="python3")
    out.update(extra)
    return out


def add_script(host: FakeHost, text: str = "incident.properties.pp_score = 99\nworkflow.addProperty('done', {'ok': 1})",
               language: str = "python3", object_type: str = "artifact") -> None:
    host.scripts[SCRIPT_UUID] = {"name": "Mark scored", "language": language, "object_type": object_type,
                                 "script_text": text, "uuid": SCRIPT_UUID}


def test_linear_workflow_end_to_end(host: FakeHost, art_ctx: dict[str, Any]) -> None:
    add_script(host)
    out = run_workflow(parse_workflow(workflow(spec())), host, art_ctx)
    assert out.status == "completed" and out.reason is None, out.reason
    # static inputs (select option uuid -> label), then the pre script overrides
    assert host.calls == [("pp_tap_get_threat", {"pp_threat_id": "http://evil.example/x", "pp_incident_id": 42,
                                                 "pp_mode": "brief", "pp_limit": 3})]
    assert host.notes == [{"incident_id": 42, "format": "html", "content": "<p>Threat <b>phish</b>: active</p>"}]
    assert host.artifacts[42][-1]["type"] == "DNS Name"
    assert host.rows["pp_threat_table"] == [{"threat_id": "phish", "url": "http://evil.example/x"}]
    assert host.incidents[42]["properties"]["pp_threat_status"] == "active"
    assert host.incidents[42]["properties"]["pp_score"] == 99  # the script task ran after the function
    assert out.properties["threat"]["content"]["classification"] == "phish"
    assert out.properties["done"] == {"ok": 1}
    assert [r["function"] for r in out.results] == ["pp_tap_get_threat"]
    assert len(host.applied) == 2  # one atomic apply per script


def test_static_inputs_without_pre_script(host: FakeHost, ctx: dict[str, Any]) -> None:
    out = run_workflow(parse_workflow(workflow(spec(pre=None, post=None), with_script=False)), host, ctx)
    assert out.status == "completed"
    assert host.calls[0][1] == {"pp_threat_id": "static-id", "pp_incident_id": None, "pp_mode": "brief",
                                "pp_limit": 10}


def test_helper_fail_in_post_terminates_and_applies_nothing(host: FakeHost, art_ctx: dict[str, Any]) -> None:
    add_script(host)
    post = "incident.addNote('first')\nincident.plan_status = 'C'\nhelper.fail('threat unknown')"
    out = run_workflow(parse_workflow(workflow(spec(post=post))), host, art_ctx)
    assert out.status == "terminated"
    assert out.reason == "Function 'pp_tap_get_threat' post-processing script failed: helper.fail: threat unknown"
    assert host.notes == [] and host.incidents[42]["plan_status"] == "A" and host.applied == []
    assert host.incidents[42]["properties"]["pp_score"] == 80  # the later script task did not run


def test_function_error_terminates_before_later_steps(host: FakeHost, art_ctx: dict[str, Any]) -> None:
    add_script(host)
    host.reply = FunctionFailed("TAP answered 401")
    out = run_workflow(parse_workflow(workflow(spec())), host, art_ctx)
    assert out.status == "terminated"
    assert out.reason == "Function 'pp_tap_get_threat' failed: TAP answered 401"
    assert host.applied == [] and out.results == []


def test_success_false_does_not_fail_the_workflow(host: FakeHost, art_ctx: dict[str, Any]) -> None:
    add_script(host)
    host.reply = envelope(None, success=False, reason="threat not found")
    out = run_workflow(parse_workflow(workflow(spec())), host, art_ctx)
    assert out.status == "completed"
    assert host.notes == [{"incident_id": 42, "format": "text", "content": "TAP lookup failed: threat not found"}]


def test_rejected_effects_terminate(host: FakeHost, art_ctx: dict[str, Any]) -> None:
    add_script(host)
    out = run_workflow(parse_workflow(workflow(spec(post="incident.addNote('n')\nincident.severity_code = 'Huge'"))),
                       host, art_ctx)
    assert out.status == "terminated"
    assert "changes rejected: unknown severity 'Huge'" in (out.reason or "")
    assert host.notes == []  # atomic: the note went with the bad field


def test_pre_script_failure_terminates_before_the_call(host: FakeHost, art_ctx: dict[str, Any]) -> None:
    out = run_workflow(parse_workflow(workflow(spec(pre="inputs.pp_limit = rule.properties.nope"))), host, art_ctx)
    assert out.status == "terminated" and "pre-processing script failed: AttributeError" in (out.reason or "")
    assert host.calls == []


def test_pre_script_incident_changes_are_silently_dropped(host: FakeHost, ctx: dict[str, Any]) -> None:
    pre = "incident.plan_status = 'C'\nincident.addNote('x')\ninputs.pp_limit = 1"
    out = run_workflow(parse_workflow(workflow(spec(pre=pre, post=None), with_script=False)), host, ctx)
    assert out.status == "completed"
    assert host.applied == [] and host.incidents[42]["plan_status"] == "A"
    assert host.calls[0][1]["pp_limit"] == 1


def test_script_task_failure_names_the_script(host: FakeHost, art_ctx: dict[str, Any]) -> None:
    add_script(host, text="x = 1 / 0")
    out = run_workflow(parse_workflow(workflow(spec())), host, art_ctx)
    assert out.status == "terminated"
    assert out.reason == "Script 'Mark scored' failed: ZeroDivisionError: division by zero (line 1)"
    assert len(host.applied) == 1  # the function step's changes stay committed


def test_python2_and_wrong_object_scripts_refused(host: FakeHost, art_ctx: dict[str, Any]) -> None:
    add_script(host, language="python")
    out = run_workflow(parse_workflow(workflow(spec())), host, art_ctx)
    assert out.status == "terminated" and "'python' is not supported" in (out.reason or "")
    add_script(host, object_type="incident")
    out = run_workflow(parse_workflow(workflow(spec())), host, art_ctx)
    assert out.status == "terminated" and "is for 'incident' objects" in (out.reason or "")
    s = spec()
    del s["pre_processing_script_language"]
    out = run_workflow(parse_workflow(workflow(s)), host, art_ctx)
    assert out.status == "terminated" and "pre-processing" in (out.reason or "") and "missing" in (out.reason or "")


def test_unknown_script_uuid_terminates(host: FakeHost, art_ctx: dict[str, Any]) -> None:
    out = run_workflow(parse_workflow(workflow(spec())), host, art_ctx)
    assert out.status == "terminated" and "Script task 'mark'" in (out.reason or "")


def test_unknown_select_option_terminates(host: FakeHost, ctx: dict[str, Any]) -> None:
    s = spec(pre=None, post=None)
    s["inputs"][IN_MODE]["static_input"]["select_value"] = "no-such-option"
    out = run_workflow(parse_workflow(workflow(s, with_script=False)), host, ctx)
    assert out.status == "terminated" and "unknown option" in (out.reason or "")
    assert host.calls == []


def test_script_timeout_terminates(host: FakeHost, art_ctx: dict[str, Any]) -> None:
    out = run_workflow(parse_workflow(workflow(spec(post="while True:\n  pass"))), host, art_ctx, time_limit=0.2)
    assert out.status == "terminated" and "time limit" in (out.reason or "")
