"""A small built-in scheduler: it runs the SOC's own rules on the control incident at intervals.

It does not ingest anything itself. It invokes the menu-item rule "Proofpoint TAP: Ingest events"
(and later other scheduled rules) on the ingestion control incident through SOAR's
`action_invocations`, exactly as an analyst's click would, so the SOC's decisions in the rule's
workflow still apply. With several app instances each one schedules; the ingestion lease makes sure
only one run works at a time and the others end at once as "busy".

The SOC runs either the rules and their workflows or the playbooks (README, "Playbooks"): each job runs the
rule when it is enabled, else the playbook of the same name (the menu item's label) when that is enabled, so
the scheduler follows the set the SOC switched on. When both are on it runs the rule only and says so (the
other set would ingest and close a second time); when neither is, it says that.

It is on by default (`ingest_interval_minutes` 5, `sync_interval_minutes` 60); 0 turns a job off, e.g. when
IBM's Scheduler app runs the rules on the control incident instead (see README).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fn_pp_tap_functions.errors import TapAppError
from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.soar.control import ControlSetup, ensure_control, utcnow

LOG = logging.getLogger(__name__)
INGEST_RULE = "Proofpoint TAP: Ingest events"
SYNC_RULE = "Proofpoint TAP: Sync threat status"


@dataclass(frozen=True)
class Job:
    rule: str
    interval_s: float


class Scheduler:
    """Runs each job's rule on the control incident every `interval_s`, first after `initial_delay_s`."""

    def __init__(self, cases_factory: Callable[[], SoarCases], jobs: list[Job], *, initial_delay_s: float = 20.0,
                 clock: Callable[[], float] = time.monotonic, setup: ControlSetup | None = None) -> None:
        self.cases_factory = cases_factory
        self.setup = setup
        self.jobs = jobs
        self.clock = clock
        start = clock() + initial_delay_s
        # a little jitter so that several app instances do not all knock at the same second
        self.due = {job.rule: start + random.uniform(0, min(30.0, job.interval_s / 10)) for job in jobs}
        self.stop_event = threading.Event()
        self.invocations = 0

    def run_due(self) -> None:
        now = self.clock()
        due = [job for job in self.jobs if self.due[job.rule] <= now]
        if not due:
            return
        try:
            cases = self.cases_factory()
            control = ensure_control(cases, now=utcnow(), setup=self.setup)
            rules, playbooks = cases.rules(), cases.playbooks()
        except TapAppError as err:
            if getattr(err, "status", None) == 403:  # a missing permission: say so, not "not ready"
                LOG.error("Proofpoint TAP scheduler: %s Trying again in a minute.", err)
            else:
                LOG.warning("Proofpoint TAP scheduler: SOAR not ready (%s); trying again in a minute", err)
            for job in due:
                self.due[job.rule] = now + 60
            return
        for job in due:
            self.due[job.rule] = now + job.interval_s
            target = active_target(job.rule, rules, playbooks)
            if isinstance(target, str):
                LOG.error("Proofpoint TAP scheduler: %s", target)
                continue
            kind, target_id, warning = target
            if warning:
                LOG.warning("Proofpoint TAP scheduler: %s", warning)
            try:
                cases.invoke_rule(int(control["id"]), target_id, playbook=kind == "playbook")
                self.invocations += 1
                LOG.info("Proofpoint TAP scheduler: started %s %r on incident %s", kind, job.rule, control["id"])
            except TapAppError as err:
                log = LOG.error if getattr(err, "status", None) == 403 else LOG.warning
                log("Proofpoint TAP scheduler: could not start %r: %s", job.rule, err)

    def run_forever(self) -> None:
        while not self.stop_event.wait(1.0):
            try:
                self.run_due()
            except Exception:  # a scheduler must outlive any one failure
                LOG.exception("Proofpoint TAP scheduler: unexpected error")

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="pp-tap-scheduler", daemon=True)
        thread.start()
        return thread


def active_target(name: str, rules: dict[str, dict[str, Any]],
                  playbooks: dict[str, dict[str, Any]]) -> tuple[str, int, str] | str:
    """What runs job ``name``: ``(kind, id, warning)`` with kind "rule" or "playbook", or why nothing runs."""
    rule, playbook = rules.get(name), playbooks.get(name)
    rule_on = rule is not None and rule.get("enabled") is not False
    playbook_on = playbook is not None and playbook.get("status") == "enabled"
    if rule_on and playbook_on:
        assert rule is not None
        return ("rule", int(rule["id"]), f"both the rule and the playbook {name!r} are enabled: running the rule "
                "only. Disable one set (README, \"Playbooks\"): both would ingest and close twice.")
    if rule_on:
        assert rule is not None
        return ("rule", int(rule["id"]), "")
    if playbook_on:
        assert playbook is not None
        return ("playbook", int(playbook["id"]), "")
    if rule is None and playbook is None:
        return f"rule {name!r} not found; run `resilient-circuits customize`"
    return (f"neither the rule nor the playbook {name!r} is enabled: nothing runs. Enable the set the SOC uses "
            "(README, \"Playbooks\").")
