"""services.scheduler against the in-process SOAR emulator: the SOC's rules run on the control incident
through action_invocations, and a SOAR outage is retried a minute later."""

from __future__ import annotations

import resilient

from fn_pp_tap_functions.services.scheduler import INGEST_RULE, SYNC_RULE, Job, Scheduler
from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.soar.control import find_control


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def workflows(soar, incident_id: int) -> list[str]:
    return sorted(i["workflow"]["programmatic_name"] for i in soar.client().workflow_instances(incident_id))


def test_the_scheduler_runs_each_rule_on_the_control_incident_it_creates(soar, cases):
    clock = Clock()
    scheduler = Scheduler(lambda: SoarCases(resilient.get_client(soar.app_opts())),
                          [Job(INGEST_RULE, 300), Job(SYNC_RULE, 1800)], initial_delay_s=0, clock=clock)
    clock.t += 31  # past the largest start jitter
    scheduler.run_due()
    control = find_control(cases)
    assert control is not None and scheduler.invocations == 2
    assert workflows(soar, control["id"]) == ["wf_pp_tap_ingest_events", "wf_pp_tap_sync_threat_status"]
    clock.t += 301
    scheduler.run_due()
    assert scheduler.invocations == 3  # ingestion again; the sweep is not due yet


def test_a_soar_outage_is_retried_a_minute_later(soar, cases):
    clock = Clock()
    scheduler = Scheduler(lambda: SoarCases(resilient.get_client(soar.app_opts())), [Job(INGEST_RULE, 3600)],
                          initial_delay_s=0, clock=clock)
    soar.add_fault("GET", r"/actions$", status=503, times=1)
    clock.t += 31
    scheduler.run_due()
    assert scheduler.invocations == 0
    clock.t += 59
    scheduler.run_due()
    assert scheduler.invocations == 0
    clock.t += 2
    scheduler.run_due()
    assert scheduler.invocations == 1
