"""A call the app's API key has no permission for: SOAR answers 403 "Forbidden" without naming the
permission, so the app names it, in the error a workflow shows and in the log, with where to grant it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pytest
import resilient
from test_scheduler import Clock

from fn_pp_tap_functions.errors import SoarRequestError
from fn_pp_tap_functions.services.scheduler import INGEST_RULE, Job, Scheduler
from fn_pp_tap_functions.soar.cases import SoarCases
from sim.soar import permissions


@pytest.fixture
def without(soar) -> Iterator[Callable[..., None]]:
    """``without(*names)``: the app's key lacks these permissions for this test."""
    granted = soar.soar.org.app_permissions

    def take(*names: str) -> None:
        soar.soar.org.app_permissions = granted - set(names)
    yield take
    soar.soar.org.app_permissions = granted


def test_the_permission_file_grants_what_the_app_needs_and_no_administrator(soar):
    granted = soar.soar.org.app_permissions
    assert permissions.ADMINISTRATOR not in granted and "edit_data" not in granted
    assert {"read_users", "read_group", "run_all_invocations", "create_incident"} <= granted


def test_a_refused_call_names_the_missing_permission_and_where_to_grant_it(soar, cases, without, caplog):
    without("read_group")
    with caplog.at_level(logging.ERROR), pytest.raises(SoarRequestError) as err:
        cases.principals()
    message = str(err.value)
    assert err.value.status == 403 and "list groups (HTTP 403 Forbidden)" in message
    assert "lacks the permission 'read_group'" in message
    assert "apikey_permissions.txt" in message and "Administrator Settings > Users > API Keys" in message
    assert message in caplog.text
    assert soar.refusals()[-1]["missing"] == ["read_group"]


def test_a_refused_close_names_the_status_permission(soar, cases, control, without):
    incident = cases.create_incident({"name": "to close", "discovered_date": 0})
    without("edit_all_incidents_status")
    with pytest.raises(SoarRequestError, match="'edit_all_incidents_status'"):
        cases.patch_incident(incident, {"plan_status": "C", "resolution_id": "Not an Issue",
                                        "resolution_summary": "false positive"})


def test_the_scheduler_logs_a_missing_permission_as_an_error_not_as_soar_not_ready(soar, cases, control, without,
                                                                                   caplog):
    without("run_all_invocations", "edit_data")
    clock = Clock()
    scheduler = Scheduler(lambda: SoarCases(resilient.get_client(soar.app_opts())), [Job(INGEST_RULE, 3600)],
                          initial_delay_s=0, clock=clock)
    clock.t += 31
    with caplog.at_level(logging.WARNING):
        scheduler.run_due()
    assert scheduler.invocations == 0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "scheduler" in r.getMessage()]
    assert errors and "'run_all_invocations'" in errors[0].getMessage()
    assert "not ready" not in errors[0].getMessage()
