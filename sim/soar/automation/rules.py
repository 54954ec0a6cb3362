"""Automation: which rules and playbooks a change fires, and running what they start (workflows, playbooks,
script and field automations, message-destination actions).

* Automatic rules are queued, not run, by the write that fires them: SOAR evaluates them after the REST
  call that made the change has answered (IBM: rules and workflows run asynchronously; a client finds the
  workflow instance only later), so :meth:`on_change` made inside a REST call keeps the changes until the
  response is written (:meth:`deferring`, :meth:`release`), then one worker evaluates them in order;
  what the rules start runs in a thread pool, as do manual rules' workflows. A client must not expect a
  workflow instance, a field a rule sets or a note a script adds when its call returns.
* A change made by a script may trigger automatic rules again (as in SOAR); the cascade is cut at a
  depth of 10 and the cut is recorded as a terminated workflow instance, never silently.
* A manual rule (menu item) runs only on the object type it is for, when enabled and when its
  conditions hold for the object (else 400, nothing started); its activity fields are checked
  against the rule's ``view_items``.
* Playbooks are activated and run alongside (:mod:`sim.soar.automation.playbooks`): automatic ones in the
  same evaluation of a change, after the rules, manual ones by the same ``action_invocations`` with
  ``type_id_handle`` ``playbookfields``; they share the pool and the cascade depth.

The document parts never call in here: the facade hands every write's changes to :meth:`on_change`,
and this part writes a script's effects through the :class:`~sim.soar.automation.effects.EffectWriter`
before running the rules those fire.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from sim.soar.automation.effects import EffectWriter
from sim.soar.automation.functions import FunctionCalls
from sim.soar.automation.host import CoreHost
from sim.soar.automation.instances import PlaybookInstances, WorkflowInstances
from sim.soar.automation.playbooks import PlaybookRuns
from sim.soar.catalog import is_empty, to_internal, to_output
from sim.soar.children import Artifacts, Rows
from sim.soar.documents import Change, Doc, Ref, public
from sim.soar.engine import (
    Effect,
    EffectError,
    ScriptFailed,
    SetField,
    WorkflowOutcome,
    rule_matches,
    run_script,
    run_workflow,
)
from sim.soar.errors import SoarError, bad_request, not_found
from sim.soar.incidents import Incidents
from sim.soar.org import Org
from sim.soar.registry import Registry
from sim.soar.store import Store

LOG = logging.getLogger("sim.soar")

MAX_RULE_DEPTH = 10
_local = threading.local()


class Automation:
    """Rules, the workflow instances they start, and the effects of their scripts."""

    def __init__(self, *, store: Store, lock: threading.RLock, org: Org, registry: Registry, incidents: Incidents,
                 artifacts: Artifacts, rows: Rows, workers: int = 16) -> None:
        self.lock = lock
        self.org = org
        self.registry = registry
        self.incidents = incidents
        self.artifacts = artifacts
        self.instances = WorkflowInstances(store, lock)
        self.instances.recover()
        self.playbook_instances = PlaybookInstances(store, lock)
        self.playbook_instances.recover()
        self.calls = FunctionCalls(registry, self.instances, org, self.playbook_instances)
        self.writer = EffectWriter(incidents, rows)
        self.host = CoreHost(incidents=incidents, artifacts=artifacts, rows=rows, registry=registry,
                             instances=self.instances, playbook_instances=self.playbook_instances,
                             calls=self.calls, write_effects=self.apply_effects)
        self.playbooks = PlaybookRuns(lock=lock, org=org, registry=registry, host=self.host,
                                      instances=self.playbook_instances)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="soar-run")
        self.rule_queue = ThreadPoolExecutor(max_workers=1, thread_name_prefix="soar-rules")
        self._held = 0  # changes of REST calls kept until their response is written
        self._held_lock = threading.Condition()

    def close(self) -> None:
        self.rule_queue.shutdown(wait=False, cancel_futures=True)
        self.executor.shutdown(wait=False, cancel_futures=True)

    # -- changes ----------------------------------------------------------------------------------
    def on_change(self, changes: Iterable[Change | None]) -> None:
        """Queue the evaluation of automatic rules for each created/changed object (inside a REST call:
        once its response is written)."""
        kept = [c for c in changes if c is not None]
        if not kept:
            return
        deferred = getattr(_local, "deferred", None)
        if deferred is not None:
            deferred.extend(kept)
            return
        self._queue(kept, getattr(_local, "depth", 0))

    @contextmanager
    def deferring(self) -> Iterator[list[Change]]:
        """Keep the changes made in this block (a REST call) for :meth:`release`."""
        held: list[Change] = []
        _local.deferred = held
        with self._held_lock:
            self._held += 1
        try:
            yield held
        finally:
            _local.deferred = None

    def release(self, held: list[Change]) -> None:
        """Queue what a REST call changed, now that its response is written."""
        try:
            if held:
                self._queue(list(held), 0)
        finally:
            with self._held_lock:
                self._held -= 1
                self._held_lock.notify_all()

    def _queue(self, changes: list[Change], depth: int) -> None:
        def evaluate() -> None:
            _local.depth = depth
            try:
                for change in changes:
                    self._after_change(change)
            except Exception:  # one broken evaluation must not stop the queue
                LOG.exception("automatic rules: evaluation failed")
            finally:
                _local.depth = 0
        try:
            self.rule_queue.submit(evaluate)
        except RuntimeError:
            pass  # the emulator is stopping

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every change made so far has been evaluated (for tests that check a rule did not
        fire); what the rules started may still be running."""
        deadline = time.monotonic() + timeout
        with self._held_lock:
            while self._held and time.monotonic() < deadline:
                self._held_lock.wait(0.05)
        try:
            self.rule_queue.submit(lambda: None).result(max(0.0, deadline - time.monotonic()))
        except (RuntimeError, TimeoutError):
            return False
        return not self._held

    def apply_effects(self, effects: list[Effect], context: dict[str, Any]) -> None:
        """Apply a script's effects atomically (all or none), then run automatic rules on what changed."""
        self.on_change(self.writer.apply(effects))

    def _after_change(self, change: Change) -> None:
        object_type, inc_id, old, new = change.object_type, change.inc_id, change.old, change.new
        if old is not None and old == new:
            return
        rules = self.registry.automatic_rules(object_type)
        if not rules and not self.registry.automatic_playbooks(object_type):
            return  # no automatic rule or playbook can match: nothing to evaluate (and no object to render)
        depth = getattr(_local, "depth", 0)
        try:
            with self.lock:
                incident = self.incidents.engine_view(self.incidents.doc(inc_id))
        except SoarError:
            return
        artifact_id = None
        if object_type == "incident":
            new_obj = incident
            old_obj = None
            if old is not None:
                with self.lock:
                    old_obj = self.incidents.engine_view(old)
        else:
            with self.lock:
                new_obj = self.artifacts.render(new, names=True)
                old_obj = self.artifacts.render(old, names=True) if old is not None else None
            artifact_id = new["id"]
        for rule in rules:
            try:
                hit = rule_matches(public(rule), object_type, new_obj, old_obj, incident)
            except Exception as exc:  # a broken condition must not break the REST write
                LOG.error("rule '%s' condition failed: %s", rule["name"], exc)
                self.instances.rule_failed(rule, object_type, inc_id, artifact_id, f"condition failed: {exc}")
                continue
            if not hit:
                continue
            if depth >= MAX_RULE_DEPTH:
                self.instances.rule_failed(rule, object_type, inc_id, artifact_id,
                                           f"rule cascade deeper than {MAX_RULE_DEPTH}: not run")
                continue
            self._run_rule(rule, object_type, inc_id, artifact_id, {}, depth + 1)
        cut = f"rule cascade deeper than {MAX_RULE_DEPTH}: not run" if depth >= MAX_RULE_DEPTH else None
        for iid in self.playbooks.activated(object_type, inc_id, artifact_id, new_obj, old_obj, incident, cut):
            self._submit_playbook(iid, depth + 1)

    def _submit_playbook(self, iid: int, depth: int) -> None:
        def run() -> None:
            _local.depth = depth
            try:
                self.playbooks.execute(iid)
            finally:
                _local.depth = 0
        self.executor.submit(run)

    # -- manual rules and playbooks ----------------------------------------------------------------
    def invoke_action(self, inc_id: Ref, action_id: Ref, properties: Any, artifact_id: Ref | None = None,
                      playbook: bool = False) -> None:
        """``POST .../action_invocations``: run a manual rule (or, with ``playbook``, a manual playbook) on an
        incident or artifact."""
        if playbook:
            with self.lock:
                inc = self.incidents.doc(inc_id)
                art = self.artifacts.doc(inc["id"], artifact_id) if artifact_id is not None else None
            iid = self.playbooks.invoke(inc["id"], action_id, properties, art["id"] if art is not None else None)
            self._submit_playbook(iid, 1)
            return
        rule = self.registry.rule(action_id)
        if rule is None:
            raise not_found(f"Action {action_id} not found")
        object_type = "artifact" if artifact_id is not None else "incident"
        with self.lock:
            inc = self.incidents.doc(inc_id)
            art = self.artifacts.doc(inc["id"], artifact_id) if artifact_id is not None else None
        if rule.get("type") != 1:
            raise bad_request(f"Rule '{rule['name']}' is automatic: it cannot be invoked as a menu item")
        if not rule.get("enabled", True):
            raise bad_request(f"Rule '{rule['name']}' is disabled")
        if rule.get("object_type") != object_type:
            raise bad_request(f"Rule '{rule['name']}' applies to {rule.get('object_type')} objects, not to "
                              f"{object_type} objects")
        incident = self.host.get_incident(inc["id"])
        obj = incident if art is None else self.host.get_artifact(inc["id"], art["id"])
        if not rule_matches(public(rule), object_type, obj, None, incident):
            raise bad_request(f"Rule '{rule['name']}' is not applicable to this {object_type}: its conditions "
                              f"are not met", error_code="actionNotApplicable")
        props = self._activity_properties(rule, properties or {})
        self._run_rule(rule, object_type, inc["id"], art["id"] if art is not None else None, props, 1)

    def _activity_properties(self, rule: Doc, properties: Any) -> Doc:
        if not isinstance(properties, dict):
            raise bad_request("'properties' must be an object")
        allowed = self.registry.activity_fields(rule)
        principals = self.org.principals
        out = {}
        for name, value in properties.items():
            fd = allowed.get(name)
            if fd is None:
                raise bad_request(f"'{name}' is not an activity field of rule '{rule['name']}'",
                                  error_code="unknownField")
            internal = to_internal(fd, value, f"properties.{name}", principals)
            out[name] = to_output(fd, internal, True, principals)
        for name, fd in allowed.items():
            if fd.get("required") == "always" and is_empty(out.get(name)):
                raise bad_request(f"Activity field '{fd.get('text', name)}' ({name}) is required by rule "
                                  f"'{rule['name']}'", error_code="requiredField")
            out.setdefault(name, None)
        return out

    # -- running a rule ---------------------------------------------------------------------------
    def _run_rule(self, rule: Doc, object_type: str, inc_id: int, artifact_id: int | None, props: Doc,
                  depth: int) -> None:
        """Create the instances now, run the rule's automations and workflows in the pool."""
        instance_ids = []
        for wf_name in rule.get("workflows") or []:
            wf = self.registry.workflow(wf_name)
            if wf is None:
                self.instances.rule_failed(rule, object_type, inc_id, artifact_id,
                                           f"workflow '{wf_name}' no longer exists")
                continue
            instance_ids.append(self.instances.new(wf, rule, object_type, inc_id, artifact_id, props))
        automations = list(rule.get("automations") or [])
        dests = list(rule.get("message_destinations") or [])

        def run() -> None:
            _local.depth = depth
            try:
                if automations:
                    self._run_automations(rule, automations, object_type, inc_id, artifact_id, props)
                for dest in dests:
                    self._send_action_message(rule, dest, object_type, inc_id, artifact_id, props)
                for iid in instance_ids:
                    self._execute_instance(iid)
            finally:
                _local.depth = 0
        self.executor.submit(run)

    def _run_automations(self, rule: Doc, automations: list, object_type: str, inc_id: int,
                         artifact_id: int | None, props: Doc) -> None:
        for auto in automations:
            kind = auto.get("type")
            try:
                if kind == "modify_field":
                    field = auto.get("field")
                    path = field if self.registry.incident_field(field) and \
                        not self.registry.custom_incident_field(field) else f"properties.{field}"
                    self.apply_effects([SetField("incident", inc_id, path, auto.get("value"))],
                                       {"incident_id": inc_id})
                elif kind == "run_script":
                    self._run_rule_script(auto, object_type, inc_id, artifact_id, props)
                else:
                    LOG.warning("rule '%s': automation '%s' is not modelled by the emulator", rule["name"], kind)
            except (ScriptFailed, EffectError) as exc:
                self.instances.rule_failed(rule, object_type, inc_id, artifact_id,
                                           f"automation {kind} failed: {exc}")
            except Exception as exc:
                LOG.error("rule '%s' automation failed: %s\n%s", rule["name"], exc, traceback.format_exc())
                self.instances.rule_failed(rule, object_type, inc_id, artifact_id,
                                           f"automation {kind} failed: {exc}")

    def _run_rule_script(self, auto: Doc, object_type: str, inc_id: int, artifact_id: int | None,
                         props: Doc) -> None:
        script = self.registry.script_named(auto.get("scripts_to_run"))
        if script is None:
            raise ScriptFailed(f"script '{auto.get('scripts_to_run')}' not found")
        if script.get("language") != "python3":
            raise ScriptFailed(f"script '{script['name']}' is in {script.get('language')!r}: only "
                               f"python3 scripts are run by the emulator")
        ctx = {"object_type": object_type, "incident_id": inc_id, "artifact_id": artifact_id,
               "rule_properties": props, "principal": self.org.api_principal}
        outcome = run_script(script["script_text"], kind="rule", host=self.host, context=ctx,
                             rule_properties=props, object_type=object_type, name=script["name"])
        if outcome.effects:
            self.apply_effects(list(outcome.effects), ctx)

    def _send_action_message(self, rule: Doc, dest_name: str, object_type: str, inc_id: int,
                             artifact_id: int | None, props: Doc) -> None:
        dest = self.registry.destination(dest_name)
        dispatcher = self.calls.dispatcher
        if dest is None or dispatcher is None:
            return
        with self.lock:
            inc = self.incidents.doc(inc_id)
            message = {"action_id": rule["id"], "object_type": object_type, "properties": props,
                       "incident": self.incidents.render(inc), "user": None, "principal": self.org.api_principal}
            if artifact_id is not None:
                message["artifact"] = self.artifacts.render(self.artifacts.doc(inc["id"], artifact_id))
        dispatcher.send_action(dest["programmatic_name"], message)

    # -- workflow instances -----------------------------------------------------------------------
    def _execute_instance(self, iid: int) -> None:
        inst = self.instances.get(iid)

        def run() -> WorkflowOutcome:
            wf = self.registry.workflow(inst["workflow"]["programmatic_name"])
            if wf is None:
                raise SoarError(404, f"workflow '{inst['workflow']['programmatic_name']}' no longer exists")
            ctx = {"object_type": inst["object"]["object_type"], "incident_id": inst["incident_id"],
                   "artifact_id": inst["artifact_id"], "rule_properties": inst.get("rule_properties") or {},
                   "workflow_instance_id": iid, "workflow": public(wf), "principal": self.org.api_principal}
            return run_workflow(self.registry.workflow_model(wf), self.host, ctx)
        self.instances.finish(iid, run)

