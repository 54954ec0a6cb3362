"""Sample groups for checking templates before any real incident is made (:meth:`IncidentTemplate.check`).

Built from raw events shaped like TAP's (see ``tests/data/public/samples``) through the same
normalisation, filtering and grouping as real data, so a template that works on these sees the same
shapes in production. Two kinds on purpose: a FULL one (two threats with a campaign, an attachment, a
permitted click, two recipients) and a SPARSE one (a retro-condemned skeleton: no subject, no sender, no
campaign, no click), which catches templates that index into lists that are often empty.
"""

from __future__ import annotations

from functools import lru_cache

from fn_pp_tap_functions.ingest.filtering import select_events
from fn_pp_tap_functions.ingest.grouping import GroupEvidence, group_events
from fn_pp_tap_functions.ingest.policy import GroupBy, IngestPolicy
from fn_pp_tap_functions.tap.events import normalise_event
from fn_pp_tap_functions.tap.vocab import EventType

_THREAT_URL = "https://threatinsight.proofpoint.com/00000000-aaaa-bbbb-cccc-000000000000/threat/email/"
_PHISH_ID = "a" * 64
_MALWARE_ID = "b" * 64
_CAMPAIGN = "11111111-2222-3333-4444-555555555555"
_SHA = "c" * 64

FULL_MESSAGE = {
    "id": "sample-message-1",
    "GUID": "SampleGuid0001",
    "QID": "r2FNwRHF004109",
    "messageID": "<sample.1@example.org>",
    "messageTime": "2024-01-01T10:00:00.000Z",
    "sender": "attacker@example.org",
    "senderIP": "192.0.2.10",
    "headerFrom": "\"Payroll\" <attacker@example.org>",
    "headerReplyTo": "\"Payroll\" <payments@example.net>",
    "headerTo": "Alice <alice@example.com>, Bob <bob@example.com>",
    "headerCC": None,
    "fromAddress": ["attacker@example.org"],
    "replyToAddress": ["payments@example.net"],
    "toAddresses": ["alice@example.com", "bob@example.com"],
    "ccAddresses": [],
    "xmailer": "Mailer 1.0",
    "recipient": ["alice@example.com", "bob@example.com"],
    "subject": "Your invoice",
    "phishScore": 90,
    "malwareScore": 100,
    "spamScore": 10,
    "impostorScore": 0.0,
    "messageSize": 12345,
    "messageParts": [
        {"disposition": "attached", "filename": "invoice.xlsm", "md5": "d" * 32, "sha256": _SHA,
         "contentType": "application/vnd.ms-excel.sheet.macroEnabled.12", "sandboxStatus": "threat"},
    ],
    "threatsInfoMap": [
        {"threatID": _PHISH_ID, "threatStatus": "active", "classification": "phish", "threatType": "url",
         "threat": "https://login.example.net/verify", "threatUrl": _THREAT_URL + _PHISH_ID,
         "threatTime": "2024-01-01T10:00:30.000Z", "campaignID": _CAMPAIGN},
        {"threatID": _MALWARE_ID, "threatStatus": "active", "classification": "malware", "threatType": "attachment",
         "threat": _SHA, "threatUrl": _THREAT_URL + _MALWARE_ID, "threatTime": "2024-01-01T10:00:30.000Z",
         "campaignID": _CAMPAIGN},
    ],
}
FULL_CLICK = {
    "id": "sample-click-1",
    "GUID": "SampleGuid0001",
    "messageID": "<sample.1@example.org>",
    "clickTime": "2024-01-01T10:05:00.000Z",
    "clickIP": "198.51.100.7",
    "url": "https://login.example.net/verify",
    "userAgent": "Mozilla/5.0",
    "recipient": "alice@example.com",
    "sender": "attacker@example.org",
    "senderIP": "192.0.2.10",
    "classification": "PHISH",
    "threatID": _PHISH_ID,
    "threatURL": _THREAT_URL + _PHISH_ID,
    "threatStatus": "active",
    "threatTime": "2024-01-01T10:00:30.000Z",
    "campaignId": _CAMPAIGN,
}
SPARSE_MESSAGE = {
    "id": "sample-skeleton-1",
    "GUID": "SampleGuid0002",
    "QID": None,
    "messageID": "",
    "messageTime": "2024-01-01T09:00:00.000Z",
    "sender": "",
    "senderIP": "192.0.2.20",
    "recipient": ["carol@example.com"],
    "subject": None,
    "messageSize": 0,
    "messageParts": None,
    "threatsInfoMap": [
        {"threatID": "e" * 64, "threatStatus": "active", "classification": "spam", "threatType": "url",
         "threat": "http://spam.example.net", "threatUrl": None, "threatTime": "2024-01-02T09:00:00.000Z",
         "campaignID": None},
    ],
}


@lru_cache(maxsize=1)
def sample_groups() -> tuple[GroupEvidence, ...]:
    """Groups of every kind (threat, campaign, message) from the full sample, and the sparse group."""
    full = [
        normalise_event(FULL_MESSAGE, EventType.MESSAGES_DELIVERED),
        normalise_event(FULL_CLICK, EventType.CLICKS_PERMITTED),
    ]
    sparse = [normalise_event(SPARSE_MESSAGE, EventType.MESSAGES_DELIVERED)]
    policy = IngestPolicy(event_types=frozenset(e.value for e in EventType), threat_statuses=frozenset({"active"}))
    groups: list[GroupEvidence] = []
    for events in (full, sparse):
        kept = select_events(events, policy).kept
        for group_by in (GroupBy.THREAT, GroupBy.CAMPAIGN, GroupBy.MESSAGE):
            for group in group_events(kept, group_by).values():
                if group.key not in {g.key for g in groups}:
                    groups.append(group)
    return tuple(groups)
