"""pp_tap_get_threat through the real runtime against the TAP simulator."""

from __future__ import annotations

import pytest
from fnhelpers import THREAT_ID, UNKNOWN_THREAT_ID, Failed, call

from fn_pp_tap_functions.util.customize import customization_data  # noqa: F401  (the package must import)

config_data = ""  # set by the tap_sim fixture before the runtime starts


def test_success_returns_the_normalised_threat_and_a_safe_note(circuits_app, tap_sim):
    result = call(circuits_app, "pp_tap_get_threat", {"pp_tap_threat_id": THREAT_ID})
    assert result["success"] is True
    content = result["content"]
    assert content["threat_id"] == THREAT_ID
    assert (content["status"], content["category"], content["type"]) == ("active", "phish", "url")
    assert content["severity_score"] == 820
    assert content["families"] == ["Corporate Credential Phishing"]
    assert content["actors"] == ["TA-SIM-42"] and content["brands"] == ["DocuSign"]
    assert content["identified_at"].endswith("Z")
    assert content["dashboard_url"].endswith(f"/threat/email/{THREAT_ID}")
    assert "<b>Status:</b> active" in content["note_html"]
    assert tap_sim.stats()["endpoints"]  # the call really reached the simulator


def test_status_change_in_tap_is_seen(circuits_app, tap_sim):
    tap_sim.set_threat_status(THREAT_ID, "falsePositive")
    try:
        result = call(circuits_app, "pp_tap_get_threat", {"pp_tap_threat_id": THREAT_ID})
        assert result["content"]["status"] == "falsePositive"
    finally:
        tap_sim.set_threat_status(THREAT_ID, "active")


def test_unknown_threat_is_named(circuits_app):
    with pytest.raises(Failed, match=f"(?i)threat {UNKNOWN_THREAT_ID} not found in TAP"):
        call(circuits_app, "pp_tap_get_threat", {"pp_tap_threat_id": UNKNOWN_THREAT_ID})


def test_bad_credentials_point_at_app_config(circuits_app):
    with pytest.raises(Failed) as err:
        call(circuits_app, "pp_tap_get_threat", {"pp_tap_threat_id": THREAT_ID, "pp_tap_profile": "badcreds"})
    assert "rejected the service principal/secret" in str(err.value)
    assert "not-the-secret" not in str(err.value)


def test_throttling_is_explained_not_retried_into_the_ground(circuits_app, tap_sim):
    tap_sim.set_limits(threat_summary=1)
    call(circuits_app, "pp_tap_get_threat", {"pp_tap_threat_id": THREAT_ID})
    before = tap_sim.stats()["total"]
    with pytest.raises(Failed, match="(?i)throttled|too many requests"):
        call(circuits_app, "pp_tap_get_threat", {"pp_tap_threat_id": THREAT_ID})
    assert tap_sim.stats()["total"] == before + 1  # a 429 is not retried


@pytest.mark.parametrize("bad", ["", "   ", "../../v2/people/vap", "abc def", "x" * 500])
def test_malformed_input_makes_no_call(circuits_app, tap_sim, bad):
    with pytest.raises(Failed, match="(?i)threat id"):
        call(circuits_app, "pp_tap_get_threat", {"pp_tap_threat_id": bad})
    assert tap_sim.stats()["total"] == 0


def test_unknown_profile_is_named(circuits_app):
    with pytest.raises(Failed, match=r"No \[fn_pp_tap_functions:nowhere\] section"):
        call(circuits_app, "pp_tap_get_threat", {"pp_tap_threat_id": THREAT_ID, "pp_tap_profile": "nowhere"})
