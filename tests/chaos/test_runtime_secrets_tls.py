"""Through the real runtime: echoed credentials never reach SOAR or the runtime's log (finding 6), and TLS
verification turned off is said at start and in selftest (finding 7).

The runtime logs at DEBUG here (requests', urllib3's and resilient's own request logging included); TAP, or
the proxy answering in its place, echoes the Authorization header and the secret in every form.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from leaks import leaks
from scenario_builder import message, threat_info

from sim.stack import APP, Stack

pytestmark = pytest.mark.e2e

PRINCIPAL = "sim-principal"
SECRET = "Zq9/sim+S3cret&x"
PROFILE_PRINCIPAL, PROFILE_SECRET = "emea-principal", "emea-S3cret/2"
THREAT_ID = "002d63a80de7ad0125703ee36b2ca7a836f60eff3b46b3399168ea24ce6550d7"
ECHO = ("Request rejected. Authorization: {header:Authorization} | as typed: " + SECRET + " | upper: "
        + SECRET.upper() + " | url-encoded: " + quote(SECRET, safe="") + " | form: secret=" + quote(SECRET))
CASES = {
    "SIEM 400 echoing the request": ("^/v2/siem/", 400, "text/plain"),
    "SIEM 429 echoing the request": ("^/v2/siem/", 429, "text/plain"),
    "SIEM 502 proxy page": ("^/v2/siem/", 502, "text/html"),
    "SIEM 200 proxy page": ("^/v2/siem/", 200, "text/html"),
    "SIEM 403 proxy page": ("^/v2/siem/", 403, "text/html"),
}


@pytest.fixture(scope="module")
def stack():
    settings = (f"verify = false\n\n[{APP}:emea]\nprincipal = {PROFILE_PRINCIPAL}\nsecret = {PROFILE_SECRET}\n")
    scenario = {"events": {"messagesDelivered": [
        message("S-A", "r1@corp.example", [threat_info("s-alpha", at="now-2h")], at="now-2h")]},
        "credentials": [{"principal": PROFILE_PRINCIPAL, "secret": PROFILE_SECRET}]}
    running = Stack(scenario=scenario, app_settings=settings, tap_kwargs={"secret": SECRET})
    try:
        running.start(run=False)
        config = Path(running.app_config)
        config.write_text(config.read_text(encoding="utf-8").replace("secret = sim-secret", f"secret = {SECRET}"),
                          encoding="utf-8")
        running.emulator.write_app_config(running.app_config, loglevel="DEBUG")
        running.start_runtimes()
        yield running
    finally:
        running.stop()


def test_finding_7_tls_verification_off_is_said_at_start_for_every_tenant_that_has_it(stack):
    log = stack.runtime_log(0)
    assert f"TLS certificate verification of Proofpoint TAP is OFF for [{APP}]: verify = false" in log
    assert f"[{APP}:emea] (inherited from [{APP}])" in log


def test_finding_7_selftest_warns_that_tls_verification_is_off(stack):
    result = stack.command("selftest", "-l", APP, name="selftest")
    output = result.stdout + result.stderr
    assert "WARNING: TLS certificate verification of Proofpoint TAP is OFF" in output, output[-3000:]
    assert "accepted the credentials" in output


def _control(stack) -> dict:
    soar = stack.soar
    body = {"filters": [{"conditions": [{"field_name": "properties.pp_tap_control", "method": "equals",
                                         "value": "ingestion"}]}], "start": 0, "length": 10}
    found = soar.post("/incidents/query_paged?return_level=normal", body)["data"]
    if found:
        return found[0]
    return soar.create_incident("Proofpoint TAP: ingestion control", properties={"pp_tap_control": "ingestion"})


def _everything_soar_shows(stack) -> str:
    """Every incident, note, data-table row, artifact and workflow result and error, as one text."""
    soar = stack.soar
    body = {"filters": [{"conditions": []}], "start": 0, "length": 1000}
    parts = []
    for inc in soar.post("/incidents/query_paged?return_level=full", body)["data"]:
        iid = inc["id"]
        parts += [inc, soar.get(f"/incidents/{iid}/comments"), soar.get(f"/incidents/{iid}/artifacts")]
        for table in ("pp_tap_ingest_runs", "pp_tap_events"):
            parts.append(soar.get(f"/incidents/{iid}/table_data/{table}", expect=None))
        for instance in soar.workflow_instances(iid):
            parts.append(soar.get(f"/workflow_instances/{instance['workflow_instance_id']}", expect=None))
    return json.dumps([p if isinstance(p, dict | list) else str(p) for p in parts])


def test_finding_6_echoed_credentials_reach_no_error_note_row_or_log(stack):
    control = _control(stack)
    reasons = {}
    for name, (path, status, content_type) in CASES.items():
        stack.tap.inject_fault(path, status, times=10, body=ECHO, content_type=content_type)
        run = stack.invoke_rule("Proofpoint TAP: Ingest events", control["id"], timeout=120)
        stack.tap.clear_faults()
        reasons[name] = (run.get("terminate_reason") or "") + json.dumps(run.get("function_calls"))
        # a 429 ends the run as "throttled" (the workflow completes, the result says why); the others fail it
        assert run["status"] == ("completed" if status == 429 else "terminated"), (name, run["status"])
    # a lookup from a menu item: the threat artifact's "Get threat" with a 400 echoing the request
    soar = stack.soar
    incident = soar.create_incident(f"echo {time.monotonic()}")
    artifact = soar.post(f"/incidents/{incident['id']}/artifacts", {"type": "Proofpoint TAP Threat ID",
                                                                     "value": THREAT_ID})
    artifact = artifact[0] if isinstance(artifact, list) else artifact
    stack.tap.inject_fault("^/v2/threat/", 400, times=5, body=ECHO)
    run = stack.invoke_rule("Proofpoint TAP: Get threat", incident["id"], artifact_id=artifact["id"])
    stack.tap.clear_faults()
    reasons["Threat API 400 echoing the request"] = run.get("terminate_reason") or ""
    assert "TAP says" in reasons["Threat API 400 echoing the request"]  # TAP's text is still shown, scrubbed
    texts = {**reasons, "SOAR (incidents, notes, rows, artifacts, workflows)": _everything_soar_shows(stack),
             "runtime log (DEBUG)": stack.runtime_log(0)}
    found = {where: leaks(text, PRINCIPAL, SECRET) for where, text in texts.items()}
    assert all(not f for f in found.values()), {k: v for k, v in found.items() if v}
    assert "[redacted]" in " ".join(reasons.values())
