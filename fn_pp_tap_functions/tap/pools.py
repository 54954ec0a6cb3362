"""TAP API quota pools: which calls share a rolling 24-hour budget.

Once a pool is exceeded TAP answers 429 to every call in it until the oldest request ages out of the
24-hour window, possibly for hours. The client counts calls per pool (``TapClient.calls``) and names the
pool in :class:`~fn_pp_tap_functions.errors.TapRateLimitError`, so the SOC sees which budget ran out.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Pool(StrEnum):
    """Quota pool of a TAP call (the value is the key used in ``TapClient.calls``)."""

    SIEM = "siem"
    SIEM_CLICKS_PERMITTED = "siem_clicks_permitted"
    THREAT = "threat"
    CAMPAIGN = "campaign"
    CAMPAIGN_IDS = "campaign_ids"
    FORENSICS = "forensics"
    PEOPLE_VAP = "people_vap"
    PEOPLE_TOP_CLICKERS = "people_top_clickers"
    URL_DECODER = "url_decoder"


@dataclass(frozen=True, slots=True)
class PoolInfo:
    """Human label and documented daily limit (``None`` when Proofpoint publishes none)."""

    label: str
    daily_limit: int | None


POOLS: dict[Pool, PoolInfo] = {
    Pool.SIEM: PoolInfo("SIEM API (all SIEM endpoints except clicks/permitted; 1,800 requests per 24 h)", 1800),
    Pool.SIEM_CLICKS_PERMITTED: PoolInfo("SIEM clicks/permitted (1,800 requests per 24 h)", 1800),
    Pool.THREAT: PoolInfo("Threat API (no published limit)", None),
    Pool.CAMPAIGN: PoolInfo("Campaign API (no published limit)", None),
    Pool.CAMPAIGN_IDS: PoolInfo("Campaign IDs (50 requests per 24 h)", 50),
    Pool.FORENSICS: PoolInfo("Forensics API (limit not published)", None),
    Pool.PEOPLE_VAP: PoolInfo("People API, Very Attacked People (50 requests per 24 h)", 50),
    Pool.PEOPLE_TOP_CLICKERS: PoolInfo("People API, top clickers (50 requests per 24 h)", 50),
    Pool.URL_DECODER: PoolInfo("URL decoder (1,800 requests per 24 h per credential)", 1800),
}


def pool_label(pool: Pool | str) -> str:
    """Label for messages; unknown names are returned unchanged."""
    try:
        return POOLS[Pool(pool)].label
    except ValueError:
        return str(pool)
