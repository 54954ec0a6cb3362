"""The stand-ins the benchmark runs against: a SOAR emulator in its OWN process, the TAP simulator in ours.

The emulator runs as ``python -m sim.soar`` (:func:`sim.soar.harness.start_emulator_process`), so its
memory and CPU are never counted as the app's; the app's customizations (fields, data tables, artifact
types) are imported over REST, as ``resilient-circuits customize`` does. The TAP simulator runs in the
benchmark's own process (threads); the app side is measured in a separate worker process
(:mod:`bench.worker`), so neither stand-in is in the app's peak memory.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sim.soar.harness import EmulatorClient, read_app_config, start_emulator_process
from sim.tap import TapSimulator

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "fn_pp_tap_functions" / "util" / "data" / "export.res"
TAP_PRINCIPAL = "bench-principal"
TAP_SECRET = "bench-secret"


class EmulatorProcess:
    """A fresh SOAR org in a subprocess, with the app's export imported. Use as a context manager."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="pp-tap-bench-soar-")
        self.app_config = os.path.join(self._tmp.name, "app.config")
        self.proc: subprocess.Popen | None = None
        self.opts: dict[str, Any] = {}
        self.client: EmulatorClient | None = None
        self.output: list[str] = []

    def start(self) -> EmulatorProcess:
        Path(self.app_config).write_text("[fn_pp_tap_functions]\n", encoding="utf-8")
        admin_config = os.path.join(self._tmp.name, "admin.config")
        # the app's key holds what App Host would give it; imports and checks use the administrator's key
        args = ["--cert-dir", os.path.join(self._tmp.name, "certs"), "--log-level", "ERROR",
                "--apikey-permissions", str(ROOT / "apikey_permissions.txt"), "--admin-config", admin_config]
        self.proc, base_url = start_emulator_process(self.app_config, extra_args=args)
        for stream in (self.proc.stdout, self.proc.stderr):  # drained, so a chatty emulator never blocks
            threading.Thread(target=_drain, args=(stream, self.output), daemon=True).start()
        cfg = read_app_config(self.app_config)
        self.opts = {"host": cfg["host"], "port": int(cfg["port"]), "org": cfg["org"],
                     "api_key_id": cfg["api_key_id"], "api_key_secret": cfg["api_key_secret"],
                     "cafile": cfg["cafile"]}
        org_id = int(self._probe(base_url, cfg))
        admin = read_app_config(admin_config)
        self.client = EmulatorClient(base_url, org_id, admin["api_key_id"], admin["api_key_secret"], cfg["cafile"])
        export = json.loads(EXPORT.read_text(encoding="utf-8"))
        done = self.client.post("/configurations/imports", export)
        self.client.put(f"/configurations/imports/{done['id']}", dict(done, status="ACCEPTED"))
        return self

    @staticmethod
    def _probe(base_url: str, cfg: dict[str, str]) -> int:
        probe = EmulatorClient(base_url, 0, cfg["api_key_id"], cfg["api_key_secret"], cfg["cafile"])
        return int(probe.get("/_emulator/health")["org_id"])

    # -- REST call counts (the emulator's own tally, independent of the app's counter) --------------------
    def reset_calls(self) -> None:
        assert self.client is not None
        self.client.post("/_emulator/reset-calls", expect=(200, 204))

    def calls(self) -> dict[str, int]:
        """Calls per pattern since the last reset, WITHOUT the emulator-control calls themselves."""
        assert self.client is not None
        return {k: v for k, v in self.client.calls().items() if "/_emulator" not in k}

    def path_calls(self) -> dict[str, int]:
        """Calls per exact method and path since the last reset (which incident each call touched)."""
        assert self.client is not None
        return self.client.path_calls()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        self._tmp.cleanup()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _drain(stream: Any, into: list[str]) -> None:
    if stream is None:
        return
    for line in stream:
        if len(into) < 1000:
            into.append(line)


def start_tap(scenario: dict[str, Any], clock: Callable[[], datetime] | None = None) -> TapSimulator:
    """The TAP simulator (in this process) serving ``scenario``; credentials TAP_PRINCIPAL / TAP_SECRET;
    ``clock``: its "now" (default the real clock)."""
    sim = TapSimulator(scenario, principal=TAP_PRINCIPAL, secret=TAP_SECRET, clock=clock)
    sim.start()
    return sim


def say(text: str = "") -> None:
    """A benchmark's progress and report line, shown at once."""
    print(text, flush=True)


def stoppable(run: Callable[[], int]) -> int:
    """``run()`` with SIGTERM ending it like Ctrl-C, so the processes it started are stopped on the way out."""
    if threading.current_thread() is not threading.main_thread():
        return run()

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return run()
    finally:
        signal.signal(signal.SIGTERM, previous)


def worker_env() -> dict[str, str]:
    """The environment of a worker process: the repository importable, no proxy between it and loopback."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        env.pop(var, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env
