"""End-to-end tests: after each test, the app was never refused a call for a missing permission (its API
key holds exactly apikey_permissions.txt; SOAR would have answered those calls 403)."""

from __future__ import annotations

import pytest
import resilient
from e2e_helpers import AUTOMATIONS

from fn_pp_tap_functions.soar.cases import SoarCases
from sim.stack import Stack


@pytest.fixture(params=AUTOMATIONS)
def automation(request):
    """Each test that asks for it runs twice: with the rules and workflows, then with the playbooks."""
    return request.param


@pytest.fixture(scope="module")
def running():
    """One stack per module (a runtime start is the slow part); modules with a scenario define their own."""
    with Stack() as started:
        yield started


@pytest.fixture
def stack(running, automation):
    """The running stack with the workflows or the playbooks switched on."""
    running.use_automation(automation)
    return running


@pytest.fixture
def cases(stack):
    """The app's SOAR access to the stack's emulator: a real resilient client with the app's API key."""
    return SoarCases(resilient.get_client(stack.emulator.app_opts()))


@pytest.fixture(autouse=True)
def _no_permission_refusals(request):
    yield
    stack = request.node.funcargs.get("stack")
    emulator = getattr(stack, "emulator", None)
    if emulator is None:
        return
    refused = [r for r in emulator.refusals() if r["key"] == emulator.soar.org.api_key["name"]]
    assert not refused, f"the app's API key was refused: {refused}"
