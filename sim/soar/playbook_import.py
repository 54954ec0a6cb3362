"""The playbooks of an import (``playbooks[]``): what the importer refuses, and how they are registered.

The format is only partly documented; what is checked follows what SOAR's own exports hold (IBM's Proofpoint
TAP app, fn_watsonx_analyst, resilient-sdk's mock export) and what IBM documents. Refused, each with the
playbook's name and the reason (the import is refused as a whole):

* a playbook without ``name``, ``display_name``, ``uuid``, ``content.xml``, ``fields_type`` or
  ``local_scripts``; an ``export_key`` other than its name; a name used twice;
* a ``deployment_id``, ``field_type_handle``, BPMN process id or ``fields_type.type_name`` that is not
  ``playbook_`` + the uuid with ``_`` (the same in every server export: the emulator takes it as the rule
  [I]); a ``fields_type`` whose ``type_id`` is not 28 or whose ``parent_types`` is not ``["__playbook"]``;
* ``type`` ``subplaybook`` (sub-playbooks are not modelled), or anything but ``default``;
* an ``activation_type`` other than ``manual`` (with ``manual_settings``) or ``automatic`` (with
  ``activation_details``), each with ``activation_conditions`` whose conditions the rule engine's
  :func:`~sim.soar.engine.validate_rule` accepts (the same methods and fields as rules);
* an unknown object type; a ``status`` other than ``enabled``, ``disabled`` or ``draft``; an enabled playbook
  with ``has_logical_errors`` (IBM: a playbook with errors cannot be enabled). How SOAR imports a ``disabled``
  one is not documented: it is kept disabled [I];
* BPMN that :func:`~sim.soar.engine.parse_playbook` refuses (gateways, sub-playbooks, timers, a
  post-processing script...), a function that does not exist, a static or expression input that is not an
  input of its function, an expression on another object than the playbook's or its incident, a script
  element naming neither one of this playbook's local scripts nor a global script (``playbook_handle`` null);
* a local script whose ``playbook_handle`` is not this playbook, whose language is not ``python3`` or whose
  object type is not the playbook's; two local scripts of one playbook with one name;
* an activation-form field (``fields_type.fields``) the field checks refuse, or a ``view_items`` entry that
  shows a field the form does not have.

Registration stores the playbook as exported, with its id kept on a re-import, and its ``status`` as the
export says: a re-import (``resilient-circuits customize`` of a new version) sets the shipped status again,
the stricter of the readings (SOAR's documentation does not say whether an import keeps a toggled status).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from sim.soar.documents import Doc
from sim.soar.engine import FunctionStep, UnsupportedWorkflow, WorkflowModel, parse_playbook, validate_rule
from sim.soar.store import Store

STATUSES = ("enabled", "disabled", "draft")
ACTIVATION_KEYS = {"manual": "manual_settings", "automatic": "activation_details"}
REQUIRED = ("name", "display_name", "uuid", "content", "fields_type", "local_scripts", "object_type", "status",
            "activation_type", "type")
FORM_TYPE_ID = 28


def activation_rule(pb: Doc) -> Doc:
    """A playbook's activation as the rule engine reads a rule (type 0 automatic, 1 manual)."""
    manual = pb.get("activation_type") == "manual"
    settings = pb.get(ACTIVATION_KEYS.get(str(pb.get("activation_type")), "manual_settings")) or {}
    conditions = settings.get("activation_conditions") or {}
    rule = {"name": pb.get("display_name") or pb.get("name"), "object_type": pb.get("object_type"),
            "type": 1 if manual else 0, "enabled": True, "conditions": conditions.get("conditions") or [],
            "logic_type": conditions.get("logic_type") or "all"}
    if conditions.get("custom_condition") is not None:
        rule["custom_condition"] = conditions["custom_condition"]
    return rule


def handle_of(pb: Doc) -> str:
    return "playbook_" + str(pb.get("uuid")).replace("-", "_")


class PlaybookChecks:
    """Checks the playbooks of one import against what exists after it (functions, global scripts, fields)."""

    def __init__(self, *, object_types: set[str], fn_uuids: set[str], function_inputs: dict[str, set[str]],
                 global_scripts: dict[str, Doc], check_field: Callable[[Doc, str, list[str]], None]) -> None:
        self.object_types = object_types
        self.fn_uuids = fn_uuids
        self.function_inputs = function_inputs  # function uuid -> uuids of its input fields
        self.global_scripts = global_scripts  # uuid -> script
        self.check_field = check_field

    def check(self, playbooks: list[Any], errors: list[str]) -> None:
        seen: set[str] = set()
        for pb in playbooks:
            if not isinstance(pb, dict):
                errors.append("a playbook entry is not an object")
                continue
            name = pb.get("name")
            if name in seen:
                errors.append(f"playbook '{name}' appears twice in this import")
            seen.add(str(name))
            self._check(pb, f"playbook '{name}'", errors)

    def _check(self, pb: Doc, what: str, errors: list[str]) -> None:
        missing = [key for key in REQUIRED if pb.get(key) in (None, "")]
        if missing:
            errors.append(f"{what} lacks {', '.join(missing)}")
            return
        if pb.get("export_key") not in (None, pb["name"]):
            errors.append(f"{what}: export_key is '{pb.get('export_key')}', not its name")
        handle = handle_of(pb)
        for key in ("deployment_id", "field_type_handle"):
            if pb.get(key) != handle:
                errors.append(f"{what}: {key} is {pb.get(key)!r}, not {handle!r} (playbook_ + its uuid)")
        if pb["type"] != "default":
            kind = "sub-playbooks are not modelled by the SOAR emulator" if pb["type"] == "subplaybook" else \
                "only 'default' playbooks are known"
            errors.append(f"{what}: type {pb['type']!r}: {kind}")
            return
        if pb["object_type"] not in self.object_types:
            errors.append(f"{what}: unknown object type {pb['object_type']!r}")
        if pb["status"] not in STATUSES:
            errors.append(f"{what}: status {pb['status']!r} is not one of {', '.join(STATUSES)}")
        elif pb["status"] == "enabled" and pb.get("has_logical_errors"):
            errors.append(f"{what} is enabled but has logical errors (SOAR cannot enable such a playbook)")
        self._check_activation(pb, what, errors)
        self._check_form(pb, handle, what, errors)
        local = self._check_local_scripts(pb, what, errors)
        content = pb["content"] if isinstance(pb["content"], dict) else {}
        try:
            model = parse_playbook(content.get("xml") or "")
        except UnsupportedWorkflow as exc:
            errors.append(f"{what} is not supported: {exc.reason}")
            return
        except Exception as exc:  # malformed XML and the like
            errors.append(f"{what} cannot be read: {exc}")
            return
        if model.process_id != handle:
            errors.append(f"{what}: its BPMN process is {model.process_id!r}, not {handle!r}")
        self._check_elements(pb, model, local, what, errors)

    def _check_activation(self, pb: Doc, what: str, errors: list[str]) -> None:
        key = ACTIVATION_KEYS.get(str(pb["activation_type"]))
        if key is None:
            errors.append(f"{what}: activation_type {pb['activation_type']!r} is neither manual nor automatic")
            return
        settings = pb.get(key)
        if not isinstance(settings, dict) or not isinstance(settings.get("activation_conditions"), dict):
            errors.append(f"{what}: a {pb['activation_type']} playbook needs {key}.activation_conditions")
            return
        other = ACTIVATION_KEYS["automatic" if key == "manual_settings" else "manual"]
        if other in pb:
            errors.append(f"{what}: a {pb['activation_type']} playbook has no {other}")
        for problem in validate_rule(activation_rule(pb)):
            errors.append(f"{what}: {problem.replace('rule ', 'activation of ', 1)}")

    def _check_form(self, pb: Doc, handle: str, what: str, errors: list[str]) -> None:
        form = pb["fields_type"] if isinstance(pb["fields_type"], dict) else {}
        if form.get("type_id") != FORM_TYPE_ID or form.get("parent_types") != ["__playbook"] or \
                form.get("type_name") != handle:
            errors.append(f"{what}: fields_type must be type {FORM_TYPE_ID} '{handle}' with parent_types "
                          "['__playbook']")
        fields = form.get("fields") or {}
        if not isinstance(fields, dict):
            errors.append(f"{what}: fields_type.fields is not an object")
            return
        for fname, fd in fields.items():
            if not isinstance(fd, dict) or fd.get("name") != fname:
                errors.append(f"{what}: activation field key '{fname}' does not match its name")
                continue
            self.check_field(fd, f"{what} activation field '{fname}'", errors)
        uuids = {fd.get("uuid") for fd in fields.values() if isinstance(fd, dict)}
        for item in (pb.get("manual_settings") or {}).get("view_items") or []:
            if item.get("element") == "field_uuid" and item.get("content") not in uuids:
                errors.append(f"{what} shows activation field {item.get('content')}, which its form does not have")

    def _check_local_scripts(self, pb: Doc, what: str, errors: list[str]) -> dict[str, Doc]:
        local: dict[str, Doc] = {}
        names: set[str] = set()
        if not isinstance(pb["local_scripts"], list):
            errors.append(f"{what}: local_scripts is not a list")
            return local
        for script in pb["local_scripts"]:
            sname = script.get("name") if isinstance(script, dict) else None
            if not sname or not script.get("uuid"):
                errors.append(f"{what}: a local script without name or uuid")
                continue
            if sname in names:
                errors.append(f"{what}: local script '{sname}' appears twice")
            names.add(sname)
            if script.get("playbook_handle") != pb["name"]:
                errors.append(f"{what}: local script '{sname}' belongs to playbook {script.get('playbook_handle')!r}")
            if script.get("language") != "python3":
                errors.append(f"{what}: local script '{sname}': language {script.get('language')!r} is not "
                              "supported (python3)")
            if script.get("object_type") != pb["object_type"]:
                errors.append(f"{what}: local script '{sname}' is for {script.get('object_type')!r} objects, the "
                              f"playbook for {pb['object_type']!r}")
            local[script["uuid"]] = script
        return local

    def _check_elements(self, pb: Doc, model: WorkflowModel, local: dict[str, Doc], what: str,
                        errors: list[str]) -> None:
        for step in model.steps:
            if isinstance(step, FunctionStep):
                if step.function_uuid not in self.fn_uuids:
                    errors.append(f"{what} calls function {step.function_uuid}, which does not exist")
                    continue
                known = self.function_inputs.get(step.function_uuid, set())
                for in_uuid in [*step.inputs, *step.expressions]:
                    if in_uuid not in known:
                        errors.append(f"{what}: element {step.id!r} sets {in_uuid}, which is not an input of "
                                      "its function")
                for expression in step.expressions.values():
                    if expression.split(".", 1)[0] not in ("incident", pb["object_type"]):
                        errors.append(f"{what}: element {step.id!r}: expression {expression!r} names no object "
                                      f"of a playbook on {pb['object_type']!r} objects")
            elif step.script_uuid not in local:
                script = self.global_scripts.get(step.script_uuid)
                if script is None:
                    errors.append(f"{what} runs script {step.script_uuid}, which is neither one of its local "
                                  "scripts nor a global script")
                elif script.get("playbook_handle") not in (None, ""):
                    errors.append(f"{what} runs script '{script.get('name')}', a local script of playbook "
                                  f"{script.get('playbook_handle')!r}")


def register_playbooks(store: Store, playbooks: list[Doc]) -> None:
    """Store the import's playbooks (validated), keeping the id of one imported before."""
    for pb in playbooks:
        old = store.get("playbook", pb["name"])
        doc = copy.deepcopy(pb)
        doc["id"] = old["id"] if old else store.next_id("playbook", 1)
        doc["export_key"] = pb["name"]
        store.put("playbook", pb["name"], doc)
