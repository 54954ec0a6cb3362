"""Which tenant a call goes to, and what an administrator is told when app.config is wrong."""

from __future__ import annotations

import pytest
from resilient.app_config import AppConfigManager

from fn_pp_tap_functions.errors import ConfigError, InputError
from fn_pp_tap_functions.settings import (
    DEFAULT_INTERVALS,
    control_owner,
    interval_minutes,
    load_settings,
    section_name,
    tap_client,
)
from fn_pp_tap_functions.util.config import config_section_data


def opts(**sections) -> AppConfigManager:
    return AppConfigManager({name.replace("__", ":"): dict(values) for name, values in sections.items()})


BASE = {"base_url": "https://tap.example.test/", "principal": "p-default", "secret": "s-default",
        "verify": "false", "timeout": "12", "retries": "2"}


def test_default_section_is_read_and_trailing_slash_dropped():
    s = load_settings(opts(fn_pp_tap_functions=BASE))
    assert (s.base_url, s.principal, s.secret, s.timeout, s.retries) == (
        "https://tap.example.test", "p-default", "s-default", 12, 2)
    assert s.section == "fn_pp_tap_functions"


def test_profile_inherits_connection_settings_but_never_credentials():
    s = load_settings(opts(fn_pp_tap_functions=BASE, fn_pp_tap_functions__emea={"principal": "p-emea",
                                                                                 "secret": "s-emea"}), "emea")
    assert (s.principal, s.secret, s.base_url, s.timeout) == ("p-emea", "s-emea", "https://tap.example.test", 12)
    with pytest.raises(ConfigError, match=r"'secret' in \[fn_pp_tap_functions:apac\]"):
        load_settings(opts(fn_pp_tap_functions=BASE, fn_pp_tap_functions__apac={"principal": "p-apac"}), "apac")


def test_unknown_profile_names_the_known_ones():
    with pytest.raises(ConfigError, match="Known profiles: emea"):
        load_settings(opts(fn_pp_tap_functions=BASE, fn_pp_tap_functions__emea=BASE), "us")


def test_missing_section_and_placeholder_principal_are_explained():
    with pytest.raises(ConfigError, match=r"No \[fn_pp_tap_functions\] section"):
        load_settings(opts())
    with pytest.raises(ConfigError, match="'principal' is not set"):
        load_settings(opts(fn_pp_tap_functions=dict(BASE, principal="<tap-service-principal>")))


def test_unresolved_environment_secret_is_reported_without_its_value(monkeypatch):
    monkeypatch.delenv("PP_TAP_SECRET_TEST", raising=False)
    with pytest.raises(ConfigError) as err:
        load_settings(opts(fn_pp_tap_functions=dict(BASE, secret="$PP_TAP_SECRET_TEST")))
    assert "could not be resolved" in str(err.value)


def test_environment_secret_is_resolved(monkeypatch):
    monkeypatch.setenv("PP_TAP_SECRET_TEST", "from-env")
    s = load_settings(opts(fn_pp_tap_functions=dict(BASE, secret="$PP_TAP_SECRET_TEST")))
    assert s.secret == "from-env"
    assert "from-env" not in repr(s)


def test_bad_numbers_are_named():
    with pytest.raises(ConfigError, match="'timeout' in \\[fn_pp_tap_functions\\] must be a whole number"):
        load_settings(opts(fn_pp_tap_functions=dict(BASE, timeout="soon")))
    with pytest.raises(ConfigError, match="'retries' .* between 0 and 10"):
        load_settings(opts(fn_pp_tap_functions=dict(BASE, retries="99")))


def test_hostile_profile_name_is_refused():
    with pytest.raises(InputError):
        load_settings(opts(fn_pp_tap_functions=BASE), "x]\n[y")
    assert section_name("  ") == "fn_pp_tap_functions"


def test_client_gets_rc_verify_and_timeout():
    client = tap_client(opts(fn_pp_tap_functions=BASE))
    assert client.base_url == "https://tap.example.test"


def test_config_template_documents_every_setting():
    text = config_section_data()
    for key in ("base_url", "principal", "secret", "verify", "timeout", "retries", "dashboard_url", "https_proxy",
                "[fn_pp_tap_functions:emea]", "ingest_interval_minutes", "sync_interval_minutes",
                "scheduler_initial_delay_seconds", "control_owner", "ui_lock", "ingest_max_windows_per_run",
                "ingest_overlap_minutes", "ingest_lease_minutes", "siem_daily_budget", "incident_template_path"):
        assert key in text
    assert "$PP_TAP_SECRET" in text and "^pp_tap_secret" in text


def test_the_scheduler_is_on_unless_app_config_turns_it_off():
    new = config_section_data()
    assert "ingest_interval_minutes = 5\n" in new and "sync_interval_minutes = 60\n" in new
    unset = opts(fn_pp_tap_functions=BASE)
    assert interval_minutes(unset, "ingest_interval_minutes", default=DEFAULT_INTERVALS["ingest_interval_minutes"]) == 5
    assert interval_minutes(unset, "sync_interval_minutes", default=DEFAULT_INTERVALS["sync_interval_minutes"]) == 60
    off = opts(fn_pp_tap_functions=dict(BASE, ingest_interval_minutes="0"))
    assert interval_minutes(off, "ingest_interval_minutes", default=5) == 0
    with pytest.raises(ConfigError, match="ingest_interval_minutes"):
        interval_minutes(opts(fn_pp_tap_functions=dict(BASE, ingest_interval_minutes="often")),
                         "ingest_interval_minutes", default=5)


def test_control_owner_is_optional():
    assert control_owner(opts(fn_pp_tap_functions=BASE)) is None
    assert control_owner(opts(fn_pp_tap_functions=dict(BASE, control_owner=" SOC Tier 1 "))) == "SOC Tier 1"
