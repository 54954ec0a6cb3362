"""Enrichment of an incident from Proofpoint TAP: all its threats and its campaign(s) in one function.

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
workflow script cannot do (scripts only add rows), so the function does it over REST.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fn_pp_tap_functions.errors import InputError, TapNotFoundError
from fn_pp_tap_functions.investigation.common import digest, inert, split_ids
from fn_pp_tap_functions.investigation.soar_io import InvestigationCases
from fn_pp_tap_functions.lookups import dashboard_link
from fn_pp_tap_functions.rendering import render_template
from fn_pp_tap_functions.soar_cases import row_cells
from fn_pp_tap_functions.tap.client import TapClient
from fn_pp_tap_functions.tap.threats import Campaign, ThreatSummary
from fn_pp_tap_functions.tap.timestamps import parse_tap_time
from fn_pp_tap_functions.tap.validation import validate_campaign_id, validate_threat_id

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


def enrich(client: TapClient, threat_ids: Any, campaign_ids: Any = None, *, dashboard_url: str | None = None,
           profile: str | None = None, cases: InvestigationCases | None = None,
           incident_id: int | None = None) -> dict[str, Any]:
    """Look up every threat and campaign, merge them, and (with an incident) refresh its members table.

    Raises InputError before any call for a malformed ID or when no ID is given, and TapNotFoundError
    when TAP knows none of them; other TAP errors (auth, throttling, outage) fail the whole run.
    """
    threats_wanted = split_ids(threat_ids, "threat ID", validate_threat_id)
    campaigns_wanted = split_ids(campaign_ids, "campaign ID", validate_campaign_id)
    if not threats_wanted and not campaigns_wanted:
        raise InputError("Give at least one threat ID or campaign ID to enrich the incident with.")

    threats: list[dict[str, Any]] = []
    campaigns: list[Campaign] = []
    campaign_ids_found: list[str] = []
    not_found: list[str] = []
    for tid in threats_wanted:
        try:
            summary = ThreatSummary.from_api(client.threat_summary(tid))
        except TapNotFoundError:
            not_found.append(f"threat {tid}")
            continue
        data = summary.to_dict()
        data["threat_id"] = summary.threat_id or tid
        data["dashboard_url"] = dashboard_link(dashboard_url, data["threat_id"])
        threats.append(data)
    for cid in campaigns_wanted:
        try:
            campaigns.append(Campaign.from_api(client.campaign(cid)))
            campaign_ids_found.append(cid)
        except TapNotFoundError:
            not_found.append(f"campaign {cid}")
    if not threats and not campaigns:
        raise TapNotFoundError(f"Proofpoint TAP knows none of the IDs given: {', '.join(not_found)}. Check the "
                               "incident's threat and campaign IDs.", what="threat")

    campaign_dicts = [c.to_dict() | {"id": c.id or cid, "member_count": len(c.members)}
                      for c, cid in zip(campaigns, campaign_ids_found, strict=True)]
    scores = [t["severity_score"] for t in threats if isinstance(t.get("severity_score"), int)]
    result: dict[str, Any] = {
        "severity_score": max(scores) if scores else None,
        "families": _union([t["families"] for t in threats] + [c["families"] for c in campaign_dicts]),
        "actors": _union([t["actors"] for t in threats] + [c["actors"] for c in campaign_dicts]),
        "malware": _union([t["malware"] for t in threats] + [c["malware"] for c in campaign_dicts]),
        "campaign_name": "; ".join(c["name"] or c["id"] for c in campaign_dicts) or None,
        "statuses": _union([[t["status"]] for t in threats if t.get("status")]),
        "threats": threats,
        "campaigns": [{k: c[k] for k in ("id", "name", "description", "start_date", "actors", "families",
                                          "malware", "techniques", "brands", "counts_by_status",
                                          "member_count")} for c in campaign_dicts],
        "not_found": not_found,
        "profile": profile,
    }
    # What TAP said, without presentation: the post-processing script compares it with the digest stored
    # on the incident and writes fields and a note only when it changed.
    result["digest"] = digest({k: result[k] for k in ("severity_score", "families", "actors", "malware",
                                                      "campaign_name", "threats", "campaigns", "not_found")})
    result["fields_text"] = {
        "families": ", ".join(result["families"]) or None,
        "actors": ", ".join(result["actors"]) or None,
        "malware": ", ".join(result["malware"]) or None,
    }
    result["note_html"] = render_template("enrich_note.html.j2", result=result)
    result["members_table"] = None
    if cases is not None and incident_id is not None and campaigns:
        result["members_table"] = sync_members(cases, incident_id, campaigns)
    return result


# ------------------------------------------------------------------------------------- members table

def member_rows(campaign: Campaign) -> list[dict[str, Any]]:
    """The table rows of one campaign's members (cells by column), at most MAX_MEMBER_ROWS."""
    rows = []
    for member in campaign.members[:MAX_MEMBER_ROWS]:
        when = member.threat_time
        rows.append({
            COL_CAMPAIGN_ID: campaign.id,
            COL_CAMPAIGN: inert(campaign.name or campaign.id, 200),
            COL_THREAT_ID: member.threat_id,
            COL_THREAT: inert(member.threat, 1000) or None,
            COL_TYPE: member.type,
            COL_STATUS: member.status,
            COL_THREAT_TIME: int(when.timestamp() * 1000) if when else None,
        })
    return rows


def _same(wanted: Mapping[str, Any], have: Mapping[str, Any]) -> bool:
    for name, value in wanted.items():
        current = have.get(name)
        if name == COL_THREAT_TIME and current is not None and value is not None:
            parsed = parse_tap_time(current) if isinstance(current, str) else None
            current = int(parsed.timestamp() * 1000) if parsed else current
        if (current in (None, "") and value in (None, "")) or current == value:
            continue
        return False
    return True


def plan_member_changes(existing: Sequence[Mapping[str, Any]], wanted: Sequence[Mapping[str, Any]]
                        ) -> tuple[list[dict[str, Any]], list[tuple[int, dict[str, Any]]]]:
    """(rows to add, (row id, cells) to update): one row per (campaign ID, threat ID), never two.

    ``existing`` are SOAR rows (``{"id", "cells"}``). A member already in the table is updated only when
    a cell differs, so a refresh with nothing new writes nothing.
    """
    by_key: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
    for row in existing:
        cells = row_cells(row)
        key = (str(cells.get(COL_CAMPAIGN_ID) or ""), str(cells.get(COL_THREAT_ID) or ""))
        if key not in by_key and row.get("id") is not None:
            by_key[key] = (int(row["id"]), cells)
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


def sync_members(cases: InvestigationCases, incident_id: int, campaigns: Sequence[Campaign]) -> dict[str, int]:
    """Bring the incident's members table in line with TAP; returns the counts of rows added/updated."""
    wanted = [row for campaign in campaigns for row in member_rows(campaign)]
    adds, updates = plan_member_changes(cases.rows(incident_id, MEMBERS_TABLE), wanted)
    for cells in adds:
        cases.add_row(incident_id, MEMBERS_TABLE, cells)
    for row_id, cells in updates:
        cases.update_row(incident_id, MEMBERS_TABLE, row_id, cells)
    return {"added": len(adds), "updated": len(updates), "unchanged": len(wanted) - len(adds) - len(updates)}
