"""Playbooks at run time: which ones a change activates, a manual playbook run from a menu, and one run.

As SOAR documents playbooks (IBM, QRadar SOAR 51 "Playbooks", "Enabling a playbook") and as the emulator runs
rules (:mod:`sim.soar.automation.rules`, whose queue and pool run these too):

* Only an *enabled* playbook acts: a draft or disabled one is never activated, and invoking it is refused
  (400), as a disabled rule's menu item is.
* Automatic (``activation_details``): evaluated with the automatic rules, after the REST call that changed
  the object has answered, with the rule engine's conditions (``object_added`` on creation, ``changed``...);
  a change a playbook's script makes activates playbooks (and rules) again, and the cascade is cut at the
  rules' depth, recorded as a terminated playbook instance.
* Manual (``manual_settings``): ``POST .../action_invocations`` with ``"type_id_handle": {"name":
  "playbookfields"}`` and the playbook's id as ``action_id`` (IBM's Scheduler app runs playbooks so), on the
  playbook's object type and only where its activation conditions hold (else 400, nothing started, as for a
  rule); ``properties`` are the activation form's fields (``fields_type.fields``): an unknown one is refused,
  one the form requires must be given, and the script reads them as ``playbook.inputs``.
* A run is a playbook instance (:class:`~sim.soar.automation.instances.PlaybookInstances`), created before
  it starts and ended completed or terminated with the reason, as a workflow instance is.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sim.soar.automation.host import CoreHost
from sim.soar.automation.instances import PlaybookInstances
from sim.soar.catalog import is_empty, to_internal, to_output
from sim.soar.documents import Doc, public
from sim.soar.engine import WorkflowOutcome, rule_matches, run_playbook
from sim.soar.errors import SoarError, bad_request, not_found
from sim.soar.org import Org
from sim.soar.playbook_import import activation_rule
from sim.soar.registry import Registry

LOG = logging.getLogger("sim.soar")


class PlaybookRuns:
    """Activation and runs of the org's playbooks (the caller schedules the runs, with their cascade depth)."""

    def __init__(self, *, lock: threading.RLock, org: Org, registry: Registry, host: CoreHost,
                 instances: PlaybookInstances) -> None:
        self.lock = lock
        self.org = org
        self.registry = registry
        self.host = host
        self.instances = instances

    # -- activation ---------------------------------------------------------------------------------
    def activated(self, object_type: str, inc_id: int, artifact_id: int | None, new_obj: Doc, old_obj: Doc | None,
                  incident: Doc, cut: str | None) -> list[int]:
        """Instances of the enabled automatic playbooks this change activates, created ``running`` (or, with
        ``cut``, terminated with that reason): their ids, to run."""
        started = []
        for pb in self.registry.automatic_playbooks(object_type):
            try:
                hit = rule_matches(activation_rule(pb), object_type, new_obj, old_obj, incident)
            except Exception as exc:  # a broken condition must not break the REST write
                LOG.error("playbook '%s' activation failed: %s", pb["name"], exc)
                self.instances.new_run(pb, "automatic", object_type, inc_id, artifact_id, {}, "terminated",
                                       f"activation condition failed: {exc}")
                continue
            if not hit:
                continue
            if cut is not None:
                self.instances.new_run(pb, "automatic", object_type, inc_id, artifact_id, {}, "terminated", cut)
                continue
            started.append(self.instances.new_run(pb, "automatic", object_type, inc_id, artifact_id, {}))
        return started

    def invoke(self, inc_id: int, playbook_ref: Any, properties: Any, artifact_id: int | None) -> int:
        """A manual playbook from a menu (see the module docstring): the new instance's id, to run."""
        pb = self.registry.playbook(playbook_ref)
        if pb is None:
            raise not_found(f"Playbook {playbook_ref} not found")
        object_type = "artifact" if artifact_id is not None else "incident"
        label = pb.get("display_name") or pb["name"]
        if pb.get("status") != "enabled":
            raise bad_request(f"Playbook '{label}' is {pb.get('status')}: only an enabled playbook runs")
        if pb.get("activation_type") != "manual":
            raise bad_request(f"Playbook '{label}' is automatic: it cannot be run from a menu")
        if pb.get("object_type") != object_type:
            raise bad_request(f"Playbook '{label}' applies to {pb.get('object_type')} objects, not to {object_type} "
                              f"objects")
        incident = self.host.get_incident(inc_id)
        obj = incident if artifact_id is None else self.host.get_artifact(inc_id, artifact_id)
        if not rule_matches(activation_rule(pb), object_type, obj, None, incident):
            raise bad_request(f"Playbook '{label}' is not applicable to this {object_type}: its activation "
                              f"conditions are not met", error_code="actionNotApplicable")
        inputs = self._inputs(pb, label, properties or {})
        return self.instances.new_run(pb, "manual", object_type, inc_id, artifact_id, inputs)

    def _inputs(self, pb: Doc, label: str, properties: Any) -> Doc:
        if not isinstance(properties, dict):
            raise bad_request("'properties' must be an object")
        form = (pb.get("fields_type") or {}).get("fields") or {}
        principals = self.org.principals
        out = {}
        for name, value in properties.items():
            fd = form.get(name)
            if fd is None:
                raise bad_request(f"'{name}' is not an input of playbook '{label}'", error_code="unknownField")
            out[name] = to_output(fd, to_internal(fd, value, f"properties.{name}", principals), True, principals)
        for name, fd in form.items():
            if fd.get("required") == "always" and is_empty(out.get(name)):
                raise bad_request(f"Input '{fd.get('text', name)}' ({name}) is required by playbook '{label}'",
                                  error_code="requiredField")
            out.setdefault(name, None)
        return out

    # -- one run ------------------------------------------------------------------------------------
    def execute(self, iid: int) -> None:
        inst = self.instances.get(iid)

        def run() -> WorkflowOutcome:
            pb = self.registry.playbook(inst["playbook"]["name"])
            if pb is None:
                raise SoarError(404, f"playbook '{inst['playbook']['name']}' no longer exists")
            ctx = {"object_type": inst["object"]["object_type"], "incident_id": inst["incident_id"],
                   "artifact_id": inst["artifact_id"], "rule_properties": {}, "playbook_instance_id": iid,
                   "playbook": public(pb), "workflow": None, "workflow_instance_id": None,
                   "principal": self.org.api_principal}
            return run_playbook(self.registry.playbook_model(pb), self.host, ctx, playbook=pb,
                                inputs=inst.get("inputs") or {})
        self.instances.finish(iid, run)

