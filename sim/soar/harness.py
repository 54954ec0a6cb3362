"""Test-side API of the SOAR emulator.

* :class:`SoarEmulator` — the emulator in-process: ``start()``, ``stop()``, ``write_app_config(path,
  extra_sections="", admin=False)``, ``base_url``, ``org_name``, ``org_id``, ``api_key_id``,
  ``api_key_secret`` (the app's key), ``admin_key_id``, ``admin_key_secret``, ``stomp_port``, ``cafile``,
  ``client()`` (administrator's key), ``app_client()`` (app's key), ``refusals()``,
  ``invoke_function(name, inputs)``, ``import_export(export)``, ``add_fault(...)``, ``layouts_kept()``.
* :class:`EmulatorClient` — a small ``requests`` client (CA-verified, Basic auth) with paths relative to
  ``/rest/orgs/{org_id}`` and helpers such as ``wait_for_workflows`` and ``incident_layout``.
* :func:`start_emulator_process` — ``python -m sim.soar`` as a subprocess; returns ``(Popen, base_url)``.
* :func:`start_runtime` — the UNMODIFIED ``resilient-circuits`` as a subprocess with its own
  ``APP_CONFIG_FILE`` and ``APP_LOCK_FILE``.
"""

from __future__ import annotations

import configparser
import contextlib
import copy
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

from sim.soar.server import Emulator

_LINE = re.compile(r"SOAR emulator listening on (https://[^\s]+) \(stomp (\d+)\)")


class EmulatorClient:
    """``requests`` against the emulator as an app would talk to SOAR (verified TLS, Basic auth)."""

    def __init__(self, base_url: str, org_id: int, api_key_id: str, api_key_secret: str, cafile: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.org_id = org_id
        self.session = requests.Session()
        self.session.auth = (api_key_id, api_key_secret)
        self.session.verify = cafile
        self.cafile = cafile

    def url(self, path: str) -> str:
        if path.startswith(("/rest/", "/_emulator", "/ui")):
            return self.base_url + path
        return f"{self.base_url}/rest/orgs/{self.org_id}{path}"

    def request(self, method: str, path: str, body: Any = None, *, expect: int | tuple | None = 200,
                **kw: Any) -> Any:
        # verify is passed per request: requests lets REQUESTS_CA_BUNDLE override a session's verify
        resp = self.session.request(method, self.url(path), json=body, timeout=kw.pop("timeout", 30),
                                    verify=self.cafile, **kw)
        if expect is not None:
            ok = resp.status_code in (expect if isinstance(expect, tuple) else (expect,))
            if not ok:
                raise AssertionError(f"{method} {path}: HTTP {resp.status_code} (expected {expect}): {resp.text}")
        return resp.json() if resp.content and resp.headers.get("Content-Type", "").startswith(
            "application/json") else resp

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, expect=kw.pop("expect", (200, 204)), **kw)

    # -- conveniences ----------------------------------------------------------------------------------
    def create_incident(self, name: str = "test incident", **fields: Any) -> dict:
        body = {"name": name, "discovered_date": int(time.time() * 1000)}
        body.update(fields)
        return self.post("/incidents", body)

    def rule_id(self, name: str) -> int:
        for rule in self.get("/actions")["entities"]:
            if rule["name"] == name:
                return rule["id"]
        raise KeyError(f"no rule named {name!r}")

    def playbooks(self) -> list[dict]:
        return self.post("/playbooks/query_paged", {"filters": [{"conditions": []}]})["data"]

    def playbook_id(self, display_name: str) -> int:
        for pb in self.playbooks():
            if display_name in (pb["display_name"], pb["name"]):
                return pb["id"]
        raise KeyError(f"no playbook named {display_name!r}")

    def playbook_instances(self, incident_id: int) -> list[dict]:
        body = {"filters": [{"conditions": [{"field_name": "incident_id", "method": "equals", "value": incident_id}]}],
                "sorts": [{"field_name": "id", "type": "asc"}]}
        return self.post("/playbooks/execution/query_paged", body)["data"]

    def workflow_instances(self, incident_id: int) -> list[dict]:
        return self.get(f"/incidents/{incident_id}/workflow_instances")["entities"]

    def wait_for_workflows(self, incident_id: int, timeout: float = 30.0, count: int = 1) -> list[dict]:
        """Wait until the incident has at least ``count`` workflow instances and none is running."""
        return wait_finished(lambda: self.workflow_instances(incident_id), f"workflows of incident {incident_id}",
                             timeout, count)

    def wait_for_subscription(self, destination: str, timeout: float = 60.0, count: int = 1) -> dict:
        """Wait until ``count`` app instances subscribe to ``actions.{org}.{destination}``."""
        queue = f"actions.{self.org_id}.{destination}"
        deadline = time.monotonic() + timeout
        status: dict = {}
        while time.monotonic() < deadline:
            status = self.get("/_emulator/stomp")
            if status["subscriptions"].get(queue, 0) >= count:
                return status
            time.sleep(0.2)
        raise TimeoutError(f"no subscription to {queue} after {timeout} s: {status}")

    def add_fault(self, method: str, path_regex: str, status: int | None = None, times: int | None = None,
                  hang_seconds: float = 0, after: int = 0, apply: bool = False, drop: bool = False,
                  next: bool = False) -> dict:
        return self.post("/_emulator/faults", {"method": method, "path_regex": path_regex, "status": status,
                                               "times": times, "hang_seconds": hang_seconds, "after": after,
                                               "apply": apply, "drop": drop, "next": next})

    def calls(self) -> dict[str, int]:
        return self.get("/_emulator/calls")

    def path_calls(self) -> dict[str, int]:
        """Calls per exact method and path since the last reset (the emulator's own left out)."""
        return self.get("/_emulator/calls?detail=paths")

    def incident_layout(self) -> dict:
        """The layout holding the incident page's tabs, found as resilient-lib finds it."""
        org_type = self.get("/types")["organization"]["type_id"]
        return next(lay for lay in self.get(f"/layouts?type={org_type}") if lay["name"] == "incident")


class SoarEmulator(Emulator):
    """The emulator for tests (same constructor as :class:`~sim.soar.server.Emulator`)."""

    def client(self) -> EmulatorClient:
        """A client with the administrator's key: what a test does as a SOAR user or administrator."""
        return EmulatorClient(self.base_url, self.org_id, self.admin_key_id, self.admin_key_secret, self.cafile)

    def app_client(self) -> EmulatorClient:
        """A client with the app's key (and so only the app's permissions)."""
        return EmulatorClient(self.base_url, self.org_id, self.api_key_id, self.api_key_secret, self.cafile)

    def wait_rules_idle(self, timeout: float = 10.0) -> bool:
        """Wait until the automatic rules of every change made so far have been evaluated (SOAR runs them
        after the call that made the change returned): before checking that a rule did NOT fire."""
        return self.soar.automation.wait_idle(timeout)

    def refusals(self) -> list[dict]:
        """Every 403 answered so far (method, path, route, key, missing permissions)."""
        assert self.api is not None, "start() the emulator first"
        with self.api.calls_lock:
            return list(self.api.refusals)

    def clear_refusals(self) -> None:
        assert self.api is not None, "start() the emulator first"
        with self.api.calls_lock:
            self.api.refusals.clear()

    def app_opts(self) -> dict:
        """Options for ``resilient.get_client(opts)`` with the app's key."""
        return {"host": self.host, "port": self.port, "org": self.org_name, "api_key_id": self.api_key_id,
                "api_key_secret": self.api_key_secret, "cafile": self.cafile}

    def admin_opts(self) -> dict:
        """Options for ``resilient.get_client(opts)`` with the administrator's key."""
        return dict(self.app_opts(), api_key_id=self.admin_key_id, api_key_secret=self.admin_key_secret)

    def add_fault(self, method: str, path_regex: str, status: int | None = None, times: int | None = None,
                  hang_seconds: float = 0, after: int = 0, apply: bool = False, drop: bool = False,
                  next: bool = False) -> dict:
        """See :class:`~sim.soar.faults.Faults`: ``apply``, the request lands, then the client gets the failure;
        ``next``, the request succeeds and the one after it fails."""
        return self.faults.add({"method": method, "path_regex": path_regex, "status": status, "times": times,
                                "hang_seconds": hang_seconds, "after": after, "apply": apply, "drop": drop,
                                "next": next})

    def clear_faults(self) -> None:
        self.faults.clear()

    @contextlib.contextmanager
    def layouts_kept(self) -> Iterator[None]:
        """The org's layouts as they are now are put back afterwards (for a test that changes the tabs)."""
        before = copy.deepcopy(self.soar.layouts.of_type())
        try:
            yield
        finally:
            for layout in before:
                self.soar.store.put("layout", layout["id"], layout)


def start_emulator_process(app_config_path: str, state: str | None = None, *, extra_args: list[str] | None = None,
                           timeout: float = 30.0, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``python -m sim.soar`` and wait for its "listening" line; returns ``(process, base_url)``."""
    cmd = [sys.executable, "-m", "sim.soar", "--app-config", app_config_path]
    if state:
        cmd += ["--state", state]
    cmd += extra_args or []
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc_env = dict(os.environ, **(env or {}))
    proc_env["PYTHONPATH"] = root + os.pathsep + proc_env.get("PYTHONPATH", "")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=proc_env, cwd=root)
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                raise RuntimeError(f"the emulator exited with {proc.returncode}: {err}")
            continue
        m = _LINE.search(line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise TimeoutError("the emulator did not print its listening line")


def read_app_config(path: str) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path, encoding="utf-8")
    return dict(parser["resilient"])


def runtime_env(app_config: str, workdir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"APP_CONFIG_FILE": app_config, "APP_LOCK_FILE": os.path.join(workdir, "rc.lock"),
                "APP_LOG_DIR": os.path.join(workdir, "logs"), "HOME": workdir})
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        env.pop(var, None)
    return env


def resilient_circuits_bin() -> str:
    candidate = os.path.join(os.path.dirname(sys.executable), "resilient-circuits")
    return candidate if os.path.exists(candidate) else "resilient-circuits"


def start_runtime(app_config: str, workdir: str, *args: str, log_name: str = "runtime.log") -> subprocess.Popen:
    """``resilient-circuits run`` (or another sub-command in ``args``) as a subprocess, output to a log."""
    os.makedirs(os.path.join(workdir, "logs"), exist_ok=True)
    log = open(os.path.join(workdir, log_name), "w")  # noqa: SIM115 - handed to the process
    cmd = [resilient_circuits_bin(), *(args or ("run",))]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=runtime_env(app_config, workdir),
                            cwd=workdir)


def stop_process(proc: subprocess.Popen, timeout: float = 15.0) -> int:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def wait_finished(instances: Callable[[], list[dict]], what: str, timeout: float = 30.0,
                  count: int = 1) -> list[dict]:
    """Wait until ``instances()`` (workflow or playbook instances) holds at least ``count`` and none is
    running; ``what`` names them in the error."""
    deadline = time.monotonic() + timeout
    found: list[dict] = []
    while time.monotonic() < deadline:
        found = instances()
        if len(found) >= count and all(i["status"] != "running" for i in found):
            return found
        time.sleep(0.1)
    raise TimeoutError(f"{what} not finished after {timeout} s: {[i['status'] for i in found]}")
