"""Payload samples of the functions that work on SOAR incidents, taken from real runs through the local stack.

`python -m customize.payloads_soar` starts the SOAR emulator, the TAP simulator (default scenario) and the
runtime, runs ingestion, a threat-status check, the sweep and the campaign close, and writes each result
envelope to `payload_samples/<function>/` with a schema inferred by genson.
"""

from __future__ import annotations

from typing import Any

import resilient

from customize.payloads import write
from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.soar.control import ensure_control, utcnow
from sim.stack import Stack

THREAT = "002d63a80de7ad0125703ee36b2ca7a836f60eff3b46b3399168ea24ce6550d7"
CAMPAIGN = "5d7e1f0a-8c3b-4e62-9a1d-2f6b8c4e7a90"


def envelope_of(run: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = run["function_calls"][-1]["result"]
    result["metrics"] = dict(result.get("metrics") or {}, host="soar-app-host", timestamp="2026-11-27 10:15:00")
    return result


def main() -> None:
    with Stack() as stack:
        assert stack.emulator is not None and stack.tap is not None
        cases = SoarCases(resilient.get_client(stack.emulator.app_opts()))
        control = ensure_control(cases, now=utcnow())
        write("pp_tap_ingest_events", envelope_of(stack.invoke_rule("Proofpoint TAP: Ingest events", control["id"])))
        (incident,) = cases.find_by_values("pp_tap_group_key", [f"threat:{THREAT}"])[f"threat:{THREAT}"]
        stack.tap.set_threat_status(THREAT, "falsePositive")
        write("pp_tap_close_if_false_positive",
              envelope_of(stack.invoke_rule("Proofpoint TAP: Check threat status", incident["id"])))
        write("pp_tap_sync_threat_status",
              envelope_of(stack.invoke_rule("Proofpoint TAP: Sync threat status", control["id"])))
        others = cases.find_by_values("pp_tap_campaign_id", [CAMPAIGN])
        target = next(iter(others.values()))[0] if others else incident
        write("pp_tap_close_campaign",
              envelope_of(stack.invoke_rule("Proofpoint TAP: Close campaign false positives", target["id"])))


if __name__ == "__main__":
    main()
