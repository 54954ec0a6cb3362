"""TAP's small vocabularies (statuses, threat types, classifications, event types) and their spellings.

TAP and its documentation spell these inconsistently (``falsePositive`` / ``falsepositive``, ``MALWARE``
/ ``malware``, ``messageText`` / ``message text``). Normalising in one place means every comparison in the
app (filters, incident matching, closing on false positive) sees one spelling.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from functools import lru_cache


class ThreatStatus(StrEnum):
    ACTIVE = "active"
    CLEARED = "cleared"
    FALSE_POSITIVE = "falsePositive"


class ThreatType(StrEnum):
    URL = "url"
    ATTACHMENT = "attachment"
    MESSAGE_TEXT = "messageText"


class EventType(StrEnum):
    """SIEM response arrays; the value is the array name TAP uses."""

    MESSAGES_DELIVERED = "messagesDelivered"
    MESSAGES_BLOCKED = "messagesBlocked"
    CLICKS_PERMITTED = "clicksPermitted"
    CLICKS_BLOCKED = "clicksBlocked"

    @property
    def is_click(self) -> bool:
        return self in (EventType.CLICKS_PERMITTED, EventType.CLICKS_BLOCKED)


def _squash(value: str) -> str:
    """Lower-case and drop separators, so ``False_Positive``, ``false positive`` and ``falsePositive`` meet."""
    return "".join(ch for ch in value.lower() if ch.isalnum())


_STATUS_BY_SQUASHED = {_squash(s.value): s for s in ThreatStatus}
_TYPE_BY_SQUASHED = {_squash(t.value): t for t in ThreatType}
_EVENT_BY_SQUASHED = {_squash(e.value): e for e in EventType}


def parse_status(value: object) -> ThreatStatus | None:
    """Exact vocabulary match for a threat status in any case/separator spelling, else ``None``."""
    if not isinstance(value, str):
        return None
    return _STATUS_BY_SQUASHED.get(_squash(value))


def parse_threat_type(value: object) -> ThreatType | None:
    if not isinstance(value, str):
        return None
    return _TYPE_BY_SQUASHED.get(_squash(value))


def parse_event_type(value: object) -> EventType | None:
    """Match an array name tolerantly (``messagesdelivered``, ``messages_delivered``)."""
    if not isinstance(value, str):
        return None
    return _EVENT_BY_SQUASHED.get(_squash(value))


def normalise_status(value: object) -> str | None:
    """Canonical status (``active``/``cleared``/``falsePositive``); unknown text is kept, stripped."""
    return _normalise_status(value) if isinstance(value, str) else None


def normalise_threat_type(value: object) -> str | None:
    """Canonical threat type (``url``/``attachment``/``messageText``); unknown text kept, stripped."""
    return _normalise_threat_type(value) if isinstance(value, str) else None


def normalise_classification(value: object) -> str | None:
    """Classifications (malware, phish, spam, impostor, toad, ...) in lower case."""
    return _normalise_classification(value) if isinstance(value, str) else None


# The same few spellings repeat across thousands of events: cache their normal forms (bounded).
@lru_cache(maxsize=1024)
def _normalise_status(value: str) -> str | None:
    if not value.strip():
        return None
    known = parse_status(value)
    return known.value if known else sys.intern(value.strip())


@lru_cache(maxsize=1024)
def _normalise_threat_type(value: str) -> str | None:
    if not value.strip():
        return None
    known = parse_threat_type(value)
    return known.value if known else sys.intern(value.strip())


@lru_cache(maxsize=1024)
def _normalise_classification(value: str) -> str | None:
    if not value.strip():
        return None
    return sys.intern(value.strip().lower())
