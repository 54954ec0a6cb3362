"""pp_tap_get_campaign through the real runtime against the TAP simulator."""

from __future__ import annotations

import pytest
from fnhelpers import CAMPAIGN_ID, UNKNOWN_CAMPAIGN_ID, Failed, call

config_data = ""  # set by the tap_sim fixture before the runtime starts


def test_success_lists_members_with_counts(circuits_app, tap_sim):
    result = call(circuits_app, "pp_tap_get_campaign", {"pp_tap_campaign_id": CAMPAIGN_ID})
    content = result["content"]
    assert result["success"] is True
    assert content["campaign_id"] == CAMPAIGN_ID
    assert content["name"].startswith("SimLoader")
    assert content["member_count"] == len(content["members"]) == 4
    assert sum(content["counts_by_status"].values()) == 4
    assert content["counts_by_status"]["cleared"] >= 1
    assert all(m["threat_id"] and m["status"] for m in content["members"])
    assert "Member threats" in content["note_html"]


def test_membership_and_status_changes_are_reflected(circuits_app, tap_sim):
    member = call(circuits_app, "pp_tap_get_campaign", {"pp_tap_campaign_id": CAMPAIGN_ID})["content"]["members"][0]
    tap_sim.set_threat_status(member["threat_id"], "falsePositive")
    try:
        content = call(circuits_app, "pp_tap_get_campaign", {"pp_tap_campaign_id": CAMPAIGN_ID})["content"]
        assert content["counts_by_status"]["falsePositive"] >= 1
    finally:
        tap_sim.set_threat_status(member["threat_id"], member["status"])


def test_unknown_campaign_is_named(circuits_app):
    with pytest.raises(Failed, match=f"(?i)campaign {UNKNOWN_CAMPAIGN_ID} not found in TAP"):
        call(circuits_app, "pp_tap_get_campaign", {"pp_tap_campaign_id": UNKNOWN_CAMPAIGN_ID})


def test_bad_credentials(circuits_app):
    with pytest.raises(Failed, match="rejected the service principal/secret"):
        call(circuits_app, "pp_tap_get_campaign", {"pp_tap_campaign_id": CAMPAIGN_ID, "pp_tap_profile": "badcreds"})


def test_throttled(circuits_app, tap_sim):
    tap_sim.set_limits(campaign=0)
    with pytest.raises(Failed, match="(?i)throttled|too many requests"):
        call(circuits_app, "pp_tap_get_campaign", {"pp_tap_campaign_id": CAMPAIGN_ID})


@pytest.mark.parametrize("bad", ["", "not-a-uuid/../x", "1ae1f3c6 7a02"])
def test_malformed_campaign_id_makes_no_call(circuits_app, tap_sim, bad):
    with pytest.raises(Failed, match="(?i)campaign id"):
        call(circuits_app, "pp_tap_get_campaign", {"pp_tap_campaign_id": bad})
    assert tap_sim.stats()["total"] == 0
