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


# ---------------------------------------------------------------------------------- TLS verification off

def test_tls_verification_off_is_named_for_every_tenant_that_has_it():
    from fn_pp_tap_functions.settings import tls_warnings
    config = opts(fn_pp_tap_functions=BASE, fn_pp_tap_functions__emea={"principal": "p-emea", "secret": "s-emea"},
                  fn_pp_tap_functions__us={"principal": "p-us", "secret": "s-us", "verify": "true"})
    warnings = tls_warnings(config)
    assert len(warnings) == 2  # the default tenant and the profile that inherits its verify = false
    assert warnings[0].startswith("TLS certificate verification of Proofpoint TAP is OFF for [fn_pp_tap_functions]:")
    assert "[fn_pp_tap_functions:emea] (inherited from [fn_pp_tap_functions])" in warnings[1]
    assert all("s-default" not in w and "s-emea" not in w for w in warnings)


def test_tls_verification_on_or_a_ca_bundle_gives_no_warning():
    from fn_pp_tap_functions.settings import tls_warnings
    assert tls_warnings(opts(fn_pp_tap_functions=dict(BASE, verify="true"))) == []
    assert tls_warnings(opts(fn_pp_tap_functions=dict(BASE, verify="/etc/ssl/proxy-ca.pem"))) == []
    assert tls_warnings(opts(fn_pp_tap_functions={k: v for k, v in BASE.items() if k != "verify"})) == []


def test_selftest_passes_with_tls_off_but_says_so_first(monkeypatch):
    from fn_pp_tap_functions.util import selftest
    monkeypatch.setattr(selftest, "tap_client", lambda _o, _p: type("C", (), {
        "base_url": "https://tap.example.test", "check_credentials": lambda self: None})())
    result = selftest.selftest_function(opts(fn_pp_tap_functions=BASE))
    assert result["state"] == "success"
    assert result["reason"].startswith("WARNING: TLS certificate verification of Proofpoint TAP is OFF")
