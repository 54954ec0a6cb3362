"""Enrichment of an incident from Proofpoint TAP, the pure part: merging all its threats and campaign(s).

Why one function rather than a workflow of ``pp_tap_get_threat`` then ``pp_tap_get_campaign``: an
ingested incident holds a *list* of threat IDs (``pp_tap_threat_ids``) and usually no campaign. SOAR
workflows here are linear, so a get-campaign step would fail every incident without a campaign, and a
get-threat step could look up only one threat. One function looks up every threat and every campaign,
tolerates IDs TAP does not know (named in the result and the note), and merges what it found into the
incident fields (highest severity score; families, actors and malware of all of them; campaign names).

The result carries a ``digest`` of what TAP said; the workflow's post-processing script writes the fields
and the note only when the digest differs from the one stored on the incident, so the menu item that
refreshes the enrichment adds a note only when TAP changed its mind.

With an incident ID, the campaign members are also kept in the data table ``pp_tap_campaign_members``:
new members are added and changed members (a status turned falsePositive) updated in place, which a
workflow script cannot do (scripts only add rows), so the function does it over REST
(:func:`fn_pp_tap_functions.services.investigation.enrich` makes the calls; this module decides).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.investigation.common import digest, split_ids
from fn_pp_tap_functions.tap.links import dashboard_link
from fn_pp_tap_functions.tap.threats import Campaign, ThreatSummary
from fn_pp_tap_functions.tap.timestamps import epoch_ms, parse_tap_time
from fn_pp_tap_functions.tap.validation import validate_campaign_id, validate_threat_id
from fn_pp_tap_functions.text import line

MEMBERS_TABLE = "pp_tap_campaign_members"
COL_CAMPAIGN_ID = "pp_tap_member_campaign_id"
COL_CAMPAIGN = "pp_tap_member_campaign"
COL_THREAT_ID = "pp_tap_member_threat_id"
COL_THREAT = "pp_tap_member_threat"
COL_TYPE = "pp_tap_member_type"
COL_STATUS = "pp_tap_member_status"
COL_THREAT_TIME = "pp_tap_member_threat_time"
MEMBER_COLUMNS: dict[str, str] = {
    COL_CAMPAIGN: "text", COL_THREAT_ID: "text", COL_THREAT: "text", COL_TYPE: "text", COL_STATUS: "text",
    COL_THREAT_TIME: "datetimepicker", COL_CAMPAIGN_ID: "text",
}
"""Column -> SOAR input type, in display order."""
MAX_MEMBER_ROWS = 500
"""Rows written per campaign: a huge campaign must not turn one click into thousands of REST calls."""


def _union(lists: Iterable[Sequence[str]]) -> list[str]:
    out: list[str] = []
    for values in lists:
        for value in values:
            if value and value not in out:
                out.append(value)
    return out


def wanted_ids(threat_ids: Any, campaign_ids: Any) -> tuple[list[str], list[str]]:
    """The threat and campaign IDs to look up, each checked before any call; at least one of them."""
    threats = split_ids(threat_ids, "threat ID", validate_threat_id)
    campaigns = split_ids(campaign_ids, "campaign ID", validate_campaign_id)
    if not threats and not campaigns:
        raise InputError("Give at least one threat ID or campaign ID to enrich the incident with.")
    return threats, campaigns


def threat_entry(summary: ThreatSummary, asked: str, dashboard_url: str | None) -> dict[str, Any]:
    """One threat of the result: TAP's summary as flat JSON, with its id and dashboard link."""
    threat_id = summary.threat_id or asked
    return {**summary.to_dict(), "threat_id": threat_id, "dashboard_url": dashboard_link(dashboard_url, threat_id)}


def merge(threats: Sequence[dict[str, Any]], campaigns: Sequence[tuple[str, Campaign]], not_found: Sequence[str],
          *, profile: str | None) -> dict[str, Any]:
    """Merge what TAP said about every threat and campaign (``(asked id, campaign)`` pairs) into one result.

    The highest severity score; families, actors and malware of all of them; campaign names; a ``digest``
    of what TAP said, without presentation, that the post-processing script compares with the digest
    stored on the incident (it writes fields and a note only when it changed).
    """
    campaign_dicts: list[dict[str, Any]] = [
        {**c.to_dict(), "id": c.id or cid, "member_count": len(c.members)} for cid, c in campaigns]
    scores = [t["severity_score"] for t in threats if isinstance(t.get("severity_score"), int)]
    result: dict[str, Any] = {
        "severity_score": max(scores) if scores else None,
        "families": _union([t["families"] for t in threats] + [c["families"] for c in campaign_dicts]),
        "actors": _union([t["actors"] for t in threats] + [c["actors"] for c in campaign_dicts]),
        "malware": _union([t["malware"] for t in threats] + [c["malware"] for c in campaign_dicts]),
        "campaign_name": "; ".join(c["name"] or c["id"] for c in campaign_dicts) or None,
        "statuses": _union([[t["status"]] for t in threats if t.get("status")]),
        "threats": list(threats),
        "campaigns": [{k: c[k] for k in ("id", "name", "description", "start_date", "actors", "families",
                                          "malware", "techniques", "brands", "counts_by_status",
                                          "member_count")} for c in campaign_dicts],
        "not_found": list(not_found),
        "profile": profile,
    }
    result["digest"] = digest({k: result[k] for k in ("severity_score", "families", "actors", "malware",
                                                      "campaign_name", "threats", "campaigns", "not_found")})
    result["fields_text"] = {
        "families": ", ".join(result["families"]) or None,
        "actors": ", ".join(result["actors"]) or None,
        "malware": ", ".join(result["malware"]) or None,
    }
    return result


# ------------------------------------------------------------------------------------- members table

def member_rows(campaign: Campaign) -> list[dict[str, Any]]:
    """The table rows of one campaign's members (cells by column), at most MAX_MEMBER_ROWS."""
    rows = []
    for member in campaign.members[:MAX_MEMBER_ROWS]:
        when = member.threat_time
        rows.append({
            COL_CAMPAIGN_ID: campaign.id,
            COL_CAMPAIGN: line(campaign.name or campaign.id, 200),
            COL_THREAT_ID: member.threat_id,
            COL_THREAT: line(member.threat, 1000) or None,
            COL_TYPE: member.type,
            COL_STATUS: member.status,
            COL_THREAT_TIME: epoch_ms(when),
        })
    return rows


def _same(wanted: Mapping[str, Any], have: Mapping[str, Any]) -> bool:
    for name, value in wanted.items():
        current = have.get(name)
        if name == COL_THREAT_TIME and current is not None and value is not None:
            parsed = parse_tap_time(current) if isinstance(current, str) else None
            current = epoch_ms(parsed) if parsed else current
        if (current in (None, "") and value in (None, "")) or current == value:
            continue
        return False
    return True


def plan_member_changes(existing: Sequence[tuple[int, Mapping[str, Any]]], wanted: Sequence[Mapping[str, Any]]
                        ) -> tuple[list[dict[str, Any]], list[tuple[int, dict[str, Any]]]]:
    """(rows to add, (row id, cells) to update): one row per (campaign ID, threat ID), never two.

    ``existing`` are the table's rows as ``(row id, cells by column)``. A member already in the table is
    updated only when a cell differs, so a refresh with nothing new writes nothing.
    """
    by_key: dict[tuple[str, str], tuple[int, Mapping[str, Any]]] = {}
    for row_id, cells in existing:
        key = (str(cells.get(COL_CAMPAIGN_ID) or ""), str(cells.get(COL_THREAT_ID) or ""))
        if key not in by_key:
            by_key[key] = (row_id, cells)
    adds: list[dict[str, Any]] = []
    updates: list[tuple[int, dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    for cells in wanted:
        key = (str(cells.get(COL_CAMPAIGN_ID) or ""), str(cells.get(COL_THREAT_ID) or ""))
        if key in seen:
            continue
        seen.add(key)
        if key not in by_key:
            adds.append(dict(cells))
        elif not _same(cells, by_key[key][1]):
            updates.append((by_key[key][0], dict(cells)))
    return adds, updates
