"""Run a parsed linear workflow or playbook, step by step, as a SOAR workflow or playbook instance.

A step that fails (script failure, function error reply, change refused by the host, an input or
script the host does not know) *terminates* the instance with a reason naming the step; the later
steps do not run, and the failing script's changes are not applied (changes of earlier steps stay,
as in SOAR, where each step commits on its own). A function answering ``success: false`` does not
fail the workflow: its post-processing script sees the envelope.

A playbook (:func:`run_playbook`) runs the same way with a playbook's objects
(:mod:`sim.soar.engine.playbook_objects`): a function's input script is run as "pb_input" with the static
and expression inputs filled in, its results are kept under its output name (``result_name``) for
``playbook.functions.results``, and a script element runs the playbook's local script of that uuid, else a
global script (as "pb_script"). The script must be for the playbook's object type, as in a workflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sim.soar.engine.bpmn import FunctionStep, ScriptStep, WorkflowModel
from sim.soar.engine.errors import EffectError, EngineError, FunctionFailed, ScriptFailed
from sim.soar.engine.host import EngineHost
from sim.soar.engine.scripts import run_script

SCRIPT_LANGUAGE = "python3"


@dataclass
class WorkflowOutcome:
    """End state of one instance.

    ``properties``: ``workflow.properties`` at the end (result envelopes by ``result_name`` and what
    scripts added). ``results``: one entry per function call, in order:
    ``{"step_id", "function", "result_name", "result": <envelope>}``. ``log``: the scripts' log lines.
    """

    status: Literal["completed", "terminated"]
    reason: str | None
    properties: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


class _StepFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _check_language(language: str | None, what: str) -> None:
    """Only Python 3 scripts are run. An export without a language key predates Python 3 scripting
    (older SOAR defaulted to the Python 2 engine); running it as Python 3 could differ, so refuse."""
    if language != SCRIPT_LANGUAGE:
        shown = "missing (pre-Python 3 export)" if language is None else repr(language)
        raise _StepFailed(f"{what}: script language {shown} is not supported (only 'python3')")


def _static_value(fld: dict[str, Any], static: dict[str, Any], what: str) -> tuple[bool, Any]:
    """The value of one static input, chosen by the input field's type (the export carries an empty
    ``multiselect_value`` beside every other key, so the key alone does not say which applies)."""
    input_type = fld.get("input_type")
    options = {v.get("uuid"): v.get("label") for v in fld.get("values") or [] if isinstance(v, dict)}

    def label(option_uuid: Any) -> Any:
        if option_uuid not in options:
            raise _StepFailed(f"{what}: input {fld.get('name')!r} refers to unknown option {option_uuid!r}")
        return options[option_uuid]

    if input_type == "select":
        if "select_value" not in static or static["select_value"] is None:
            return False, None
        return True, label(static["select_value"])
    if input_type == "multiselect":
        chosen = static.get("multiselect_value") or []
        return (True, [label(u) for u in chosen]) if chosen else (False, None)
    key = {
        "text": "text_value",
        "textarea": "text_content_value",
        "number": "number_value",
        "boolean": "boolean_value",
        "datepicker": "date_value",
        "datetimepicker": "date_value",
    }.get(str(input_type))
    if key is None:
        raise _StepFailed(f"{what}: input {fld.get('name')!r} has unsupported input_type {input_type!r}")
    if input_type == "textarea" and key not in static and "text_value" in static:
        key = "text_value"
    if key not in static:
        return False, None
    return True, static[key]


def _resolve_expression(expression: str, host: EngineHost, context: dict[str, Any], what: str) -> Any:
    """An expression input's value: a path on the playbook's object or its incident, as the object is now."""
    head, _, path = expression.partition(".")
    if head == "incident":
        obj: Any = host.get_incident(context["incident_id"])
    elif head == context.get("object_type") == "artifact":
        obj = host.get_artifact(context["incident_id"], context["artifact_id"])
    else:
        raise _StepFailed(f"{what}: expression {expression!r} names no object of this playbook")
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            raise _StepFailed(f"{what}: expression {expression!r}: there is no field {part!r}")
        obj = obj[part]
    return obj


def _lookup(getter: Any, key: str, what: str) -> dict[str, Any]:
    """Ask the host for an imported object; a missing one terminates the step (not a crash)."""
    try:
        found = getter(key)
    except (LookupError, EngineError) as exc:
        raise _StepFailed(f"{what}: {key!r} not found ({exc})") from exc
    if not found:
        raise _StepFailed(f"{what}: {key!r} not found")
    return found


def _function_inputs(step: FunctionStep, fn: dict[str, Any], host: EngineHost, what: str) -> tuple[dict, list]:
    """All of the function's inputs (None when unset) with the static values filled in."""
    names: list[str] = []
    values: dict[str, Any] = {}
    if not isinstance(fn.get("view_items"), list):
        raise _StepFailed(f"{what}: the function entry has no view_items (its list of inputs)")
    for item in fn["view_items"]:
        if isinstance(item, dict) and item.get("field_type") == "__function" and item.get("content"):
            fld = _lookup(host.get_field_by_uuid, item["content"], f"{what}: input field")
            names.append(fld["name"])
            values.setdefault(fld["name"], None)
    for in_uuid, static in step.inputs.items():
        fld = _lookup(host.get_field_by_uuid, in_uuid, f"{what}: input field")
        if fld["name"] not in names:
            raise _StepFailed(f"{what}: {fld['name']!r} is not an input of this function")
        has, value = _static_value(fld, static, what)
        if has:
            values[fld["name"]] = value
    return values, names


def run_workflow(
    model: WorkflowModel,
    host: EngineHost,
    context: dict[str, Any],
    *,
    time_limit: float | None = None,
) -> WorkflowOutcome:
    """Run every step of ``model`` in order for the object in ``context``.

    ``context``: ``object_type`` ("incident" | "artifact"), ``incident_id``, ``artifact_id``,
    ``rule_properties`` (activity fields of the rule that started it), ``workflow_instance_id``,
    ``workflow`` (the export entry), optionally ``principal``. ``time_limit`` is per script.
    """
    return _run(model, host, context, time_limit, None)


def run_playbook(
    model: WorkflowModel,
    host: EngineHost,
    context: dict[str, Any],
    *,
    playbook: dict[str, Any],
    inputs: dict[str, Any] | None = None,
    time_limit: float | None = None,
) -> WorkflowOutcome:
    """Run every element of a playbook's ``model`` for the object in ``context`` (keys as for
    :func:`run_workflow`, with ``playbook_instance_id`` instead of the workflow's). ``playbook`` is the
    playbook's export entry (its ``local_scripts``), ``inputs`` the activation form's values by field name.
    The outcome's ``properties`` are what scripts added; its ``results`` as for a workflow."""
    form = playbook.get("fields_type", {}).get("fields") or {}
    state = {"results": {}, "inputs": dict(inputs or {}), "input_names": list(form), "properties": {},
             "local_scripts": {s.get("uuid"): s for s in playbook.get("local_scripts") or []}}
    return _run(model, host, context, time_limit, state)


def _run(model: WorkflowModel, host: EngineHost, context: dict[str, Any], time_limit: float | None,
         playbook: dict[str, Any] | None) -> WorkflowOutcome:
    object_type = context.get("object_type", "incident")
    properties: dict[str, Any] = playbook["properties"] if playbook is not None else {}
    results: list[dict[str, Any]] = []
    log: list[str] = []
    base = {"host": host, "context": context, "object_type": object_type, "time_limit": time_limit,
            "rule_properties": context.get("rule_properties") or {}, "playbook": playbook}

    try:
        for step in model.steps:
            if isinstance(step, ScriptStep):
                _run_script_step(step, host, context, base, properties, log)
            elif isinstance(step, FunctionStep):
                _run_function_step(step, host, context, base, properties, results, log)
            else:  # pragma: no cover - the parser produces only these two
                raise _StepFailed(f"step {step!r} is not modelled")
    except _StepFailed as exc:
        return WorkflowOutcome("terminated", exc.reason, properties, results, log)
    return WorkflowOutcome("completed", None, properties, results, log)


def _run_script_step(
    step: ScriptStep, host: EngineHost, context: dict[str, Any], base: dict[str, Any],
    properties: dict[str, Any], log: list[str],
) -> None:
    playbook = base["playbook"]
    local = playbook["local_scripts"].get(step.script_uuid) if playbook is not None else None
    script = local or _lookup(host.get_script, step.script_uuid, f"Script task {step.name!r}: script")
    what = f"Script {script.get('name') or step.name!r}"
    _check_language(script.get("language"), what)
    runs_on = "playbook" if playbook is not None else "workflow"
    if script.get("object_type") not in (None, base["object_type"]):
        raise _StepFailed(
            f"{what}: script is for {script.get('object_type')!r} objects, {runs_on} runs on {base['object_type']!r}"
        )
    try:
        out = run_script(
            script.get("script_text") or "", kind="pb_script" if playbook is not None else "script_task",
            workflow_properties=properties, name=str(script.get("name") or step.name), **base,
        )
        log.extend(out.log)
        if out.effects:
            host.apply_effects(out.effects, context)
    except ScriptFailed as exc:
        raise _StepFailed(f"{what} failed: {exc.why}") from exc
    except EffectError as exc:
        raise _StepFailed(f"{what}: changes rejected: {exc.reason}") from exc
    except EngineError as exc:
        raise _StepFailed(f"{what}: {exc}") from exc
    properties.update(out.new_workflow_properties)


def _run_function_step(
    step: FunctionStep, host: EngineHost, context: dict[str, Any], base: dict[str, Any],
    properties: dict[str, Any], results: list[dict[str, Any]], log: list[str],
) -> None:
    fn = _lookup(host.get_function_by_uuid, step.function_uuid, f"Function task {step.name!r}: function")
    fn_name = str(fn["name"])
    what = f"Function {fn_name!r}"
    inputs, names = _function_inputs(step, fn, host, what)
    playbook = base["playbook"]
    for in_uuid, expression in step.expressions.items():
        fld = _lookup(host.get_field_by_uuid, in_uuid, f"{what}: input field")
        if fld["name"] not in names:
            raise _StepFailed(f"{what}: {fld['name']!r} is not an input of this function")
        inputs[fld["name"]] = _resolve_expression(expression, host, context, what)

    if step.pre_processing_script:
        label = "input" if playbook is not None else "pre-processing"
        script_what = f"{what} {label}"
        _check_language(step.pre_processing_script_language, script_what)
        try:
            pre = run_script(
                step.pre_processing_script, kind="pb_input" if playbook is not None else "pre", inputs=inputs,
                input_names=names, workflow_properties=properties, name=f"{fn_name} {label} script", **base,
            )
        except ScriptFailed as exc:
            raise _StepFailed(f"{script_what} script failed: {exc.why}") from exc
        except EngineError as exc:
            raise _StepFailed(f"{script_what} script: {exc}") from exc
        log.extend(pre.log)
        inputs = pre.inputs

    try:
        envelope = host.call_function(fn_name, inputs, context)
    except FunctionFailed as exc:
        raise _StepFailed(f"{what} failed: {exc.message}") from exc
    results.append({"step_id": step.id, "function": fn_name, "result_name": step.result_name, "result": envelope})
    if playbook is not None:
        if step.result_name:
            playbook["results"][step.result_name] = envelope
        return
    if step.result_name:
        properties[step.result_name] = envelope

    if step.post_processing_script:
        _check_language(step.post_processing_script_language, f"{what} post-processing")
        try:
            post = run_script(
                step.post_processing_script, kind="post", results=envelope, workflow_properties=properties,
                name=f"{fn_name} post-processing", **base,
            )
            log.extend(post.log)
            if post.effects:
                host.apply_effects(post.effects, context)
        except ScriptFailed as exc:
            raise _StepFailed(f"{what} post-processing script failed: {exc.why}") from exc
        except EffectError as exc:
            raise _StepFailed(f"{what} post-processing script: changes rejected: {exc.reason}") from exc
        except EngineError as exc:
            raise _StepFailed(f"{what} post-processing script: {exc}") from exc
        properties.update(post.new_workflow_properties)
