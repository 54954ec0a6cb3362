"""The core as the workflow/script engine sees it (``sim.soar.engine.host.EngineHost``).

Everything the engine reads is in SOAR's "names" format; function inputs are turned into the wire form
SOAR puts on the message destination (select ``{"id", "name"}``, textarea ``{"format", "content"}``,
unset inputs left out so an app's ``getattr(fn_inputs, "x", None)`` sees them missing).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from sim.soar.catalog import resolve_option, text_content
from sim.soar.errors import SoarError

if TYPE_CHECKING:
    from sim.soar.core import Soar


def _failed(message: str) -> Exception:
    from sim.soar.engine import FunctionFailed

    return FunctionFailed(message)


def function_inputs(soar: Soar, fn: dict) -> dict[str, dict]:
    """Input name -> field definition, from the function's view items."""
    out = {}
    for item in fn.get("view_items") or []:
        if item.get("field_type") == "__function" and item.get("element") == "field_uuid":
            fd = soar.field_by_uuid(item.get("content"))
            if fd:
                out[fd["name"]] = fd
    return out


def inputs_to_wire(soar: Soar, fn: dict, inputs: dict[str, Any]) -> dict[str, Any]:
    """Validate script-form inputs against the function's input fields and convert to the wire form.

    Stricter choices: an input the function does not declare fails the call; a value of the wrong type
    fails it too (numbers are accepted for text inputs, as SOAR's JSON binding converts them).
    """
    defs = function_inputs(soar, fn)
    wire: dict[str, Any] = {}
    for name, value in (inputs or {}).items():
        fd = defs.get(name)
        if fd is None:
            raise _failed(f"'{name}' is not an input of function '{fn['name']}'")
        if value is None:
            continue
        kind = fd["input_type"]
        where = f"{fn['name']}.{name}"
        try:
            if kind == "select":
                stored = resolve_option(fd, value, where)
                label = next(o["label"] for o in fd["values"] if o["value"] == stored)
                wire[name] = {"id": stored, "name": label}
            elif kind == "multiselect":
                values = value if isinstance(value, list) else [value]
                out = []
                for v in values:
                    stored = resolve_option(fd, v, where)
                    out.append({"id": stored, "name": next(o["label"] for o in fd["values"]
                                                           if o["value"] == stored)})
                wire[name] = out
            elif kind == "textarea":
                content, fmt = text_content(value if not isinstance(value, (int, float)) or isinstance(value, bool)
                                            else str(value))
                wire[name] = {"format": fmt or "text", "content": content}
            elif kind == "boolean":
                if not isinstance(value, bool):
                    raise ValueError(f"input '{name}' is a boolean: got {value!r}")
                wire[name] = value
            elif kind == "number":
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"input '{name}' is a number: got {value!r}")
                wire[name] = value
            elif kind in ("datepicker", "datetimepicker"):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"input '{name}' is a date in epoch milliseconds: got {value!r}")
                wire[name] = int(value)
            else:  # text
                if isinstance(value, bool) or isinstance(value, (dict, list)):
                    raise ValueError(f"input '{name}' is text: got {value!r}")
                wire[name] = value if isinstance(value, str) else str(value)
        except SoarError as err:
            raise _failed(err.message) from None
        except ValueError as err:
            raise _failed(str(err)) from None
    return wire


class CoreHost:
    """Implements ``sim.soar.engine.host.EngineHost`` over a :class:`~sim.soar.core.Soar`."""

    def __init__(self, soar: Soar) -> None:
        self.soar = soar

    def get_incident(self, incident_id: int) -> dict[str, Any]:
        return self.soar.engine_incident(int(incident_id))

    def get_artifact(self, incident_id: int, artifact_id: int) -> dict[str, Any]:
        return self.soar.engine_artifact(int(incident_id), int(artifact_id))

    def list_artifacts(self, incident_id: int) -> list[dict[str, Any]]:
        return self.soar.artifacts(int(incident_id), names=True)

    def list_rows(self, incident_id: int, table: str) -> list[dict[str, Any]]:
        data = self.soar.table_data(int(incident_id), table, names=True)
        return [{"id": r["id"], "cells": {c: v["value"] for c, v in r["cells"].items()}} for r in data["rows"]]

    def get_script(self, uuid: str) -> dict[str, Any]:
        script = self.soar.script_by_uuid(uuid)
        if script is None:
            raise KeyError(f"script {uuid} is not registered")
        return script

    def get_function_by_uuid(self, uuid: str) -> dict[str, Any]:
        fn = self.soar.function_by_uuid(uuid)
        if fn is None:
            raise KeyError(f"function {uuid} is not registered")
        fn = copy.deepcopy(fn)
        fn["inputs"] = list(function_inputs(self.soar, fn).values())
        return fn

    def get_field_by_uuid(self, uuid: str) -> dict[str, Any]:
        fd = self.soar.field_by_uuid(uuid)
        if fd is None:
            raise KeyError(f"field {uuid} is not registered")
        return fd

    def apply_effects(self, effects: list[Any], context: dict[str, Any]) -> None:
        self.soar.apply_effects(effects, context)

    def call_function(self, function_name: str, inputs: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
        return call_function(self.soar, function_name, inputs, context)

    def status_message(self, context: dict[str, Any], text: str) -> None:
        iid = context.get("workflow_instance_id")
        if iid is not None:
            self.soar._append_instance(iid, "status_messages", {"text": text, "source": "workflow"})


def _workflow_summary(wf: dict | None) -> dict | None:
    if not wf:
        return None
    obj_ids = {"incident": 0, "task": 1, "note": 2, "milestone": 3, "artifact": 4, "attachment": 5}
    ot = wf.get("object_type")
    return {"workflow_id": wf.get("workflow_id"), "programmatic_name": wf.get("programmatic_name"),
            "name": wf.get("name"), "description": wf.get("description"), "uuid": wf.get("uuid"),
            "object_type": {"id": obj_ids.get(ot, 1000), "name": ot, "display_name": str(ot).title()},
            "actions": [], "tags": []}


def call_function(soar: Soar, function_name: str, inputs: dict[str, Any], context: dict[str, Any],
                  timeout: float | None = None) -> dict[str, Any]:
    """Invoke a function through its destination; block until the app answers (see Dispatcher)."""
    try:
        fn = soar.function(function_name)
    except SoarError:
        raise _failed(f"function '{function_name}' is not defined") from None
    wire = inputs_to_wire(soar, fn, inputs)
    iid = context.get("workflow_instance_id")
    wf = context.get("workflow")
    inc_id = context.get("incident_id")
    art_id = context.get("artifact_id")
    message = {
        "function": {k: fn.get(k) for k in ("id", "name", "display_name", "uuid", "description", "version",
                                            "view_items", "destination_handle", "tags")},
        "inputs": wire,
        "workflow": _workflow_summary(wf),
        "workflow_instance": ({"workflow_instance_id": iid, "workflow": _workflow_summary(wf)}
                              if iid is not None else None),
        "playbook_instance": None,
        "principal": soar.api_principal,
        "groups": [],
        "object": ({"id": art_id if art_id is not None else inc_id,
                    "object_type": "artifact" if art_id is not None else "incident",
                    "parent_id": inc_id if art_id is not None else None} if inc_id is not None else None),
    }
    message["function"]["creator"] = soar.api_principal
    call_index = None
    if iid is not None:
        call_index = soar._append_instance(iid, "function_calls", {"function": function_name, "status": "running",
                                                                   "inputs": wire, "result": None, "error": None})

    def on_status(text: str) -> None:
        if iid is not None:
            soar._append_instance(iid, "status_messages", {"text": text, "source": function_name})

    def record(**changes: Any) -> None:
        if iid is None or call_index is None or call_index < 0:
            return
        with soar.lock:
            doc = soar.store.get("workflow_instance", iid)
            if doc is not None:
                doc["function_calls"][call_index].update(changes)
                soar.store.put("workflow_instance", iid, doc)

    if soar.dispatcher is None:
        raise _failed("the emulator has no message broker running")
    try:
        envelope = soar.dispatcher.invoke(fn["destination_handle"], message, on_status=on_status,
                                          timeout=timeout or soar.function_timeout)
    except Exception as exc:
        record(status="failed", error=getattr(exc, "message", str(exc)))
        raise
    record(status="completed", result=envelope)
    return envelope
