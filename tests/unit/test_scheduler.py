"""The built-in scheduler runs the SOC's rule on the control incident, on time, and survives SOAR outages."""

from __future__ import annotations

import pytest

from fn_pp_tap_functions.errors import SoarRequestError
from fn_pp_tap_functions.services import scheduler as sched
from fn_pp_tap_functions.services.scheduler import INGEST_RULE, Job, Scheduler


class FakeCases:
    def __init__(self, fail: bool = False):
        self.fail = fail
        self.invoked: list[tuple[int, int]] = []

    def rule_ids(self):
        if self.fail:
            raise SoarRequestError("SOAR down")
        return {INGEST_RULE: 7}

    def invoke_rule(self, incident_id, rule_id, properties=None):
        self.invoked.append((incident_id, rule_id))


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


@pytest.fixture
def control(monkeypatch):
    monkeypatch.setattr(sched, "ensure_control", lambda cases, now, setup=None: {"id": 42})


def test_runs_the_rule_on_the_control_incident_at_each_interval(control):
    clock, cases = Clock(), FakeCases()
    s = Scheduler(lambda: cases, [Job(INGEST_RULE, 300)], initial_delay_s=10, clock=clock)
    s.run_due()
    assert cases.invoked == []
    clock.t += 41  # initial delay plus the largest jitter
    s.run_due()
    assert cases.invoked == [(42, 7)]
    clock.t += 200
    s.run_due()
    assert len(cases.invoked) == 1
    clock.t += 101
    s.run_due()
    assert len(cases.invoked) == 2


def test_a_soar_outage_is_retried_a_minute_later(control):
    clock, cases = Clock(), FakeCases(fail=True)
    s = Scheduler(lambda: cases, [Job(INGEST_RULE, 3600)], initial_delay_s=0, clock=clock)
    clock.t += 400
    s.run_due()
    assert cases.invoked == []
    cases.fail = False
    clock.t += 61
    s.run_due()
    assert cases.invoked == [(42, 7)]


def test_a_missing_rule_is_logged_not_fatal(control, caplog):
    clock, cases = Clock(), FakeCases()
    s = Scheduler(lambda: cases, [Job("No such rule", 60)], initial_delay_s=0, clock=clock)
    clock.t += 10
    s.run_due()
    assert cases.invoked == [] and "customize" in caplog.text
