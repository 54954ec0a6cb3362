"""Synthetic TAP SIEM data for the benchmark: raw events as TAP emits them, plus what a correct run must make.

For ``size`` N the data set has ``N // 100`` KEPT threats (active, reached users: delivered messages and
permitted clicks) and, around them, the noise a real tenant has and ingestion must drop:

* delivered messages (about 84 % of the events): one event per recipient (TAP repeats the GUID once per
  recipient), 1-3 recipients per message; about 3 % of the messages carry two kept threats, and about
  1 % carry a kept threat plus a CLEARED one (the event is returned, the cleared threat must be dropped);
* permitted clicks (about 10 %) on URL threats;
* blocked messages and blocked clicks (about 5 %), half on threats that appear ONLY in blocked events
  (no incident may be made for them), half on kept threats (no evidence may be added from them);
* delivered messages whose only threat is cleared (about 1 %): TAP filters them out server-side
  (``threatStatus=active``), no incident.

Every event lies inside ONE SIEM window ``[window_start, window_end)`` that ended a few minutes before
``now``; the threats were identified before the window (so an event's creation time is its own time).
The expected result is ``kept_threats``: the group keys ``threat:<id>`` the run must create, one each.
Generation is deterministic for a given (size, seed, now).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

TENANT = "5e1a3c42-0000-4000-8000-00000000c0de"
WINDOW = timedelta(minutes=58)  # the run's window: [now - 60 min, now - 2 min) (TAP serves at most 1 h)
EVENTS_FROM = timedelta(minutes=55)  # events lie in [now - 55 min, now - 5 min]
EVENTS_TO = timedelta(minutes=5)
THREAT_TIME = timedelta(minutes=90)  # threats were identified before the window

SHARE_CLICKS = 0.10
SHARE_BLOCKED = 0.05
SHARE_CLEARED_ONLY = 0.01
SHARE_TWO_THREATS = 0.03  # of delivered messages
SHARE_WITH_CLEARED = 0.01  # of delivered messages
CLASSIFICATIONS = ("phish", "phish", "phish", "malware", "malware", "spam", "impostor")


def tid(name: str) -> str:
    """A 64-hex threat id derived from a readable name."""
    return hashlib.sha256(name.encode()).hexdigest()


def fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Threat:
    id: str
    kind: str  # url | attachment
    classification: str
    status: str  # active | cleared
    campaign: str | None
    value: str  # URL or SHA-256
    sender: str
    subject: str
    threat_time: str

    def info(self) -> dict[str, Any]:
        """The threatsInfoMap entry of a message carrying this threat."""
        return {"threatID": self.id, "threatStatus": self.status, "classification": self.classification,
                "threatUrl": f"https://threatinsight.proofpoint.com/{TENANT}/threat/email/{self.id}",
                "threatTime": self.threat_time, "threat": self.value, "campaignID": self.campaign,
                "threatType": self.kind}


@dataclass
class Dataset:
    size: int
    now: datetime
    window_start: datetime
    window_end: datetime
    events: dict[str, list[dict[str, Any]]]
    kept_threats: frozenset[str]  # group keys threat:<id> the run must create
    kept_events: int  # events the default policy keeps (delivered + permitted clicks with an active threat)
    expected_counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # key: (events, recipients)
    threats: dict[str, Threat] = field(repr=False, default_factory=dict)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.events.values())

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.events.items()}

    def scenario(self) -> dict[str, Any]:
        """A TAP simulator scenario holding these events (absolute times)."""
        return {"events": self.events}


def new_threat(rng: random.Random, ident: str, name: str, status: str, kind: str | None, campaigns: list[str],
               threat_time: str) -> Threat:
    """A threat with a random kind (a fifth attachments) unless given, classification and campaign (30 %)."""
    kind = kind or ("attachment" if rng.random() < 0.2 else "url")
    value = ident if kind == "attachment" else f"https://{name}.bad{rng.randrange(50)}.example/login"
    return Threat(ident, kind, rng.choice(CLASSIFICATIONS), status,
                  rng.choice(campaigns) if rng.random() < 0.3 else None, value,
                  f"billing{rng.randrange(10)}@{name}.bad.example", f"Invoice {name} {rng.randrange(1000)}",
                  threat_time)


def attachment_parts(threats: list[Threat]) -> list[dict[str, Any]]:
    """The messageParts of a message carrying ``threats``: one attached file per attachment threat."""
    return [{"disposition": "attached", "filename": f"invoice-{t.id[:6]}.xlsm", "md5": t.id[:32], "sha256": t.id,
             "contentType": "application/vnd.ms-excel", "oContentType": "application/vnd.ms-excel",
             "sandboxStatus": "threat"} for t in threats if t.kind == "attachment"]


def message_event(event_id: str, n: int, guid: str, at: str, threats: list[Threat], rcpt: str,
                  rng: random.Random) -> dict[str, Any]:
    """One messagesDelivered/messagesBlocked event (TAP repeats a message once per recipient, same GUID)."""
    lead = threats[0]
    return {
        "id": event_id, "GUID": guid, "QID": f"q{n}", "messageID": f"<{guid}@bad.example>",
        "messageTime": at, "sender": lead.sender, "senderIP": f"198.51.100.{rng.randrange(1, 255)}",
        "headerFrom": f"Billing <{lead.sender}>", "headerReplyTo": None, "fromAddress": [lead.sender],
        "replyToAddress": [], "toAddresses": [rcpt], "ccAddresses": [], "recipient": [rcpt],
        "subject": lead.subject, "xmailer": None, "messageSize": 2048 + rng.randrange(50_000),
        "spamScore": rng.randrange(100), "phishScore": rng.randrange(100),
        "malwareScore": rng.randrange(100), "impostorScore": 0.0, "cluster": "bench_hosted",
        "policyRoutes": ["default_inbound"], "modulesRun": ["urldefense", "sandbox"],
        "quarantineFolder": None, "quarantineRule": None, "completelyRewritten": True,
        "messageParts": attachment_parts(threats), "threatsInfoMap": [t.info() for t in threats],
    }


def click_ip(rng: random.Random) -> str:
    return f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def click_event(event_id: str, guid: str, at: str, t: Threat, ip: str, recipient: str) -> dict[str, Any]:
    """One clicksPermitted/clicksBlocked event on URL threat ``t`` (the click carries its threat inline)."""
    return {"id": event_id, "GUID": guid, "url": t.value, "clickTime": at, "clickIP": ip,
            "userAgent": "Mozilla/5.0", "recipient": recipient, "sender": t.sender,
            "senderIP": "198.51.100.7", "messageID": f"<{guid}@bad.example>", "classification": t.classification,
            "threatID": t.id, "threatURL": f"https://threatinsight.proofpoint.com/{TENANT}/threat/email/{t.id}",
            "threatTime": t.threat_time, "threatStatus": t.status, "campaignId": t.campaign}


def generate(size: int, *, now: datetime | None = None, seed: int = 7) -> Dataset:
    """About ``size`` raw events (exactly ``size``) around ``size // 100`` kept threats."""
    if size < 10:
        raise ValueError("size must be at least 10")
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    rng = random.Random(f"{seed}:{size}")
    window_end = now - timedelta(minutes=2)
    window_start = window_end - WINDOW
    threat_time = fmt(now - THREAT_TIME)
    n_kept = max(1, size // 100)
    campaigns = [f"c{n:04d}-{TENANT[:8]}-bench" for n in range(max(1, n_kept // 10))]

    def make_threat(name: str, status: str, kind: str | None = None) -> Threat:
        return new_threat(rng, tid(f"bench:{seed}:{size}:{name}"), name, status, kind, campaigns, threat_time)

    kept = [make_threat(f"k{n}", "active") for n in range(n_kept)]
    kept_url = [t for t in kept if t.kind == "url"] or [make_threat("kurl", "active", "url")]
    blocked_only = [make_threat(f"b{n}", "active") for n in range(max(1, n_kept // 5))]
    cleared = [make_threat(f"c{n}", "cleared") for n in range(max(1, n_kept // 10))]
    if kept_url[0] not in kept:
        kept.append(kept_url[0])

    counter = iter(range(1, 10**9))
    span = (EVENTS_FROM - EVENTS_TO).total_seconds()

    def when() -> str:
        return fmt(now - EVENTS_FROM + timedelta(seconds=rng.random() * span))

    def recipient() -> str:
        return f"user{rng.randrange(5000):04d}@corp.example"

    def distinct_recipients(count: int) -> list[str]:
        return [f"user{n:04d}@corp.example" for n in rng.sample(range(5000), count)]

    def message_events(threats: list[Threat], recipients: int, budget: int) -> list[dict[str, Any]]:
        guid = f"bench-{size}-g{next(counter)}"
        at = when()
        return [message_event(f"bench-{size}-m{n}", n, guid, at, threats, rcpt, rng)
                for rcpt in distinct_recipients(min(recipients, budget)) for n in (next(counter),)]

    def click_events(t: Threat) -> dict[str, Any]:
        n = next(counter)
        guid = f"bench-{size}-g{rng.randrange(1, n + 1)}"
        at = when()
        return click_event(f"bench-{size}-k{n}", guid, at, t, click_ip(rng), recipient())

    events: dict[str, list[dict[str, Any]]] = {"messagesDelivered": [], "messagesBlocked": [],
                                                "clicksPermitted": [], "clicksBlocked": []}
    n_clicks = max(1, round(size * SHARE_CLICKS))
    n_blocked = max(2, round(size * SHARE_BLOCKED))
    n_cleared = max(1, round(size * SHARE_CLEARED_ONLY))
    n_delivered = size - n_clicks - n_blocked - n_cleared
    if n_delivered < len(kept):
        raise ValueError("size too small for its threats")
    used: set[str] = set()  # kept threats that got a kept event

    # delivered messages carrying kept threats: the first len(kept) messages visit every kept threat once
    order = iter(range(10**9))
    while len(events["messagesDelivered"]) < n_delivered:
        index = next(order)
        lead = kept[index] if index < len(kept) else rng.choice(kept)
        threats = [lead]
        roll = rng.random()
        if roll < SHARE_TWO_THREATS and len(kept) > 1:
            threats.append(rng.choice([t for t in kept[:50] if t is not lead] or [lead]))
        elif roll < SHARE_TWO_THREATS + SHARE_WITH_CLEARED:
            threats.append(rng.choice(cleared))
        batch = message_events(threats, rng.choice((1, 1, 2, 3)), n_delivered - len(events["messagesDelivered"]))
        events["messagesDelivered"].extend(batch)
        used.update(t.id for t in threats if t.status == "active")
    for _ in range(n_clicks):
        t = rng.choice(kept_url)
        events["clicksPermitted"].append(click_events(t))
        used.add(t.id)
    for n in range(n_blocked):
        t = rng.choice(blocked_only) if n % 2 == 0 else rng.choice(kept)
        if n % 10 < 7:
            events["messagesBlocked"].extend(message_events([t], 1, 1))
        else:
            events["clicksBlocked"].append(click_events(t))
    for _ in range(n_cleared):
        events["messagesDelivered"].extend(message_events([rng.choice(cleared)], 1, 1))

    kept_events = 0
    per_threat: dict[str, tuple[int, set[str]]] = {}
    for kind, threats_of in (("messagesDelivered", lambda e: e["threatsInfoMap"]),
                             ("clicksPermitted", lambda e: [e])):
        for event in events[kind]:
            active = [t["threatID"] for t in threats_of(event) if t["threatStatus"] == "active"]
            kept_events += bool(active)
            who = event["recipient"] if isinstance(event["recipient"], list) else [event["recipient"]]
            for threat in active:
                count, recipients = per_threat.get(f"threat:{threat}", (0, set()))
                per_threat[f"threat:{threat}"] = (count + 1, recipients | set(who))
    return Dataset(size=size, now=now, window_start=window_start, window_end=window_end, events=events,
                   kept_threats=frozenset(f"threat:{t}" for t in used), kept_events=kept_events,
                   expected_counts={k: (n, len(r)) for k, (n, r) in per_threat.items()},
                   threats={t.id: t for t in kept + blocked_only + cleared})
