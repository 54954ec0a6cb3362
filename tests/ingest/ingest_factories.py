"""Raw event dicts shaped like TAP's SIEM arrays (see tests/data/public/samples/*.ndjson), built into
TapEvents through fn_pp_tap_functions.tap.events normalisation so the tests see production shapes."""

from __future__ import annotations

import copy
import itertools

from fn_pp_tap_functions.tap.events import TapEvent, normalise_siem_response

TENANT_URL = "https://threatinsight.proofpoint.com/3183a23b-d9c3-1234-1234-2babcd123478/threat/email/"
PHISH = "9f" + "1" * 62
MALWARE = "7a" + "2" * 62
SPAM = "5c" + "3" * 62
IMPOSTOR = "4d" + "4" * 62
CAMPAIGN = "46a01b8c-d899-404e-aaa9-111bb393d1c7"
SHA = "a591a6d40bf420404a011733cfb7b190d62c65bf0bcda32b57b277d9ad9f146e"
MD5 = "b10a8db164e0754105b7a99be72e3fe5"

_ids = itertools.count(1)


def threat(
    threat_id: str = PHISH,
    *,
    classification: str = "phish",
    status: str = "active",
    kind: str = "url",
    value: str | None = None,
    campaign: str | None = None,
    time: str = "2024-03-01T10:00:30.000Z",
) -> dict:
    if value is None:
        value = SHA if kind == "attachment" else ("bad@impostor.example" if kind == "messageText" else
                                                  f"https://evil.example.net/{threat_id[:6]}")
    return {
        "threatID": threat_id,
        "threatStatus": status,
        "classification": classification,
        "threatUrl": TENANT_URL + threat_id,
        "threatTime": time,
        "threat": value,
        "campaignID": campaign,
        "threatType": kind,
    }


def message(
    *threats: dict,
    recipients: list[str] | None = None,
    sender: str = "attacker@evil.example.net",
    subject: str | None = "Invoice overdue",
    guid: str | None = None,
    event_id: str | None = None,
    time: str = "2024-03-01T10:00:00.000Z",
    phish: int = 0,
    malware: int = 0,
    spam: int = 0,
    parts: list[dict] | None = None,
    header_from: str | None = None,
    **extra,
) -> dict:
    n = next(_ids)
    raw = {
        "spamScore": spam,
        "phishScore": phish,
        "malwareScore": malware,
        "impostorScore": 0.0,
        "threatsInfoMap": list(threats) if threats else [threat()],
        "messageTime": time,
        "cluster": "example_hosted",
        "subject": subject,
        "quarantineFolder": None,
        "quarantineRule": None,
        "policyRoutes": ["default_inbound"],
        "modulesRun": ["av", "spam", "urldefense"],
        "messageSize": 68402,
        "headerFrom": header_from if header_from is not None else f"Accounts <{sender}>",
        "headerReplyTo": None,
        "fromAddress": [sender] if sender else None,
        "ccAddresses": [],
        "replyToAddress": [],
        "toAddresses": recipients or ["alice@example.com"],
        "xmailer": "Mailer",
        "messageParts": parts if parts is not None else [
            {"disposition": "inline", "sha256": "0" * 64, "md5": "0" * 32, "filename": "text.html",
             "sandboxStatus": None, "oContentType": "text/html", "contentType": "text/html"},
            {"disposition": "attached", "sha256": SHA, "md5": MD5, "filename": "invoice.xlsm",
             "sandboxStatus": "threat", "oContentType": "application/vnd.ms-excel",
             "contentType": "application/vnd.ms-excel"},
        ],
        "completelyRewritten": "na",
        "id": event_id or f"msg-{n:06d}-xxxx",
        "QID": f"r2FNwRHF{n:06d}",
        "GUID": guid or f"GUID{n:08d}xxxxxxxxxx",
        "sender": sender,
        "recipient": recipients or ["alice@example.com"],
        "senderIP": "175.16.199.1",
        "messageID": f"<{n}.mail@evil.example.net>",
    }
    raw.update(extra)
    return raw


def click(
    threat_id: str = PHISH,
    *,
    recipient: str = "alice@example.com",
    classification: str = "PHISH",
    status: str = "active",
    guid: str = "GUIDclick",
    campaign: str | None = None,
    time: str = "2024-03-01T10:05:00.000Z",
    click_ip: str = "89.160.20.112",
    url: str | None = None,
    event_id: str | None = None,
) -> dict:
    n = next(_ids)
    return {
        "url": url or f"https://evil.example.net/{threat_id[:6]}",
        "classification": classification,
        "clickTime": time,
        "threatTime": "2024-03-01T10:00:30.000Z",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "campaignId": campaign,
        "id": event_id or f"click-{n:06d}-xxxx",
        "clickIP": click_ip,
        "sender": "attacker@evil.example.net",
        "recipient": recipient,
        "senderIP": "81.2.69.143",
        "GUID": guid,
        "threatID": threat_id,
        "threatURL": TENANT_URL + threat_id,
        "threatStatus": status,
        "messageID": "<click.mail@evil.example.net>",
    }


def events(
    delivered: list[dict] = (),
    blocked: list[dict] = (),
    permitted: list[dict] = (),
    clicks_blocked: list[dict] = (),
) -> list[TapEvent]:
    """Normalise a SIEM response made of the given arrays."""
    payload = {
        "queryEndTime": "2024-03-01T11:00:00Z",
        "messagesDelivered": copy.deepcopy(list(delivered)),
        "messagesBlocked": copy.deepcopy(list(blocked)),
        "clicksPermitted": copy.deepcopy(list(permitted)),
        "clicksBlocked": copy.deepcopy(list(clicks_blocked)),
    }
    return normalise_siem_response(payload)[0]
