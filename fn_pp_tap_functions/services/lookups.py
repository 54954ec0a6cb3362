"""Threat and campaign look-ups: a TAP call, normalisation, and the result a workflow script reads.

The result is flat JSON (plain names, ISO dates) so post-processing scripts can read
`results.content.status` without knowing TAP's field spellings, plus a ready-made HTML note whose
every TAP value is escaped.
"""

from __future__ import annotations

from typing import Any

from fn_pp_tap_functions.services.rendering import render_template
from fn_pp_tap_functions.tap.client import TapClient
from fn_pp_tap_functions.tap.links import dashboard_link
from fn_pp_tap_functions.tap.threats import Campaign, ThreatSummary
from fn_pp_tap_functions.tap.validation import validate_campaign_id, validate_threat_id

NOTE_MAX_MEMBERS = 50


def get_threat(client: TapClient, threat_id: Any, *, dashboard_url: str | None = None,
               profile: str | None = None) -> dict[str, Any]:
    threat_id = validate_threat_id(threat_id)
    summary = ThreatSummary.from_api(client.threat_summary(threat_id))
    threat = summary.to_dict()
    link = dashboard_link(dashboard_url, summary.threat_id or threat_id)
    result = dict(threat)
    result.update({
        "threat_id": summary.threat_id or threat_id,
        "dashboard_url": link,
        "profile": profile,
        "note_html": render_template("threat_note.html.j2", threat=threat, dashboard_url=link),
    })
    return result


def get_campaign(client: TapClient, campaign_id: Any, *, profile: str | None = None) -> dict[str, Any]:
    campaign_id = validate_campaign_id(campaign_id)
    campaign = Campaign.from_api(client.campaign(campaign_id))
    data = campaign.to_dict()
    counts = data["counts_by_status"]
    result = dict(data)
    result.update({
        "campaign_id": campaign.id or campaign_id,
        "member_count": len(campaign.members),
        "profile": profile,
        "note_html": render_template("campaign_note.html.j2", campaign=data, counts_by_status=counts,
                                     members=data.get("members", []), max_members=NOTE_MAX_MEMBERS),
    })
    return result
