"""Workflow BPMN: the real exports' linear workflows parse; anything not modelled is refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.soar.engine import FunctionStep, ScriptStep, UnsupportedWorkflow, parse_workflow

EXPORTS = Path(__file__).resolve().parents[1] / "data" / "public" / "soar-exports"
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:omgdc="http://www.omg.org/spec/DD/20100524/DC" '
    'xmlns:resilient="http://resilient.ibm.com/bpmn" targetNamespace="http://www.camunda.org/test">'
    '<process id="wf" isExecutable="true" name="WF">'
)
TAIL = (
    '</process><bpmndi:BPMNDiagram id="d"><bpmndi:BPMNPlane bpmnElement="undefined" id="p"/>'
    "</bpmndi:BPMNDiagram></definitions>"
)
FN = '{"inputs":{},"post_processing_script":"incident.addNote(\'x\')","post_processing_script_language":"python3"}'


def start(out: str = "f1") -> str:
    return f'<startEvent id="S"><outgoing>{out}</outgoing></startEvent>'


def task(ident: str, inc: str, out: str, body: str = FN) -> str:
    return (
        f'<serviceTask id="{ident}" name="fn" resilient:type="function"><extensionElements>'
        f'<resilient:function uuid="u-{ident}">{body}</resilient:function></extensionElements>'
        f"<incoming>{inc}</incoming><outgoing>{out}</outgoing></serviceTask>"
    )


def script(ident: str, inc: str, out: str) -> str:
    return (
        f'<scriptTask id="{ident}" name="st"><extensionElements><resilient:script uuid="s-{ident}"/>'
        f"</extensionElements><incoming>{inc}</incoming><outgoing>{out}</outgoing></scriptTask>"
    )


def end(inc: str = "f2", ident: str = "E") -> str:
    return f'<endEvent id="{ident}"><incoming>{inc}</incoming></endEvent>'


def flow(ident: str, src: str, dst: str, body: str = "") -> str:
    return f'<sequenceFlow id="{ident}" sourceRef="{src}" targetRef="{dst}">{body}</sequenceFlow>'


def real_workflows() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(EXPORTS.glob("*.export.res")):
        for wf in json.loads(path.read_text(encoding="utf-8")).get("workflows") or []:
            out.append((f"{path.name}:{wf['programmatic_name']}", wf))
    return out


@pytest.mark.parametrize(("label", "wf"), real_workflows(), ids=[w[0] for w in real_workflows()])
def test_real_linear_workflows_parse(label: str, wf: dict) -> None:
    model = parse_workflow(wf["content"]["xml"])
    assert model.process_id == wf["programmatic_name"]
    assert model.steps and all(isinstance(s, FunctionStep) for s in model.steps)
    assert model.path[0].startswith("StartEvent") and model.path[-1].startswith("EndEvent")


def test_real_exports_are_all_covered() -> None:
    assert len(real_workflows()) == 3


def test_google_maps_details() -> None:
    wf = dict(real_workflows())["fn_google_maps_directions.export.res:example_google_maps_directions"]
    model = parse_workflow(wf["content"]["xml"])
    (step,) = model.steps
    assert step.function_uuid == "d9c8c2a0-ac34-4f6f-a091-fbd1ff019bff"
    assert "rule.properties.source" in (step.pre_processing_script or "")
    assert "<br><b>" in (step.post_processing_script or "")  # XML entities decoded
    assert step.post_processing_script_language == "python3"
    assert model.function_uuids() == [step.function_uuid]
    assert model.script_uuids() == []


def test_mock_workflow_static_inputs_and_result_name() -> None:
    wf = dict(real_workflows())["mock_integration.export.res:mock_workflow_one"]
    (step,) = parse_workflow(wf["content"]["xml"]).steps
    assert step.result_name == "output_of_mock_function_one"
    assert step.inputs["df7df8ba-cb65-4400-8290-070b155d28d4"]["boolean_value"] is True
    assert step.pre_processing_script_language == "python"  # kept as found; the runner refuses it


def test_linear_script_and_function_tasks_in_order() -> None:
    xml = HEAD + start("f1") + script("T1", "f1", "f2") + task("T2", "f2", "f3") + end("f3") + flow(
        "f1", "S", "T1"
    ) + flow("f2", "T1", "T2") + flow("f3", "T2", "E") + TAIL
    model = parse_workflow(xml)
    assert [type(s) for s in model.steps] == [ScriptStep, FunctionStep]
    assert model.script_uuids() == ["s-T1"] and model.function_uuids() == ["u-T2"]
    assert model.path == ("S", "T1", "T2", "E")


def gateway_xml() -> str:
    cond = '<conditionExpression language="resilient-conditions">{"conditions":[]}</conditionExpression>'
    return (
        HEAD + start("f1") + '<exclusiveGateway id="Gw_1"><incoming>f1</incoming><outgoing>f2</outgoing>'
        "<outgoing>f3</outgoing></exclusiveGateway>" + task("T1", "f2", "f4") + end("f3", "E1") + end("f4", "E2")
        + flow("f1", "S", "Gw_1") + flow("f2", "Gw_1", "T1", cond) + flow("f3", "Gw_1", "E1") + flow("f4", "T1", "E2")
        + TAIL
    )


def refused(xml: str) -> str:
    with pytest.raises(UnsupportedWorkflow) as info:
        parse_workflow(xml)
    return str(info.value)


def test_gateway_refused_with_element_named() -> None:
    msg = refused(gateway_xml())
    assert "exclusiveGateway" in msg and "Gw_1" in msg


def test_real_workflow_with_gateway_added_is_refused() -> None:
    wf = dict(real_workflows())["fn_google_maps_directions.export.res:example_google_maps_directions"]
    xml = wf["content"]["xml"].replace(
        "</process>", '<parallelGateway id="Par_9"/></process>'
    )
    msg = refused(xml)
    assert "parallelGateway" in msg and "Par_9" in msg


@pytest.mark.parametrize(
    ("element", "ident"),
    [
        ('<userTask id="U1"><incoming>f1</incoming><outgoing>f2</outgoing></userTask>', "U1"),
        ('<intermediateCatchEvent id="Timer_1"><incoming>f1</incoming><outgoing>f2</outgoing>'
         "<timerEventDefinition/></intermediateCatchEvent>", "Timer_1"),
        ('<subProcess id="Sub_1"><incoming>f1</incoming><outgoing>f2</outgoing></subProcess>', "Sub_1"),
        ('<callActivity id="Call_1"><incoming>f1</incoming><outgoing>f2</outgoing></callActivity>', "Call_1"),
    ],
)
def test_unmodelled_nodes_refused(element: str, ident: str) -> None:
    xml = HEAD + start("f1") + element + end("f2") + flow("f1", "S", ident) + flow("f2", ident, "E") + TAIL
    assert ident in refused(xml)


def test_boundary_timer_refused() -> None:
    xml = (HEAD + start("f1") + task("T1", "f1", "f2") + end("f2") + '<boundaryEvent id="B1" attachedToRef="T1">'
           "<timerEventDefinition/></boundaryEvent>" + flow("f1", "S", "T1") + flow("f2", "T1", "E") + TAIL)
    msg = refused(xml)
    assert "boundaryEvent" in msg and "B1" in msg


def test_timer_start_event_refused() -> None:
    xml = (HEAD + '<startEvent id="S"><outgoing>f1</outgoing><timerEventDefinition id="TD"/></startEvent>'
           + task("T1", "f1", "f2") + end("f2") + flow("f1", "S", "T1") + flow("f2", "T1", "E") + TAIL)
    assert "timerEventDefinition" in refused(xml)


def test_two_outgoing_flows_refused() -> None:
    xml = (HEAD + start("f1") + '<serviceTask id="T1" name="fn" resilient:type="function"><extensionElements>'
           f'<resilient:function uuid="u">{FN}</resilient:function></extensionElements><incoming>f1</incoming>'
           "<outgoing>f2</outgoing><outgoing>f3</outgoing></serviceTask>" + end("f2", "E1") + end("f3", "E2")
           + flow("f1", "S", "T1") + flow("f2", "T1", "E1") + flow("f3", "T1", "E2") + TAIL)
    msg = refused(xml)
    assert "T1" in msg and "2 outgoing" in msg


def test_flow_to_missing_node_refused() -> None:
    xml = HEAD + start("f1") + end("f9") + flow("f1", "S", "Ghost") + flow("f9", "S", "E") + TAIL
    assert "Ghost" in refused(xml)


def test_no_start_event_refused() -> None:
    xml = HEAD + task("T1", "", "f2").replace("<incoming></incoming>", "") + end("f2") + flow("f2", "T1", "E") + TAIL
    assert "startEvent" in refused(xml)


def test_cycle_refused() -> None:
    xml = (HEAD + start("f1") + '<serviceTask id="T1" name="a" resilient:type="function"><extensionElements>'
           f'<resilient:function uuid="u">{FN}</resilient:function></extensionElements><incoming>f1</incoming>'
           "<incoming>f3</incoming><outgoing>f2</outgoing></serviceTask>" + task("T2", "f2", "f3")
           + flow("f1", "S", "T1") + flow("f2", "T1", "T2") + flow("f3", "T2", "T1") + TAIL)
    msg = refused(xml)
    assert "T1" in msg and ("cycle" in msg or "incoming" in msg)


def test_unreachable_node_refused() -> None:
    xml = (HEAD + start("f1") + task("T1", "f1", "f2") + end("f2") + task("Orphan", "fa", "fb") + '<endEvent id="E9">'
           "<incoming>fb</incoming></endEvent>" + flow("f1", "S", "T1") + flow("f2", "T1", "E")
           + flow("fb", "Orphan", "E9") + TAIL)
    assert "Orphan" in refused(xml)


def test_conditional_flow_refused() -> None:
    cond = '<conditionExpression language="resilient-conditions">{}</conditionExpression>'
    xml = HEAD + start("f1") + end("f1") + flow("f1", "S", "E", cond) + TAIL
    assert "conditionExpression" in refused(xml)


def test_non_function_service_task_refused() -> None:
    xml = (HEAD + start("f1") + task("T1", "f1", "f2").replace('resilient:type="function"', 'resilient:type="x"')
           + end("f2") + flow("f1", "S", "T1") + flow("f2", "T1", "E") + TAIL)
    assert "T1" in refused(xml)


def test_unknown_function_setting_and_input_type_refused() -> None:
    body = '{"inputs":{},"timeout":5}'
    xml = HEAD + start("f1") + task("T1", "f1", "f2", body) + end("f2") + flow("f1", "S", "T1") + flow(
        "f2", "T1", "E") + TAIL
    assert "timeout" in refused(xml)
    body = '{"inputs":{"x":{"input_type":"dynamic","static_input":{}}}}'
    xml = HEAD + start("f1") + task("T1", "f1", "f2", body) + end("f2") + flow("f1", "S", "T1") + flow(
        "f2", "T1", "E") + TAIL
    assert "dynamic" in refused(xml)


def test_inline_bpmn_script_refused() -> None:
    xml = (HEAD + start("f1") + '<scriptTask id="T1" scriptFormat="python"><script>x=1</script>'
           "<incoming>f1</incoming><outgoing>f2</outgoing></scriptTask>" + end("f2") + flow("f1", "S", "T1")
           + flow("f2", "T1", "E") + TAIL)
    assert "T1" in refused(xml)


def test_doctype_and_garbage_refused() -> None:
    assert "DOCTYPE" in refused('<!DOCTYPE x [<!ENTITY a "b">]>' + HEAD + TAIL)
    assert "does not parse" in refused("<definitions")
    assert "empty" in refused("")


def test_mismatched_incoming_outgoing_lists_refused() -> None:
    xml = HEAD + start("fX") + end("f1") + flow("f1", "S", "E") + TAIL
    assert "do not match" in refused(xml)
