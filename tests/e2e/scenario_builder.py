"""Small, exact TAP scenarios for end-to-end tests (raw events as TAP emits them, times relative to now)."""

from __future__ import annotations

import hashlib
import itertools

_ids = itertools.count(1)
TENANT = "5e1a3c42-0000-4000-8000-00000000c0de"


def tid(name: str) -> str:
    """A 64-hex threat id derived from a readable name."""
    return hashlib.sha256(name.encode()).hexdigest()


def threat_info(name: str, *, classification: str = "phish", kind: str = "url", status: str = "active",
                threat: str | None = None, campaign: str | None = None, at: str = "now-3h") -> dict:
    return {"threatID": tid(name), "threatStatus": status, "classification": classification,
            "threatUrl": f"https://threatinsight.proofpoint.com/{TENANT}/threat/email/{tid(name)}",
            "threatTime": at, "threat": threat or f"https://{name}.bad.example/login", "campaignID": campaign,
            "threatType": kind}


def message(guid: str, recipient: str, threats: list[dict], *, subject: str = "Invoice", at: str = "now-3h",
            sender: str = "billing@bad.example", header_from: str | None = None, parts: list | None = None) -> dict:
    n = next(_ids)
    return {"id": f"e2e-msg-{n}", "GUID": guid, "QID": f"q{n}", "messageID": f"<{guid}@bad.example>",
            "messageTime": at, "sender": sender, "senderIP": "198.51.100.7",
            "headerFrom": header_from or f"Billing <{sender}>", "headerReplyTo": None,
            "fromAddress": [sender], "replyToAddress": [], "toAddresses": [recipient], "ccAddresses": [],
            "recipient": [recipient], "subject": subject, "xmailer": None, "messageSize": 2048,
            "spamScore": 5, "phishScore": 90, "malwareScore": 0, "impostorScore": 0.0, "cluster": "e2e_hosted",
            "policyRoutes": ["default_inbound"], "modulesRun": ["urldefense"], "quarantineFolder": None,
            "quarantineRule": None, "completelyRewritten": True, "messageParts": parts or [],
            "threatsInfoMap": threats}


def click(guid: str, recipient: str, name: str, *, at: str = "now-2h", classification: str = "phish",
          status: str = "active") -> dict:
    n = next(_ids)
    return {"id": f"e2e-click-{n}", "GUID": guid, "url": f"https://{name}.bad.example/login", "clickTime": at,
            "clickIP": "10.0.0.8", "userAgent": "Mozilla/5.0", "recipient": recipient, "sender": "billing@bad.example",
            "senderIP": "198.51.100.7", "messageID": f"<{guid}@bad.example>", "classification": classification,
            "threatID": tid(name), "threatURL": f"https://threatinsight.proofpoint.com/{TENANT}/threat/email/{tid(name)}",
            "threatTime": "now-3h", "threatStatus": status, "campaignId": None}
