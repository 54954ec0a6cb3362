"""The UNMODIFIED IBM runtime (resilient-circuits 51.0.9.1) against the emulator, as subprocesses with their
own APP_CONFIG_FILE and APP_LOCK_FILE, running a componentsdir app for the sample function ``emu_echo``."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from sim.soar.engine import FunctionFailed
from sim.soar.harness import SoarEmulator, resilient_circuits_bin, runtime_env, start_runtime, stop_process
from sim.soar.samples import ECHO_COMPONENT, echo_export


def make_app_dir(emu: SoarEmulator, base: str, name: str = "app") -> str:
    work = os.path.join(base, name)
    os.makedirs(os.path.join(work, "components"), exist_ok=True)
    os.makedirs(os.path.join(work, "logs"), exist_ok=True)
    with open(os.path.join(work, "components", "emu_echo_component.py"), "w", encoding="utf-8") as fh:
        fh.write(ECHO_COMPONENT)
    emu.write_app_config(os.path.join(work, "app.config"), extra_sections="[emu_echo_app]\nsample = yes\n",
                         componentsdir=os.path.join(work, "components"), logdir=os.path.join(work, "logs"))
    return work


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    emu = SoarEmulator(no_subscriber_timeout=3.0, function_timeout=60.0).start()
    emu.import_export(echo_export())
    work = make_app_dir(emu, str(tmp_path_factory.mktemp("runtime")))
    proc = start_runtime(os.path.join(work, "app.config"), work)
    client = emu.client()
    try:
        client.wait_for_subscription("emu_test", timeout=60)
    except TimeoutError:
        stop_process(proc)
        with open(os.path.join(work, "runtime.log"), encoding="utf-8") as fh:
            log = fh.read()
        emu.stop()
        pytest.fail(f"the runtime never subscribed:\n{log[-4000:]}")
    yield emu, client, proc, work
    rc = stop_process(proc)
    emu.stop()
    assert rc == 0


def test_runtime_subscribes_as_soar_expects(running):
    emu, client, proc, _work = running
    log = client.get("/_emulator/stomp")["subscribe_log"]
    sub = next(s for s in log if s["destination"] == f"actions.{emu.org_id}.emu_test")
    assert sub["ack"] == "client-individual"
    assert sub["headers"]["activemq.prefetchSize"] == "10"  # num_workers
    assert proc.poll() is None


def test_direct_invocation_returns_the_envelope(running):
    emu, _client, _proc, _work = running
    envelope = emu.invoke_function("emu_echo", {"emu_text": "hello: world", "emu_choice": "one"})
    assert envelope["version"] == 2.0 and envelope["success"] is True
    assert envelope["content"]["text"] == "hello: world"
    assert envelope["content"]["choice"] == "one"  # select arrived as {"id", "name"}
    assert envelope["content"]["inputs_seen"] == ["emu_choice", "emu_text"]  # unset inputs are absent
    assert envelope["inputs"] == {"emu_text": "hello: world", "emu_choice": "one"}


def test_error_raised_by_the_component_fails_the_call(running):
    emu, _client, _proc, _work = running
    with pytest.raises(FunctionFailed) as err:
        emu.invoke_function("emu_echo", {"emu_text": "boom", "emu_fail": True})
    assert "emu_echo was asked to fail on 'boom'" in err.value.message


def test_bad_input_value_is_refused_before_sending(running):
    emu, _client, _proc, _work = running
    with pytest.raises(FunctionFailed) as err:
        emu.invoke_function("emu_echo", {"emu_choice": "three"})
    assert "three" in err.value.message
    with pytest.raises(FunctionFailed):
        emu.invoke_function("emu_echo", {"not_an_input": 1})


def test_manual_rule_runs_workflow_with_scripts(running):
    _emu, client, _proc, _work = running
    inc = client.create_incident("rule run")
    client.post(f"/incidents/{inc['id']}/action_invocations",
                {"action_id": client.rule_id("Emu: Echo"), "properties": {"emu_note": "from the menu"}},
                expect=204)
    [instance] = client.wait_for_workflows(inc["id"], timeout=30)
    assert instance["status"] == "completed", instance
    call = instance["function_calls"][0]
    assert call["inputs"]["emu_choice"]["name"] == "two"  # the workflow's static select input
    assert any("echoing" in m["text"] for m in instance["status_messages"])
    notes = [n["text"] for n in client.get(f"/incidents/{inc['id']}/comments")]
    assert notes == ["echo: from the menu (two)"]
    assert client.get(f"/incidents/{inc['id']}")["properties"]["emu_summary"] == "from the menu"


def test_workflow_terminates_with_the_app_error(running):
    _emu, client, _proc, _work = running
    inc = client.create_incident("rule fail")
    client.post(f"/incidents/{inc['id']}/action_invocations",
                {"action_id": client.rule_id("Emu: Echo"), "properties": {"emu_note": "x", "emu_fail": True}},
                expect=204)
    [instance] = client.wait_for_workflows(inc["id"], timeout=30)
    assert instance["status"] == "terminated"
    assert "emu_echo was asked to fail" in instance["terminate_reason"]
    assert client.get(f"/incidents/{inc['id']}/comments") == []


def test_automatic_rule_fires_on_change(running):
    emu, client, _proc, _work = running
    inc = client.create_incident("auto", properties={"emu_verdict": "benign"})
    assert emu.wait_rules_idle()
    assert client.workflow_instances(inc["id"]) == []
    result = client.patch(f"/incidents/{inc['id']}", {"changes": [
        {"field": "emu_verdict", "old_value": {"object": "benign"}, "new_value": {"object": "malicious"}}]},
        headers={"handle_format": "names"})
    assert result["success"] is True
    [instance] = client.wait_for_workflows(inc["id"], timeout=30)
    assert instance["status"] == "completed" and instance["rule"]["name"] == "Emu: Auto Echo"
    assert [n["text"] for n in client.get(f"/incidents/{inc['id']}/comments")] == ["echo: auto (two)"]


def test_no_subscriber_fails_the_invocation(tmp_path):
    emu = SoarEmulator(no_subscriber_timeout=0.5).start()
    try:
        emu.import_export(echo_export())
        with pytest.raises(FunctionFailed) as err:
            emu.invoke_function("emu_echo", {"emu_text": "anyone?"})
        assert "no app subscribed to emu_test" in err.value.message
    finally:
        emu.stop()


def test_selftest_exit_codes(running, tmp_path):
    emu, _client, _proc, _work = running
    work = make_app_dir(emu, str(tmp_path), "selftest")
    cfg = os.path.join(work, "app.config")
    started = time.monotonic()
    ok = subprocess.run([resilient_circuits_bin(), "selftest", "-l", "emu_no_such_package"], cwd=work,
                        env=runtime_env(cfg, work), capture_output=True, text=True, timeout=90)
    assert ok.returncode == 0, ok.stdout[-3000:] + ok.stderr[-2000:]
    assert "Successfully connected via STOMP" in ok.stdout + ok.stderr
    assert time.monotonic() - started < 60
    # a key that may not read the destination: the STOMP part of selftest fails
    dest = emu.soar.registry.destination("emu_test")
    emu.soar.registry.update_destination(dest["id"], {"api_keys": []})
    try:
        denied = subprocess.run([resilient_circuits_bin(), "selftest", "-l", "emu_no_such_package"], cwd=work,
                                env=runtime_env(cfg, work), capture_output=True, text=True, timeout=90)
    finally:
        emu.soar.registry.update_destination(dest["id"], {"api_keys": [emu.soar.org.api_key["handle"]]})
    # selftest means to answer 32 here, but it tests `b"..." in message` while stomp.py hands it the ERROR
    # body as str: the TypeError lands in its generic STOMP branch, 30 (an upstream bug, reproduced as is)
    assert denied.returncode == 30, denied.stdout[-3000:]
    assert "requires string as left operand" in denied.stdout + denied.stderr


def test_every_start_of_the_runtime_subscribes_on_its_first_connect(tmp_path):
    """The runtime started 10 times: each start's first CONNECT is answered, so it subscribes once on one
    connection (a start whose CONNECT went unanswered reconnects: a second CONNECT, and SUBSCRIBEs twice)."""
    emu = SoarEmulator().start()
    try:
        emu.import_export(echo_export())
        client = emu.client()
        queue = f"actions.{emu.org_id}.emu_test"
        for start in range(10):
            work = make_app_dir(emu, str(tmp_path), f"start{start}")
            before = client.get("/_emulator/stomp")["frames"]
            proc = start_runtime(os.path.join(work, "app.config"), work)
            try:
                client.wait_for_subscription("emu_test", timeout=150)
            finally:
                assert stop_process(proc) == 0
            after = client.get("/_emulator/stomp")["frames"]
            with open(os.path.join(work, "runtime.log"), encoding="utf-8") as fh:
                log = fh.read()
            assert (after["CONNECT"] - before.get("CONNECT", 0),
                    after["SUBSCRIBE"] - before.get("SUBSCRIBE", 0)) == (1, 1), f"start {start}:\n{log[-3000:]}"
            assert "STOMP disconnected" not in log and "Connection will retry" not in log, f"start {start}"
            deadline = time.monotonic() + 10
            while client.get("/_emulator/stomp")["subscriptions"].get(queue) and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        emu.stop()
