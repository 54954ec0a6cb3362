"""Rows of the ``pp_tap_events`` data table: one TAP event as evidence for one incident group.

Which TAP fields become columns, and why, is in :data:`fn_pp_tap_functions.fields.EVENTS_TABLE`. A row is
built for every event of a group (then capped per run by :mod:`.grouping`), so it holds references to the
event's own values and formats them only in :meth:`EventRow.cells`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.ingest.filtering import KeptEvent
from fn_pp_tap_functions.tap.events import MessagePart, ThreatInfo
from fn_pp_tap_functions.tap.timestamps import epoch_ms, iso_or_none
from fn_pp_tap_functions.tap.vocab import EventType, ThreatStatus, ThreatType
from fn_pp_tap_functions.text import line as clean_line

CONTEXT_STRING_LIMIT = 8192
"""Longest string a template sees (a 100 KB subject is cut before rendering, not after)."""
CELL_LIMIT = 1000
_CLICK_TYPES = frozenset({EventType.CLICKS_PERMITTED.value, EventType.CLICKS_BLOCKED.value})


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of the ``pp_tap_events`` data table: one event as evidence for one group.

    Fields refer to the event's own values (one is built per event, before the per-run cap); :meth:`cells`
    formats them into the columns described in :data:`fn_pp_tap_functions.fields.EVENTS_TABLE`.
    """

    event_key: str
    event_time: datetime | None
    event_type: str
    recipients: tuple[str, ...]
    sender: str | None
    subject: str | None
    threat_ids: tuple[str, ...]
    classifications: tuple[str, ...]
    statuses: tuple[str, ...]
    url_or_file: tuple[str, ...]
    click_ip: str | None
    message_id: str | None
    header_from: str | None = None
    header_reply_to: str | None = None
    to_addresses: tuple[str, ...] = ()
    cc_addresses: tuple[str, ...] = ()
    message_parts: tuple[MessagePart, ...] = ()
    phish_score: int | None = None
    malware_score: int | None = None
    spam_score: int | None = None
    impostor_score: float | None = None
    sender_ip: str | None = None
    user_agent: str | None = None
    xmailer: str | None = None
    quarantine_folder: str | None = None
    quarantine_rule: str | None = None

    @property
    def is_click(self) -> bool:
        return self.event_type in _CLICK_TYPES

    def cells(self) -> dict[str, object]:
        """Column name -> value for SOAR (dates in epoch ms, text made inert and cut to 1,000 characters)."""
        return {
            F.COL_EVENT_KEY: self.event_key,
            F.COL_EVENT_TIME: epoch_ms(self.event_time),
            F.COL_EVENT_TYPE: self.event_type,
            F.COL_RECIPIENT: clean_line(", ".join(self.recipients), CELL_LIMIT),
            F.COL_SENDER: clean_line(self.sender, CELL_LIMIT),
            F.COL_HEADER_FROM: clean_line(self.header_from, CELL_LIMIT),
            F.COL_HEADER_REPLY_TO: clean_line(self.header_reply_to, CELL_LIMIT),
            F.COL_TO_CC: clean_line(self.to_cc_text(), CELL_LIMIT),
            F.COL_SUBJECT: clean_line(self.subject, CELL_LIMIT),
            F.COL_THREAT_ID: clean_line(", ".join(self.threat_ids), CELL_LIMIT),
            F.COL_CLASSIFICATION: clean_line(", ".join(self.classifications), CELL_LIMIT),
            F.COL_THREAT_STATUS: clean_line(", ".join(self.statuses), CELL_LIMIT),
            F.COL_URL_OR_FILE: clean_line(", ".join(self.url_or_file), CELL_LIMIT),
            F.COL_MESSAGE_PARTS: clean_line(" | ".join(_part_text(p) for p in self.message_parts), CELL_LIMIT),
            F.COL_SCORES: ", ".join(f"{name} {_number(value)}" for name, value in self.scores().items()
                                    if value is not None),
            F.COL_SENDER_IP: clean_line(self.sender_ip, CELL_LIMIT),
            F.COL_CLICK_IP: clean_line(self.click_ip, CELL_LIMIT),
            F.COL_USER_AGENT: clean_line(self.user_agent, CELL_LIMIT),
            F.COL_XMAILER: clean_line(self.xmailer, CELL_LIMIT),
            F.COL_QUARANTINE: clean_line(self.quarantine_text(), CELL_LIMIT),
            F.COL_MESSAGE_ID: clean_line(self.message_id, CELL_LIMIT),
        }

    def scores(self) -> dict[str, float | None]:
        """TAP's four message scores, in the order an analyst reads them (clicks have none)."""
        return {"phish": self.phish_score, "malware": self.malware_score, "spam": self.spam_score,
                "impostor": self.impostor_score}

    def to_cc_text(self) -> str:
        """``To (2): a, b; Cc (1): c``: the count first, so a list cut in a cell still says how long it was."""
        parts = [f"{label} ({len(values)}): {', '.join(values)}"
                 for label, values in (("To", self.to_addresses), ("Cc", self.cc_addresses)) if values]
        return "; ".join(parts)

    def quarantine_text(self) -> str:
        folder, rule = self.quarantine_folder, self.quarantine_rule
        if folder and rule:
            return f"{folder} ({rule})"
        return folder or (f"rule {rule}" if rule else "")

    def to_context(self) -> dict[str, object]:
        return {
            "event_key": self.event_key,
            "time": iso_or_none(self.event_time),
            "time_ms": epoch_ms(self.event_time),
            "event_type": self.event_type,
            "recipients": ctx(self.recipients),
            "sender": ctx(self.sender),
            "header_from": ctx(self.header_from),
            "header_reply_to": ctx(self.header_reply_to),
            "to_addresses": ctx(self.to_addresses),
            "cc_addresses": ctx(self.cc_addresses),
            "subject": ctx(self.subject),
            "threat_ids": ctx(self.threat_ids),
            "classifications": self.classifications,
            "statuses": self.statuses,
            "url_or_file": ctx(self.url_or_file),
            "message_parts": tuple({k: ctx(v) for k, v in p.to_dict().items()} for p in self.message_parts),
            "scores": self.scores(),
            "sender_ip": ctx(self.sender_ip),
            "click_ip": ctx(self.click_ip),
            "user_agent": ctx(self.user_agent),
            "xmailer": ctx(self.xmailer),
            "quarantine_folder": ctx(self.quarantine_folder),
            "quarantine_rule": ctx(self.quarantine_rule),
            "message_id": ctx(self.message_id),
        }


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _part_text(part: MessagePart) -> str:
    """``Invoice.pdf (application/pdf, declared text/plain, sandbox threat) SHA-256 ... MD5 ...``."""
    facts = [part.content_type] if part.content_type else []
    if part.o_content_type and part.o_content_type != part.content_type:
        facts.append(f"declared {part.o_content_type}")
    if part.sandbox_status:
        facts.append(f"sandbox {part.sandbox_status}")
    text = (part.filename or "unnamed part") + (f" ({', '.join(facts)})" if facts else "")
    if part.sha256:
        text += f" SHA-256 {part.sha256}"
    if part.md5:
        text += f" MD5 {part.md5}"
    return text


def event_row(item: KeptEvent, threats: tuple[ThreatInfo, ...]) -> EventRow:
    event = item.event
    url_or_file: list[str] = []
    if event.is_click and event.url:
        url_or_file.append(event.url)
    threat_hashes = [t.threat for t in threats if t.threat_type == ThreatType.ATTACHMENT.value and t.threat]
    for threat in threats:
        if threat.threat_type == ThreatType.ATTACHMENT.value:
            names = [p.filename for p in event.message_parts if p.filename and same_hash(p.sha256, threat.threat)]
            url_or_file.extend(names or ([threat.threat] if threat.threat else []))
        elif threat.threat and not event.is_click:
            url_or_file.append(threat.threat)
    return EventRow(
        event_key=event.key,
        event_time=event.time,
        event_type=event.event_type,
        recipients=item.recipients,
        sender=event.sender or (event.from_addresses[0] if event.from_addresses else None),
        subject=event.subject,
        threat_ids=tuple(dict.fromkeys(t.threat_id for t in threats if t.threat_id)),
        classifications=tuple(sorted({t.classification for t in threats if t.classification})),
        statuses=tuple(sorted({t.status or ThreatStatus.ACTIVE.value for t in threats})),
        url_or_file=tuple(dict.fromkeys(url_or_file)),
        click_ip=event.click_ip,
        message_id=event.message_id,
        header_from=event.header_from or ", ".join(event.from_addresses) or None,
        header_reply_to=event.header_reply_to or ", ".join(event.reply_to_addresses) or None,
        to_addresses=event.to_addresses or _header_list(event.header_to),
        cc_addresses=event.cc_addresses or _header_list(event.header_cc),
        message_parts=tuple(p for p in event.message_parts if _shown_part(p, threat_hashes)),
        phish_score=event.phish_score,
        malware_score=event.malware_score,
        spam_score=event.spam_score,
        impostor_score=event.impostor_score,
        sender_ip=event.sender_ip,
        user_agent=event.user_agent,
        xmailer=event.xmailer,
        quarantine_folder=event.quarantine_folder,
        quarantine_rule=event.quarantine_rule,
    )


def _header_list(header: str | None) -> tuple[str, ...]:
    """TAP's ``headerTo``/``headerCC`` text as one entry, when it listed no addresses."""
    return (header,) if header else ()


def _shown_part(part: MessagePart, threat_hashes: list[str]) -> bool:
    """Attachments, and any part the sandbox or a threat names; not the message's plain bodies."""
    if (part.disposition or "").lower() != "inline":
        return True
    return part.sandbox_status == "threat" or any(same_hash(part.sha256, h) for h in threat_hashes)


def same_hash(a: str | None, b: str | None) -> bool:
    return bool(a and b and a.strip().lower() == b.strip().lower())


def ctx(value: object) -> object:
    """Cap strings a template sees; tuples stay tuples."""
    if isinstance(value, str):
        return value if len(value) <= CONTEXT_STRING_LIMIT else value[: CONTEXT_STRING_LIMIT - 1] + "\u2026"
    if isinstance(value, tuple | list):
        return tuple(ctx(v) for v in value)
    return value
