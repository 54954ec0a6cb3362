"""``python -m sim.tap``: the ready line, serving, TLS with a generated CA, clean exit on SIGTERM."""

from __future__ import annotations

import json
import re
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.sim_tap.helpers import AUTH

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"^Proofpoint TAP simulator listening on (https?://127\.0\.0\.1:\d+)$")


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "sim.tap", "--port", "0", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ready, _, _ = select.select([proc.stdout], [], [], 15)
    if not ready:
        proc.kill()
        pytest.fail("simulator did not print its ready line")
    assert proc.stdout is not None
    line = proc.stdout.readline().rstrip("\n")
    match = READY.match(line)
    if not match:
        proc.kill()
        pytest.fail(f"unexpected first line {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}")
    return proc, match.group(1)


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    return out


@pytest.fixture
def scenario_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "scenario.json"
    event = {"id": "cli-1", "GUID": "G1", "messageTime": "now-10m", "recipient": ["r@corp.example"],
             "threatsInfoMap": [{"threatID": "ab" * 32, "threatStatus": "active", "classification": "phish",
                                 "threatTime": "now-10m", "threatType": "url", "threat": "https://x.example/"}]}
    path.write_text(json.dumps({"events": {"messagesDelivered": [event]}}), encoding="utf-8")
    yield path


def test_cli_serves_scenario_and_stops_on_sigterm(scenario_file: Path):
    proc, base = _start("--scenario", str(scenario_file), "--principal", "p1", "--secret", "s1")
    try:
        assert base.startswith("http://")
        response = requests.get(base + "/v2/siem/all", params={"sinceSeconds": "3600", "format": "json"},
                                auth=("p1", "s1"), timeout=5)
        assert response.status_code == 200
        assert [e["id"] for e in response.json()["messagesDelivered"]] == ["cli-1"]
        wrong = requests.get(base + "/v2/siem/all", params={"sinceSeconds": "3600"}, auth=AUTH, timeout=5)
        assert wrong.status_code == 401
        changed = requests.post(f"{base}/_sim/threats/{'ab' * 32}", json={"status": "cleared"}, timeout=5)
        assert changed.json()["threat"]["status"] == "cleared"
        assert requests.get(base + "/_sim/stats", timeout=5).json()["endpoints"]["/v2/siem/all"] == 2
    finally:
        out = _stop(proc)
    assert out == ""  # the ready line was the only output


def test_cli_tls_needs_the_generated_ca(tmp_path: Path):
    ca = tmp_path / "ca.pem"
    proc, base = _start("--tls", "--ca-out", str(ca))
    try:
        assert base.startswith("https://")
        assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(base + "/v2/people/vap", params={"window": "14"}, auth=AUTH, timeout=5)
        trusted = requests.get(base + "/v2/people/vap", params={"window": "14"}, auth=AUTH, timeout=5, verify=str(ca))
        assert trusted.status_code == 200
        assert trusted.json()["totalVapUsers"] >= 1  # default scenario
    finally:
        _stop(proc)


def test_cli_rejects_a_broken_scenario(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"threats": "nope"}', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "sim.tap", "--scenario", str(bad), "--port", "0"], cwd=ROOT,
                            capture_output=True, text=True, timeout=15)
    assert result.returncode == 2 and result.stdout == ""
