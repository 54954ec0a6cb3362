"""Unit tests of the investigation modules' pure parts: parsing, de-duplication, rendering, decisions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fn_pp_tap_functions.errors import InputError, SoarConflictError, TapNotFoundError, TapRateLimitError
from fn_pp_tap_functions.investigation import indicators as ind
from fn_pp_tap_functions.investigation.common import digest, flag, optional_incident_id, split_ids
from fn_pp_tap_functions.investigation.enrichment import COL_CAMPAIGN_ID, COL_STATUS, COL_THREAT_ID, plan_member_changes
from fn_pp_tap_functions.investigation.forensics import evidence_row, report_evidence
from fn_pp_tap_functions.investigation.people import validate_emails
from fn_pp_tap_functions.services.investigation import (
    PeopleBudget,
    decode_urls,
    enrich,
    get_forensics,
    lookup_people,
)
from fn_pp_tap_functions.tap.forensics import Evidence, Forensics
from fn_pp_tap_functions.tap.pools import Pool
from fn_pp_tap_functions.tap.validation import validate_threat_id

TID = "a" * 64
HOSTILE = '<script>alert(1)</script>{{ 7*7 }}\u202efdp.exe'


# ------------------------------------------------------------------------------------------- common

def test_split_ids_accepts_text_lists_and_the_cut_mark():
    assert split_ids(f"{TID}, {TID} ;{'b' * 64}…", "threat ID", validate_threat_id) == [TID, "b" * 64]
    assert split_ids([TID], "threat ID", validate_threat_id) == [TID]
    assert split_ids(None, "threat ID", validate_threat_id) == []


@pytest.mark.parametrize("bad", ["../../v2/people/vap", "a b/c", "x" * 200])
def test_split_ids_refuses_any_bad_id(bad):
    with pytest.raises(InputError, match="threat ID"):
        split_ids(f"{TID}, {bad}", "threat ID", validate_threat_id)


def test_split_ids_caps_the_number_of_lookups():
    with pytest.raises(InputError, match="at most 3"):
        split_ids([c * 64 for c in "abcd"], "threat ID", validate_threat_id, limit=3)


def test_incident_id_and_flags():
    assert optional_incident_id(None) is None and optional_incident_id("12") == 12
    for bad in ("x", 0, True):
        with pytest.raises(InputError):
            optional_incident_id(bad)
    assert flag(None, True) is True and flag("false", True) is False
    with pytest.raises(InputError):
        flag("maybe", True)


# ------------------------------------------------------------------------------------------- indicators

@pytest.mark.parametrize(("kind", "raw", "expected"), [
    (ind.MD5, "934AC3CDDAEAA5E54CECB80BB1DF458D", "934ac3cddaeaa5e54cecb80bb1df458d"),
    (ind.MD5, "not-a-hash", None),
    (ind.SHA256, "ab" * 32, "ab" * 32),
    (ind.IP_ADDRESS, "203.0.113.250", "203.0.113.250"),
    (ind.IP_ADDRESS, "999.1.1.1", None),
    (ind.DNS_NAME, "C2.Example.", "c2.example"),
    (ind.DNS_NAME, "evil host.example", None),
    (ind.URL, "https://x.example/a?b=1", "https://x.example/a?b=1"),
    (ind.URL, "javascript:alert(1)", None),
    (ind.URL, "https://x.example/\u202efdp.exe", None),
    (ind.FILE_NAME, "%APPDATA%\\svcupd.dll", "svcupd.dll"),
    (ind.MUTEX, "Global\\x\u202ey", "Global\\x[U+202E]y"),
    (ind.DNS_NAME, "pay\u200bpal.example", None),
    (ind.URL, True, None),
])
def test_normalise_checks_each_type(kind, raw, expected):
    assert ind.normalise(kind, raw) == expected


def _forensics(evidence: list[dict]) -> Forensics:
    return Forensics.from_api({"generated": "2026-01-01T00:00:00Z", "reports": [
        {"scope": "THREAT", "id": TID, "name": "x", "type": "url", "threatStatus": "active", "forensics": evidence}]})


EVIDENCE = [
    {"type": "dns", "display": "lookup", "malicious": True, "what": {"host": "c2.example", "ips": ["203.0.113.9"]}},
    {"type": "network", "display": "connect", "malicious": True, "what": {"ip": "203.0.113.9", "port": 443}},
    {"type": "mutex", "display": "mutex", "malicious": False, "what": {"name": "Global\\M"}},
    {"type": "screenshot", "display": "shot", "malicious": True, "what": {"url": "https://pp.example/s.png"}},
    {"type": "registry", "display": HOSTILE, "malicious": True, "what": {"key": "HKCU\\Run", "name": "x"}},
]


def test_indicators_are_typed_deduplicated_and_filtered():
    pairs = list(_forensics(EVIDENCE).evidence())
    found = ind.indicators(pairs, malicious_only=True)
    assert [(i.type, i.value) for i in found] == [
        (ind.IP_ADDRESS, "203.0.113.9"), (ind.DNS_NAME, "c2.example"), (ind.REGISTRY_KEY, "HKCU\\Run\\x")]
    assert "\u202e" not in found[-1].description and "[U+202E]" in found[-1].description
    every = ind.indicators(pairs, malicious_only=False)
    assert (ind.MUTEX, "Global\\M") in [i.key() for i in every]


def test_new_only_compares_with_existing_artifacts_in_canonical_form():
    found = ind.indicators(list(_forensics(EVIDENCE).evidence()), malicious_only=True)
    existing = ind.existing_keys([{"type": {"name": "DNS Name"}, "value": "C2.EXAMPLE"},
                                  {"type": "IP Address", "value": " 203.0.113.9 "}])
    assert [i.type for i in ind.new_only(found, existing)] == [ind.REGISTRY_KEY]


def test_evidence_row_key_is_stable_and_text_is_plain():
    report = _forensics(EVIDENCE).reports[0]
    row = evidence_row(report, report.evidence[4])
    assert row == evidence_row(report, report.evidence[4])
    assert "\u202e" not in row["pp_tap_fx_display"] and row["pp_tap_fx_malicious"] is True


def test_evidence_row_key_is_the_one_rows_had_before_the_typed_what():
    """The key is a digest of the evidence as TAP sent it (``what`` verbatim, ``time`` left out), so rows added
    before ``what`` was typed and ``time`` kept are recognised: a re-run after an upgrade adds no duplicate."""
    raw = {"type": "url", "display": "d", "engine": "iee", "malicious": True, "note": None, "time": 0,
           "what": {"URL": "https://x.example", "blacklisted": 1, "port": "443", "extra": None},
           "platforms": [{"name": "Win10", "os": "win", "version": "win10"}]}
    report = _forensics([raw]).reports[0]
    before = {k: raw[k] for k in ("type", "display", "engine", "malicious", "note", "platforms")}
    before["what"] = {"URL": "https://x.example", "blacklisted": True, "port": "443", "extra": None}
    assert evidence_row(report, report.evidence[0])["pp_tap_fx_key"] == digest(["THREAT", TID, before], 24)
    assert report.evidence[0].to_dict()["what"] == {"url": "https://x.example", "blacklisted": True, "port": 443,
                                                    "extra": None}  # undocumented keys as they came


def test_evidence_row_and_report_show_the_typed_fields_documented_ones_first():
    raw = {"type": "network", "display": "connect", "malicious": True, "note": "C2 check-in",
           "what": {"host": "c2.example", "TYPE": "tcp", "port": 443, "ip": "203.0.113.9", "action": "connect"},
           "platforms": [{"name": "Win10", "os": "win", "version": "win10"}, {"name": "Android", "os": "android"}]}
    report = _forensics([raw]).reports[0]
    row = evidence_row(report, report.evidence[0])
    assert row["pp_tap_fx_detail"] == "action=connect; ip=203.0.113.9; port=443; type=tcp; host=c2.example"
    assert row["pp_tap_fx_note"] == "C2 check-in"
    assert row["pp_tap_fx_platforms"] == "Win10 (win, win10), Android (android)"
    shown = report_evidence(report.evidence[0])
    assert [d["label"] for d in shown["details"]] == ["Action", "IP", "Port", "Protocol", "Host"]
    assert shown["platform_labels"] == ["Win10 (win, win10)", "Android (android)"] and shown["time"] is None


# ------------------------------------------------------------------------------------------- fakes

class FakeTap:
    """Answers like TapClient from canned payloads; records calls."""

    def __init__(self, threats=None, campaigns=None, forensics=None, people=None, decoded=None):
        self.threats, self.campaigns = threats or {}, campaigns or {}
        self.forensics_data, self.people, self.decoded = forensics or {}, people, decoded
        self.calls: list[tuple] = []

    def threat_summary(self, tid):
        self.calls.append(("threat", tid))
        if tid not in self.threats:
            raise TapNotFoundError(f"Threat {tid} not found", what="threat")
        return self.threats[tid]

    def campaign(self, cid):
        self.calls.append(("campaign", cid))
        if cid not in self.campaigns:
            raise TapNotFoundError(f"Campaign {cid} not found", what="campaign")
        return self.campaigns[cid]

    def forensics(self, threat_id=None, campaign_id=None, include_campaign_forensics=False):
        self.calls.append(("forensics", threat_id or campaign_id))
        if (threat_id or campaign_id) not in self.forensics_data:
            raise TapNotFoundError("no forensics", what="forensics")
        return self.forensics_data[threat_id or campaign_id]

    def people_vap(self, window, size=None, page=None):
        self.calls.append(("vap", window, size))
        if isinstance(self.people, Exception):
            raise self.people
        return self.people

    def decode_urls(self, urls):
        self.calls.append(("decode", tuple(urls)))
        return self.decoded


# ------------------------------------------------------------------------------------------- enrichment

CID = "5d7e1f0a-8c3b-4e62-9a1d-2f6b8c4e7a90"


def test_enrichment_merges_threats_and_names_unknown_ids():
    tap = FakeTap(threats={TID: {"id": TID, "status": "active", "severityScore": 700, "name": HOSTILE,
                                 "families": [{"name": "Phish"}], "actors": [{"name": "TA1"}]},
                           "b" * 64: {"id": "b" * 64, "status": "active", "severityScore": 900,
                                      "families": [{"name": "Loader"}, {"name": "Phish"}]}},
                  campaigns={CID: {"id": CID, "name": "Camp", "campaignMembers": [
                      {"id": TID, "threatStatus": "active", "type": "url", "threatTime": "2026-01-01T00:00:00Z"}]}})
    result = enrich(tap, f"{TID},{'b' * 64},{'c' * 64}", CID)
    assert result["severity_score"] == 900 and result["families"] == ["Phish", "Loader"]
    assert result["campaign_name"] == "Camp" and result["not_found"] == [f"threat {'c' * 64}"]
    assert "<script>" not in result["note_html"] and "&lt;script&gt;" in result["note_html"]
    assert result["digest"] == enrich(tap, f"{TID},{'b' * 64},{'c' * 64}", CID)["digest"]


def test_enrichment_refuses_bad_ids_before_any_call_and_fails_when_tap_knows_none():
    tap = FakeTap()
    with pytest.raises(InputError):
        enrich(tap, "../x", None)
    with pytest.raises(InputError, match="at least one"):
        enrich(tap, "", "")
    assert tap.calls == []
    with pytest.raises(TapNotFoundError, match="knows none"):
        enrich(tap, TID, None)


def test_member_rows_are_added_once_and_updated_in_place():
    wanted = [{COL_CAMPAIGN_ID: CID, COL_THREAT_ID: TID, COL_STATUS: "falsePositive"},
              {COL_CAMPAIGN_ID: CID, COL_THREAT_ID: "b" * 64, COL_STATUS: "active"}]
    existing = [(7, {COL_CAMPAIGN_ID: CID, COL_THREAT_ID: TID, COL_STATUS: "active"})]
    adds, updates = plan_member_changes(existing, wanted)
    assert [a[COL_THREAT_ID] for a in adds] == ["b" * 64]
    assert updates == [(7, wanted[0])]
    existing = [(7, dict(wanted[0])), (8, dict(wanted[1]))]
    assert plan_member_changes(existing, wanted) == ([], [])


# ------------------------------------------------------------------------------------------- forensics

def test_forensics_inputs_are_checked_before_any_call():
    tap = FakeTap()
    for kwargs in ({"threat_ids": TID, "campaign_ids": CID}, {}, {"campaign_ids": CID,
                                                                 "include_campaign_forensics": True}):
        with pytest.raises(InputError):
            get_forensics(tap, **kwargs)
    assert tap.calls == []


def test_forensics_not_found_names_the_target():
    with pytest.raises(TapNotFoundError, match=f"threat {TID}"):
        get_forensics(FakeTap(), TID)


def test_forensics_report_is_escaped():
    payload = {"reports": [{"scope": "THREAT", "id": TID, "name": HOSTILE, "forensics": EVIDENCE}]}
    result = get_forensics(FakeTap(forensics={TID: payload}), TID)
    assert "<script>" not in result["note_html"]
    assert result["changed"] is True and len(result["new_rows"]) == 4


# ------------------------------------------------------------------------------------------- URL decoding

V2 = "https://urldefense.proofpoint.com/v2/url?u=https-3A__example.com_a&d=x&c=y"


def test_rewritten_links_are_decoded_locally_without_tap():
    def no_tap():
        raise AssertionError("TAP must not be needed")
    result = decode_urls(V2, no_tap)
    assert result["urls"][0]["decoded"] == "https://example.com/a" and result["tap_calls"] == 0


def test_links_the_local_decoder_cannot_read_go_to_tap_in_one_call():
    v4 = "https://urldefense.com/v4/__https://a.example__;!!x$"
    tap = FakeTap(decoded={"urls": [{"encodedUrl": v4, "decodedUrl": "https://a.example", "success": True,
                                     "recipientEmail": "r@corp.example"}]})
    result = decode_urls(f"{V2} {v4}", lambda: tap)
    assert [u["method"] for u in result["urls"]] == ["local", "tap"]
    assert result["urls"][1]["recipient_email"] == "r@corp.example" and len(tap.calls) == 1


def test_non_proofpoint_and_broken_urls_are_refused_without_a_call():
    for bad in ("https://example.com/x", "javascript:alert(1)", "https://urldefense.com/v3/__https://x"):
        tap = FakeTap(decoded={"urls": [{"encodedUrl": bad, "success": False, "error": "bad"}]})
        with pytest.raises(InputError):
            decode_urls(bad, lambda tap=tap: tap)
        if "urldefense" not in bad:
            assert tap.calls == []


def test_decoded_value_that_is_not_a_url_is_refused():
    hostile = "https://urldefense.proofpoint.com/v1/url?u=javascript%3Aalert(1)&k=x"
    with pytest.raises(InputError, match="not a plain http"):
        decode_urls(hostile, lambda: FakeTap())


# ------------------------------------------------------------------------------------------- people

VAP = {"users": [{"identity": {"emails": ["A@corp.example"], "name": HOSTILE},
                  "threatStatistics": {"attackIndex": 1500, "families": [{"name": "Impostor", "score": 900}]}}],
       "totalVapUsers": 1, "vapAttackIndexThreshold": 1000, "averageAttackIndex": 400}


def test_people_answers_every_address_from_one_call():
    tap = FakeTap(people=VAP)
    result = lookup_people(tap, "a@corp.example, b@corp.example")
    assert [a["found"] for a in result["answers"]] == [True, False]
    assert "attack index 1500" in result["answers"][0]["description"]
    assert "\u202e" not in result["answers"][0]["description"] and "<script>" not in result["note_html"]
    assert len(tap.calls) == 1 and result["budget"]["known"] is False


def test_people_says_unknown_when_the_page_is_incomplete():
    tap = FakeTap(people=dict(VAP, totalVapUsers=5000))
    assert lookup_people(tap, "b@corp.example")["answers"][0]["found"] is None


def test_people_refuses_bad_input_before_any_call():
    tap = FakeTap(people=VAP)
    for kwargs in ({"emails": "not-an-address"}, {"emails": "a@corp.example", "window": 7},
                   {"emails": "a@corp.example", "report": "everyone"}):
        with pytest.raises(InputError):
            lookup_people(tap, **kwargs)
    assert tap.calls == []
    assert validate_emails("<A@Corp.Example>; a@corp.example") == ["a@corp.example"]


class FakeCases:
    """The control incident with the People budget field, with SOAR's old_value check."""

    def __init__(self, budget_text=None, conflicts=0):
        self.incident = {"id": 1, "properties": {"pp_tap_people_budget": budget_text}}
        self.conflicts = conflicts

    def find_by_values(self, field, values, extra=None):
        return {"ingestion": [self.incident]}

    def get_incident(self, incident_id):
        return self.incident

    def patch_incident(self, incident, changes, expected=None):
        if self.conflicts:
            self.conflicts -= 1
            raise SoarConflictError("changed", fields=("x",))
        self.incident = {"id": 1, "properties": {"pp_tap_people_budget": changes["properties.pp_tap_people_budget"]}}


NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)


def test_budget_is_counted_on_the_control_incident():
    cases = FakeCases(conflicts=1)
    result = lookup_people(FakeTap(people=VAP), "a@corp.example", cases=cases, now=lambda: NOW)
    assert result["budget"] == {"pool": "people_vap", "label": result["budget"]["label"], "daily_limit": 50,
                                "used_by_app_24h": 1, "left_at_most": 49, "known": True}
    assert PeopleBudget(cases, lambda: NOW).used(Pool.PEOPLE_VAP) == 1


def test_spent_budget_makes_no_call_and_a_429_is_recorded_and_explained():
    hour = int(NOW.timestamp()) // 3600
    spent = FakeCases(f'{{"people_vap": {{"{hour}": 50}}}}')
    tap = FakeTap(people=VAP)
    with pytest.raises(TapRateLimitError, match="already made 50 calls"):
        lookup_people(tap, "a@corp.example", cases=spent, now=lambda: NOW)
    assert tap.calls == []
    cases = FakeCases()
    throttled = FakeTap(people=TapRateLimitError(pool="people_vap", pool_label="People VAP"))
    with pytest.raises(TapRateLimitError, match="People VAP"):
        lookup_people(throttled, "a@corp.example", cases=cases, now=lambda: NOW)
    assert len(throttled.calls) == 1 and '"people_vap"' in cases.incident["properties"]["pp_tap_people_budget"]


def test_evidence_parsing_keeps_blacklisted_boolean():
    assert Evidence.from_api({"type": "url", "what": {"blacklisted": 1}}).blacklisted is True
