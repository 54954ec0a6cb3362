"""End-to-end tests: after each test, the app was never refused a call for a missing permission (its API
key holds exactly apikey_permissions.txt; SOAR would have answered those calls 403)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_permission_refusals(request):
    yield
    stack = request.node.funcargs.get("stack")
    emulator = getattr(stack, "emulator", None)
    if emulator is None:
        return
    refused = [r for r in emulator.refusals() if r["key"] == emulator.soar.org.api_key["name"]]
    assert not refused, f"the app's API key was refused: {refused}"
