"""Workflow, script and rule-condition engine of the SOAR emulator.

The REST/STOMP core owns the data; this package only *decides*: it parses workflow and playbook BPMN
(refusing anything it does not model), evaluates rule and activation conditions, runs scripts in a
restricted sandbox and walks a linear workflow or playbook, talking to the core through the
:class:`~sim.soar.engine.host.EngineHost` protocol. Every change a script wants is returned as an effect
and applied by the host atomically.

Modules, from the bottom: ``errors``, ``effects`` (changes as values), ``host`` (the protocol),
``bpmn`` (workflow and playbook XML -> steps), ``conditions`` (rule conditions), ``sandbox`` (the policy
and its guards), ``playbook_objects`` (the ``playbook`` object), ``objects`` (SOAR's script objects),
``scripts`` (one script run: policy + objects), ``runner`` (a workflow or playbook instance, step by
step). Nothing here imports the rest of the emulator.
"""

from sim.soar.engine.bpmn import FunctionStep, ScriptStep, WorkflowModel, parse_playbook, parse_workflow
from sim.soar.engine.conditions import rule_matches, validate_rule
from sim.soar.engine.effects import AddArtifact, AddNote, AddRow, Effect, SetArtifactField, SetField, SetRowCell
from sim.soar.engine.errors import EffectError, EngineError, FunctionFailed, ScriptFailed, UnsupportedWorkflow
from sim.soar.engine.host import EngineHost
from sim.soar.engine.objects import AttrDict, sanitize_rich_text
from sim.soar.engine.runner import WorkflowOutcome, run_playbook, run_workflow
from sim.soar.engine.sandbox import ALLOWED_MODULES, DEFAULT_TIME_LIMIT, SandboxPolicy
from sim.soar.engine.scripts import ScriptOutcome, SoarSandbox, run_script

__all__ = [
    "ALLOWED_MODULES",
    "DEFAULT_TIME_LIMIT",
    "AddArtifact",
    "AddNote",
    "AddRow",
    "AttrDict",
    "Effect",
    "EffectError",
    "EngineError",
    "EngineHost",
    "FunctionFailed",
    "FunctionStep",
    "SandboxPolicy",
    "ScriptFailed",
    "ScriptOutcome",
    "ScriptStep",
    "SetArtifactField",
    "SetField",
    "SetRowCell",
    "SoarSandbox",
    "UnsupportedWorkflow",
    "WorkflowModel",
    "WorkflowOutcome",
    "parse_playbook",
    "parse_workflow",
    "rule_matches",
    "run_playbook",
    "run_script",
    "run_workflow",
    "sanitize_rich_text",
    "validate_rule",
]
