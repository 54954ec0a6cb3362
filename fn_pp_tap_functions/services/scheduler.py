"""A small built-in scheduler: it runs the SOC's own rules on the control incident at intervals.

It does not ingest anything itself. It invokes the menu-item rule "Proofpoint TAP: Ingest events"
(and later other scheduled rules) on the ingestion control incident through SOAR's
`action_invocations`, exactly as an analyst's click would, so the SOC's decisions in the rule's
workflow still apply. With several app instances each one schedules; the ingestion lease makes sure
only one run works at a time and the others end at once as "busy".

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
            rules = cases.rule_ids()
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
            rule_id = rules.get(job.rule)
            if rule_id is None:
                LOG.error("Proofpoint TAP scheduler: rule %r not found; run `resilient-circuits customize`",
                          job.rule)
                continue
            try:
                cases.invoke_rule(int(control["id"]), rule_id)
                self.invocations += 1
                LOG.info("Proofpoint TAP scheduler: started %r on incident %s", job.rule, control["id"])
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
