"""Every field Proofpoint documents (tests/documented_fields.py, with sources) survives normalisation, typed.

For each shape: a payload holding every documented field with a distinct value, normalised, and each value
found again where the normalised dataclass keeps it. The expectations name every documented field (a field
added to the list fails here until its place is given) and every dataclass attribute (an attribute nobody
documented fails too, so nothing is kept without a source and nothing documented is quietly dropped).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from fn_pp_tap_functions.tap.coerce import Ref
from fn_pp_tap_functions.tap.events import MessagePart, TapEvent, ThreatInfo, normalise_event, normalise_siem_response
from fn_pp_tap_functions.tap.evidence import EvidenceWhat
from fn_pp_tap_functions.tap.forensics import Evidence, Forensics, ForensicsReport, Platform
from fn_pp_tap_functions.tap.people import PersonIdentity, TopClicker, TopClickersReport, VapReport, VapUser
from fn_pp_tap_functions.tap.threats import Campaign, CampaignMember, CampaignRef, ThreatSummary, parse_campaign_ids
from fn_pp_tap_functions.tap.urldecode import DecodedUrl, parse_decoded_urls
from tests.documented_fields import (
    CAMPAIGN_DETAILS,
    CAMPAIGN_IDS,
    CAMPAIGN_MEMBER,
    CLICK_EVENT,
    CLICK_FAMILY,
    CLICK_STATISTICS,
    DECODED_URL,
    EVIDENCE,
    EVIDENCE_WHAT,
    FORENSICS_ANSWER,
    FORENSICS_REPORT,
    IDENTITY,
    MESSAGE_EVENT,
    MESSAGE_PART,
    NAMED,
    OBSERVED,
    PLATFORM,
    SHAPES,
    SIEM_RESPONSE,
    SPELLINGS,
    THREAT_STATISTICS,
    THREAT_SUMMARY,
    THREATS_INFO_MAP,
    TOP_CLICKERS_REPORT,
    VAP_FAMILY,
    VAP_REPORT,
    Shape,
)

T1 = "2026-01-02T03:04:05.000Z"
T1_DT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
T2 = "2026-01-03T04:05:06.000Z"
T2_DT = datetime(2026, 1, 3, 4, 5, 6, tzinfo=UTC)
Getter = str | Callable[[Any], Any]
Expect = dict[str, tuple[object, Getter, object]]
"""TAP field -> (raw value in the payload, where the normalised object keeps it, the value expected there)."""

PART: Expect = {
    "contentType": ("application/pdf", "content_type", "application/pdf"),
    "disposition": ("attached", "disposition", "attached"),
    "filename": ("Invoice.pdf", "filename", "Invoice.pdf"),
    "md5": ("5873c7d37608e0d49bcaa6f32b6c731f", "md5", "5873c7d37608e0d49bcaa6f32b6c731f"),
    "oContentType": ("text/plain", "o_content_type", "text/plain"),
    "sandboxStatus": ("threat", "sandbox_status", "threat"),
    "sha256": ("2fab" * 16, "sha256", "2fab" * 16),
}
THREAT_ENTRY: Expect = {
    "campaignID": ("46e01b8a-c899-404d-bcd9-189bb393d1a7", "campaign_id", "46e01b8a-c899-404d-bcd9-189bb393d1a7"),
    "classification": ("MALWARE", "classification", "malware"),
    "threat": ("2fab" * 16, "threat", "2fab" * 16),
    "threatID": ("aa" * 32, "threat_id", "aa" * 32),
    "threatStatus": ("falsepositive", "status", "falsePositive"),
    "threatTime": (T2, "threat_time", T2_DT),
    "threatType": ("ATTACHMENT", "threat_type", "attachment"),
    "threatUrl": ("https://threatinsight.proofpoint.com/t/threat/email/aa", "threat_url",
                  "https://threatinsight.proofpoint.com/t/threat/email/aa"),
    # observed, not documented (OBSERVED):
    "detectionType": ("impostor", "detection_type", "impostor"),
    "actors": ([{"id": "a-1", "name": "TA505"}], "actors", (Ref("a-1", "TA505"),)),
}
MESSAGE: Expect = {
    "GUID": ("guid-1", "guid", "guid-1"),
    "QID": ("qid-1", "qid", "qid-1"),
    "ccAddresses": (["cc@corp.example"], "cc_addresses", ("cc@corp.example",)),
    "cluster": ("corp_hosted", "cluster", "corp_hosted"),
    "completelyRewritten": (False, "completely_rewritten", False),
    "fromAddress": (["ceo@bad.example"], "from_addresses", ("ceo@bad.example",)),
    "headerCC": ('"Cee" <cc@corp.example>', "header_cc", '"Cee" <cc@corp.example>'),
    "headerFrom": ('"The CEO" <ceo@bad.example>', "header_from", '"The CEO" <ceo@bad.example>'),
    "headerReplyTo": ("<reply@other.example>", "header_reply_to", "<reply@other.example>"),
    "headerTo": ('"Tee" <to@corp.example>; <x@corp.example>', "header_to", '"Tee" <to@corp.example>; <x@corp.example>'),
    "id": ("event-1", "event_id", "event-1"),
    "impostorScore": (12.5, "impostor_score", 12.5),
    "malwareScore": (91, "malware_score", 91),
    "messageID": ("<m-1@bad.example>", "message_id", "<m-1@bad.example>"),
    "messageParts": ([{k: v[0] for k, v in PART.items()}], lambda e: len(e.message_parts), 1),
    "messageSize": (2048, "message_size", 2048),
    "messageTime": (T1, "time", T1_DT),
    "modulesRun": (["av", "sandbox"], "modules_run", ("av", "sandbox")),
    "phishScore": (46, "phish_score", 46),
    "policyRoutes": (["default_inbound", "executives"], "policy_routes", ("default_inbound", "executives")),
    "quarantineFolder": ("Attachment Defense", "quarantine_folder", "Attachment Defense"),
    "quarantineRule": ("module.sandbox.threat", "quarantine_rule", "module.sandbox.threat"),
    "recipient": (["to@corp.example"], "recipients", ("to@corp.example",)),
    "replyToAddress": (["reply@other.example"], "reply_to_addresses", ("reply@other.example",)),
    "sender": ("e99d@bad.example", "sender", "e99d@bad.example"),
    "senderIP": ("192.0.2.255", "sender_ip", "192.0.2.255"),
    "spamScore": (4, "spam_score", 4),
    "subject": ("Please find a totally safe invoice attached.", "subject",
                "Please find a totally safe invoice attached."),
    "threatsInfoMap": ([{k: v[0] for k, v in THREAT_ENTRY.items()}], lambda e: len(e.threats), 1),
    "toAddresses": (["to@corp.example", "x@corp.example"], "to_addresses", ("to@corp.example", "x@corp.example")),
    "xmailer": ("Spambot v2.5", "xmailer", "Spambot v2.5"),
}
CLICK: Expect = {
    "GUID": ("guid-2", "guid", "guid-2"),
    "campaignId": ("c-1", lambda e: e.threats[0].campaign_id, "c-1"),
    "classification": ("PHISH", lambda e: e.threats[0].classification, "phish"),
    "clickIP": ("198.51.100.9", "click_ip", "198.51.100.9"),
    "clickTime": (T1, "time", T1_DT),
    "id": ("click-1", "event_id", "click-1"),
    "messageID": ("<m-2@bad.example>", "message_id", "<m-2@bad.example>"),
    "recipient": ("clicker@corp.example", "recipients", ("clicker@corp.example",)),
    "sender": ("s@bad.example", "sender", "s@bad.example"),
    "senderIP": ("192.0.2.7", "sender_ip", "192.0.2.7"),
    "threatID": ("bb" * 32, lambda e: e.threats[0].threat_id, "bb" * 32),
    "threatStatus": ("cleared", lambda e: e.threats[0].status, "cleared"),
    "threatTime": (T2, lambda e: e.threats[0].threat_time, T2_DT),
    "threatURL": ("https://threatinsight.proofpoint.com/t/threat/email/bb", lambda e: e.threats[0].threat_url,
                  "https://threatinsight.proofpoint.com/t/threat/email/bb"),
    "url": ("https://bad.example/login", "url", "https://bad.example/login"),
    "userAgent": ("Mozilla/5.0 (iPhone)", "user_agent", "Mozilla/5.0 (iPhone)"),
}


def _named(prefix: str) -> tuple[list[dict[str, str]], tuple[Ref, ...]]:
    return [{"id": f"{prefix}-id", "name": f"{prefix} name"}], (Ref(f"{prefix}-id", f"{prefix} name"),)


NAMED_LISTS: Expect = {name: (_named(name)[0], name, _named(name)[1])
                       for name in ("actors", "families", "malware", "techniques", "brands")}
THREAT_SUMMARY_EXPECT: Expect = {
    "id": ("cc" * 32, "threat_id", "cc" * 32),
    "identifiedAt": (T1, "identified_at", T1_DT),
    "name": ("https://bad.example/login", "name", "https://bad.example/login"),
    "type": ("message text", "type", "messageText"),
    "category": ("Impostor", "category", "impostor"),
    "status": ("active", "status", "active"),
    "detectionType": ("BEC", "detection_type", "BEC"),
    "severityScore": (870, "severity_score", 870),
    "attackSpread": (12, "attack_spread", 12),
    "notable": (True, "notable", True),
    "verticallyTargeted": (True, "vertically_targeted", True),
    "geoTargeted": (False, "geo_targeted", False),
    **NAMED_LISTS,
}
MEMBER: Expect = {
    "id": ("dd" * 32, "threat_id", "dd" * 32),
    "threat": ("https://bad.example/x", "threat", "https://bad.example/x"),
    "threatStatus": ("falsePositive", "status", "falsePositive"),
    "type": ("url", "type", "url"),
    "subType": ("COMPROMISED_WEBSITE", "sub_type", "COMPROMISED_WEBSITE"),
    "threatTime": (T2, "threat_time", T2_DT),
}
CAMPAIGN: Expect = {
    "id": ("5d7e1f0a-8c3b-4e62-9a1d-2f6b8c4e7a90", "id", "5d7e1f0a-8c3b-4e62-9a1d-2f6b8c4e7a90"),
    "name": ("Invoice lures", "name", "Invoice lures"),
    "description": ("Example senders:\r\n- x", "description", "Example senders:\r\n- x"),
    "startDate": (T1, "start_date", T1_DT),
    "notable": (False, "notable", False),
    "campaignMembers": ([{k: v[0] for k, v in MEMBER.items()}], lambda c: len(c.members), 1),
    **NAMED_LISTS,
}
CAMPAIGN_REF: Expect = {
    "id": ("5d7e1f0a", "id", "5d7e1f0a"),
    "lastUpdatedAt": (T2, "last_updated_at", T2_DT),
}
PLATFORM_EXPECT: Expect = {
    "name": ("Win10", "name", "Win10"), "os": ("win", "os", "win"), "version": ("win10", "version", "win10"),
}
EVIDENCE_EXPECT: Expect = {
    "type": ("url", "type", "url"),
    "display": ("Download of INV.zip", "display", "Download of INV.zip"),
    "engine": ("iee", "engine", "iee"),
    "malicious": ("true", "malicious", True),
    "time": (0, "time", 0),
    "what": ({"url": "https://bad.example/INV.zip", "blacklisted": 1}, lambda e: e.what.to_dict(),
             {"url": "https://bad.example/INV.zip", "blacklisted": True}),
    "note": ("Seen by two engines", "note", "Seen by two engines"),
    "platforms": ([{k: v[0] for k, v in PLATFORM_EXPECT.items()}], lambda e: len(e.platforms), 1),
}
REPORT: Expect = {
    "scope": ("thread", "scope", "THREAD"),
    "id": ("ee" * 32, "id", "ee" * 32),
    "name": ("INV.zip", "name", "INV.zip"),
    "type": ("attachment", "type", "attachment"),
    "threatStatus": ("FALSEPOSITIVE", "threat_status", "falsePositive"),
    "forensics": ([{k: v[0] for k, v in EVIDENCE_EXPECT.items()}], lambda r: len(r.evidence), 1),
}
FORENSICS_EXPECT: Expect = {
    "generated": (T1, "generated", T1_DT),
    "reports": ([{k: v[0] for k, v in REPORT.items()}], lambda f: len(f.reports), 1),
}
IDENTITY_EXPECT: Expect = {
    "guid": ("g-1", "guid", "g-1"),
    "customerUserId": ("u-1", "customer_user_id", "u-1"),
    "emails": (["a@corp.example", "b@corp.example"], "emails", ("a@corp.example", "b@corp.example")),
    "name": ("Amara Fischer", "name", "Amara Fischer"),
    "department": ("Finance", "department", "Finance"),
    "location": ("HQ", "location", "HQ"),
    "title": ("AP Lead", "title", "AP Lead"),
    "vip": (True, "vip", True),
}
VAP_FAMILY_EXPECT: Expect = {"name": ("Downloader", "name", "Downloader"), "score": (610, "value", 610)}
CLICK_FAMILY_EXPECT: Expect = {"name": ("Malware", "name", "Malware"), "clicks": (3, "value", 3)}
STATISTICS: Expect = {
    "attackIndex": (1830, "attack_index", 1830),
    "families": ([{k: v[0] for k, v in VAP_FAMILY_EXPECT.items()}], lambda u: len(u.families), 1),
}
CLICK_STATS: Expect = {
    "clickCount": (4, "click_count", 4),
    "families": ([{k: v[0] for k, v in CLICK_FAMILY_EXPECT.items()}], lambda u: len(u.families), 1),
}
VAP: Expect = {
    "users": ([{"identity": {k: v[0] for k, v in IDENTITY_EXPECT.items()},
                "threatStatistics": {k: v[0] for k, v in STATISTICS.items()}}], lambda r: len(r.users), 1),
    "totalVapUsers": (1, "total_vap_users", 1),
    "interval": ("2026-01-01T00:00:00Z/2026-01-31T00:00:00Z", "interval", "2026-01-01T00:00:00Z/2026-01-31T00:00:00Z"),
    "averageAttackIndex": (512.25, "average_attack_index", 512.25),
    "vapAttackIndexThreshold": (1024.5, "vap_attack_index_threshold", 1024.5),
}
TOP_CLICKERS: Expect = {
    "users": ([{"identity": {k: v[0] for k, v in IDENTITY_EXPECT.items()},
                "clickStatistics": {k: v[0] for k, v in CLICK_STATS.items()}}], lambda r: len(r.users), 1),
    "totalTopClickers": (1, "total_top_clickers", 1),
    "interval": ("2026-01-01T00:00:00Z/2026-01-15T00:00:00Z", "interval", "2026-01-01T00:00:00Z/2026-01-15T00:00:00Z"),
}
DECODED: Expect = {
    "encodedUrl": ("https://urldefense.com/v3/__https://x.example__;!!a!b$", "encoded_url",
                   "https://urldefense.com/v3/__https://x.example__;!!a!b$"),
    "decodedUrl": ("https://x.example", "decoded_url", "https://x.example"),
    "success": (True, "success", True),
    "messageGuid": ("guid-3", "message_guid", "guid-3"),
    "clusterName": ("corp_hosted", "cluster_name", "corp_hosted"),
    "recipientEmail": ("to@corp.example", "recipient_email", "to@corp.example"),
    "error": ("Invalid URL", "error", "Invalid URL"),
}


def _payload(expect: Expect) -> dict[str, object]:
    return {field: raw for field, (raw, _, _) in expect.items()}


def _get(obj: object, getter: Getter) -> object:
    return getter(obj) if callable(getter) else getattr(obj, getter)


def _check(shape: Shape, expect: Expect, normalised: object, *, observed: tuple[str, ...] = ()) -> None:
    assert set(expect) == set(shape.fields) | set(observed), f"{shape.name}: expectations and the list differ"
    for field, (_, getter, wanted) in expect.items():
        assert _get(normalised, getter) == wanted, f"{shape.name}: {field} did not survive"


def _attributes(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _kept_in(expect: Expect) -> set[str]:
    return {getter for _, getter, _ in expect.values() if isinstance(getter, str)}


def test_every_shape_of_the_list_is_checked_here():
    checked = {SIEM_RESPONSE, MESSAGE_EVENT, THREATS_INFO_MAP, MESSAGE_PART, CLICK_EVENT, NAMED, THREAT_SUMMARY,
               CAMPAIGN_IDS, CAMPAIGN_DETAILS, CAMPAIGN_MEMBER, FORENSICS_ANSWER, FORENSICS_REPORT, EVIDENCE,
               PLATFORM, VAP_REPORT, TOP_CLICKERS_REPORT, IDENTITY, THREAT_STATISTICS, VAP_FAMILY,
               CLICK_STATISTICS, CLICK_FAMILY, DECODED_URL}
    assert checked == set(SHAPES)
    assert all(shape.source.startswith("https://help.proofpoint.com/") for shape in SHAPES)


def test_siem_message_event_keeps_every_documented_field():
    event = normalise_event(_payload(MESSAGE), "messagesBlocked")
    _check(MESSAGE_EVENT, MESSAGE, event)
    (part,) = event.message_parts
    _check(MESSAGE_PART, PART, part)
    (threat,) = event.threats
    _check(THREATS_INFO_MAP, THREAT_ENTRY, threat, observed=OBSERVED[THREATS_INFO_MAP.name])
    # nothing is kept that is not documented (the nested lists are checked as their own shapes), except what
    # is derived: the key, the array the event came in, the skeleton mark and (on request) the raw event
    kept = _kept_in(MESSAGE) | _kept_in(CLICK) | {"message_parts", "threats"}
    assert _attributes(TapEvent) - kept == {"key", "event_type", "is_skeleton", "raw"}
    assert _attributes(MessagePart) == _kept_in(PART) and _attributes(ThreatInfo) == _kept_in(THREAT_ENTRY)
    data = event.to_dict()
    assert data["header_to"] == MESSAGE["headerTo"][2] and data["header_cc"] == MESSAGE["headerCC"][2]
    assert data["message_parts"][0]["o_content_type"] == "text/plain" and data["threats"][0]["actors"] == ["TA505"]


def test_siem_click_event_keeps_every_documented_field():
    event = normalise_event(_payload(CLICK), "clicksPermitted")
    _check(CLICK_EVENT, CLICK, event)
    assert event.threats[0].threat == event.url and event.threats[0].threat_type == "url"


def test_siem_response_keeps_its_cursor_and_every_array():
    arrays = {name: [] for name in SIEM_RESPONSE.fields if name != "queryEndTime"}
    arrays["messagesDelivered"] = [_payload(MESSAGE)]
    arrays["messagesBlocked"] = [dict(_payload(MESSAGE), id="event-2")]
    arrays["clicksPermitted"] = [_payload(CLICK)]
    arrays["clicksBlocked"] = [dict(_payload(CLICK), id="click-2")]
    events, end = normalise_siem_response({"queryEndTime": T2, **arrays})
    assert end == T2_DT
    assert sorted(e.event_type for e in events) == sorted(arrays)


def test_threat_summary_keeps_every_documented_field():
    summary = ThreatSummary.from_api(_payload(THREAT_SUMMARY_EXPECT))
    _check(THREAT_SUMMARY, THREAT_SUMMARY_EXPECT, summary)
    assert _attributes(ThreatSummary) == _kept_in(THREAT_SUMMARY_EXPECT)
    (actor,) = summary.actors
    _check(NAMED, {"id": ("", "id", "actors-id"), "name": ("", "name", "actors name")}, actor)
    data = summary.to_dict()
    assert data["actors"] == ["actors name"] and data["named_ids"]["brands"] == ["brands-id"]


def test_campaign_and_its_members_keep_every_documented_field():
    campaign = Campaign.from_api(_payload(CAMPAIGN))
    _check(CAMPAIGN_DETAILS, CAMPAIGN, campaign)
    _check(CAMPAIGN_MEMBER, MEMBER, campaign.members[0])
    assert _attributes(Campaign) == _kept_in(CAMPAIGN) | {"members"}
    assert _attributes(CampaignMember) == _kept_in(MEMBER)
    (ref,) = parse_campaign_ids({"campaigns": [_payload(CAMPAIGN_REF)]})
    _check(CAMPAIGN_IDS, CAMPAIGN_REF, ref)
    assert _attributes(CampaignRef) == _kept_in(CAMPAIGN_REF)


def test_forensics_keep_every_documented_field():
    forensics = Forensics.from_api(_payload(FORENSICS_EXPECT))
    _check(FORENSICS_ANSWER, FORENSICS_EXPECT, forensics)
    (report,) = forensics.reports
    _check(FORENSICS_REPORT, REPORT, report)
    (item,) = report.evidence
    _check(EVIDENCE, EVIDENCE_EXPECT, item)
    _check(PLATFORM, PLATFORM_EXPECT, item.platforms[0])
    assert _attributes(Forensics) == {"generated", "reports"}
    assert _attributes(ForensicsReport) == _kept_in(REPORT) | {"evidence"}
    assert _attributes(Evidence) == _kept_in(EVIDENCE_EXPECT) | {"what", "platforms", "raw_what"}
    assert _attributes(Platform) == _kept_in(PLATFORM_EXPECT)


def _what_value(key: str) -> tuple[object, object]:
    """A raw value for a ``what`` key (in one of TAP's odd forms) and its typed form."""
    if key == "blacklisted":
        return 0, False
    if key in ("offset", "size", "port", "httpStatus", "signatureId"):
        return "443", 443
    if key in ("ips", "cnames", "nameservers", "nameserversList"):
        return f"{key}.example", [f"{key}.example"]
    return f"{key} value", f"{key} value"


@pytest.mark.parametrize("evidence_type", sorted(EVIDENCE_WHAT))
def test_every_documented_what_field_of_every_evidence_type_is_kept_typed(evidence_type):
    keys = EVIDENCE_WHAT[evidence_type]
    raw = {key.upper() if i % 2 else key: _what_value(key)[0] for i, key in enumerate(keys)}  # any case
    raw["undocumented"] = {"nested": [1, 2]}
    item = Evidence.from_api({"type": evidence_type, "what": raw})
    shown = item.what.to_dict()
    for key in keys:
        assert shown[key] == _what_value(key)[1], f"{evidence_type}.what.{key}"
    assert item.what.other == {"undocumented": {"nested": [1, 2]}}
    assert [k for k, _ in item.what.items(evidence_type)][: len(keys)] == list(keys)  # documented first, in order


def test_typed_what_attributes_are_the_documented_union():
    documented = {key for keys in EVIDENCE_WHAT.values() for key in keys}
    assert {"attachment", "dns", "ids", "network", "registry", "url"} <= set(EVIDENCE_WHAT)
    typed = EvidenceWhat.from_api({key: _what_value(key)[0] for key in documented})
    assert set(typed.to_dict()) == documented and typed.other == {}
    assert _attributes(EvidenceWhat) - {"other"} == {
        {"type": "protocol", "httpStatus": "http_status", "signatureId": "signature_id",
         "nameserversList": "nameservers_list"}.get(key, key) for key in documented}
    assert typed.port == 443 and typed.signature_id == 443 and typed.blacklisted is False
    assert typed.nameservers_list == ("nameserversList.example",) and typed.protocol == "type value"


def test_people_reports_keep_every_documented_field():
    vap = VapReport.from_api(_payload(VAP))
    _check(VAP_REPORT, VAP, vap)
    (user,) = vap.users
    _check(IDENTITY, IDENTITY_EXPECT, user.identity)
    _check(THREAT_STATISTICS, STATISTICS, user)
    _check(VAP_FAMILY, VAP_FAMILY_EXPECT, user.families[0])
    top = TopClickersReport.from_api(_payload(TOP_CLICKERS))
    _check(TOP_CLICKERS_REPORT, TOP_CLICKERS, top)
    (clicker,) = top.users
    _check(CLICK_STATISTICS, CLICK_STATS, clicker)
    _check(CLICK_FAMILY, CLICK_FAMILY_EXPECT, clicker.families[0])
    assert _attributes(PersonIdentity) == _kept_in(IDENTITY_EXPECT)
    assert _attributes(VapUser) == {"identity", "attack_index", "families"}
    assert _attributes(TopClicker) == {"identity", "click_count", "families"}
    assert _attributes(VapReport) == _kept_in(VAP) | {"users"}
    assert _attributes(TopClickersReport) == _kept_in(TOP_CLICKERS) | {"users"}
    assert vap.to_dict()["users"][0]["families"] == [{"name": "Downloader", "score": 610}]


def test_url_decode_keeps_every_documented_field():
    (decoded,) = parse_decoded_urls({"urls": [_payload(DECODED)]})
    _check(DECODED_URL, DECODED, decoded)
    assert _attributes(DecodedUrl) == _kept_in(DECODED)


# ------------------------------------------------------------------------------------- spelling variants

VARIANT_CASES: list[tuple[str, str, dict[str, object], Callable[[dict[str, object]], object], object]] = [
    ("cluster", "clusterId", _payload(MESSAGE), lambda p: normalise_event(p, "messagesDelivered").cluster,
     "corp_hosted"),
    ("campaignID", "campaignId", _payload(THREAT_ENTRY),
     lambda p: normalise_event({"threatsInfoMap": [p]}, "messagesDelivered").threats[0].campaign_id,
     THREAT_ENTRY["campaignID"][2]),
    ("threatID", "threatId", _payload(THREAT_ENTRY),
     lambda p: normalise_event({"threatsInfoMap": [p]}, "messagesDelivered").threats[0].threat_id,
     THREAT_ENTRY["threatID"][2]),
    ("threatUrl", "threatURL", _payload(THREAT_ENTRY),
     lambda p: normalise_event({"threatsInfoMap": [p]}, "messagesDelivered").threats[0].threat_url,
     THREAT_ENTRY["threatUrl"][2]),
    ("severityScore", "severity", _payload(THREAT_SUMMARY_EXPECT),
     lambda p: ThreatSummary.from_api(p).severity_score, 870),
    ("verticallyTargeted", "verticals", _payload(THREAT_SUMMARY_EXPECT),
     lambda p: ThreatSummary.from_api(p).vertically_targeted, True),
    ("geoTargeted", "geographies", _payload(THREAT_SUMMARY_EXPECT),
     lambda p: ThreatSummary.from_api(p).geo_targeted, False),
]


@pytest.mark.parametrize(("field", "variant", "payload", "read", "wanted"), VARIANT_CASES,
                         ids=[f"{c[0]}-as-{c[1]}" for c in VARIANT_CASES])
def test_each_known_spelling_of_a_field_is_read(field, variant, payload, read, wanted):
    assert variant in SPELLINGS[field]
    renamed = {(variant if key == field else key): value for key, value in payload.items()}
    assert field not in renamed and read(renamed) == wanted


def test_the_spelling_list_is_covered():
    assert {(c[0], c[1]) for c in VARIANT_CASES} == {(f, v) for f, vs in SPELLINGS.items() for v in vs}


@pytest.mark.parametrize(("field", "raw", "attribute", "wanted"), [
    ("fromAddress", "badguy@evil.zz", "from_addresses", ("badguy@evil.zz",)),  # a string in the docs' example
    ("replyToAddress", None, "reply_to_addresses", ()),
    ("completelyRewritten", "true", "completely_rewritten", True),
    ("completelyRewritten", "na", "completely_rewritten", None),  # no URL threat to rewrite
    ("headerCc", "<cc@x.example>", "header_cc", "<cc@x.example>"),  # any case
    ("HEADERTO", "<to@x.example>", "header_to", "<to@x.example>"),
    ("impostorScore", "0.0", "impostor_score", 0.0),
    ("messageSize", "2048", "message_size", 2048),
    ("toAddresses", "only@x.example", "to_addresses", ("only@x.example",)),
    ("policyRoutes", None, "policy_routes", ()),
])
def test_message_value_quirks(field, raw, attribute, wanted):
    assert getattr(normalise_event({field: raw}, "messagesDelivered"), attribute) == wanted


def test_the_documentations_own_example_normalises(load_json):
    """Proofpoint's SIEM API example: clusterId, fromAddress as text, headerTo/headerCC, upper-case values."""
    event = normalise_event(load_json("proofpoint_siem_doc_message.json"), "messagesDelivered")
    assert event.cluster == "pharmtech_hosted" and event.from_addresses == ("badguy@evil.zz",)
    assert event.header_to == '"Clark Kent" <clark.kent@pharmtech.zz>; "Diana Prince" <diana.prince@pharmtech.zz>'
    assert event.header_cc == '"Bruce Wayne" <bruce.wayne@university-of-education.zz>'
    assert event.header_from == '"A. Badguy" <badguy@evil.zz>' and event.header_reply_to is None
    assert event.completely_rewritten is True and event.xmailer == "Spambot v2.5"
    assert (event.quarantine_folder, event.quarantine_rule) == ("Attachment Defense", "module.sandbox.threat")
    assert [p.sandbox_status for p in event.message_parts] == ["unsupported", "threat"]
    assert event.message_parts[1].o_content_type == "application/pdf"
    attachment, url = event.threats
    assert (attachment.threat_type, attachment.classification, url.threat_type) == ("attachment", "malware", "url")
    assert attachment.campaign_id == "46e01b8a-c899-404d-bcd9-189bb393d1a7"  # campaignId
    assert url.threat_id == "3ba97fc852c66a7ba761450edfdfb9f4ffab74715b591294f78b5e37a76481aa"  # threatId
    assert url.status is None  # the example's second threat has no threatStatus
