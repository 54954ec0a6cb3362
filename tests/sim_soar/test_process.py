"""``python -m sim.soar`` as a process: app.config written, clean exit on SIGTERM, state kept with --state."""

from __future__ import annotations

import configparser
import os
import signal

import resilient

from sim.soar.harness import EmulatorClient, read_app_config, start_emulator_process
from sim.soar.samples import echo_export


def client_from(app_config: str) -> tuple[EmulatorClient, dict]:
    cfg = read_app_config(app_config)
    opts = {"host": cfg["host"], "port": int(cfg["port"]), "org": cfg["org"], "api_key_id": cfg["api_key_id"],
            "api_key_secret": cfg["api_key_secret"], "cafile": cfg["cafile"]}
    res = resilient.get_client(opts)
    return EmulatorClient(f"https://{cfg['host']}:{cfg['port']}", res.org_id, cfg["api_key_id"],
                          cfg["api_key_secret"], cfg["cafile"]), cfg


def stop(proc) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(15)


def test_cli_writes_config_and_keeps_state_across_restart(tmp_path):
    app_config = str(tmp_path / "app.config")
    with open(app_config, "w", encoding="utf-8") as fh:
        fh.write("[fn_pp_tap_functions]\nbase_url = https://tap.example\n")
    state = str(tmp_path / "soar.sqlite")
    proc, base_url = start_emulator_process(app_config, state, extra_args=["--grant-all"])
    try:
        client, cfg = client_from(app_config)
        assert base_url == f"https://127.0.0.1:{cfg['port']}"
        assert os.path.isfile(cfg["cafile"]) and int(cfg["stomp_port"]) > 0
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(app_config)
        assert parser["fn_pp_tap_functions"]["base_url"] == "https://tap.example"
        imp = client.post("/configurations/imports", echo_export())
        client.put(f"/configurations/imports/{imp['id']}", dict(imp, status="ACCEPTED"))
        inc = client.create_incident("persisted", properties={"emu_verdict": "benign"})
        client.post(f"/incidents/{inc['id']}/comments", {"text": "a note"})
        client.post(f"/incidents/{inc['id']}/artifacts", {"type": "URL", "value": "https://evil.example/x"})
        client.post(f"/incidents/{inc['id']}/table_data/emu_table/row_data", {"cells": {"hits": {"value": 2}}})
    finally:
        assert stop(proc) == 0

    proc, _ = start_emulator_process(app_config, state, extra_args=["--grant-all"])
    try:
        client, _cfg = client_from(app_config)
        again = client.get(f"/incidents/{inc['id']}?handle_format=names")
        assert again["name"] == "persisted" and again["properties"]["emu_verdict"] == "benign"
        assert [n["text"] for n in client.get(f"/incidents/{inc['id']}/comments")] == ["a note"]
        assert client.get(f"/incidents/{inc['id']}/artifacts")[0]["value"] == "https://evil.example/x"
        assert client.get(f"/incidents/{inc['id']}/table_data/emu_table")["rows"][0]["cells"]["hits"]["value"] == 2
        assert client.get("/functions/emu_echo")["destination_handle"] == "emu_test"
        assert client.create_incident("next")["id"] == inc["id"] + 1  # id counters persist
    finally:
        assert stop(proc) == 0


def test_cli_without_state_starts_empty(tmp_path):
    app_config = str(tmp_path / "app.config")
    admin_config = str(tmp_path / "admin.config")
    proc, _ = start_emulator_process(app_config, extra_args=["--admin-config", admin_config])
    try:
        admin, _ = client_from(admin_config)
        assert admin.get("/incidents") == []
        app, _ = client_from(app_config)  # App Host's base permissions only: no incident may be read
        assert app.get("/incidents", expect=403)["message"] == "Forbidden"
        assert app.get("/types/incident/fields")
    finally:
        assert stop(proc) == 0


def test_cli_grants_an_apikey_permissions_file(tmp_path):
    app_config = str(tmp_path / "app.config")
    permissions = tmp_path / "apikey_permissions.txt"
    permissions.write_text("# the base is always granted\nread_all_incidents\n", encoding="utf-8")
    proc, _ = start_emulator_process(app_config, extra_args=["--apikey-permissions", str(permissions)])
    try:
        app, _ = client_from(app_config)
        assert app.get("/incidents") == []
        app.post("/incidents", {"name": "x", "discovered_date": 0}, expect=403)
    finally:
        assert stop(proc) == 0
