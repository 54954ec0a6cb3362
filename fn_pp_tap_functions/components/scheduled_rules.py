"""Not a function: the app's start-up: says what an administrator must know (TLS verification of TAP off),
and starts the built-in scheduler when app.config sets an interval (see scheduler.py).

It is a component so that resilient-circuits starts it with the app and gives it the app's SOAR client.
"""

import logging

from resilient_circuits import ResilientComponent

from fn_pp_tap_functions.services.scheduler import INGEST_RULE, SYNC_RULE, Job, Scheduler
from fn_pp_tap_functions.settings import SECTION, interval_minutes, tls_warnings
from fn_pp_tap_functions.soar.cases import SoarCases

LOG = logging.getLogger(__name__)


class FunctionComponent(ResilientComponent):
    """Schedules "Proofpoint TAP: Ingest events" every `ingest_interval_minutes` and "Proofpoint TAP: Sync
    threat status" every `sync_interval_minutes` (0 or unset: off)."""

    def __init__(self, opts):
        super().__init__(opts)
        for warning in tls_warnings(opts):
            LOG.warning(warning)
        jobs = []
        minutes = interval_minutes(opts, "ingest_interval_minutes")
        if minutes:
            jobs.append(Job(INGEST_RULE, minutes * 60))
        minutes = interval_minutes(opts, "sync_interval_minutes")
        if minutes:
            jobs.append(Job(SYNC_RULE, minutes * 60))
        self.scheduler = None
        if jobs:
            delay = interval_minutes(opts, "scheduler_initial_delay_seconds", low=0) or 20.0
            self.scheduler = Scheduler(lambda: SoarCases(self.rest_client()), jobs, initial_delay_s=delay)
            self.scheduler.start()
            LOG.info("Proofpoint TAP scheduler: %s", ", ".join(f"{j.rule} every {j.interval_s / 60:g} min"
                                                               for j in jobs))
        else:
            LOG.info("Proofpoint TAP scheduler: off (set ingest_interval_minutes or sync_interval_minutes in [%s])",
                     SECTION)
