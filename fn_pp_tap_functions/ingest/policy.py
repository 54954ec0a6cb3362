"""The ingestion criteria: which events count, how they are grouped, what a closed incident gets.

:class:`IngestPolicy` is plain, frozen data that :mod:`.filtering` and :mod:`.grouping` read; it is built
from the workflow inputs by :func:`fn_pp_tap_functions.ingest.inputs.read_policy`, which checks every value.
:meth:`IngestPolicy.siem_plan` chooses the SIEM endpoints for the wanted event types at least cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from itertools import combinations
from typing import NamedTuple

from fn_pp_tap_functions.tap.pools import Pool
from fn_pp_tap_functions.tap.vocab import EventType, ThreatStatus, ThreatType

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


# ------------------------------------------------------------------------------------------------- policy


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    """What the SOC chose to ingest and how to group it (see :mod:`.inputs` for each input).

    ``threat_types`` and ``classifications`` are ``None`` for "all" (so values TAP adds later pass too).
    ``issues_only`` is the ``issues`` event-type shorthand: delivered messages count only for their
    attachment threats.
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
            "siem_plan": [{"endpoint": c.path, "event_types": list(c.event_types)} for c in self.siem_plan()],
        }
