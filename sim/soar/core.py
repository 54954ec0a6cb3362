"""The emulated SOAR org behind one facade, :class:`Soar`. Transport-free: the REST layer, the UI and the
test harness call into it, and it answers data or raises :class:`~sim.soar.errors.SoarError`.

In the manner of moto's per-resource backends behind one facade, the org is held by parts that each
know one kind of document, and one part that acts on them:

* ``org`` (:mod:`sim.soar.org`): the org, its API key, users and groups;
* ``registry`` (:mod:`sim.soar.registry`): fields, types, functions, destinations, rules, workflows,
  scripts — what imports register;
* ``incidents`` (:mod:`sim.soar.incidents`) and ``notes``, ``artifacts``, ``attachments``, ``rows``
  (:mod:`sim.soar.children`): the documents of incidents;
* ``automation`` (:mod:`sim.soar.automation`): rules, workflow instances, the effects of scripts;
* ``layouts`` (:mod:`sim.soar.layouts`): the UI layouts (the incident page's tabs, the summary panel).

The document parts never fire a rule. A write here is a document write, then the changes it answers
with handed to automation, which queues the automatic rules (evaluated after the REST call has answered,
as in SOAR) and runs what they start. Reads of the registry and the org go to those parts directly; they
have no side effects.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from sim.soar import builtins
from sim.soar.automation import Automation
from sim.soar.automation.functions import Invoker
from sim.soar.children import Artifacts, Attachments, Notes, Rows
from sim.soar.documents import Doc, Ref
from sim.soar.errors import SoarError, bad_request
from sim.soar.incidents import Incidents
from sim.soar.layouts import Layouts
from sim.soar.org import Org
from sim.soar.registry import Registry
from sim.soar.store import Store


class Soar:
    """One org of an emulated SOAR server."""

    def __init__(self, store: Store, *, org_name: str = builtins.DEFAULT_ORG_NAME, principals: dict | None = None,
                 api_key_id: str | None = None, api_key_secret: str | None = None,
                 app_permissions: Iterable[str] | str | None = None, workers: int = 16) -> None:
        self.store = store
        self.lock = threading.RLock()
        self.org = Org(store, org_name=org_name, principals=principals, api_key_id=api_key_id,
                       api_key_secret=api_key_secret, app_permissions=app_permissions)
        self.registry = Registry(store, self.lock, self.org)
        self.notes = Notes(store, self.lock, self.org, self.registry)
        self.artifacts = Artifacts(store, self.lock, self.org, self.registry)
        self.attachments = Attachments(store, self.lock, self.org, self.registry)
        self.rows = Rows(store, self.lock, self.org, self.registry)
        self.incidents = Incidents(store, self.lock, self.org, self.registry, self.notes, self.artifacts)
        self.layouts = Layouts(store, self.lock, self.registry)
        self.automation = Automation(store=store, lock=self.lock, org=self.org, registry=self.registry,
                                     incidents=self.incidents, artifacts=self.artifacts, rows=self.rows,
                                     workers=workers)

    def connect(self, dispatcher: Invoker | None, function_timeout: float = 600.0) -> None:
        """Functions are invoked through ``dispatcher`` (the server sets it once the broker runs)."""
        self.automation.calls.dispatcher = dispatcher
        self.automation.calls.timeout = function_timeout

    def close(self) -> None:
        self.automation.close()

    # -- incidents ---------------------------------------------------------------------------------
    def get_incident(self, inc_id: Ref, names: bool = False) -> Doc:
        return self.incidents.get(inc_id, names)

    def list_incidents(self, names: bool = False) -> list[Doc]:
        return self.incidents.summaries(names)

    def query_incidents(self, body: Any, names: bool = False, level: str = "normal",
                        paged: bool = True) -> Doc | list[Doc]:
        return self.incidents.query(body, names, level, paged)

    def create_incident(self, body: Any, names: bool = False) -> Doc:
        result, changes = self.incidents.create(body, names)
        self.automation.on_change(changes)
        return result

    def update_incident_put(self, inc_id: Ref, body: Any, names: bool = False) -> Doc:
        result, change = self.incidents.replace(inc_id, body, names)
        self.automation.on_change([change])
        return result

    def patch_incident(self, inc_id: Ref, body: Any, names: bool = False) -> Doc:
        status, change = self.incidents.patch(inc_id, body, names)
        self.automation.on_change([change])
        return status

    def bulk_patch(self, body: Any, names: bool = False) -> Doc:
        """``PUT /incidents/patch``: answers ``{"<id>": PatchStatusDTO}`` for the patches that failed
        (inferred from resilient-lib calling the answer a "dictionary of failures")."""
        patches = body.get("patches") if isinstance(body, dict) else None
        if not isinstance(patches, dict):
            raise bad_request("A bulk patch needs 'patches': {incident id: patch}")
        failures = {}
        for inc_id, patch in patches.items():
            try:
                status = self.patch_incident(inc_id, patch, names)
            except SoarError as err:
                status = {"success": False, "title": None, "message": err.message, "hints": [],
                          "field_failures": []}
            if not status["success"]:
                failures[str(inc_id)] = status
        return failures

    def delete_incident(self, inc_id: Ref) -> None:
        self.incidents.delete(inc_id)

    # -- notes, artifacts, attachments, rows ---------------------------------------------------------
    def _inc_id(self, inc_id: Ref) -> int:
        return int(self.incidents.doc(inc_id)["id"])

    def list_notes(self, inc_id: Ref) -> list[Doc]:
        with self.lock:
            return self.notes.of(self._inc_id(inc_id))

    def add_note(self, inc_id: Ref, body: Any) -> Doc:
        with self.lock:
            return self.notes.add(self._inc_id(inc_id), body)

    def list_artifacts(self, inc_id: Ref, names: bool = False) -> list[Doc]:
        with self.lock:
            return self.artifacts.of(self._inc_id(inc_id), names)

    def get_artifact(self, inc_id: Ref, art_id: Ref, names: bool = False) -> Doc:
        with self.lock:
            return self.artifacts.get(self._inc_id(inc_id), art_id, names)

    def add_artifact(self, inc_id: Ref, body: Any, names: bool = False) -> list[Doc]:
        """``POST /incidents/{id}/artifacts`` answers a list of the created artifacts, as SOAR does."""
        with self.lock:
            result, change = self.artifacts.add(self._inc_id(inc_id), body, names)
        self.automation.on_change([change])
        return result

    def update_artifact(self, inc_id: Ref, art_id: Ref, body: Any, names: bool = False) -> Doc:
        with self.lock:
            result, change = self.artifacts.update(self._inc_id(inc_id), art_id, body, names)
        self.automation.on_change([change])
        return result

    def list_attachments(self, inc_id: Ref) -> list[Doc]:
        with self.lock:
            return self.attachments.of(self.incidents.doc(inc_id))

    def get_attachment(self, inc_id: Ref, att_id: Ref) -> Doc:
        with self.lock:
            return self.attachments.get(self.incidents.doc(inc_id), att_id)

    def attachment_contents(self, inc_id: Ref, att_id: Ref) -> tuple[str, bytes]:
        with self.lock:
            return self.attachments.contents(self.incidents.doc(inc_id), att_id)

    def add_attachment(self, inc_id: Ref, filename: str, content_type: str, data: bytes) -> Doc:
        with self.lock:
            return self.attachments.add(self.incidents.doc(inc_id), filename, content_type, data)

    def table_data(self, inc_id: Ref, table_name: str, names: bool = False) -> Doc:
        with self.lock:
            return self.rows.table_data(self._inc_id(inc_id), table_name, names)

    def get_row(self, inc_id: Ref, table_name: str, row_id: Ref, names: bool = False) -> Doc:
        with self.lock:
            return self.rows.get(self._inc_id(inc_id), table_name, row_id, names)

    def add_row(self, inc_id: Ref, table_name: str, body: Any, names: bool = False) -> Doc:
        with self.lock:
            return self.rows.add(self._inc_id(inc_id), table_name, body, names)

    def update_row(self, inc_id: Ref, table_name: str, row_id: Ref, body: Any, names: bool = False) -> Doc:
        with self.lock:
            return self.rows.update(self._inc_id(inc_id), table_name, row_id, body, names)

    def delete_row(self, inc_id: Ref, table_name: str, row_id: Ref) -> None:
        with self.lock:
            self.rows.delete(self._inc_id(inc_id), table_name, row_id)

    # -- automation --------------------------------------------------------------------------------
    def invoke_action(self, inc_id: Ref, action_id: Ref, properties: Any, artifact_id: Ref | None = None) -> None:
        """``POST .../action_invocations``: run a manual rule on an incident or artifact."""
        self.automation.invoke_action(inc_id, action_id, properties, artifact_id)

    def invoke_function(self, name: str, inputs: dict[str, Any], *, incident_id: int | None = None,
                        timeout: float | None = None) -> Any:
        """Invoke a function directly (not possible on a real SOAR, where a workflow or playbook does it):
        returns the result envelope or raises ``FunctionFailed``."""
        context = {"incident_id": incident_id, "artifact_id": None, "workflow_instance_id": None,
                   "workflow": None}
        return self.automation.calls.call(name, inputs, context, timeout=timeout)

    def list_instances(self, inc_id: Ref | None = None, status: str | None = None) -> list[Doc]:
        return self.automation.instances.find(inc_id, status)

    def get_instance(self, iid: Ref) -> Doc:
        return self.automation.instances.get(iid)
