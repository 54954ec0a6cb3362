"""Every field Proofpoint documents for the TAP payloads the app reads: the one list, with its sources.

Two tests use it: ``tests/tap/test_documented_fields.py`` (each field survives normalisation, typed) and
``tests/sim_tap/test_default_scenario.py`` (the simulator's default scenario emits each field where
Proofpoint documents it). A field is added here first; both tests then say what is missing.

Sources (read 2026-11; the pages are Proofpoint's TAP API documentation):

* ``SIEM`` https://help.proofpoint.com/Threat_Insight_Dashboard/API_Documentation/SIEM_API - the message and
  click field tables. Its JSON example has fields the table does not list: ``headerTo``, ``headerCC`` and
  ``clusterId`` (for ``cluster``), and spells ``threatId``/``campaignId`` inside ``threatsInfoMap``; the example
  is quoted whole in SumoLogic/sumologic-documentation
  ``docs/send-data/hosted-collectors/cloud-to-cloud-integration-framework/proofpoint-tap-source.md`` (copied
  in ``tests/data/public/samples/proofpoint_siem_doc_message.json``). Click events carry ``messageID`` in every
  public sample (Elastic's pipeline tests) though the click table omits it.
* ``THREAT`` https://help.proofpoint.com/Threat_Insight_Dashboard/API_Documentation/Threat_API
* ``CAMPAIGN`` https://help.proofpoint.com/Threat_Insight_Dashboard/API_Documentation/Campaign_API
* ``FORENSICS`` https://help.proofpoint.com/Threat_Insight_Dashboard/API_Documentation/Forensics_API - the
  per-evidence-type ``what`` lists are also in Proofpoint's own client, pfptcommunity/tap-api-python
  ``src/tap_api/v2/endpoints/forensics/evidence_types.py``.
* ``PEOPLE`` https://help.proofpoint.com/Threat_Insight_Dashboard/API_Documentation/People_API
* ``URL_DECODE`` https://help.proofpoint.com/Threat_Insight_Dashboard/API_Documentation/URL_Decoder_API

``OBSERVED`` lists fields seen in real answers (tap-api.md, public integrations) that no Proofpoint page
documents: the normalisers keep them too, the simulator need not emit them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fn_pp_tap_functions.tap.evidence import DOCUMENTED as DOCUMENTED_WHAT

SIEM = "https://help.proofpoint.com/Threat_Insight_Dashboard/API_Documentation/SIEM_API"
THREAT = "https://help.proofpoint.com/Threat_Insight_Dashboard/API_Documentation/Threat_API"
CAMPAIGN = "https://help.proofpoint.com/Threat_Insight_Dashboard/API_Documentation/Campaign_API"
FORENSICS = "https://help.proofpoint.com/Threat_Insight_Dashboard/API_Documentation/Forensics_API"
PEOPLE = "https://help.proofpoint.com/Threat_Insight_Dashboard/API_Documentation/People_API"
URL_DECODE = "https://help.proofpoint.com/Threat_Insight_Dashboard/API_Documentation/URL_Decoder_API"


@dataclass(frozen=True)
class Shape:
    """One JSON object shape: its documented fields (TAP's spelling) and where they are documented."""

    name: str
    source: str
    fields: tuple[str, ...]
    optional: tuple[str, ...] = ()
    """Fields documented as present only sometimes (an answer may leave the key out)."""


SIEM_RESPONSE = Shape("SIEM response", SIEM, (
    "queryEndTime", "messagesDelivered", "messagesBlocked", "clicksPermitted", "clicksBlocked"))
MESSAGE_EVENT = Shape("SIEM message event (messagesDelivered, messagesBlocked)", SIEM, (
    "GUID", "QID", "ccAddresses", "cluster", "completelyRewritten", "fromAddress", "headerCC", "headerFrom",
    "headerReplyTo", "headerTo", "id", "impostorScore", "malwareScore", "messageID", "messageParts",
    "messageSize", "messageTime", "modulesRun", "phishScore", "policyRoutes", "quarantineFolder",
    "quarantineRule", "recipient", "replyToAddress", "sender", "senderIP", "spamScore", "subject",
    "threatsInfoMap", "toAddresses", "xmailer"))
THREATS_INFO_MAP = Shape("threatsInfoMap[] entry of a message event", SIEM, (
    "campaignID", "classification", "threat", "threatID", "threatStatus", "threatTime", "threatType",
    "threatUrl"))
MESSAGE_PART = Shape("messageParts[] entry of a message event", SIEM, (
    "contentType", "disposition", "filename", "md5", "oContentType", "sandboxStatus", "sha256"))
CLICK_EVENT = Shape("SIEM click event (clicksPermitted, clicksBlocked)", SIEM, (
    "GUID", "campaignId", "classification", "clickIP", "clickTime", "id", "messageID", "recipient", "sender",
    "senderIP", "threatID", "threatStatus", "threatTime", "threatURL", "url", "userAgent"))

NAMED = Shape("actors[] / families[] / malware[] / techniques[] / brands[] entry", THREAT, ("id", "name"))
THREAT_SUMMARY = Shape("Threat summary (/v2/threat/summary/{id})", THREAT, (
    "id", "identifiedAt", "name", "type", "category", "status", "detectionType", "severityScore",
    "attackSpread", "notable", "verticallyTargeted", "geoTargeted", "actors", "families", "malware",
    "techniques", "brands"))
CAMPAIGN_IDS = Shape("campaigns[] entry of /v2/campaign/ids", CAMPAIGN, ("id", "lastUpdatedAt"))
CAMPAIGN_DETAILS = Shape("Campaign (/v2/campaign/{id})", CAMPAIGN, (
    "id", "name", "description", "startDate", "notable", "actors", "families", "malware", "techniques",
    "brands", "campaignMembers"))
CAMPAIGN_MEMBER = Shape("campaignMembers[] entry", CAMPAIGN, (
    "id", "threat", "threatStatus", "type", "subType", "threatTime"))

FORENSICS_ANSWER = Shape("Forensics answer (/v2/forensics)", FORENSICS, ("generated", "reports"))
FORENSICS_REPORT = Shape("reports[] entry", FORENSICS, ("scope", "id", "name", "type", "threatStatus", "forensics"),
                         optional=("threatStatus",))  # threat reports only
EVIDENCE = Shape("forensics[] evidence item", FORENSICS, (
    "type", "display", "engine", "malicious", "time", "what", "note", "platforms"), optional=("note",))
PLATFORM = Shape("platforms[] entry", FORENSICS, ("name", "os", "version"))
EVIDENCE_WHAT: dict[str, tuple[str, ...]] = DOCUMENTED_WHAT
"""Evidence type -> the fields of its ``what``: the list is kept in the package (it orders the forensics report),
``fn_pp_tap_functions/tap/evidence.py`` ``DOCUMENTED``, with the same sources as FORENSICS here."""

VAP_REPORT = Shape("Very Attacked People (/v2/people/vap)", PEOPLE, (
    "users", "totalVapUsers", "interval", "averageAttackIndex", "vapAttackIndexThreshold"))
TOP_CLICKERS_REPORT = Shape("Top clickers (/v2/people/top-clickers)", PEOPLE, ("users", "totalTopClickers", "interval"))
IDENTITY = Shape("users[].identity", PEOPLE, (
    "guid", "customerUserId", "emails", "name", "department", "location", "title", "vip"))
THREAT_STATISTICS = Shape("users[].threatStatistics (VAP)", PEOPLE, ("attackIndex", "families"))
VAP_FAMILY = Shape("threatStatistics.families[] entry", PEOPLE, ("name", "score"))
CLICK_STATISTICS = Shape("users[].clickStatistics (top clickers)", PEOPLE, ("clickCount", "families"))
CLICK_FAMILY = Shape("clickStatistics.families[] entry", PEOPLE, ("name", "clicks"))

DECODED_URL = Shape("urls[] entry of /v2/url/decode", URL_DECODE, (
    "encodedUrl", "decodedUrl", "success", "messageGuid", "clusterName", "recipientEmail", "error"),
    optional=("decodedUrl", "messageGuid", "clusterName", "recipientEmail", "error"))  # by outcome and auth

SHAPES: tuple[Shape, ...] = (
    SIEM_RESPONSE, MESSAGE_EVENT, THREATS_INFO_MAP, MESSAGE_PART, CLICK_EVENT, NAMED, THREAT_SUMMARY,
    CAMPAIGN_IDS, CAMPAIGN_DETAILS, CAMPAIGN_MEMBER, FORENSICS_ANSWER, FORENSICS_REPORT, EVIDENCE, PLATFORM,
    VAP_REPORT, TOP_CLICKERS_REPORT, IDENTITY, THREAT_STATISTICS, VAP_FAMILY, CLICK_STATISTICS, CLICK_FAMILY,
    DECODED_URL,
)

OBSERVED: dict[str, tuple[str, ...]] = {
    THREATS_INFO_MAP.name: ("detectionType", "actors"),
}
"""Fields seen in real answers but documented nowhere by Proofpoint (kept by the normalisers all the same)."""

SPELLINGS: dict[str, tuple[str, ...]] = {
    "cluster": ("clusterId",),
    "campaignID": ("campaignId",),
    "threatID": ("threatId",),
    "threatUrl": ("threatURL",),
    "severityScore": ("severity",),
    "verticallyTargeted": ("verticals",),
    "geoTargeted": ("geographies",),
}
"""Documented field -> the other spellings TAP uses for it (the documentation's example, older answers)."""
