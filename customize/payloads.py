"""Regenerate `payload_samples/<function>/` from real calls against the TAP simulator.

The samples are what SOAR's designer shows as a function's output, so they are taken from the
function's own code path (not written by hand) and their schemas are inferred with genson, as
`resilient-sdk codegen --gather-results` does. Usage: `python -m customize.payloads`.
"""

from __future__ import annotations

import json
from pathlib import Path

from genson import SchemaBuilder

from fn_pp_tap_functions.services.lookups import get_campaign, get_threat
from fn_pp_tap_functions.tap.client import TapClient
from sim.tap import TapSimulator

ROOT = Path(__file__).resolve().parents[1]
THREAT_ID = "002d63a80de7ad0125703ee36b2ca7a836f60eff3b46b3399168ea24ce6550d7"
CAMPAIGN_ID = "5d7e1f0a-8c3b-4e62-9a1d-2f6b8c4e7a90"


def envelope(content: dict, inputs: dict) -> dict:
    """The result payload (version 2.0) a post-processing script sees as `results`."""
    return {
        "version": 2.0, "success": True, "reason": None, "content": content, "raw": None, "inputs": inputs,
        "metrics": {"version": "1.0", "package": "fn-pp-tap-functions", "package_version": "1.0.0",
                    "host": "soar-app-host", "execution_time_ms": 412, "timestamp": "2026-11-27 10:15:00"},
    }


def write(function: str, payload: dict) -> None:
    folder = ROOT / "payload_samples" / function
    folder.mkdir(parents=True, exist_ok=True)
    builder = SchemaBuilder()
    builder.add_schema({"type": "object", "properties": {}})
    builder.add_object(payload)
    (folder / "output_json_example.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    (folder / "output_json_schema.json").write_text(json.dumps(builder.to_schema(), indent=2) + "\n",
                                                    encoding="utf-8")
    print(f"wrote payload_samples/{function}")


def main() -> None:
    with TapSimulator() as sim:
        client = TapClient(sim.base_url, "sim-principal", "sim-secret")
        threat = get_threat(client, THREAT_ID,
                            dashboard_url="https://threatinsight.proofpoint.com/11111111-2222-3333-4444-555555555555")
        write("pp_tap_get_threat", envelope(threat, {"pp_tap_threat_id": THREAT_ID, "pp_tap_profile": None}))
        campaign = get_campaign(client, CAMPAIGN_ID)
        write("pp_tap_get_campaign", envelope(campaign, {"pp_tap_campaign_id": CAMPAIGN_ID, "pp_tap_profile": None}))


if __name__ == "__main__":
    main()
