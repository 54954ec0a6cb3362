"""Shared constants and the call helper of the function tests."""

from __future__ import annotations

from typing import Any

import pytest
from resilient_circuits import FunctionResult, SubmitTestFunction

THREAT_ID = "002d63a80de7ad0125703ee36b2ca7a836f60eff3b46b3399168ea24ce6550d7"
UNKNOWN_THREAT_ID = "0" * 63 + "1"
CAMPAIGN_ID = "5d7e1f0a-8c3b-4e62-9a1d-2f6b8c4e7a90"
UNKNOWN_CAMPAIGN_ID = "00000000-0000-4000-8000-000000000000"


def app_config(base_url: str, emulator: Any) -> str:
    """The app.config of a function test: the emulator's [resilient] section (the app's API key) and the
    app's sections for the TAP simulator (the built-in scheduler off: tests fire functions themselves)."""
    resilient = "\n".join(f"{k} = {v}" for k, v in emulator.resilient_section().items())
    return f"""
[resilient]
{resilient}

[fn_pp_tap_functions]
ingest_interval_minutes = 0
sync_interval_minutes = 0
base_url = {base_url}
principal = sim-principal
secret = sim-secret
timeout = 5
retries = 1
dashboard_url = https://threatinsight.proofpoint.com/11111111-2222-3333-4444-555555555555

[fn_pp_tap_functions:badcreds]
principal = sim-principal
secret = not-the-secret
"""


class Failed(Exception):
    """The function failed; str() is the message SOAR would show."""


def call(circuits, name: str, inputs: dict, timeout: float = 15):
    """Run one function through the runtime; return its result envelope or raise Failed(message)."""
    event = SubmitTestFunction(name, inputs)
    circuits.manager.fire(event)
    exception = circuits.watcher.wait("exception", parent=None, timeout=0.5)
    if exception is not False:
        raise Failed(str(exception.args[1]))
    result = circuits.watcher.wait(f"{name}_result", parent=event, timeout=timeout)
    if result is False:
        exception = circuits.watcher.wait("exception", parent=None, timeout=timeout)
        if exception is not False:
            raise Failed(str(exception.args[1]))
        raise AssertionError(f"{name} gave no result within {timeout} s")
    assert isinstance(result.kwargs["result"], FunctionResult)
    pytest.wait_for(result, "complete", True)
    return result.kwargs["result"].value
