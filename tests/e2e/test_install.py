"""End to end: the README's install steps, tried as a new user would, in an empty home directory.

`resilient-circuits config -c` makes a new app.config; the emulator writes its `[resilient]` section into it
(what `python -m sim.soar --app-config ~/.resilient/app.config` does) and the TAP simulator's address and
principal go into `[fn_pp_tap_functions]` with the secret in `$PP_TAP_SECRET`, as the README says; then
`resilient-circuits customize -y -l fn_pp_tap_functions` with an administrator's key (the README: importing
customizations needs one), the app's own key (with exactly the permissions of apikey_permissions.txt) given
the message destination, `selftest` and `run`. Nothing else: no interval set,
no control incident made by hand, no layout edited. TAP incidents must appear by themselves (the built-in
scheduler is on by default) and the incident tab "Proofpoint TAP" must show their TAP fields.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from sim.soar.harness import SoarEmulator, resilient_circuits_bin, stop_process
from sim.tap import TapSimulator

pytestmark = pytest.mark.e2e

APP = "fn_pp_tap_functions"
ROOT = Path(__file__).resolve().parents[2]


def user_env(home: Path) -> dict[str, str]:
    """A new user's shell: their own HOME (so ~/.resilient/app.config), the TAP secret exported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "TEST_RESILIENT_"))
           and k.lower() not in ("http_proxy", "https_proxy")}
    env.update({"HOME": str(home), "PP_TAP_SECRET": "sim-secret"})
    return env


def rc(home: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([resilient_circuits_bin(), *args], env=user_env(home), cwd=home, capture_output=True,
                          text=True, timeout=timeout)


def set_tap_settings(path: Path, base_url: str) -> None:
    """The README's edit of [fn_pp_tap_functions]: the TAP address and principal (the secret stays
    `$PP_TAP_SECRET`); every other line as `config -c` wrote it."""
    lines = []
    section = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            section = line.strip()
        if section == f"[{APP}]" and line.startswith("base_url"):
            line = f"base_url = {base_url}"
        elif section == f"[{APP}]" and line.startswith("principal"):
            line = "principal = sim-principal"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def tap_incidents(soar) -> list[dict]:
    body = {"filters": [{"conditions": [{"field_name": "properties.pp_tap_group_key", "method": "has_a_value"}]}],
            "start": 0, "length": 1000}
    return soar.post("/incidents/query_paged?return_level=full&handle_format=names", body)["data"]


def control_incidents(soar) -> list[dict]:
    body = {"filters": [{"conditions": [{"field_name": "properties.pp_tap_control", "method": "equals",
                                         "value": "ingestion"}]}], "start": 0, "length": 100}
    return soar.post("/incidents/query_paged?return_level=full&handle_format=names", body)["data"]


def test_the_readme_install_ingests_tap_incidents_with_no_further_step(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with SoarEmulator(app_permissions=str(ROOT / "apikey_permissions.txt")) as emulator, TapSimulator() as tap:
        made = rc(home, "config", "-c")
        assert made.returncode == 0, made.stdout + made.stderr
        config = home / ".resilient" / "app.config"
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(config, encoding="utf-8")
        assert parser.has_section(APP) and parser.get(APP, "secret") == "$PP_TAP_SECRET"
        assert parser.get(APP, "ingest_interval_minutes") != "0", "the scheduler must be on in a new config"

        emulator.write_app_config(str(config), logdir=str(home), admin=True)
        set_tap_settings(config, tap.base_url)
        customized = rc(home, "customize", "-y", "-l", APP)
        assert customized.returncode == 0, customized.stdout[-3000:] + customized.stderr[-3000:]

        emulator.write_app_config(str(config), logdir=str(home))  # the app's own API key from here on
        emulator.grant_destinations([APP])  # SOAR: Message Destinations > fn_pp_tap_functions > API keys
        selftest = rc(home, "selftest", "-l", APP)
        assert selftest.returncode == 0, selftest.stdout[-3000:] + selftest.stderr[-3000:]

        log = open(home / "run.log", "w")  # noqa: SIM115 - handed to the process
        runtime = subprocess.Popen([resilient_circuits_bin(), "run"], stdout=log, stderr=subprocess.STDOUT,
                                   env=user_env(home), cwd=home)
        try:
            soar = emulator.client()
            deadline = time.monotonic() + 180
            incidents: list[dict] = []
            while time.monotonic() < deadline and not incidents:
                assert runtime.poll() is None, (home / "run.log").read_text(errors="replace")[-4000:]
                incidents = tap_incidents(soar)
                time.sleep(1)
            output = (home / "run.log").read_text(errors="replace")
            assert incidents, "no TAP incident after 180 s:\n" + output[-4000:]

            controls = control_incidents(soar)
            assert [c["plan_status"] for c in controls] == ["A"]
            assert controls[0]["incident_type_ids"] == ["Proofpoint TAP control"]
            assert "Proofpoint TAP start-up: control incident" in output
            assert "Proofpoint TAP scheduler: Proofpoint TAP: Ingest events every 5 min" in output

            tabs = [t for t in soar.incident_layout()["content"] if t["step_label"] == "Proofpoint TAP"]
            assert len(tabs) == 1
            on_tab = [item["content"] for item in tabs[0]["fields"]]
            assert {"pp_tap_classification", "pp_tap_threat_status", "pp_tap_threat_ids", "pp_tap_events"} <= set(
                on_tab)
            first = incidents[0]
            page = requests.get(f"{emulator.base_url}/ui/incidents/{first['id']}", verify=emulator.cafile,
                                timeout=10).text
            tab_html = page[page.index("<h2>Tab: Proofpoint TAP</h2>"):]
            tab_html = tab_html[:tab_html.index("<h2>", 5)]
            assert "Proofpoint TAP classification" in tab_html
            assert str(first["properties"]["pp_tap_classification"]) in tab_html
            assert "Proofpoint TAP events" in tab_html
            control_page = requests.get(f"{emulator.base_url}/ui/incidents/{controls[0]['id']}",
                                        verify=emulator.cafile, timeout=10).text
            assert "Tab: Proofpoint TAP" not in control_page  # the tab shows on TAP incidents only
        finally:
            stop_process(runtime)
            log.close()
