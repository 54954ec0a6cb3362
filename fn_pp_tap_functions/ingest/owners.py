"""Owner and member rules the SOC writes in the workflow (input ``pp_tap_owner_rules``).

Format: one rule per line, ``CONDITIONS -> ACTIONS``; blank lines and lines starting with ``#`` are
ignored; the FIRST rule that matches a group wins::

    # malware goes to tier 2, with two analysts watching
    classification=malware -> owner: "SOC Tier 2"; members: analyst1@example.com, "Malware Team"
    recipient_domain=finance.example.com -> owner: finance-soc@example.com
    event_type=clicksPermitted and classification=phish|impostor -> owner: "SOC Tier 1"
    threat_type=attachment -> members: sandbox@example.com
    default -> owner: "SOC Tier 1"

Conditions are ``NAME=VALUE`` joined by ``and`` (all must hold); ``VALUE`` may list alternatives with
``|``. Names: ``classification``, ``event_type``, ``threat_type``, ``threat_status`` (exact vocabulary,
any case), ``recipient``, ``recipient_domain``, ``sender``, ``sender_domain``, ``campaign`` (shell-style
patterns, case-insensitive; a condition on addresses holds when ANY of the group's addresses matches).
``default`` (or ``*``) always matches and is normally the last line.

Actions: ``owner: NAME`` and/or ``members: NAME, NAME``, separated by ``;``. A NAME is a SOAR user's
email or a group's name; quote it (``"SOC Tier 2"``) when it has spaces, commas or semicolons.

Precedence with the incident template: the first matching rule decides what it sets; what the rule does
not set (say, only members) comes from the template's ``owner`` / ``members``; when no rule matches, the
template's values apply. Rules only apply when an incident is CREATED: an analyst's later reassignment
is never undone by ingestion.

:meth:`OwnerRules.names` lists every name so the caller checks them against SOAR users and groups before
creating anything (and reports an unknown name, naming it).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.tap.vocab import (
    EventType,
    ThreatStatus,
    ThreatType,
    parse_event_type,
    parse_status,
    parse_threat_type,
)

if TYPE_CHECKING:
    from fn_pp_tap_functions.ingest.grouping import GroupEvidence
    from fn_pp_tap_functions.ingest.templates import IncidentDraft

INPUT = "pp_tap_owner_rules"
MAX_RULES = 200
_CLASSIFICATIONS = ("malware", "phish", "spam", "impostor", "toad")
_VOCAB_CONDITIONS = ("classification", "event_type", "threat_type", "threat_status")
_PATTERN_CONDITIONS = ("recipient", "recipient_domain", "sender", "sender_domain", "campaign")
CONDITIONS = _VOCAB_CONDITIONS + _PATTERN_CONDITIONS
_NAME_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([^",;]+))\s*')


@dataclass(frozen=True, slots=True)
class Condition:
    """``name`` is one of :data:`CONDITIONS`; ``values`` canonical vocabulary values or lower-case patterns."""

    name: str
    values: tuple[str, ...]

    def matches(self, group: GroupEvidence) -> bool:
        if self.name == "classification":
            return bool(set(self.values) & set(group.classifications))
        if self.name == "event_type":
            return bool(set(self.values) & set(group.event_types))
        if self.name == "threat_type":
            return bool(set(self.values) & set(group.threat_types))
        if self.name == "threat_status":
            return bool(set(self.values) & set(group.statuses))
        if self.name == "recipient":
            candidates: Iterable[str] = group.recipients
        elif self.name == "recipient_domain":
            candidates = (_domain(a) for a in group.recipients)
        elif self.name == "sender":
            candidates = group.senders
        elif self.name == "sender_domain":
            candidates = (_domain(a) for a in group.senders)
        else:
            candidates = group.campaign_ids
        return any(fnmatch.fnmatchcase(c.lower(), p) for c in candidates if c for p in self.values)


@dataclass(frozen=True, slots=True)
class OwnerRule:
    """One line: conditions (empty for ``default``), the owner and members it sets, its line number."""

    line: int
    conditions: tuple[Condition, ...]
    owner: str | None
    members: tuple[str, ...] | None

    def matches(self, group: GroupEvidence) -> bool:
        return all(c.matches(group) for c in self.conditions)


@dataclass(frozen=True, slots=True)
class OwnerRules:
    """Parsed rules, first match wins (see the module docstring)."""

    rules: tuple[OwnerRule, ...] = ()

    @classmethod
    def empty(cls) -> OwnerRules:
        return cls(())

    @classmethod
    def parse(cls, text: str | None) -> OwnerRules:
        """Parse rule text; raises :class:`InputError` naming the line number and the problem."""
        if text is None or not text.strip():
            return cls.empty()
        rules: list[OwnerRule] = []
        for number, raw in enumerate(text.splitlines(), start=1):
            stripped = raw.strip()
            if not stripped or stripped.startswith("#"):
                continue
            rules.append(_parse_line(number, stripped))
            if len(rules) > MAX_RULES:
                raise InputError(f"{INPUT} line {number}: more than {MAX_RULES} rules.")
        return cls(tuple(rules))

    def match(self, group: GroupEvidence) -> OwnerRule | None:
        """The first rule that matches ``group``, or ``None``."""
        for rule in self.rules:
            if rule.matches(group):
                return rule
        return None

    def resolve(self, group: GroupEvidence) -> tuple[str | None, tuple[str, ...]]:
        """``(owner or None, members)`` set by the first matching rule (``(None, ())`` when none)."""
        rule = self.match(group)
        if rule is None:
            return None, ()
        return rule.owner, rule.members or ()

    def names(self) -> tuple[str, ...]:
        """Every owner and member name in the rules, sorted, once each (check them against SOAR first)."""
        found: set[str] = set()
        for rule in self.rules:
            if rule.owner:
                found.add(rule.owner)
            found.update(rule.members or ())
        return tuple(sorted(found, key=str.lower))


def apply_owner_rules(draft: IncidentDraft, rules: OwnerRules, group: GroupEvidence) -> IncidentDraft:
    """The draft with the first matching rule's owner/members; unset parts keep the template's values."""
    rule = rules.match(group)
    if rule is None:
        return draft
    return replace(draft, owner=draft.owner if rule.owner is None else rule.owner,
                   members=draft.members if rule.members is None else rule.members)


# ---------------------------------------------------------------------------------------------- parsing


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1] if "@" in address else ""


def _fail(number: int, problem: str) -> InputError:
    return InputError(f"{INPUT} line {number}: {problem}")


def _parse_line(number: int, text: str) -> OwnerRule:
    if "->" not in text:
        raise _fail(number, "missing '->' between the conditions and the actions (CONDITIONS -> owner: NAME).")
    left, right = text.split("->", 1)
    conditions = _parse_conditions(number, left.strip())
    owner, members = _parse_actions(number, right.strip())
    return OwnerRule(number, conditions, owner, members)


def _parse_conditions(number: int, text: str) -> tuple[Condition, ...]:
    if text.lower() in ("default", "*"):
        return ()
    if not text:
        raise _fail(number, "no condition before '->' (write 'default' for a rule that always matches).")
    out: list[Condition] = []
    for part in re.split(r"\s+and\s+", text, flags=re.IGNORECASE):
        if "=" not in part:
            raise _fail(number, f"condition {part.strip()[:60]!r} is not NAME=VALUE; names: {', '.join(CONDITIONS)}.")
        name, value = (s.strip() for s in part.split("=", 1))
        name = name.lower()
        if name not in CONDITIONS:
            raise _fail(number, f"unknown condition {name[:40]!r}; use one of: {', '.join(CONDITIONS)}, default.")
        alternatives = [v.strip() for v in value.split("|") if v.strip()]
        if not alternatives:
            raise _fail(number, f"condition {name!r} has no value.")
        out.append(Condition(name, tuple(_condition_value(number, name, v) for v in alternatives)))
    return tuple(out)


def _condition_value(number: int, name: str, value: str) -> str:
    if name == "classification":
        low = value.lower()
        if low not in _CLASSIFICATIONS:
            raise _fail(number, f"classification {value[:40]!r} is not one of: {', '.join(_CLASSIFICATIONS)}.")
        return low
    if name in ("event_type", "threat_type", "threat_status"):
        parse, allowed = {
            "event_type": (parse_event_type, [e.value for e in EventType]),
            "threat_type": (parse_threat_type, [t.value for t in ThreatType]),
            "threat_status": (parse_status, [s.value for s in ThreatStatus]),
        }[name]
        known = parse(value)
        if known is None:
            raise _fail(number, f"{name} {value[:40]!r} is not one of: {', '.join(allowed)}.")
        return known.value
    if any(ch.isspace() for ch in value):
        raise _fail(number, f"pattern {value[:60]!r} for {name} contains a space.")
    return value.lower()


def _parse_names(number: int, text: str, what: str) -> tuple[str, ...]:
    names: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _NAME_TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise _fail(number, f"cannot read the {what} name at {text[pos:pos + 40]!r} (quote names with spaces).")
        name = match.group(1) if match.group(1) is not None else match.group(2)
        name = re.sub(r"\\(.)", r"\1", name).strip() if match.group(1) is not None else name.strip()
        if not name:
            raise _fail(number, f"empty {what} name.")
        if any(ord(ch) < 32 for ch in name) or len(name) > 255:
            raise _fail(number, f"{what} name {name[:40]!r} has control characters or is longer than 255.")
        if match.group(1) is None and " " in name.strip() and "@" in name:
            raise _fail(number, f"{what} name {name[:40]!r} has a space: quote it or separate names with commas.")
        names.append(name)
        pos = match.end()
        if pos < len(text):
            if text[pos] != ",":
                raise _fail(number, f"expected ',' between {what} names at {text[pos:pos + 40]!r}.")
            pos += 1
    return tuple(dict.fromkeys(names))


def _parse_actions(number: int, text: str) -> tuple[str | None, tuple[str, ...] | None]:
    if not text:
        raise _fail(number, "no action after '->' (write owner: NAME and/or members: NAME, NAME).")
    owner: str | None = None
    members: tuple[str, ...] | None = None
    for part in _split_outside_quotes(text, ";"):
        part = part.strip()
        if not part:
            continue
        if ":" not in part:
            raise _fail(number, f"action {part[:60]!r} is not 'owner: NAME' or 'members: NAME, NAME'.")
        key, value = part.split(":", 1)
        key = key.strip().lower()
        if key == "owner":
            if owner is not None:
                raise _fail(number, "owner is given twice.")
            names = _parse_names(number, value, "owner")
            if len(names) != 1:
                raise _fail(number, "owner takes exactly one name (put others in members).")
            owner = names[0]
        elif key == "members":
            if members is not None:
                raise _fail(number, "members is given twice.")
            members = _parse_names(number, value, "member")
        else:
            raise _fail(number, f"unknown action {key[:40]!r}; use owner: or members:.")
    if owner is None and members is None:
        raise _fail(number, "no owner: or members: after '->'.")
    return owner, members


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
            continue
        if ch == "\\" and quoted:
            current.append(ch)
            escaped = True
            continue
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts
