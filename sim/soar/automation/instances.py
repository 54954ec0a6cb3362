"""Workflow instances: the record of every workflow a rule started, and of every rule that could not run.

An instance is created (``running``) before its workflow starts, so a client that returns from the REST
call that fired the rule finds it at once. A rule that fails before any workflow runs (a broken
condition, a cascade cut, a failing script automation) is recorded as a *terminated* instance named
``(rule NAME)``, never silently. Instances still ``running`` when the emulator starts again (with
``--state``) are terminated with a reason saying so: the work they stood for is gone.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from sim.soar.documents import Doc, Ref, now_ms
from sim.soar.errors import not_found
from sim.soar.store import Store


class WorkflowInstances:
    """The ``workflow_instance`` documents."""

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
        doc = self.store.get("workflow_instance", iid)
        if doc is None:
            raise not_found(f"Workflow instance {iid} not found")
        return doc

    def find(self, inc_id: Ref | None = None, status: str | None = None) -> list[Doc]:
        with self.lock:
            out = []
            for doc in sorted(self.store.values("workflow_instance"), key=lambda d: d["workflow_instance_id"]):
                if inc_id is not None and doc.get("incident_id") != int(inc_id):
                    continue
                if status and doc["status"] != status:
                    continue
                out.append(copy.deepcopy(doc))
            return out

    def update(self, iid: int, **changes: Any) -> None:
        with self.lock:
            doc = self.store.get("workflow_instance", iid)
            if doc is None:
                return
            doc.update(changes)
            self.store.put("workflow_instance", iid, doc)

    def append(self, iid: int, key: str, item: Any) -> int:
        """Append to one of the instance's lists; the index of the new item (-1: no such instance)."""
        with self.lock:
            doc = self.store.get("workflow_instance", iid)
            if doc is None:
                return -1
            doc[key].append(item)
            self.store.put("workflow_instance", iid, doc)
            return len(doc[key]) - 1

    def update_call(self, iid: int, index: int, **changes: Any) -> None:
        """Change one entry of the instance's ``function_calls``."""
        with self.lock:
            doc = self.store.get("workflow_instance", iid)
            if doc is not None:
                doc["function_calls"][index].update(changes)
                self.store.put("workflow_instance", iid, doc)

    def recover(self) -> None:
        for doc in list(self.store.values("workflow_instance")):
            if doc["status"] == "running":
                doc = copy.deepcopy(doc)
                doc.update(status="terminated", end_date=now_ms(),
                           terminate_reason="the SOAR emulator restarted while this instance was running")
                self.store.put("workflow_instance", doc["workflow_instance_id"], doc)
