"""A day of TAP SIEM traffic as TAP delivers it, for the stream benchmark: deterministic for a seed.

What makes it a stream rather than one window (see :mod:`bench.dataset` for the event shapes and the
noise, which are the same here):

* threats are spread across the day, more in working hours (:func:`diurnal`);
* each kept threat's messages arrive in one to four BURSTS of minutes to hours (log-uniform, 2 min to
  3 h, front-loaded), as campaigns do; a few big threats, many small ones (log-normal weights);
* about 10 % of the threats are condemned AFTER their first messages were delivered: TAP selects an event
  by its creation time, the later of messageTime and threatTime, so those messages appear at once when
  the threat is identified, with their old messageTime (tap-api.md);
* permitted clicks follow a delivered message of their threat by minutes to hours;
* every event becomes visible (TAP indexes it) at its creation time plus an INDEXING LAG: 80 % within
  2 minutes, 15 % within 10 minutes, 5 % late, up to :data:`MAX_LAG` (TAP documents up to about 30
  minutes, the app's overlap);
* during the day Proofpoint changes its mind: a few kept threats become false positives, a few are
  cleared (:class:`StatusChange`), each at least :data:`VERDICT_MARGIN` after its last event became
  visible. Such threats never share a message with another threat, so the close policy's outcome is exact
  (closed for a false positive, open when cleared).

The expected result: ``kept_threats`` (the incidents, one per threat), ``expected_counts`` (events and
recipients per incident: every kept event), ``closes`` (the incidents the close policy must close). What
the app guarantees at a given settle interval is :meth:`StreamDataset.expectation`: those counts exactly,
except on a threat whose verdict came too soon after some of its events, before a settle pass may have read
them (TAP then delivers them again with the new status, dated to the verdict, and the app counts an event
by the status TAP reported when it recorded it: README, "Steady state").
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.dataset import Threat, click_event, click_ip, fmt, message_event, new_threat, tid

SHARE_CLICKS = 0.10
SHARE_BLOCKED = 0.05
SHARE_CLEARED_ONLY = 0.01
SHARE_TWO_THREATS = 0.03  # of delivered messages (all led by a fifth of the kept threats)
SHARE_WITH_CLEARED = 0.01  # of delivered messages (likewise)
SHARE_CONDEMNED_LATER = 0.10  # of kept threats: identified after their first messages
SHARE_FALSE_POSITIVE = 0.04  # of kept threats: marked falsePositive during the day
SHARE_CLEARED_LATER = 0.02  # of kept threats: cleared during the day
MAX_LAG = timedelta(minutes=29)  # the latest indexing, just inside the app's 30-minute overlap
LATE = timedelta(minutes=10)  # an event indexed at least this late counts as "late-indexed"
LAG_CLASSES = ((0.80, timedelta(seconds=5), timedelta(minutes=2)),
               (0.15, timedelta(minutes=2), timedelta(minutes=10)),
               (0.05, LATE, MAX_LAG))
BURST_SHORTEST = timedelta(minutes=2)
BURST_LONGEST = timedelta(hours=3)
BURST_GAP_MEAN = timedelta(hours=2)
CLICK_DELAY_MEAN = timedelta(minutes=40)
VERDICT_MARGIN = timedelta(hours=2)
"""A status change comes this long after the threat's last visibility: later than the settle pass reads a
late-indexed event at the default settings (overlap 30 + settle interval 60 = 90 min at the regular
5-minute schedule), so there every event is recorded while its threat is active and the expected counts
hold exactly. At a longer settle interval a verdict may come first: it re-dates the threat's events before
the settle pass reads them, TAP delivers them with the new status, and the status filter drops them, as the
SOC asked; :meth:`StreamDataset.expectation` says what then holds. The verdicts' dates do not depend on
the app's settings, so every setting is measured on the same data."""
USERS = 5000


@dataclass(frozen=True)
class StreamEvent:
    """One raw TAP event with when TAP created and indexed it, and the incidents it must land in."""

    type: str  # SIEM array: messagesDelivered, messagesBlocked, clicksPermitted, clicksBlocked
    raw: dict[str, Any]
    created: datetime  # the later of messageTime/clickTime and its threats' threatTime
    lag: timedelta  # visible (indexed) at created + lag
    kept_for: tuple[str, ...]  # group keys threat:<id> of the incidents that must hold it
    recipients: tuple[str, ...]

    @property
    def visible(self) -> datetime:
        return self.created + self.lag

    @property
    def id(self) -> str:
        return str(self.raw["id"])


@dataclass(frozen=True)
class Expected:
    """What one incident must hold: its event and recipient counts, each within ``(at least, at most)``
    (equal bounds: exact). ``must_exist``: an incident for the threat is guaranteed."""

    events: tuple[int, int]
    recipients: tuple[int, int]

    @property
    def exact(self) -> bool:
        return self.events[0] == self.events[1] and self.recipients[0] == self.recipients[1]

    @property
    def must_exist(self) -> bool:
        return self.events[0] > 0

    def holds(self, events: int | None, recipients: int | None) -> bool:
        return events is not None and recipients is not None and self.events[0] <= events <= self.events[1] \
            and self.recipients[0] <= recipients <= self.recipients[1]

    def text(self) -> str:
        return str((self.events[0], self.recipients[0])) if self.exact else \
            f"{self.events[0]}-{self.events[1]} events, {self.recipients[0]}-{self.recipients[1]} recipients"


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    threat_id: str
    status: str  # falsePositive | cleared


@dataclass
class StreamDataset:
    size: int
    seed: int
    start: datetime  # events are created in [start, end)
    end: datetime
    events: list[StreamEvent]  # by visibility time
    changes: list[StatusChange]  # by time
    threats: dict[str, Threat] = field(repr=False, default_factory=dict)
    kept_threats: frozenset[str] = frozenset()
    expected_counts: dict[str, tuple[int, int]] = field(default_factory=dict)  # key: (events, recipients)

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    @property
    def kept_events(self) -> int:
        return sum(1 for e in self.events if e.kept_for)

    @property
    def closes(self) -> frozenset[str]:
        """Group keys of the incidents the shipped close policy (falsePositive) must close."""
        return frozenset(f"threat:{c.threat_id}" for c in self.changes if c.status == "falsePositive")

    @property
    def cleared_later(self) -> frozenset[str]:
        return frozenset(f"threat:{c.threat_id}" for c in self.changes if c.status == "cleared")

    def expectation(self, horizon: timedelta) -> dict[str, Expected]:
        """Per kept threat, what the app guarantees when its settle pass reads every span at most ``horizon``
        after the events in it were created (:func:`bench.stream.production.settle_horizon`).

        An event is counted by the status TAP reported when a pass recorded it: the create at first sight,
        an update the fresh pass writes at once (a first click, a status change), or the settle pass. So on
        a threat whose status never changed, every kept event is counted, exactly once. On a threat whose
        verdict came at ``v``, TAP delivers its events again with the new status from ``v`` on (the status
        filter drops them): the events created more than ``horizon`` before ``v`` were surely recorded
        while it was active (the least), the others only if the fresh pass recorded them (all kept events:
        the most). Such a threat's incident is guaranteed only when that least is not zero."""
        redated = self.redated(horizon)
        events: dict[str, list[StreamEvent]] = {}
        for event in self.events:
            for key in event.kept_for:
                events.setdefault(key, []).append(event)
        out: dict[str, Expected] = {}
        for key, mine in events.items():
            sure = [e for e in mine if e.id not in redated]
            out[key] = Expected((len(sure), len(mine)), (len({r for e in sure for r in e.recipients}),
                                                         len({r for e in mine for r in e.recipients})))
        return out

    def redated(self, horizon: timedelta) -> frozenset[str]:
        """The kept events (ids) a verdict may re-date before a settle pass reads them: created less than
        ``horizon`` before their threat's verdict. TAP delivers them with the new status only, which the SOC
        may not ask for (the shipped inputs ask for active and falsePositive events, not cleared ones)."""
        verdict = {f"threat:{c.threat_id}": c.at for c in self.changes}
        return frozenset(e.id for e in self.events for key in e.kept_for
                         if key in verdict and e.created + horizon >= verdict[key])

    def late_events(self) -> list[StreamEvent]:
        """Kept events TAP indexed at least :data:`LATE` after their creation."""
        return [e for e in self.events if e.kept_for and e.lag >= LATE]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for event in self.events:
            out[event.type] = out.get(event.type, 0) + 1
        return out

    def scenario(self) -> dict[str, Any]:
        """The TAP simulator scenario: every event with the moment TAP indexes it."""
        return {"events": [{"type": e.type, "event": e.raw, "indexedAt": fmt(e.visible)} for e in self.events]}

    def describe(self) -> dict[str, Any]:
        lags = sorted(e.lag.total_seconds() for e in self.events)
        return {"events": len(self.events), "by_type": self.counts(), "kept_events": self.kept_events,
                "kept_threats": len(self.kept_threats), "hours": round(self.hours, 2),
                "span": f"{fmt(self.start)}/{fmt(self.end)}", "late_events": len(self.late_events()),
                "lag_p50_s": lags[len(lags) // 2] if lags else 0, "lag_max_s": lags[-1] if lags else 0,
                "false_positives": len(self.closes), "cleared": len(self.cleared_later),
                "changes": [{"at": fmt(c.at), "threat": c.threat_id, "status": c.status} for c in self.changes]}


def diurnal(hour: float) -> float:
    """Relative arrival rate at an hour of the day (UTC): a working-hours peak over a night floor."""
    return 0.25 + math.exp(-(((hour % 24) - 13.0) / 4.0) ** 2)


def default_start(hours: float, now: datetime | None = None) -> datetime:
    """Midnight UTC far enough back that the whole simulated span, and its tail, lies in the past."""
    now = now or datetime.now(UTC)
    day = (now - timedelta(hours=hours + 26)).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.astimezone(UTC)


class _Day:
    """Random times within [start, end): diurnal, within bursts, after a moment."""

    def __init__(self, rng: random.Random, start: datetime, end: datetime) -> None:
        self.rng, self.start, self.end = rng, start, end
        self.span = (end - start).total_seconds()

    def diurnal(self, latest: datetime | None = None) -> datetime:
        limit = ((latest or self.end) - self.start).total_seconds()
        while True:
            offset = self.rng.random() * limit
            hour = self.start.hour + offset / 3600
            if self.rng.random() * 1.25 <= diurnal(hour):
                return self.start + timedelta(seconds=offset)

    def bursts(self, first: datetime) -> list[tuple[datetime, timedelta]]:
        count = self.rng.choices((1, 2, 3, 4), weights=(55, 25, 15, 5))[0]
        out: list[tuple[datetime, timedelta]] = []
        at = first
        for _ in range(count):
            if at >= self.end - timedelta(minutes=1):
                break
            low, high = math.log(BURST_SHORTEST.total_seconds()), math.log(BURST_LONGEST.total_seconds())
            length = timedelta(seconds=math.exp(low + self.rng.random() * (high - low)))
            out.append((at, min(length, self.end - at - timedelta(seconds=1))))
            at = at + timedelta(seconds=self.rng.expovariate(1 / BURST_GAP_MEAN.total_seconds()))
        return out

    def in_burst(self, burst: tuple[datetime, timedelta]) -> datetime:
        start, length = burst
        return start + length * (self.rng.random() ** 2)  # front-loaded, as a campaign's delivery is

    def after(self, moment: datetime, mean: timedelta) -> datetime:
        for _ in range(5):
            at = moment + timedelta(seconds=self.rng.expovariate(1 / mean.total_seconds()))
            if at < self.end:
                return at
        return moment + (self.end - moment) * self.rng.random()


def _lag(rng: random.Random) -> timedelta:
    roll = rng.random()
    for share, low, high in LAG_CLASSES:
        if roll < share:
            return low + (high - low) * rng.random()
        roll -= share
    return LAG_CLASSES[-1][2]


def generate(size: int = 50_000, *, hours: float = 24.0, seed: int = 7, start: datetime | None = None,
             tail: timedelta = timedelta(minutes=90)) -> StreamDataset:
    """``size`` raw events created over ``hours`` from ``start`` (status changes may fall in the ``tail``
    after the span, while the schedule still runs)."""
    if size < 100:
        raise ValueError("a stream needs at least 100 events")
    if hours < 1:
        raise ValueError("a stream spans at least one hour")
    start = (start or default_start(hours)).astimezone(UTC).replace(microsecond=0)
    end = start + timedelta(hours=hours)
    rng = random.Random(f"stream:{seed}:{size}:{hours}")
    day = _Day(rng, start, end)
    n_kept = max(1, size // 100)
    campaigns = [f"c{n:04d}-stream-{seed}" for n in range(max(1, n_kept // 10))]

    def make_threat(name: str, status: str, threat_time: datetime, kind: str | None = None) -> Threat:
        return new_threat(rng, tid(f"stream:{seed}:{size}:{name}"), name, status, kind, campaigns, fmt(threat_time))

    # kept threats: first activity, bursts, identification time and weight
    bursts: dict[str, list[tuple[datetime, timedelta]]] = {}
    kept: list[Threat] = []
    weights: list[float] = []
    for n in range(n_kept):
        first = day.diurnal(end - timedelta(minutes=10))
        if rng.random() < SHARE_CONDEMNED_LATER:
            identified = min(first + timedelta(minutes=10 + 80 * rng.random()), end - timedelta(minutes=5))
        else:
            identified = first - timedelta(minutes=5 + 175 * rng.random())
        threat = make_threat(f"k{n}", "active", identified, "url" if n == 0 else None)
        kept.append(threat)
        bursts[threat.id] = day.bursts(first)
        weights.append(rng.lognormvariate(0, 1.0))
    cumulative = []
    total = 0.0
    for w in weights:
        total += w
        cumulative.append(total)

    def weighted(pool_cum: list[float], pool: list[Threat]) -> Threat:
        return pool[min(len(pool) - 1, bisect.bisect_left(pool_cum, rng.random() * pool_cum[-1]))]

    kept_url = [t for t in kept if t.kind == "url"]
    url_cum: list[float] = []
    acc = 0.0
    for t, w in zip(kept, weights, strict=True):
        if t.kind == "url":
            acc += w
            url_cum.append(acc)
    blocked_only = [make_threat(f"b{n}", "active", day.diurnal() - timedelta(hours=1))
                    for n in range(max(1, n_kept // 5))]
    cleared = [make_threat(f"c{n}", "cleared", start - timedelta(hours=2)) for n in range(max(1, n_kept // 10))]

    events: list[tuple[str, dict[str, Any], tuple[str, ...]]] = []  # (type, raw, recipients)
    messages_of: dict[str, list[tuple[datetime, str, list[str]]]] = {}  # threat -> (time, guid, recipients)
    shared: set[str] = set()  # threats that share a message with another threat
    counter = iter(range(1, 10**9))

    def recipients(count: int) -> list[str]:
        return [f"user{n:04d}@corp.example" for n in rng.sample(range(USERS), count)]

    def message(kind: str, threats: list[Threat], at: datetime, count: int) -> None:
        guid = f"s{seed}-g{next(counter)}"
        rcpts = recipients(count)
        for rcpt in rcpts:
            n = next(counter)
            events.append((kind, message_event(f"s{seed}-m{n}", n, guid, fmt(at), threats, rcpt, rng), (rcpt,)))
        if kind == "messagesDelivered":
            for t in threats:
                messages_of.setdefault(t.id, []).append((at, guid, rcpts))

    def click(kind: str, t: Threat, at: datetime, guid: str, rcpt: str) -> None:
        n = next(counter)
        events.append((kind, click_event(f"s{seed}-k{n}", guid, fmt(at), t, click_ip(rng), rcpt), (rcpt,)))

    n_clicks = max(1, round(size * SHARE_CLICKS))
    n_blocked = max(2, round(size * SHARE_BLOCKED))
    n_cleared = max(1, round(size * SHARE_CLEARED_ONLY))
    n_delivered = size - n_clicks - n_blocked - n_cleared
    delivered = 0
    index = 0
    # messages with a second threat come from a fifth of the kept threats (campaigns that travel together)
    multi = [t for n, t in enumerate(kept) if n % 5 == 1] or kept[:1]
    multi_ids = {t.id for t in multi}
    while delivered < n_delivered:
        lead = kept[index] if index < len(kept) else weighted(cumulative, kept)
        index += 1
        threats = [lead]
        roll = rng.random() * len(multi) / len(kept) if lead.id in multi_ids else 1.0
        if roll < SHARE_TWO_THREATS and len(multi) > 1:
            threats.append(rng.choice([t for t in multi if t is not lead]))
        elif roll < SHARE_TWO_THREATS + SHARE_WITH_CLEARED:
            threats.append(rng.choice(cleared))
        if len(threats) > 1:
            shared.update(t.id for t in threats)
        count = min(rng.choice((1, 1, 2, 3)), n_delivered - delivered)
        message("messagesDelivered", threats, day.in_burst(rng.choice(bursts[lead.id])), count)
        delivered += count
    for _ in range(n_clicks):
        t = weighted(url_cum, kept_url)
        at, guid, rcpts = rng.choice(messages_of[t.id])
        click("clicksPermitted", t, day.after(at, CLICK_DELAY_MEAN), guid, rng.choice(rcpts))
    for n in range(n_blocked):
        t = rng.choice(blocked_only) if n % 2 == 0 else rng.choice(kept)
        at = day.in_burst(rng.choice(bursts[t.id])) if t.id in bursts else day.diurnal()
        if n % 10 < 7:
            message("messagesBlocked", [t], at, 1)
        else:
            click("clicksBlocked", t, at, f"s{seed}-g{next(counter)}", recipients(1)[0])
    for _ in range(n_cleared):
        message("messagesDelivered", [rng.choice(cleared)], day.diurnal(), 1)

    by_id = {t.id: t for t in kept + blocked_only + cleared}
    stream = [_stream_event(kind, raw, rcpts, by_id, _lag(rng)) for kind, raw, rcpts in events]
    stream.sort(key=lambda e: (e.visible, e.id))
    changes = _status_changes(rng, kept, shared, stream, n_kept, end + tail - timedelta(minutes=30))
    expected: dict[str, tuple[int, set[str]]] = {}
    for event in stream:
        for key in event.kept_for:
            count, seen = expected.get(key, (0, set()))
            expected[key] = (count + 1, seen | set(event.recipients))
    return StreamDataset(size=size, seed=seed, start=start, end=end, events=stream, changes=changes, threats=by_id,
                         kept_threats=frozenset(expected),
                         expected_counts={k: (n, len(r)) for k, (n, r) in expected.items()})


def _stream_event(kind: str, raw: dict[str, Any], rcpts: tuple[str, ...], threats: dict[str, Threat],
                  lag: timedelta) -> StreamEvent:
    is_message = kind.startswith("messages")
    entries = raw["threatsInfoMap"] if is_message else [raw]
    moments = [_parse(raw["messageTime" if is_message else "clickTime"])]
    moments += [_parse(threats[e["threatID"]].threat_time) for e in entries]
    kept_for: tuple[str, ...] = ()
    if kind in ("messagesDelivered", "clicksPermitted"):
        kept_for = tuple(f"threat:{e['threatID']}" for e in entries if e["threatStatus"] == "active")
    return StreamEvent(kind, raw, max(moments), lag, kept_for, rcpts)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _status_changes(rng: random.Random, kept: list[Threat], shared: set[str], stream: list[StreamEvent],
                    n_kept: int, latest: datetime) -> list[StatusChange]:
    """Verdict changes on kept threats that never share a message, each after the threat's events settled."""
    settled: dict[str, datetime] = {}
    for event in stream:
        for key in event.kept_for:
            threat_id = key.split(":", 1)[1]
            settled[threat_id] = max(settled.get(threat_id, event.visible), event.visible)
    for event in stream:  # blocked events of kept threats count too: the status change re-dates them
        for entry in (event.raw.get("threatsInfoMap") or [event.raw]):
            threat_id = entry.get("threatID")
            if threat_id in settled:
                settled[threat_id] = max(settled[threat_id], event.visible)
    eligible = [t for t in kept if t.id not in shared and t.id in settled and settled[t.id] + VERDICT_MARGIN < latest]
    rng.shuffle(eligible)
    wanted: list[tuple[str, Callable[[], int]]] = [
        ("falsePositive", lambda: max(1, round(n_kept * SHARE_FALSE_POSITIVE))),
        ("cleared", lambda: max(1, round(n_kept * SHARE_CLEARED_LATER)))]
    changes: list[StatusChange] = []
    for status, count in wanted:
        for threat in eligible[:count()]:
            earliest = settled[threat.id] + VERDICT_MARGIN
            room = min(timedelta(hours=2), latest - earliest)
            changes.append(StatusChange(earliest + room * rng.random(), threat.id, status))
        eligible = eligible[count():]
    return sorted(changes, key=lambda c: (c.at, c.threat_id))
