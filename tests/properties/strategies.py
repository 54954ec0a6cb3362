"""Hypothesis strategies for what TAP and a SOC may send: any JSON, and TAP-shaped events with odd values."""

from __future__ import annotations

from hypothesis import strategies as st

scalars = st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5) |
                           st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=25)
json_objects = st.dictionaries(st.text(max_size=12), json_values, max_size=8)

hostile_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=60) | st.sampled_from([
    "", " ", "null", "{{ 7*7 }}", "<script>alert(1)</script>", "\u202efdp.exe", "a\x00b", "x" * 300])
times = st.sampled_from(["2024-10-11T14:00:00Z", "2024-10-11T14:00:00.123Z", "2024-10-11T14:00:00+02:00",
                         "2024-10-11 14:00:00", "not a time", "", "9999-99-99T99:99:99Z"]) | hostile_text
emails = st.builds("{}@{}".format, st.text(alphabet="abcXYZ.+_-09", min_size=1, max_size=8),
                   st.sampled_from(["corp.example", "EXAMPLE.org", "xn--bcher-kva.example"])) | hostile_text
threat_ids = st.text(alphabet="0123456789abcdef", min_size=1, max_size=64) | hostile_text


@st.composite
def threat_infos(draw: st.DrawFn) -> dict:
    return {"threatID": draw(threat_ids), "threatStatus": draw(st.sampled_from(
        ["active", "cleared", "falsePositive", "falsepositive", "", "weird"]) | hostile_text),
        "classification": draw(st.sampled_from(["malware", "PHISH", "spam", "impostor", "toad", ""]) | hostile_text),
        "threatUrl": draw(hostile_text), "threatTime": draw(times), "threat": draw(hostile_text),
        "campaignID": draw(st.none() | hostile_text),
        "threatType": draw(st.sampled_from(["url", "attachment", "messageText", "URL"]) | hostile_text)}


@st.composite
def message_events(draw: st.DrawFn) -> dict:
    recipient = draw(st.lists(emails, max_size=3) | emails)
    return {"id": draw(hostile_text), "GUID": draw(st.none() | hostile_text), "QID": draw(hostile_text),
            "messageID": draw(hostile_text), "messageTime": draw(times), "sender": draw(emails),
            "senderIP": draw(hostile_text), "headerFrom": draw(hostile_text), "recipient": recipient,
            "toAddresses": draw(st.lists(emails, max_size=2) | st.none()), "subject": draw(st.none() | hostile_text),
            "spamScore": draw(st.integers(-5, 200) | st.none() | hostile_text), "phishScore": draw(
                st.integers(0, 100) | hostile_text), "impostorScore": draw(st.floats(allow_nan=False) | st.none()),
            "completelyRewritten": draw(st.booleans() | st.just("na")),
            "messageParts": draw(st.none() | st.lists(st.fixed_dictionaries({
                "filename": hostile_text, "md5": hostile_text, "sha256": hostile_text,
                "disposition": st.sampled_from(["attached", "inline"])}), max_size=2)),
            "threatsInfoMap": draw(st.lists(threat_infos(), max_size=3))}


@st.composite
def click_events(draw: st.DrawFn) -> dict:
    return {"id": draw(hostile_text), "GUID": draw(hostile_text), "url": draw(hostile_text),
            "clickTime": draw(times), "clickIP": draw(hostile_text), "recipient": draw(emails),
            "sender": draw(emails), "threatID": draw(threat_ids), "threatTime": draw(times),
            "threatStatus": draw(st.sampled_from(["active", "falsePositive"])), "classification": draw(hostile_text),
            "messageID": draw(hostile_text), "userAgent": draw(hostile_text)}
