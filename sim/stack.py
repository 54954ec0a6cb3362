"""The whole local stack: SOAR emulator + TAP simulator + the real resilient-circuits runtime.

Used by the end-to-end tests and by `make demo`. The two stand-ins run in this process (threads); the
app runs as IBM ships it: `resilient-circuits customize`, `selftest` and `run` as subprocesses with
their own app.config, APP_LOCK_FILE and HOME, talking HTTPS/STOMP-over-TLS to the emulator and HTTP to
the simulator. Nothing here imports the app: the stack knows it only by its package name.

Keys as on a real install: the app runs with its own API key, which holds exactly what the repository's
``apikey_permissions.txt`` lists (as App Host grants it); customizations are imported with the
administrator's key (``admin.config``), and ``soar`` is SOAR as a user or administrator sees it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sim.soar.harness import EmulatorClient, SoarEmulator, runtime_env, start_runtime, stop_process, wait_finished
from sim.tap import TapSimulator

APP = "fn_pp_tap_functions"
DESTINATION = "fn_pp_tap_functions"
QUIET = {"ingest_interval_minutes": "0", "sync_interval_minutes": "0"}
"""The stack's runtimes run no built-in scheduler unless ``app_settings`` asks for one: the tests and the demo run
the rules themselves (a new install has it on: tests/e2e/test_install.py)."""
PERMISSIONS = str(Path(__file__).resolve().parents[1] / "apikey_permissions.txt")
"""The app's API-key permissions, granted to its key as App Host grants them."""


class Stack:
    """Start with `start()` (or as a context manager); `soar` is an EmulatorClient, `tap` the simulator."""

    def __init__(self, workdir: str | None = None, *, scenario: Any = None, app_settings: str = "",
                 tap_kwargs: dict | None = None, instances: int = 1, app_permissions: str = PERMISSIONS) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if workdir:
            self.workdir = Path(workdir)
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="pp-tap-stack-")
            self.workdir = Path(self._tmp.name)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.scenario = scenario
        self.app_settings = app_settings
        self.tap_kwargs = tap_kwargs or {}
        self.instances = instances
        self.app_permissions = app_permissions
        self.automation = "workflows"
        self.emulator: SoarEmulator | None = None
        self.tap: TapSimulator | None = None
        self.runtimes: list[subprocess.Popen] = []
        self.app_config = str(self.workdir / "app.config")
        self.admin_config = str(self.workdir / "admin.config")

    # ------------------------------------------------------------------------------------------ lifecycle

    def start(self, *, run: bool = True) -> Stack:
        self.emulator = SoarEmulator(app_permissions=self.app_permissions)
        self.emulator.start()
        self.tap = TapSimulator(self.scenario, **self.tap_kwargs)
        self.tap.start()
        self.emulator.write_app_config(self.app_config, self.app_section())
        self.emulator.write_app_config(self.admin_config, self.app_section(), admin=True)
        self.customize()
        if run:
            self.start_runtimes()
        return self

    def app_section(self) -> str:
        assert self.tap is not None, "start() the stack first"
        given = {line.partition("=")[0].strip() for line in self.app_settings.splitlines() if "=" in line}
        quiet = "".join(f"{key} = {value}\n" for key, value in QUIET.items() if key not in given)
        return (f"[{APP}]\nbase_url = {self.tap.base_url}\nprincipal = sim-principal\nsecret = sim-secret\n"
                f"timeout = 10\nretries = 1\n"
                f"dashboard_url = https://threatinsight.proofpoint.com/5e1a3c42-0000-4000-8000-00000000c0de\n"
                f"{quiet}{self.app_settings}\n")

    def command(self, *args: str, timeout: float = 180, name: str = "cmd",
                admin: bool = False) -> subprocess.CompletedProcess:
        """Run one `resilient-circuits` sub-command to completion with this stack's app.config (the app's
        API key; ``admin``: the administrator's)."""
        workdir = self.workdir / name
        (workdir / "logs").mkdir(parents=True, exist_ok=True)
        binary = os.path.join(os.path.dirname(os.path.abspath(sys.executable)), "resilient-circuits")
        config = self.admin_config if admin else self.app_config
        return subprocess.run([binary, *args], env=runtime_env(config, str(workdir)), cwd=workdir,
                              capture_output=True, text=True, timeout=timeout)

    def customize(self) -> None:
        """Import the app's customizations as an administrator does for an integration server:
        `resilient-circuits customize` with the administrator's key (the app's own key may not import),
        then give the app's key access to its message destination in SOAR's settings (customize adds the
        key it ran with, the administrator's). On App Host the platform does both at install."""
        result = self.command("customize", "-y", "-l", APP, name="customize", admin=True)
        if result.returncode != 0:
            raise RuntimeError(f"resilient-circuits customize failed ({result.returncode}):\n"
                               f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        soar = self.soar
        handle = self.app_soar.get("/rest/session")["api_key_handle"]
        dest = soar.get(f"/message_destinations/{DESTINATION}")
        if handle not in dest["api_keys"]:
            soar.put(f"/message_destinations/{dest['id']}", dict(dest, api_keys=[*dest["api_keys"], handle]))

    def start_runtimes(self, count: int | None = None, timeout: float = 90) -> None:
        for _index in range(count or self.instances):
            workdir = self.workdir / f"runtime{len(self.runtimes)}"
            workdir.mkdir(exist_ok=True)
            self.runtimes.append(start_runtime(self.app_config, str(workdir), "run"))
        self.soar.wait_for_subscription(DESTINATION, timeout=timeout, count=len(self.runtimes))

    def stop_runtimes(self) -> None:
        for proc in self.runtimes:
            stop_process(proc)
        self.runtimes = []

    def stop(self) -> None:
        self.stop_runtimes()
        if self.tap is not None:
            self.tap.stop()
        if self.emulator is not None:
            self.emulator.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------ helpers

    @property
    def soar(self) -> EmulatorClient:
        """SOAR as a user or administrator sees it (the administrator's key)."""
        assert self.emulator is not None, "start() the stack first"
        return self.emulator.client()

    @property
    def app_soar(self) -> EmulatorClient:
        """SOAR as the app sees it (the app's key and permissions)."""
        assert self.emulator is not None, "start() the stack first"
        return self.emulator.app_client()

    def runtime_log(self, index: int = 0) -> str:
        path = self.workdir / f"runtime{index}" / "runtime.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    # ------------------------------------------------------------------------- workflows or playbooks

    def use_automation(self, mode: str) -> None:
        """Switch the org to the rules and workflows (``"workflows"``) or to the playbooks (``"playbooks"``),
        as a SOC administrator does (README, "Playbooks"): the other set is switched off, every rule or every
        playbook; :meth:`invoke_rule`, :meth:`runs` and :meth:`wait_for_runs` then drive and read that set."""
        if mode not in ("workflows", "playbooks"):
            raise ValueError(f"automation is 'workflows' or 'playbooks', not {mode!r}")
        soar = self.soar
        for rule in soar.get("/actions")["entities"]:
            soar.post(f"/_emulator/rules/{rule['id']}/enabled", {"enabled": mode == "workflows"})
        for pb in soar.playbooks():
            soar.post(f"/_emulator/playbooks/{pb['id']}/status",
                      {"status": "enabled" if mode == "playbooks" else "disabled"})
        self.automation = mode

    def import_export(self, export: dict) -> None:
        """Import an export as a SOC's re-import does, keeping the set of automation the org uses (an import
        ships the rules enabled and the playbooks disabled)."""
        assert self.emulator is not None, "start() the stack first"
        self.emulator.import_export(export)
        if self.automation != "workflows":
            self.use_automation(self.automation)

    def runs(self, incident_id: int) -> list[dict]:
        """The workflow or playbook instances (as :meth:`use_automation` chose) of one incident and its
        artifacts."""
        soar = self.soar
        if self.automation == "playbooks":
            return soar.playbook_instances(incident_id)
        return soar.workflow_instances(incident_id)

    def wait_for_runs(self, incident_id: int, timeout: float = 30.0, count: int = 1) -> list[dict]:
        """Wait until the incident has at least ``count`` runs and none is running."""
        return wait_finished(lambda: self.runs(incident_id), f"runs of incident {incident_id}", timeout, count)

    def action_body(self, rule: str, properties: dict | None = None) -> dict:
        """The ``action_invocations`` body of a menu item: the rule's, or the playbook's of the same name."""
        soar = self.soar
        if self.automation == "playbooks":
            return {"action_id": soar.playbook_id(rule), "type_id_handle": {"name": "playbookfields"},
                    "properties": properties or {}}
        return {"action_id": soar.rule_id(rule), "properties": properties or {}}

    def invoke_rule(self, rule: str, incident_id: int, *, artifact_id: int | None = None,
                    properties: dict | None = None, timeout: float = 120) -> dict:
        """Run a menu item as a user would (the rule, or with the playbooks switched on the playbook with the
        rule's name) and wait for its run; returns the instance our call started."""
        soar = self.soar
        playbooks = self.automation == "playbooks"
        key = "id" if playbooks else "workflow_instance_id"
        before = {i[key] for i in self.runs(incident_id)}
        body = self.action_body(rule, properties)
        path = f"/incidents/{incident_id}" + (f"/artifacts/{artifact_id}" if artifact_id else "")
        soar.post(path + "/action_invocations", body, expect=(200, 204))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = [i for i in self.runs(incident_id) if i[key] not in before]
            # ours is the first instance started after our call (a concurrent caller's come later)
            ours = min(new, key=lambda i: i[key]) if new else None
            if ours is not None and ours["status"] != "running":
                return ours
            time.sleep(0.2)
        raise TimeoutError(f"{'playbook' if playbooks else 'rule'} {rule!r} on incident {incident_id} did not "
                           f"finish in {timeout} s")
