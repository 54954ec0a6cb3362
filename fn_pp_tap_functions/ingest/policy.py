"""What to ingest, decided in the SOAR platform: the function inputs of ``pp_tap_ingest_events``.

A workflow's pre-processing script sets the inputs as plain assignments (see the README example);
:meth:`IngestPolicy.from_inputs` turns them into one frozen :class:`IngestPolicy`, checking every value
BEFORE any TAP call, and raising :class:`~fn_pp_tap_functions.errors.InputError` naming the input, the bad
value and what is allowed.

Input formats (all text as SOAR sends it; blank means the default):

* lists: comma, semicolon or newline separated (``"messagesDelivered, clicksPermitted"``) or a JSON list
  (``'["url", "attachment"]'``); a Python list also works; ``all`` means every value;
* ``pp_tap_event_types``: messagesDelivered, messagesBlocked, clicksPermitted, clicksBlocked (any case,
  ``messages_delivered`` too), or ``issues``: TAP's own "issues" set, clicksPermitted plus messagesDelivered
  carrying an ATTACHMENT threat (delivered URL threats are defused by URL Defense rewriting, so only a
  click matters; this is what the SOC in the seed thread asked for). ``issues`` together with
  ``messagesDelivered`` means all delivered messages. Default: messagesDelivered, clicksPermitted
  (what got through), so blocked events never make incidents unless asked for;
* ``pp_tap_threat_statuses``: active, cleared, falsePositive; default active;
* ``pp_tap_threat_types``: url, attachment, messageText; default all (including types TAP adds later);
* ``pp_tap_classifications``: malware, phish, spam, impostor, toad; default all (including new ones);
* ``pp_tap_min_scores``: ``phishScore>=50, malwareScore>=80`` (names spamScore, phishScore, malwareScore,
  impostorScore, with or without ``Score``; 0-100). A message passes when ANY listed score reaches its
  minimum: the scores measure different dangers, and "phish >= 50 or malware >= 80" is what a SOC means;
  ALL would drop every malware message with a low phish score. Clicks carry no scores and pass (a click
  is a person acting on a known threat). A message condemned after delivery (a threat's threatTime more
  than a minute after the message time, or a retro-condemned skeleton) also passes: its scores are from
  delivery time, when it looked clean, and these are exactly the messages that must not be lost;
* ``pp_tap_recipient_include`` / ``_exclude``, ``pp_tap_sender_include`` / ``_exclude``: shell-style
  patterns (``*@example.com``, ``ceo@*``, ``?``, ``[abc]``), case-insensitive, exclude wins;
* ``pp_tap_group_by``: threat (default) | campaign | message;
* ``pp_tap_closed_policy``: new (default) | reopen | note;
* ``pp_tap_lookback_hours``: whole hours 1-168 (7 days, TAP's limit), default 24;
* ``pp_tap_incident_template``: JSON template text (see :mod:`.templates`), parsed and checked here;
* ``pp_tap_owner_rules``: rule text (see :mod:`.owners`), parsed here.

:meth:`IngestPolicy.siem_plan` chooses the SIEM endpoints for the wanted event types at least cost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import combinations
from typing import NamedTuple

from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.ingest.owners import OwnerRules
from fn_pp_tap_functions.ingest.templates import IncidentTemplate
from fn_pp_tap_functions.tap.pools import Pool
from fn_pp_tap_functions.tap.vocab import (
    EventType,
    ThreatStatus,
    ThreatType,
    parse_event_type,
    parse_status,
    parse_threat_type,
)

# ------------------------------------------------------------------------------------------ vocabularies

CLASSIFICATIONS: tuple[str, ...] = ("malware", "phish", "spam", "impostor", "toad")
SCORE_NAMES: dict[str, str] = {
    "spam": "spamScore",
    "phish": "phishScore",
    "malware": "malwareScore",
    "impostor": "impostorScore",
}
DEFAULT_EVENT_TYPES = frozenset({EventType.MESSAGES_DELIVERED.value, EventType.CLICKS_PERMITTED.value})
DEFAULT_STATUSES = frozenset({ThreatStatus.ACTIVE.value})
DEFAULT_LOOKBACK_HOURS = 24
MAX_LOOKBACK_HOURS = 168
ISSUES = "issues"

INPUT_NAMES: tuple[str, ...] = (
    "pp_tap_event_types",
    "pp_tap_threat_statuses",
    "pp_tap_threat_types",
    "pp_tap_classifications",
    "pp_tap_min_scores",
    "pp_tap_recipient_include",
    "pp_tap_recipient_exclude",
    "pp_tap_sender_include",
    "pp_tap_sender_exclude",
    "pp_tap_group_by",
    "pp_tap_closed_policy",
    "pp_tap_lookback_hours",
    "pp_tap_incident_template",
    "pp_tap_owner_rules",
)


class GroupBy(StrEnum):
    """What one incident stands for."""

    THREAT = "threat"
    CAMPAIGN = "campaign"
    MESSAGE = "message"


class ClosedPolicy(StrEnum):
    """What happens when the incident of a group is closed and new events for the group arrive."""

    NEW = "new"
    REOPEN = "reopen"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class ScoreMinimum:
    """One ``<name>Score>=<minimum>`` clause; ``name`` is spam/phish/malware/impostor."""

    name: str
    minimum: float

    def __str__(self) -> str:
        minimum = int(self.minimum) if float(self.minimum).is_integer() else self.minimum
        return f"{SCORE_NAMES[self.name]}>={minimum}"


# ---------------------------------------------------------------------------------------------- SIEM plan


class SiemCall(NamedTuple):
    """One SIEM endpoint to call per window and the event types wanted from its answer.

    ``endpoint`` is the path below ``/v2/siem/`` (``"issues"``, ``"clicks/permitted"``), as
    ``fn_pp_tap_functions.tap.client.SiemEndpoint`` spells it.
    """

    endpoint: str
    event_types: tuple[str, ...]

    @property
    def path(self) -> str:
        return f"/v2/siem/{self.endpoint}"

    @property
    def pool(self) -> Pool:
        return Pool.SIEM_CLICKS_PERMITTED if self.endpoint == "clicks/permitted" else Pool.SIEM


# "feeds": what an endpoint returns. DA = delivered messages with an attachment threat (all /issues gives).
_D, _DA, _B, _P, _K = "D", "DA", "B", "P", "K"
_ENDPOINT_FEEDS: dict[str, frozenset[str]] = {
    "all": frozenset({_D, _DA, _B, _P, _K}),
    "issues": frozenset({_DA, _P}),
    "messages/delivered": frozenset({_D, _DA}),
    "messages/blocked": frozenset({_B}),
    "clicks/permitted": frozenset({_P}),
    "clicks/blocked": frozenset({_K}),
}
_FEED_EVENT_TYPE = {
    _D: EventType.MESSAGES_DELIVERED.value,
    _DA: EventType.MESSAGES_DELIVERED.value,
    _B: EventType.MESSAGES_BLOCKED.value,
    _P: EventType.CLICKS_PERMITTED.value,
    _K: EventType.CLICKS_BLOCKED.value,
}
# cost of fetching an array nobody asked for: blocked messages include bulk spam and dwarf everything else
_OVERFETCH_WEIGHT = {_B: 100, _D: 10, _DA: 5, _P: 1, _K: 1}


def _plan_cost(endpoints: tuple[str, ...], wanted: frozenset[str]) -> tuple[int, int, int] | None:
    covered: set[str] = set()
    for endpoint in endpoints:
        covered |= _ENDPOINT_FEEDS[endpoint]
    if not wanted <= covered:
        return None
    per_pool: dict[Pool, int] = {}
    for endpoint in endpoints:
        pool = SiemCall(endpoint, ()).pool
        per_pool[pool] = per_pool.get(pool, 0) + 1
    overfetch = sum(_OVERFETCH_WEIGHT[f] for f in (_B, _P, _K) if f in covered and f not in wanted)
    if _D not in wanted:
        if _DA in wanted:
            overfetch += _OVERFETCH_WEIGHT[_DA] if _D in covered else 0  # delivered without attachment threats
        elif _D in covered:
            overfetch += _OVERFETCH_WEIGHT[_D]
        elif _DA in covered:
            overfetch += _OVERFETCH_WEIGHT[_DA]
    return (max(per_pool.values()), overfetch, len(endpoints))


# ------------------------------------------------------------------------------------------------ parsing


def _shown(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _scalar(value: object) -> object:
    """SOAR select inputs arrive as ``{"id", "name"}``: use the name."""
    if isinstance(value, Mapping):
        return value.get("name", value.get("value"))
    return value


def _items(name: str, value: object) -> list[str] | None:
    """The items of a list input, or ``None`` when blank (= default)."""
    value = _scalar(value)
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError as err:
                raise InputError(f"{name}: {_shown(value)} starts with '[' but is not a JSON list ({err}).") from None
            if not isinstance(parsed, list):
                raise InputError(f"{name}: {_shown(value)} is not a JSON list.")
            raw: Iterable[object] = parsed
        else:
            raw = re.split(r"[,;\n\r]+", text)
    elif isinstance(value, list | tuple | set | frozenset):
        raw = value
    else:
        raise InputError(f"{name}: expected text or a list, got {type(value).__name__} {_shown(value)}.")
    items: list[str] = []
    for item in raw:
        item = _scalar(item)
        if not isinstance(item, str):
            raise InputError(f"{name}: every item must be text, got {_shown(item)}.")
        item = item.strip()
        if item and item not in items:
            items.append(item)
    return items or None


def _text(name: str, value: object) -> str | None:
    value = _scalar(value)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{name}: expected text, got {type(value).__name__} {_shown(value)}.")
    return value if value.strip() else None


def _choice(name: str, value: object, enum: type[StrEnum], default: StrEnum) -> StrEnum:
    text = _text(name, value)
    if text is None:
        return default
    squashed = text.strip().lower()
    for member in enum:
        if member.value == squashed:
            return member
    allowed = ", ".join(m.value for m in enum)
    raise InputError(f"{name}: {_shown(text)} is not allowed; use one of: {allowed} (default {default.value}).")


def _event_types(value: object) -> tuple[frozenset[str], bool]:
    name = "pp_tap_event_types"
    items = _items(name, value)
    if items is None:
        return DEFAULT_EVENT_TYPES, False
    allowed = [e.value for e in EventType] + [ISSUES, "all"]
    found: set[str] = set()
    issues = False
    for item in items:
        low = item.lower()
        if low == "all":
            found |= {e.value for e in EventType}
            continue
        if low in (ISSUES, "siemissues", "siem_issues"):
            issues = True
            continue
        kind = parse_event_type(item)
        if kind is None:
            raise InputError(f"{name}: {_shown(item)} is not an event type; use any of: {', '.join(allowed)}.")
        found.add(kind.value)
    issues_only = issues and EventType.MESSAGES_DELIVERED.value not in found
    if issues:
        found |= {EventType.MESSAGES_DELIVERED.value, EventType.CLICKS_PERMITTED.value}
    return frozenset(found), issues_only


def _vocab(name: str, value: object, parse, allowed: list[str], default):
    items = _items(name, value)
    if items is None:
        return default
    found: set[str] = set()
    for item in items:
        if item.lower() == "all":
            return None if default is None else frozenset(allowed)
        known = parse(item)
        if known is None:
            raise InputError(f"{name}: {_shown(item)} is not allowed; use any of: {', '.join(allowed)}, or all.")
        found.add(known)
    return frozenset(found)


def _classification(value: str) -> str | None:
    low = value.strip().lower()
    return low if low in CLASSIFICATIONS else None


_SCORE = re.compile(r"^\s*([A-Za-z]+?)(?:[ _-]?score)?\s*>=\s*(\d{1,3}(?:\.\d+)?)\s*$", re.IGNORECASE)


def _min_scores(value: object) -> tuple[ScoreMinimum, ...]:
    name = "pp_tap_min_scores"
    items = _items(name, value)
    if not items:
        return ()
    allowed = ", ".join(f"{n}>=N" for n in SCORE_NAMES.values())
    out: dict[str, ScoreMinimum] = {}
    for item in items:
        match = _SCORE.match(item)
        if not match or match.group(1).lower() not in SCORE_NAMES:
            raise InputError(
                f"{name}: {_shown(item)} is not a score minimum; write NAME>=NUMBER with NAME one of "
                f"{allowed} and NUMBER 0-100, e.g. \"phishScore>=50, malwareScore>=80\"."
            )
        minimum = float(match.group(2))
        if minimum > 100:
            raise InputError(f"{name}: {_shown(item)}: scores run from 0 to 100.")
        key = match.group(1).lower()
        if key in out:
            raise InputError(f"{name}: {_shown(item)}: {SCORE_NAMES[key]} is given twice; give each score once.")
        out[key] = ScoreMinimum(key, minimum)
    return tuple(out.values())


def _patterns(name: str, value: object) -> tuple[str, ...]:
    items = _items(name, value)
    if not items:
        return ()
    out: list[str] = []
    for item in items:
        if any(ch.isspace() for ch in item) or any(ord(ch) < 32 for ch in item):
            raise InputError(
                f"{name}: the pattern {_shown(item)} contains a space or control character; write one address "
                "pattern per item, e.g. \"*@example.com, ceo@*\"."
            )
        if len(item) > 320:
            raise InputError(f"{name}: the pattern {_shown(item)} is longer than 320 characters.")
        out.append(item.lower())
    return tuple(out)


def _lookback(value: object) -> int:
    name = "pp_tap_lookback_hours"
    value = _scalar(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_LOOKBACK_HOURS
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d{1,6}\s*", value):
        number = int(value)
    if number is None or not 1 <= number <= MAX_LOOKBACK_HOURS:
        raise InputError(
            f"{name}: {_shown(value)} is not allowed; use whole hours from 1 to {MAX_LOOKBACK_HOURS} "
            f"(TAP keeps 7 days), default {DEFAULT_LOOKBACK_HOURS}."
        )
    return number


# ------------------------------------------------------------------------------------------------- policy


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    """Everything the SOC chose for ingestion; see the module docstring for each input.

    ``threat_types`` and ``classifications`` are ``None`` for "all" (so values TAP adds later pass too).
    ``issues_only`` is the ``issues`` event-type shorthand: delivered messages count only for their
    attachment threats. ``template`` is ``None`` when the input was blank (then the app.config file or the
    shipped default applies, see :func:`fn_pp_tap_functions.ingest.templates.select_template`).
    """

    event_types: frozenset[str] = DEFAULT_EVENT_TYPES
    issues_only: bool = False
    threat_statuses: frozenset[str] = DEFAULT_STATUSES
    threat_types: frozenset[str] | None = None
    classifications: frozenset[str] | None = None
    min_scores: tuple[ScoreMinimum, ...] = ()
    recipient_include: tuple[str, ...] = ()
    recipient_exclude: tuple[str, ...] = ()
    sender_include: tuple[str, ...] = ()
    sender_exclude: tuple[str, ...] = ()
    group_by: GroupBy = GroupBy.THREAT
    closed_policy: ClosedPolicy = ClosedPolicy.NEW
    lookback_hours: int = DEFAULT_LOOKBACK_HOURS
    template: IncidentTemplate | None = field(default=None, compare=False)
    owner_rules: OwnerRules = field(default_factory=OwnerRules.empty)

    @classmethod
    def from_inputs(cls, inputs: Mapping[str, object]) -> IngestPolicy:
        """Build and check the policy from the function inputs (missing keys mean defaults).

        Raises :class:`InputError` (or its subclass ``TemplateError``) naming the input and the bad value.
        """
        get = inputs.get
        event_types, issues_only = _event_types(get("pp_tap_event_types"))
        statuses = _vocab(
            "pp_tap_threat_statuses",
            get("pp_tap_threat_statuses"),
            lambda v: (s.value if (s := parse_status(v)) else None),
            [s.value for s in ThreatStatus],
            DEFAULT_STATUSES,
        )
        threat_types = _vocab(
            "pp_tap_threat_types",
            get("pp_tap_threat_types"),
            lambda v: (t.value if (t := parse_threat_type(v)) else None),
            [t.value for t in ThreatType],
            None,
        )
        classifications = _vocab(
            "pp_tap_classifications", get("pp_tap_classifications"), _classification, list(CLASSIFICATIONS), None
        )
        template_text = _text("pp_tap_incident_template", get("pp_tap_incident_template"))
        template = None
        if template_text is not None:
            template = IncidentTemplate.parse(template_text, source="workflow input pp_tap_incident_template")
            template.check()
        rules_text = _text("pp_tap_owner_rules", get("pp_tap_owner_rules"))
        rules = OwnerRules.parse(rules_text) if rules_text else OwnerRules.empty()
        return cls(
            event_types=event_types,
            issues_only=issues_only,
            threat_statuses=statuses,
            threat_types=threat_types,
            classifications=classifications,
            min_scores=_min_scores(get("pp_tap_min_scores")),
            recipient_include=_patterns("pp_tap_recipient_include", get("pp_tap_recipient_include")),
            recipient_exclude=_patterns("pp_tap_recipient_exclude", get("pp_tap_recipient_exclude")),
            sender_include=_patterns("pp_tap_sender_include", get("pp_tap_sender_include")),
            sender_exclude=_patterns("pp_tap_sender_exclude", get("pp_tap_sender_exclude")),
            group_by=_choice("pp_tap_group_by", get("pp_tap_group_by"), GroupBy, GroupBy.THREAT),
            closed_policy=_choice("pp_tap_closed_policy", get("pp_tap_closed_policy"), ClosedPolicy, ClosedPolicy.NEW),
            lookback_hours=_lookback(get("pp_tap_lookback_hours")),
            template=template,
            owner_rules=rules,
        )

    # -------------------------------------------------------------------------------- derived views

    def effective_event_types(self) -> frozenset[str]:
        """Event types that can produce a kept event at all.

        Clicks are ``url`` threats: with a threat-type filter that leaves out ``url`` no click can pass, so
        clicks are not fetched. In ``issues`` mode delivered messages need an attachment threat.
        """
        types = set(self.event_types)
        if self.threat_types is not None and ThreatType.URL.value not in self.threat_types:
            types -= {EventType.CLICKS_PERMITTED.value, EventType.CLICKS_BLOCKED.value}
        if (
            self.issues_only
            and self.threat_types is not None
            and ThreatType.ATTACHMENT.value not in self.threat_types
        ):
            types.discard(EventType.MESSAGES_DELIVERED.value)
        return frozenset(types)

    def siem_plan(self) -> list[SiemCall]:
        """The SIEM endpoint(s) to call for each window, with the event types wanted from each answer.

        Cost, compared in this order:

        1. the most calls charged to one quota pool per window (``clicks/permitted`` has its own 1,800/24 h
           pool, the five other SIEM endpoints share one): polling every few minutes with two endpoints in
           one pool exceeds the budget and locks the tenant out for hours, so this dominates;
        2. fetched-but-unwanted data (blocked messages, which include bulk spam, weigh most);
        3. the number of calls.

        So the default (delivered + permitted) is ``messages/delivered`` + ``clicks/permitted`` (one call in
        each pool, nothing unwanted), NOT ``issues``: TAP's ``/issues`` returns delivered messages only when
        they carry an attachment threat, so it would silently lose delivered URL threats. ``issues`` is
        chosen for the ``issues`` shorthand, whose meaning is exactly that. Two or more types in the
        shared pool (e.g. delivered + blocked) give ``all``. The plan is exact: every wanted event type is
        fetched by exactly one call.
        """
        wanted_types = self.effective_event_types()
        wanted: set[str] = set()
        for kind in wanted_types:
            if kind == EventType.MESSAGES_DELIVERED.value:
                wanted.add(_DA if self.issues_only else _D)
            else:
                wanted.add({v: k for k, v in _FEED_EVENT_TYPE.items() if k not in (_D, _DA)}[kind])
        if not wanted:
            return []
        target = frozenset(wanted)
        names = tuple(_ENDPOINT_FEEDS)
        best: tuple[tuple[int, int, int], tuple[str, ...]] | None = None
        for size in range(1, len(names) + 1):
            for combo in combinations(names, size):
                cost = _plan_cost(combo, target)
                if cost is not None and (best is None or cost < best[0]):
                    best = (cost, combo)
        assert best is not None  # "all" covers everything
        calls: list[SiemCall] = []
        assigned: set[str] = set()
        order = [e.value for e in EventType]
        for endpoint in best[1]:
            feeds = _ENDPOINT_FEEDS[endpoint] & target
            types = sorted({_FEED_EVENT_TYPE[f] for f in feeds} - assigned, key=order.index)
            assigned |= set(types)
            if types:
                calls.append(SiemCall(endpoint, tuple(types)))
        return calls

    def siem_filters(self) -> dict[str, tuple[str, ...]]:
        """Server-side filters for ``TapClient.siem(..., threat_types=, threat_statuses=)``.

        Statuses are always sent: TAP leaves false positives out unless asked and includes cleared ones
        unless told otherwise. Threat types are sent only when not "all". Events are filtered again
        locally (:func:`.filtering.select_events`), so the server filter only saves transfer.
        """
        statuses = tuple(s.value for s in ThreatStatus if s.value in self.threat_statuses)
        types: tuple[str, ...] = ()
        if self.threat_types is not None:
            types = tuple(t.value for t in ThreatType if t.value in self.threat_types)
        return {"threat_statuses": statuses, "threat_types": types}

    def describe(self) -> dict[str, object]:
        """JSON-safe summary for the function result (what the run actually applied)."""
        order = [e.value for e in EventType]
        return {
            "event_types": sorted(self.event_types, key=order.index),
            "issues_only": self.issues_only,
            "threat_statuses": sorted(self.threat_statuses),
            "threat_types": "all" if self.threat_types is None else sorted(self.threat_types),
            "classifications": "all" if self.classifications is None else sorted(self.classifications),
            "min_scores": [str(s) for s in self.min_scores],
            "recipient_include": list(self.recipient_include),
            "recipient_exclude": list(self.recipient_exclude),
            "sender_include": list(self.sender_include),
            "sender_exclude": list(self.sender_exclude),
            "group_by": self.group_by.value,
            "closed_policy": self.closed_policy.value,
            "lookback_hours": self.lookback_hours,
            "incident_template": "workflow input" if self.template is not None else "default",
            "owner_rules": len(self.owner_rules.rules),
            "siem_plan": [{"endpoint": c.path, "event_types": list(c.event_types)} for c in self.siem_plan()],
        }
