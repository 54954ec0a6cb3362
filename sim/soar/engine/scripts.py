"""Run SOAR Python 3 scripts (rule scripts, script tasks, function pre/post-processing) in a sandbox.

What a script sees depends on ``kind`` (see :func:`run_script`); what it changes is *recorded* as
effects and handed to the host in one ``apply_effects`` call when the script ends without failing,
because SOAR commits a script's changes together and ``helper.fail`` cancels them all.

Two parts meet here: the sandbox policy (:mod:`sim.soar.engine.sandbox`: imports, attribute access,
builtins, time limit) and SOAR's script objects (:mod:`sim.soar.engine.objects`). :class:`SoarSandbox`
is the policy with one hook changed: scripts may assign attributes of SOAR's objects, and of nothing else.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sim.soar.engine.effects import Effect
from sim.soar.engine.errors import EngineError
from sim.soar.engine.host import EngineHost
from sim.soar.engine.objects import ScriptState, is_writable, script_objects
from sim.soar.engine.sandbox import DEFAULT_TIME_LIMIT, SandboxPolicy

ScriptKind = Literal["pre", "post", "script_task", "rule", "pb_input", "pb_script"]


class SoarSandbox(SandboxPolicy):
    """SOAR's sandbox: the default policy, where the script objects are the only writable ones."""

    def is_writable(self, obj: Any) -> bool:
        return is_writable(obj)


@dataclass
class ScriptOutcome:
    """What a script produced.

    ``effects``: changes to apply (empty for pre-processing scripts and failed scripts);
    ``inputs``: the function inputs after a pre-processing script (else a copy of what was given);
    ``new_workflow_properties``: what ``workflow.addProperty`` added; ``log``: captured log lines.
    """

    effects: list[Effect] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    new_workflow_properties: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


def run_script(
    text: str,
    *,
    kind: ScriptKind,
    host: EngineHost,
    context: Mapping[str, Any],
    inputs: Mapping[str, Any] | None = None,
    results: Mapping[str, Any] | None = None,
    workflow_properties: Mapping[str, Any] | None = None,
    rule_properties: Mapping[str, Any] | None = None,
    object_type: str = "incident",
    input_names: Iterable[str] | None = None,
    name: str = "script",
    time_limit: float | None = None,
    playbook: Mapping[str, Any] | None = None,
) -> ScriptOutcome:
    """Run one script as SOAR would; return its effects, or raise :class:`ScriptFailed`.

    Objects by ``kind``:

    * always: ``incident`` (the incident, or the artifact's parent incident), ``rule``
      (``rule.properties.<activity field>``: ``rule_properties``, else ``context["rule_properties"]``),
      ``helper`` (``fail``, ``createRichText``, ``createPlainText``), ``log``, ``principal``;
      ``artifact`` when ``object_type`` is "artifact" (``context["artifact_id"]``).
    * "pre": ``inputs`` (starts from ``inputs``; ``input_names`` are the function's inputs) and
      ``workflow``; every change to SOAR data is silently ignored (IBM: a pre-processing script
      cannot change incident values or add artifacts), ``workflow.addProperty`` included.
    * "post": ``results`` (the envelope, attribute and dict access) and ``workflow``.
    * "script_task": ``workflow``. "rule": nothing more.
    * "pb_input" (a playbook function's input script): ``inputs`` as for "pre" (changes to SOAR data ignored
      likewise) and ``playbook``; "pb_script" (a playbook's script): ``playbook``. Both from ``playbook``
      (:func:`~sim.soar.engine.objects.script_objects`), and neither has ``rule``.

    Reading a field that does not exist raises AttributeError (SOAR does; scripts use ``hasattr``).
    A script that raises, calls ``helper.fail``, breaks the sandbox or runs out of time (``time_limit``
    seconds, default :data:`~sim.soar.engine.sandbox.DEFAULT_TIME_LIMIT`) fails with
    :class:`ScriptFailed` and none of its changes are returned.
    """
    if kind not in ("pre", "post", "script_task", "rule", "pb_input", "pb_script"):
        raise EngineError(f"unknown script kind {kind!r}")
    if object_type not in ("incident", "artifact"):
        raise EngineError(f"scripts on {object_type!r} objects are not modelled (incident and artifact only)")
    policy = SoarSandbox(DEFAULT_TIME_LIMIT if time_limit is None else float(time_limit))
    code = policy.compile(text, name)

    incident_id = context.get("incident_id")
    if incident_id is None:
        raise EngineError("context has no incident_id")
    incident_data = copy.deepcopy(host.get_incident(incident_id))
    artifact_data = None
    if object_type == "artifact":
        artifact_id = context.get("artifact_id")
        if artifact_id is None:
            raise EngineError("an artifact script needs context['artifact_id']")
        artifact_data = copy.deepcopy(host.get_artifact(incident_id, artifact_id))

    state = ScriptState(kind, name)
    if rule_properties is None:
        rule_properties = context.get("rule_properties") or {}
    principal = context.get("principal") or {"id": None, "type": "user", "name": None, "display_name": None}
    input_values = {k: copy.deepcopy(v) for k, v in (inputs or {}).items()}
    env = policy.globals(state, script_objects(
        state, incident=incident_data, artifact=artifact_data, rule_properties=rule_properties,
        principal=principal, workflow_properties=workflow_properties, inputs=input_values,
        input_names=input_names, results=results, playbook=playbook))
    policy.execute(code, env, state, name)
    return ScriptOutcome(
        effects=[] if state.read_only else state.effects(),
        inputs=input_values,
        new_workflow_properties=dict(state.new_properties),
        log=list(state.log),
    )
