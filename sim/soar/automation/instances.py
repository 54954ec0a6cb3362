"""Workflow and playbook instances: the record of every workflow a rule started and every playbook that ran,
and of every rule or automatic playbook that could not run.

An instance is created (``running``) before its workflow or playbook starts, so a client that returns from
the REST call that fired it finds it at once. A rule that fails before any workflow runs (a broken
condition, a cascade cut, a failing script automation) is recorded as a *terminated* instance named
``(rule NAME)``, never silently; an automatic playbook that cannot run, as a terminated instance of it.
Instances still ``running`` when the emulator starts again (with ``--state``) are terminated with a reason
saying so: the work they stood for is gone.

A playbook instance has the keys of a workflow instance (``status`` running, completed or terminated,
``terminate_reason``, ``function_calls``, ``status_messages``, ``properties``...) with ``id`` and ``playbook``
for ``workflow_instance_id`` and ``workflow``, ``activation`` (manual or automatic), ``inputs`` (the
activation form's values) and ``results`` (by output name). SOAR lists playbook runs with ``POST
/playbooks/execution/query_paged`` (IBM's fn_utilities reads it); their fields are not published, so these
mirror the workflow instance's [I].
"""

from __future__ import annotations

import copy
import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from sim.soar.documents import Doc, Ref, jsonable, now_ms
from sim.soar.engine import EngineError, WorkflowOutcome
from sim.soar.errors import SoarError, not_found
from sim.soar.store import Store

LOG = logging.getLogger("sim.soar")


class WorkflowInstances:
    """The ``workflow_instance`` documents."""

    kind = "workflow_instance"
    id_key = "workflow_instance_id"
    what = "Workflow instance"
    keeps_results = False

    def __init__(self, store: Store, lock: threading.RLock) -> None:
        self.store = store
        self.lock = lock

    def new(self, wf: Doc, rule: Doc | None, object_type: str, inc_id: int | None, artifact_id: int | None,
            props: Doc) -> int:
        with self.lock:
            iid = self.store.next_id("workflow_instance")
            self.store.put("workflow_instance", iid, {
                "workflow_instance_id": iid,
                "workflow": {"workflow_id": wf.get("workflow_id"), "programmatic_name": wf.get("programmatic_name"),
                             "name": wf.get("name"), "object_type": wf.get("object_type")},
                "object": {"id": artifact_id if artifact_id is not None else inc_id, "object_type": object_type,
                           "parent_id": inc_id if artifact_id is not None else None},
                "incident_id": inc_id, "artifact_id": artifact_id, "status": "running", "start_date": now_ms(),
                "end_date": None, "terminate_reason": None, "status_messages": [], "function_calls": [],
                "rule": {"id": rule["id"], "name": rule["name"]} if rule else None, "rule_properties": props,
                "properties": {}})
            return iid

    def rule_failed(self, rule: Doc, object_type: str, inc_id: int, artifact_id: int | None, reason: str) -> None:
        with self.lock:
            iid = self.store.next_id("workflow_instance")
            ts = now_ms()
            self.store.put("workflow_instance", iid, {
                "workflow_instance_id": iid, "workflow": {"programmatic_name": None, "name": f"(rule {rule['name']})",
                                                          "workflow_id": None, "object_type": object_type},
                "object": {"id": artifact_id or inc_id, "object_type": object_type, "parent_id": inc_id},
                "incident_id": inc_id, "artifact_id": artifact_id, "status": "terminated", "start_date": ts,
                "end_date": ts, "terminate_reason": reason, "status_messages": [], "function_calls": [],
                "rule": {"id": rule["id"], "name": rule["name"]}, "properties": {}})

    def get(self, iid: Ref) -> Doc:
        doc = self.store.get(self.kind, iid)
        if doc is None:
            raise not_found(f"{self.what} {iid} not found")
        return doc

    def find(self, inc_id: Ref | None = None, status: str | None = None) -> list[Doc]:
        with self.lock:
            out = []
            for doc in sorted(self.store.values(self.kind), key=lambda d: d[self.id_key]):
                if inc_id is not None and doc.get("incident_id") != int(inc_id):
                    continue
                if status and doc["status"] != status:
                    continue
                out.append(copy.deepcopy(doc))
            return out

    def finish(self, iid: int, run: Callable[[], WorkflowOutcome]) -> None:
        """Run the instance (``run``: the engine call) and record how it ended. An engine or SOAR error
        terminates it with its message; anything else is the emulator's own fault: logged with its traceback,
        and the instance terminated with an "emulator error" reason."""
        status, reason, props, results, log = "terminated", None, {}, {}, []
        try:
            outcome = run()
            status, reason, props, log = outcome.status, outcome.reason, outcome.properties or {}, outcome.log or []
            results = {r["result_name"]: r["result"] for r in outcome.results if r.get("result_name")}
        except (EngineError, SoarError) as exc:
            reason = str(exc)
        except Exception as exc:
            LOG.error("%s %s failed in the emulator: %s\n%s", self.what.lower(), iid, exc, traceback.format_exc())
            reason = f"emulator error: {exc}"
        changes: dict[str, Any] = {"status": status, "terminate_reason": reason, "end_date": now_ms(),
                                   "properties": jsonable(props), "log": [str(line) for line in log]}
        if self.keeps_results:
            changes["results"] = jsonable(results)
        self.update(iid, **changes)

    def update(self, iid: int, **changes: Any) -> None:
        with self.lock:
            doc = self.store.get(self.kind, iid)
            if doc is None:
                return
            doc.update(changes)
            self.store.put(self.kind, iid, doc)

    def append(self, iid: int, key: str, item: Any) -> int:
        """Append to one of the instance's lists; the index of the new item (-1: no such instance)."""
        with self.lock:
            doc = self.store.get(self.kind, iid)
            if doc is None:
                return -1
            doc[key].append(item)
            self.store.put(self.kind, iid, doc)
            return len(doc[key]) - 1

    def update_call(self, iid: int, index: int, **changes: Any) -> None:
        """Change one entry of the instance's ``function_calls``."""
        with self.lock:
            doc = self.store.get(self.kind, iid)
            if doc is not None:
                doc["function_calls"][index].update(changes)
                self.store.put(self.kind, iid, doc)

    def recover(self) -> None:
        for doc in list(self.store.values(self.kind)):
            if doc["status"] == "running":
                doc = copy.deepcopy(doc)
                doc.update(status="terminated", end_date=now_ms(),
                           terminate_reason="the SOAR emulator restarted while this instance was running")
                self.store.put(self.kind, doc[self.id_key], doc)


class PlaybookInstances(WorkflowInstances):
    """The ``playbook_instance`` documents (see the module docstring)."""

    kind = "playbook_instance"
    id_key = "id"
    what = "Playbook instance"
    keeps_results = True  # a playbook instance keeps its results by output name (the module docstring)

    def new_run(self, pb: Doc, activation: str, object_type: str, inc_id: int | None, artifact_id: int | None,
                inputs: Doc, status: str = "running", reason: str | None = None) -> int:
        with self.lock:
            iid = self.store.next_id(self.kind)
            ts = now_ms()
            self.store.put(self.kind, iid, {
                "id": iid, "playbook": {"id": pb.get("id"), "name": pb.get("name"),
                                        "display_name": pb.get("display_name"), "object_type": pb.get("object_type")},
                "object": {"id": artifact_id if artifact_id is not None else inc_id, "object_type": object_type,
                           "parent_id": inc_id if artifact_id is not None else None},
                "incident_id": inc_id, "artifact_id": artifact_id, "activation": activation, "status": status,
                "start_date": ts, "end_date": None if status == "running" else ts, "terminate_reason": reason,
                "status_messages": [], "function_calls": [], "inputs": inputs, "properties": {}, "results": {}})
            return iid
