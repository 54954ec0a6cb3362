"""The incident ledger: what ingestion has recorded on an incident, kept in the incident field ``pp_tap_ledger``.

Ingestion decides what is new for a group from the incident query alone (no artifact, row or note is
read on a normal run), so the ledger holds a short digest of everything the app recorded:

* every EVENT (rows and beyond the row cap alike): a letter for its type (``d`` delivered message, ``x``
  blocked message, ``p`` permitted click, ``b`` blocked click, ``e`` any other), UPPER case when the
  event has a row in the incident's events table, then 12 hex of SHA-256 of the event key;
* every RECIPIENT: ``r`` + 12 hex of the lower-cased address;
* every ARTIFACT the app wrote: ``a`` + the template's artifact spec number (two digits) + 12 hex of
  ``type|value``, so the template's ``max`` applies to the incident across runs, not to one run;
* ``v2`` (this format) and, once :data:`MAX_LEDGER_ENTRIES` is reached, ``!full``.

The counts on the incident are DERIVED from the ledger, never incremented: ``pp_tap_event_count`` is the
number of event entries, ``pp_tap_recipients_count`` the number of recipient entries. A rerun after any
interruption therefore writes exactly the same figures. Entries are 14-15 characters; 10,000 of them are
about 150 KB. Past the cap the counts stay at what the ledger holds (the note that says so is written
once) and nothing further is recorded: the TAP dashboard remains the full record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from fn_pp_tap_functions.tap.vocab import EventType

MAX_LEDGER_ENTRIES = 10000
LEDGER_FULL = "!full"
VERSION = "v2"
MAX_SPEC = 99
EVENT_LETTERS: dict[str, str] = {
    EventType.MESSAGES_DELIVERED.value: "d",
    EventType.MESSAGES_BLOCKED.value: "x",
    EventType.CLICKS_PERMITTED.value: "p",
    EventType.CLICKS_BLOCKED.value: "b",
}
_TYPE_OF = {letter: kind for kind, letter in EVENT_LETTERS.items()}
_EVENT_LETTERS = frozenset("dxpbe")


def digest(value: str) -> str:
    """12 hex of SHA-256: 48 bits, no collision to expect among an incident's 10,000 entries."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def event_digest(event_key: str) -> str:
    return digest(event_key)


def recipient_digest(address: str) -> str:
    return digest(address.strip().lower())


def artifact_digest(type_name: str, value: str) -> str:
    return digest(f"{type_name}|{value}")


def _is_legacy(tokens: list[str]) -> bool:
    """A ledger written before this format: it has entries but no version mark."""
    return bool(tokens) and VERSION not in tokens


@dataclass
class Ledger:
    """A parsed ledger (mutable while a plan is made; :meth:`text` is what goes back into the field).

    ``events`` maps an event digest to its type letter (lower case) and ``rows`` holds the digests of
    events that have a row; ``artifacts`` maps an artifact digest to its spec number. ``legacy`` is true for
    a ledger written before this format (it lacks events that have rows: the caller rebuilds it from the
    incident's rows and artifacts once, see services.incidents).
    """

    events: dict[str, str] = field(default_factory=dict)
    rows: set[str] = field(default_factory=set)
    recipients: set[str] = field(default_factory=set)
    artifacts: dict[str, int] = field(default_factory=dict)
    full: bool = False
    legacy: bool = False
    added: int = 0

    # ------------------------------------------------------------------------------------- reading

    @staticmethod
    def is_legacy(text: object) -> bool:
        """What ``parse(text).legacy`` says, without parsing every token."""
        return _is_legacy(text.split() if isinstance(text, str) else [])

    @classmethod
    def parse(cls, text: object) -> Ledger:
        ledger = cls()
        tokens = text.split() if isinstance(text, str) else []
        ledger.legacy = _is_legacy(tokens)
        for token in tokens:
            if token == LEDGER_FULL:
                ledger.full = True
            elif token == VERSION:
                continue
            elif len(token) == 13 and token[0].lower() in _EVENT_LETTERS:
                h = token[1:]
                ledger.events[h] = token[0].lower()
                if token[0].isupper():
                    ledger.rows.add(h)
            elif len(token) == 13 and token[0] == "r":
                ledger.recipients.add(token[1:])
            elif len(token) == 15 and token[0] == "a" and token[1:3].isdigit():
                ledger.artifacts[token[3:]] = int(token[1:3])
        return ledger

    @property
    def size(self) -> int:
        return len(self.events) + len(self.recipients) + len(self.artifacts)

    def knows_event(self, event_key: str) -> bool:
        return event_digest(event_key) in self.events

    def knows_recipient(self, address: str) -> bool:
        return recipient_digest(address) in self.recipients

    def knows_artifact(self, type_name: str, value: str) -> bool:
        return artifact_digest(type_name, value) in self.artifacts

    def artifacts_of_spec(self, spec: int) -> int:
        return sum(1 for s in self.artifacts.values() if s == min(spec, MAX_SPEC))

    # ------------------------------------------------------------------------------------- counts

    @property
    def event_count(self) -> int:
        return len(self.events)

    @property
    def recipients_count(self) -> int:
        return len(self.recipients)

    @property
    def rows_count(self) -> int:
        return len(self.rows)

    def count_of(self, event_type: str) -> int:
        letter = EVENT_LETTERS.get(event_type, "e")
        return sum(1 for v in self.events.values() if v == letter)

    def event_types(self) -> set[str]:
        return {_TYPE_OF[v] for v in set(self.events.values()) if v in _TYPE_OF}

    # ------------------------------------------------------------------------------------- writing

    def _room(self) -> bool:
        if self.full:
            return False
        if self.size >= MAX_LEDGER_ENTRIES:
            self.full = True
            return False
        return True

    def add_event(self, event_key: str, event_type: str, *, row: bool = False) -> bool:
        """Record an event (``False``, and the ledger marked full, when there is no room)."""
        h = event_digest(event_key)
        if h in self.events:
            if row:
                self.rows.add(h)
            return True
        if not self._room():
            return False
        self.events[h] = EVENT_LETTERS.get(event_type, "e")
        if row:
            self.rows.add(h)
        self.added += 1
        return True

    def add_recipient(self, address: str) -> bool:
        h = recipient_digest(address)
        if h in self.recipients:
            return True
        if not self._room():
            return False
        self.recipients.add(h)
        self.added += 1
        return True

    def add_artifact(self, type_name: str, value: str, spec: int) -> bool:
        h = artifact_digest(type_name, value)
        if h in self.artifacts:
            return True
        if not self._room():
            return False
        self.artifacts[h] = min(max(spec, 0), MAX_SPEC)
        self.added += 1
        return True

    def merge(self, other: Ledger) -> None:
        """Take another incident's events and recipients (a duplicate merged into this one): its rows and
        artifacts stay on the other incident, so they are not recorded as this one's."""
        for h, letter in sorted(other.events.items()):
            if h not in self.events and self._room():
                self.events[h] = letter
                self.added += 1
        for h in sorted(other.recipients):
            if h not in self.recipients and self._room():
                self.recipients.add(h)
                self.added += 1

    def copy(self) -> Ledger:
        return Ledger(dict(self.events), set(self.rows), set(self.recipients), dict(self.artifacts), self.full,
                      self.legacy)

    def text(self) -> str:
        tokens: list[str] = [VERSION]
        tokens += [(v.upper() if h in self.rows else v) + h for h, v in self.events.items()]
        tokens += ["r" + h for h in self.recipients]
        tokens += [f"a{s:02d}{h}" for h, s in self.artifacts.items()]
        if self.full:
            tokens.append(LEDGER_FULL)
        return " ".join(sorted(tokens))


def ledger_of(entries: Iterable[str]) -> Ledger:
    """A ledger from tokens (tests, and callers that hold tokens rather than the field's text)."""
    return Ledger.parse(" ".join(entries))
