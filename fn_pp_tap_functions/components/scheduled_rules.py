"""Not a function: starts the built-in scheduler (see services/scheduler.py), on unless app.config turns it off.

It is a component so that resilient-circuits starts it with the app and gives it the app's SOAR client.
"""

import logging

from resilient_circuits import ResilientComponent

from fn_pp_tap_functions.services.scheduler import INGEST_RULE, SYNC_RULE, Job, Scheduler
from fn_pp_tap_functions.settings import DEFAULT_INTERVALS, SECTION, control_owner, interval_minutes
from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.soar.control import ControlSetup

LOG = logging.getLogger(__name__)


class FunctionComponent(ResilientComponent):
    """Schedules "Proofpoint TAP: Ingest events" every `ingest_interval_minutes` (default 5) and "Proofpoint
    TAP: Sync threat status" every `sync_interval_minutes` (default 60); 0 turns a job off, e.g. when IBM's
    Scheduler app runs the rules instead."""

    def __init__(self, opts):
        super().__init__(opts)
        jobs = []
        for rule, key in ((INGEST_RULE, "ingest_interval_minutes"), (SYNC_RULE, "sync_interval_minutes")):
            minutes = interval_minutes(opts, key, default=DEFAULT_INTERVALS[key])
            if minutes:
                jobs.append(Job(rule, minutes * 60))
        self.scheduler = None
        if jobs:
            delay = interval_minutes(opts, "scheduler_initial_delay_seconds", low=0) or 20.0
            self.scheduler = Scheduler(lambda: SoarCases(self.rest_client()), jobs, initial_delay_s=delay,
                                       setup=ControlSetup(owner=control_owner(opts)))
            self.scheduler.start()
            LOG.info("Proofpoint TAP scheduler: %s", ", ".join(f"{j.rule} every {j.interval_s / 60:g} min"
                                                               for j in jobs))
        else:
            LOG.info("Proofpoint TAP scheduler: off (ingest_interval_minutes and sync_interval_minutes are 0 in [%s])",
                     SECTION)
