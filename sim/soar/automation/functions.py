"""A function invocation as SOAR makes it: script-form inputs checked and turned into the wire form, the
message put on the function's destination, and the call recorded on its workflow or playbook instance.

Called from a playbook, the message names the playbook instance (``playbook_instance``:
``{"playbook_instance_id", "playbook": {"id", "name", "display_name"}}``) and has no workflow: resilient-circuits
passes a message's ``playbook_instance`` through untouched (its own example message has the key, empty), and
what SOAR puts in it is not published [I].

Wire form as SOAR puts it on the message destination: select ``{"id", "name"}``, textarea
``{"format", "content"}``, unset inputs left out so an app's ``getattr(fn_inputs, "x", None)`` sees
them missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sim.soar import builtins
from sim.soar.automation.instances import PlaybookInstances, WorkflowInstances
from sim.soar.catalog import resolve_option, text_content
from sim.soar.documents import Doc
from sim.soar.engine import FunctionFailed
from sim.soar.errors import SoarError
from sim.soar.org import Org
from sim.soar.registry import Registry


class Invoker(Protocol):
    """What puts messages on destinations (:class:`sim.soar.dispatch.Dispatcher`, once the broker runs)."""

    def invoke(self, dest: str, message: dict, *, on_status: Callable[[str], None] | None = None,
               timeout: float = 600.0) -> Any: ...

    def send_action(self, dest: str, message: dict) -> None: ...


def inputs_to_wire(fn: Doc, defs: dict[str, Doc], inputs: dict[str, Any]) -> dict[str, Any]:
    """Validate script-form inputs against the function's input fields ``defs`` and convert to the wire form.

    Stricter choices: an input the function does not declare fails the call; a value of the wrong type
    fails it too (numbers are accepted for text inputs, as SOAR's JSON binding converts them).
    """
    wire: dict[str, Any] = {}
    for name, value in (inputs or {}).items():
        fd = defs.get(name)
        if fd is None:
            raise FunctionFailed(f"'{name}' is not an input of function '{fn['name']}'")
        if value is None:
            continue
        try:
            wire[name] = _wire_value(fd, name, value, f"{fn['name']}.{name}")
        except SoarError as err:
            raise FunctionFailed(err.message) from None
        except ValueError as err:
            raise FunctionFailed(str(err)) from None
    return wire


def _wire_value(fd: Doc, name: str, value: Any, where: str) -> Any:
    kind = fd["input_type"]
    if kind == "select":
        stored = resolve_option(fd, value, where)
        label = next(o["label"] for o in fd["values"] if o["value"] == stored)
        return {"id": stored, "name": label}
    if kind == "multiselect":
        values = value if isinstance(value, list) else [value]
        out = []
        for v in values:
            stored = resolve_option(fd, v, where)
            out.append({"id": stored, "name": next(o["label"] for o in fd["values"] if o["value"] == stored)})
        return out
    if kind == "textarea":
        content, fmt = text_content(value if not isinstance(value, (int, float)) or isinstance(value, bool)
                                    else str(value))
        return {"format": fmt or "text", "content": content}
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"input '{name}' is a boolean: got {value!r}")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"input '{name}' is a number: got {value!r}")
        return value
    if kind in ("datepicker", "datetimepicker"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"input '{name}' is a date in epoch milliseconds: got {value!r}")
        return int(value)
    # text
    if isinstance(value, bool) or isinstance(value, (dict, list)):
        raise ValueError(f"input '{name}' is text: got {value!r}")
    return value if isinstance(value, str) else str(value)


def _workflow_summary(wf: Doc | None) -> Doc | None:
    if not wf:
        return None
    ot = wf.get("object_type")
    return {"workflow_id": wf.get("workflow_id"), "programmatic_name": wf.get("programmatic_name"),
            "name": wf.get("name"), "description": wf.get("description"), "uuid": wf.get("uuid"),
            "object_type": {"id": builtins.OBJECT_TYPE_IDS.get(str(ot), 1000), "name": ot,
                            "display_name": str(ot).title()},
            "actions": [], "tags": []}


class FunctionCalls:
    """Invokes functions through their destinations (the dispatcher is set once the broker runs)."""

    def __init__(self, registry: Registry, instances: WorkflowInstances, org: Org,
                 playbook_instances: PlaybookInstances | None = None) -> None:
        self.registry = registry
        self.instances = instances
        self.playbook_instances = playbook_instances
        self.org = org
        self.dispatcher: Invoker | None = None
        self.timeout = 600.0

    def call(self, function_name: str, inputs: dict[str, Any], context: dict[str, Any],
             timeout: float | None = None) -> Any:
        """Invoke a function through its destination; block until the app answers (see Dispatcher)."""
        try:
            fn = self.registry.function(function_name)
        except SoarError:
            raise FunctionFailed(f"function '{function_name}' is not defined") from None
        wire = inputs_to_wire(fn, self.registry.function_inputs(fn), inputs)
        pb_iid = context.get("playbook_instance_id")
        runs: WorkflowInstances | None = self.instances
        iid = context.get("workflow_instance_id")
        if pb_iid is not None:
            runs, iid = self.playbook_instances, pb_iid
        wf = context.get("workflow")
        pb = context.get("playbook")
        inc_id = context.get("incident_id")
        art_id = context.get("artifact_id")
        principal = self.org.api_principal
        message: dict[str, Any] = {
            "function": {k: fn.get(k) for k in ("id", "name", "display_name", "uuid", "description", "version",
                                                "view_items", "destination_handle", "tags")},
            "inputs": wire,
            "workflow": _workflow_summary(wf),
            "workflow_instance": ({"workflow_instance_id": iid, "workflow": _workflow_summary(wf)}
                                  if iid is not None and pb_iid is None else None),
            "playbook_instance": ({"playbook_instance_id": pb_iid,
                                   "playbook": {k: pb.get(k) for k in ("id", "name", "display_name")}}
                                  if pb_iid is not None and pb else None),
            "principal": principal,
            "groups": [],
            "object": ({"id": art_id if art_id is not None else inc_id,
                        "object_type": "artifact" if art_id is not None else "incident",
                        "parent_id": inc_id if art_id is not None else None} if inc_id is not None else None),
        }
        message["function"]["creator"] = principal
        call_index = None
        if iid is not None and runs is not None:
            call_index = runs.append(iid, "function_calls", {
                "function": function_name, "status": "running", "inputs": wire, "result": None, "error": None})

        def on_status(text: str) -> None:
            if iid is not None and runs is not None:
                runs.append(iid, "status_messages", {"text": text, "source": function_name})

        def record(**changes: Any) -> None:
            if iid is None or runs is None or call_index is None or call_index < 0:
                return
            runs.update_call(iid, call_index, **changes)

        if self.dispatcher is None:
            raise FunctionFailed("the emulator has no message broker running")
        try:
            envelope = self.dispatcher.invoke(fn["destination_handle"], message, on_status=on_status,
                                              timeout=timeout or self.timeout)
        except Exception as exc:
            record(status="failed", error=getattr(exc, "message", str(exc)))
            raise
        record(status="completed", result=envelope)
        return envelope
