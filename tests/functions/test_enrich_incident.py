"""pp_tap_enrich_incident through the real runtime: threats and campaigns merged, members table kept."""

from __future__ import annotations

import pytest
from fnhelpers import CAMPAIGN_ID, THREAT_ID, UNKNOWN_CAMPAIGN_ID, UNKNOWN_THREAT_ID, Failed, call

from fn_pp_tap_functions.util.customize import customization_data  # noqa: F401

config_data = ""

MALWARE_THREAT = "eee4a2ef5531c67cc787e35d9d22f4dd966d29967938d38356ecc95bee7bb8a7"
TABLE = "pp_tap_campaign_members"


def rows(soar, incident: int) -> list[dict]:
    return soar.get(f"/incidents/{incident}/table_data/{TABLE}")["rows"]


def enrich(circuits, **inputs):
    return call(circuits, "pp_tap_enrich_incident", inputs)["content"]


def test_success_merges_threats_and_campaign_and_fills_the_members_table(circuits_app, soar, incident):
    content = enrich(circuits_app, pp_tap_threat_ids=f"{THREAT_ID},{MALWARE_THREAT}", pp_tap_campaign_ids=CAMPAIGN_ID,
                     pp_tap_incident_id=incident)
    assert content["severity_score"] == 950
    assert {"Corporate Credential Phishing", "Downloader"} <= set(content["families"])
    assert content["campaign_name"].startswith("SimLoader") and content["not_found"] == []
    assert content["members_table"] == {"added": 4, "updated": 0, "unchanged": 0}
    assert len(rows(soar, incident)) == 4
    assert "Proofpoint TAP enrichment" in content["note_html"]


def test_refresh_updates_changed_members_in_place(circuits_app, tap_sim, soar, incident):
    first = enrich(circuits_app, pp_tap_campaign_ids=CAMPAIGN_ID, pp_tap_incident_id=incident)
    tap_sim.set_threat_status(THREAT_ID, "falsePositive")
    try:
        second = enrich(circuits_app, pp_tap_campaign_ids=CAMPAIGN_ID, pp_tap_incident_id=incident)
        third = enrich(circuits_app, pp_tap_campaign_ids=CAMPAIGN_ID, pp_tap_incident_id=incident)
    finally:
        tap_sim.set_threat_status(THREAT_ID, "active")
    assert second["members_table"]["updated"] == 1 and second["members_table"]["added"] == 0
    assert third["members_table"] == {"added": 0, "updated": 0, "unchanged": 4}
    assert second["digest"] != first["digest"] and third["digest"] == second["digest"]
    statuses = {r["cells"]["pp_tap_member_threat_id"]["value"]: r["cells"]["pp_tap_member_status"]["value"]
                for r in rows(soar, incident)}
    assert statuses[THREAT_ID] == "falsePositive" and len(statuses) == 4


def test_unknown_ids_are_named_not_fatal_unless_all_unknown(circuits_app):
    content = enrich(circuits_app, pp_tap_threat_ids=f"{THREAT_ID}, {UNKNOWN_THREAT_ID}",
                     pp_tap_campaign_ids=UNKNOWN_CAMPAIGN_ID)
    assert content["not_found"] == [f"threat {UNKNOWN_THREAT_ID}", f"campaign {UNKNOWN_CAMPAIGN_ID}"]
    with pytest.raises(Failed, match=f"knows none of the IDs given: threat {UNKNOWN_THREAT_ID}"):
        enrich(circuits_app, pp_tap_threat_ids=UNKNOWN_THREAT_ID)


def test_throttling_is_explained_and_not_retried(circuits_app, tap_sim):
    tap_sim.set_limits(threat_summary=0)
    with pytest.raises(Failed, match="(?i)throttled"):
        enrich(circuits_app, pp_tap_threat_ids=THREAT_ID)
    assert tap_sim.stats()["total"] == 1


@pytest.mark.parametrize(("inputs", "message"), [
    ({"pp_tap_threat_ids": f"{THREAT_ID}, ../../v2/people/vap"}, "threat ID"),
    ({"pp_tap_threat_ids": "", "pp_tap_campaign_ids": ""}, "at least one threat ID or campaign ID"),
    ({"pp_tap_campaign_ids": "not-a-uuid"}, "campaign ID"),
    ({"pp_tap_threat_ids": ",".join(f"{i:064x}" for i in range(25))}, "at most 20"),
])
def test_bad_input_makes_no_call(circuits_app, tap_sim, inputs, message):
    with pytest.raises(Failed, match=message):
        enrich(circuits_app, **inputs)
    assert tap_sim.stats()["total"] == 0
