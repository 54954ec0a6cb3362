"""Parse the BPMN XML of a SOAR workflow or playbook into a linear list of steps.

The emulator models only what SOAR apps of this kind use: a start event, function tasks, script tasks
and an end event joined by a single chain of sequence flows. Anything else inside ``<process>``
(gateways, timers, boundary events, user tasks, sub-processes, sub-playbooks, parallel branches,
conditional flows, a merge, a cycle, an unreachable node...) raises :class:`UnsupportedWorkflow` naming
the element and its id, at import time: running a workflow with a silently skipped part would give results
SOAR would not give. Text annotations, associations and documentation are accepted because they never
execute; the ``bpmndi`` diagram is ignored (only SOAR's designer reads it).

A playbook (:func:`parse_playbook`) is the same graph as its designer saves it (IBM's Proofpoint TAP app,
fn_watsonx_analyst and resilient-sdk's mock export): a script task also holds ``<script>script</script>``
(the designer's placeholder: the script itself is the one its ``resilient:script`` uuid names); a function
element's JSON has ``inputs``, ``pre_processing_script`` (the input script), its language and
``result_name``, and no post-processing script (IBM: "unlike workflows, playbooks do not have
post-processing scripts for functions"), so one is refused; an input is ``static`` or an ``expression``
(a path such as ``incident.id`` or ``artifact.value``: anything else is refused, as is any other kind).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from sim.soar.engine.errors import UnsupportedWorkflow

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
RESILIENT_NS = "http://resilient.ibm.com/bpmn"

_B = "{" + BPMN_NS + "}"
_R = "{" + RESILIENT_NS + "}"

#: Keys of a function task's JSON that the emulator understands; others are refused.
FUNCTION_JSON_KEYS = frozenset(
    {
        "inputs",
        "pre_processing_script",
        "pre_processing_script_language",
        "post_processing_script",
        "post_processing_script_language",
        "result_name",
    }
)
#: Keys of a playbook function element's JSON (no post-processing script: playbooks have none).
PLAYBOOK_FUNCTION_JSON_KEYS = frozenset(
    {"inputs", "pre_processing_script", "pre_processing_script_language", "result_name"}
)
#: What an expression input may be: a dotted path on the playbook's object or its incident.
EXPRESSION_PATH = re.compile(r"^[a-z_][a-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
#: Keys of a static input value (``static_input``) the emulator understands.
STATIC_INPUT_KEYS = frozenset(
    {
        "text_value",
        "number_value",
        "boolean_value",
        "select_value",
        "multiselect_value",
        "text_content_value",
        "date_value",
    }
)

_FLOW_NODE_CHILDREN = frozenset({"documentation", "incoming", "outgoing"})
_NON_EXECUTING = frozenset({"documentation", "textAnnotation", "association"})


@dataclass(frozen=True)
class FunctionStep:
    """A ``serviceTask resilient:type="function"``.

    ``inputs`` maps function-input field uuid -> the export's ``static_input`` dict; which key of it
    applies depends on the field's ``input_type`` and is decided at run time (see the runner).
    ``expressions`` (playbooks only) maps input field uuid -> a path such as ``incident.id``.
    Script languages are kept as found (``None`` when the export has no key); the runner refuses to
    run anything but "python3".
    """

    id: str
    name: str
    function_uuid: str
    inputs: dict[str, dict[str, Any]]
    pre_processing_script: str | None
    pre_processing_script_language: str | None
    post_processing_script: str | None
    post_processing_script_language: str | None
    result_name: str | None
    expressions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ScriptStep:
    """A ``scriptTask`` running the imported script ``script_uuid``."""

    id: str
    name: str
    script_uuid: str


Step = FunctionStep | ScriptStep


@dataclass(frozen=True)
class WorkflowModel:
    """A parsed linear workflow.

    ``steps`` are the executable tasks in run order; ``path`` is every node id from the start event to
    the end event (events included), for messages and diagrams.
    """

    process_id: str
    name: str
    steps: tuple[Step, ...]
    path: tuple[str, ...] = field(default=())
    documentation: str | None = None

    def function_uuids(self) -> list[str]:
        """Function uuids used, in step order, without repeats (import checks them against the export)."""
        out: list[str] = []
        for step in self.steps:
            if isinstance(step, FunctionStep) and step.function_uuid not in out:
                out.append(step.function_uuid)
        return out

    def script_uuids(self) -> list[str]:
        """Script uuids used by script tasks, in step order, without repeats."""
        out: list[str] = []
        for step in self.steps:
            if isinstance(step, ScriptStep) and step.script_uuid not in out:
                out.append(step.script_uuid)
        return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if "}" in tag else tag


def _describe(el: ET.Element) -> str:
    ident = el.get("id")
    return f"<{_local(el.tag)}> id={ident!r}" if ident else f"<{_local(el.tag)}>"


@dataclass(frozen=True)
class _Kind:
    """What differs between a workflow's BPMN and a playbook's."""

    word: str
    playbook: bool


_WORKFLOW = _Kind("workflow", False)
_PLAYBOOK = _Kind("playbook", True)


def _refuse(kind: _Kind, pid: str | None, what: str) -> UnsupportedWorkflow:
    where = f"{kind.word} {pid!r}: " if pid else f"{kind.word}: "
    return UnsupportedWorkflow(where + what)


def parse_workflow(xml: str) -> WorkflowModel:
    """Parse the BPMN of an export's ``workflows[].content.xml``; refuse what is not modelled."""
    return _parse(xml, _WORKFLOW)


def parse_playbook(xml: str) -> WorkflowModel:
    """Parse the BPMN of an export's ``playbooks[].content.xml``; refuse what is not modelled."""
    return _parse(xml, _PLAYBOOK)


def _parse(xml: str, kind: _Kind) -> WorkflowModel:
    word = kind.word
    if not isinstance(xml, str) or not xml.strip():
        raise UnsupportedWorkflow(f"{word}: empty XML")
    if "<!DOCTYPE" in xml or "<!ENTITY" in xml:
        # SOAR never emits a DTD; refusing it also rules out entity-expansion tricks.
        raise UnsupportedWorkflow(f"{word}: XML with a DOCTYPE/ENTITY declaration is refused")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise UnsupportedWorkflow(f"{word}: XML does not parse: {exc}") from exc
    if root.tag != _B + "definitions":
        raise UnsupportedWorkflow(f"{word}: root element is {root.tag!r}, expected BPMN <definitions>")

    processes = [c for c in root if c.tag == _B + "process"]
    for child in root:
        if child.tag == _B + "process" or child.tag.startswith("{" + BPMNDI_NS + "}"):
            continue
        raise UnsupportedWorkflow(f"{word}: unsupported top-level element {_describe(child)}")
    if len(processes) != 1:
        raise UnsupportedWorkflow(f"{word}: expected exactly one <process>, found {len(processes)}")
    proc = processes[0]
    pid = proc.get("id")
    if not pid:
        raise UnsupportedWorkflow(f"{word}: <process> has no id")
    name = proc.get("name") or pid

    nodes: dict[str, ET.Element] = {}
    flows: dict[str, tuple[str, str, ET.Element]] = {}
    documentation: str | None = None
    seen_ids: set[str] = set()
    for el in proc:
        local = _local(el.tag)
        ident = el.get("id")
        if ident:
            if ident in seen_ids:
                raise _refuse(kind, pid, f"duplicate id {ident!r}")
            seen_ids.add(ident)
        if not el.tag.startswith(_B):
            raise _refuse(kind, pid, f"unsupported element {el.tag!r} id={ident!r} inside <process>")
        if local in _NON_EXECUTING:
            if local == "documentation":
                documentation = el.text
            continue
        if local == "sequenceFlow":
            for child in el:
                if _local(child.tag) != "documentation":
                    raise _refuse(
                        kind, pid,
                        f"unsupported {_describe(child)} in <sequenceFlow> id={ident!r} "
                        "(conditional flows are not modelled)",
                    )
            src, dst = el.get("sourceRef"), el.get("targetRef")
            if not ident or not src or not dst:
                raise _refuse(kind, pid, f"<sequenceFlow> id={ident!r} lacks id, sourceRef or targetRef")
            flows[ident] = (src, dst, el)
            continue
        if local in ("startEvent", "endEvent", "serviceTask", "scriptTask"):
            if not ident:
                raise _refuse(kind, pid, f"<{local}> without an id")
            nodes[ident] = el
            continue
        extra = " (sub-playbooks are not modelled)" if local == "callActivity" else ""
        raise _refuse(
            kind, pid,
            f"unsupported BPMN element {_describe(el)}: only startEvent, endEvent, function serviceTask, "
            f"scriptTask and sequenceFlow are modelled{extra}",
        )

    # Flows must join existing nodes, and agree with the nodes' own <incoming>/<outgoing> lists.
    out_of: dict[str, list[str]] = {n: [] for n in nodes}
    into: dict[str, list[str]] = {n: [] for n in nodes}
    for fid, (src, dst, _el) in flows.items():
        for end in (src, dst):
            if end not in nodes:
                raise _refuse(kind, pid, f"<sequenceFlow> id={fid!r} refers to missing node {end!r}")
        out_of[src].append(fid)
        into[dst].append(fid)
    for nid, el in nodes.items():
        listed_out = sorted((c.text or "").strip() for c in el if c.tag == _B + "outgoing")
        listed_in = sorted((c.text or "").strip() for c in el if c.tag == _B + "incoming")
        if listed_out != sorted(out_of[nid]) or listed_in != sorted(into[nid]):
            raise _refuse(kind, pid, f"{_describe(el)} lists incoming/outgoing flows that do not match the "
                                     "sequenceFlows")

    starts = [n for n, el in nodes.items() if el.tag == _B + "startEvent"]
    if len(starts) != 1:
        raise _refuse(kind, pid, f"expected exactly one <startEvent>, found {len(starts)}")

    # Walk the single chain from the start event.
    path: list[str] = []
    current = starts[0]
    while True:
        el = nodes[current]
        local = _local(el.tag)
        if current in path:
            raise _refuse(kind, pid, f"cycle: {_describe(el)} is reached twice")
        path.append(current)
        if local != "startEvent" and len(into[current]) != 1:
            raise _refuse(kind, pid, f"{_describe(el)} has {len(into[current])} incoming flows (merges and cycles "
                                     "are not modelled)")
        if local == "startEvent" and into[current]:
            raise _refuse(kind, pid, f"{_describe(el)} has incoming flows")
        if local == "endEvent":
            if out_of[current]:
                raise _refuse(kind, pid, f"{_describe(el)} has outgoing flows")
            break
        if len(out_of[current]) != 1:
            raise _refuse(
                kind, pid,
                f"{_describe(el)} has {len(out_of[current])} outgoing flows "
                "(a linear path needs exactly one; parallel branches are not modelled)",
            )
        current = flows[out_of[current][0]][1]

    unused_nodes = [n for n in nodes if n not in path]
    if unused_nodes:
        raise _refuse(kind, pid, f"{_describe(nodes[unused_nodes[0]])} is not on the path from the start event")

    steps: list[Step] = []
    for nid in path:
        el = nodes[nid]
        local = _local(el.tag)
        if local in ("startEvent", "endEvent"):
            _check_children(kind, pid, el, _FLOW_NODE_CHILDREN)
        elif local == "serviceTask":
            steps.append(_function_step(kind, pid, el))
        else:
            steps.append(_script_step(kind, pid, el))
    return WorkflowModel(process_id=pid, name=name, steps=tuple(steps), path=tuple(path), documentation=documentation)


def _check_children(kind: _Kind, pid: str, el: ET.Element, allowed: frozenset[str]) -> None:
    """Refuse event definitions, loop characteristics, inline scripts... anything not listed."""
    for child in el:
        if not child.tag.startswith(_B) or _local(child.tag) not in allowed:
            raise _refuse(kind, pid, f"unsupported {_describe(child)} inside {_describe(el)}")


def _single_extension(kind: _Kind, pid: str, el: ET.Element, tag: str,
                      extra: frozenset[str] = frozenset()) -> ET.Element:
    _check_children(kind, pid, el, _FLOW_NODE_CHILDREN | {"extensionElements"} | extra)
    exts = [c for c in el if c.tag == _B + "extensionElements"]
    if len(exts) != 1:
        raise _refuse(kind, pid, f"{_describe(el)} needs exactly one <extensionElements>")
    inner = list(exts[0])
    if len(inner) != 1 or inner[0].tag != _R + tag:
        found = ", ".join(c.tag for c in inner) or "nothing"
        raise _refuse(kind, pid, f"{_describe(el)}: expected one <resilient:{tag}> extension, found {found}")
    return inner[0]


def _function_step(kind: _Kind, pid: str, el: ET.Element) -> FunctionStep:
    ident = el.get("id") or ""
    rtype = el.get(_R + "type")
    if rtype != "function":
        raise _refuse(kind, pid, f"unsupported {_describe(el)} with resilient:type={rtype!r} (only 'function')")
    ext = _single_extension(kind, pid, el, "function")
    fn_uuid = ext.get("uuid")
    if not fn_uuid:
        raise _refuse(kind, pid, f"{_describe(el)}: <resilient:function> has no uuid")
    try:
        spec = json.loads(ext.text or "{}")
    except json.JSONDecodeError as exc:
        raise _refuse(kind, pid, f"{_describe(el)}: function JSON does not parse: {exc}") from exc
    if not isinstance(spec, dict):
        raise _refuse(kind, pid, f"{_describe(el)}: function JSON is not an object")
    if kind.playbook and "post_processing_script" in spec:
        raise _refuse(kind, pid, f"{_describe(el)}: a playbook function has no post-processing script (IBM: "
                                 "playbooks use a script after the function instead)")
    unknown = sorted(set(spec) - (PLAYBOOK_FUNCTION_JSON_KEYS if kind.playbook else FUNCTION_JSON_KEYS))
    if unknown:
        raise _refuse(kind, pid, f"{_describe(el)}: unsupported function task settings {unknown}")
    raw_inputs = spec.get("inputs") or {}
    if not isinstance(raw_inputs, dict):
        raise _refuse(kind, pid, f"{_describe(el)}: 'inputs' is not an object")
    inputs: dict[str, dict[str, Any]] = {}
    expressions: dict[str, str] = {}
    for in_uuid, spec_in in raw_inputs.items():
        input_type = spec_in.get("input_type") if isinstance(spec_in, dict) else type(spec_in).__name__
        if kind.playbook and input_type == "expression":
            expression = (spec_in.get("expression_input") or {}).get("expression")
            if not isinstance(expression, str) or not EXPRESSION_PATH.match(expression):
                raise _refuse(kind, pid, f"{_describe(el)}: input {in_uuid} has expression {expression!r}: only "
                                         "paths such as incident.id are modelled")
            expressions[in_uuid] = expression
            continue
        if input_type != "static":
            allowed = "'static' or 'expression'" if kind.playbook else "only 'static'"
            raise _refuse(kind, pid, f"{_describe(el)}: input {in_uuid} has input_type {input_type!r} ({allowed})")
        static = spec_in.get("static_input") or {}
        if not isinstance(static, dict):
            raise _refuse(kind, pid, f"{_describe(el)}: input {in_uuid} static_input is not an object")
        bad = sorted(set(static) - STATIC_INPUT_KEYS)
        if bad:
            raise _refuse(kind, pid, f"{_describe(el)}: input {in_uuid} has unsupported static value keys {bad}")
        inputs[in_uuid] = dict(static)
    texts: dict[str, str | None] = {}
    for key in ("pre_processing_script", "post_processing_script", "result_name"):
        value = spec.get(key)
        if value is not None and not isinstance(value, str):
            raise _refuse(kind, pid, f"{_describe(el)}: {key} is not a string")
        texts[key] = value if value else None
    return FunctionStep(
        id=ident,
        name=el.get("name") or ident,
        function_uuid=fn_uuid,
        inputs=inputs,
        pre_processing_script=texts["pre_processing_script"],
        pre_processing_script_language=spec.get("pre_processing_script_language"),
        post_processing_script=texts["post_processing_script"],
        post_processing_script_language=spec.get("post_processing_script_language"),
        result_name=texts["result_name"],
        expressions=expressions,
    )


def _script_step(kind: _Kind, pid: str, el: ET.Element) -> ScriptStep:
    ident = el.get("id") or ""
    for attr in el.attrib:
        if _local(attr) in ("scriptFormat",):
            raise _refuse(kind, pid, f"{_describe(el)}: inline BPMN scripts are not modelled")
    # a playbook's script element also holds <script>script</script>, the designer's placeholder
    ext = _single_extension(kind, pid, el, "script", frozenset({"script"}) if kind.playbook else frozenset())
    script_uuid = ext.get("uuid")
    if not script_uuid:
        raise _refuse(kind, pid, f"{_describe(el)}: <resilient:script> has no uuid")
    return ScriptStep(id=ident, name=el.get("name") or ident, script_uuid=script_uuid)
