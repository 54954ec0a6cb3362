"""The emulator as the workflow/script engine sees it (:class:`sim.soar.engine.host.EngineHost`).

Everything the engine reads is in SOAR's "names" format. The host is built from the parts it reads
(incidents, artifacts, rows, the registry, the workflow instances) and is handed the two things it may
do: write a script's effects (and let automation run the rules they fire) and call a function; it
reaches into nothing else.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.soar.automation.functions import FunctionCalls
from sim.soar.automation.instances import PlaybookInstances, WorkflowInstances
from sim.soar.children import Artifacts, Rows
from sim.soar.engine import Effect
from sim.soar.incidents import Incidents
from sim.soar.registry import Registry


@dataclass(frozen=True)
class CoreHost:
    """Implements ``EngineHost`` over the emulator's parts."""

    incidents: Incidents
    artifacts: Artifacts
    rows: Rows
    registry: Registry
    instances: WorkflowInstances
    playbook_instances: PlaybookInstances
    calls: FunctionCalls
    write_effects: Callable[[list[Effect], dict[str, Any]], None]

    def get_incident(self, incident_id: int) -> dict[str, Any]:
        with self.incidents.lock:
            return self.incidents.engine_view(self.incidents.doc(int(incident_id)))

    def get_artifact(self, incident_id: int, artifact_id: int) -> dict[str, Any]:
        with self.incidents.lock:
            inc = self.incidents.doc(int(incident_id))
            return self.artifacts.render(self.artifacts.doc(inc["id"], int(artifact_id)), names=True)

    def list_artifacts(self, incident_id: int) -> list[dict[str, Any]]:
        with self.incidents.lock:
            return self.artifacts.of(self.incidents.doc(int(incident_id))["id"], names=True)

    def list_rows(self, incident_id: int, table: str) -> list[dict[str, Any]]:
        with self.incidents.lock:
            data = self.rows.table_data(self.incidents.doc(int(incident_id))["id"], table, names=True)
        return [{"id": r["id"], "cells": {c: v["value"] for c, v in r["cells"].items()}} for r in data["rows"]]

    def get_script(self, uuid: str) -> dict[str, Any]:
        script = self.registry.script_by_uuid(uuid)
        if script is None:
            raise KeyError(f"script {uuid} is not registered")
        return script

    def get_function_by_uuid(self, uuid: str) -> dict[str, Any]:
        fn = self.registry.function_by_uuid(uuid)
        if fn is None:
            raise KeyError(f"function {uuid} is not registered")
        fn = copy.deepcopy(fn)
        fn["inputs"] = list(self.registry.function_inputs(fn).values())
        return fn

    def get_field_by_uuid(self, uuid: str) -> dict[str, Any]:
        fd = self.registry.field_by_uuid(uuid)
        if fd is None:
            raise KeyError(f"field {uuid} is not registered")
        return fd

    def apply_effects(self, effects: list[Any], context: dict[str, Any]) -> None:
        self.write_effects(effects, context)

    def call_function(self, function_name: str, inputs: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        return self.calls.call(function_name, inputs, context)

    def status_message(self, context: dict[str, Any], text: str) -> None:
        if context.get("playbook_instance_id") is not None:
            self.playbook_instances.append(context["playbook_instance_id"], "status_messages",
                                           {"text": text, "source": "playbook"})
        elif context.get("workflow_instance_id") is not None:
            self.instances.append(context["workflow_instance_id"], "status_messages",
                                  {"text": text, "source": "workflow"})
