"""Which spans a run reads: the FRESH pass and the SETTLE pass (pure arithmetic over the two cursors).

TAP selects SIEM events by creation time and indexes some of them late, up to the overlap (30 minutes by
default). A run must show a new threat at once AND find every late event, so each span is read twice, no
more (re-reading the whole overlap on every 5-minute run, as the app did before, read each event seven
times):

* the FRESH pass, every run, reads ``[fresh cursor, now - 2 min]`` (never more than the last overlap: older
  spans are the settle pass's) and writes what an analyst must see at once: new incidents, complete; a
  first click; a threat status or classification change; a reopened incident (one change note each);
* the SETTLE pass, once the span since the settled cursor is ``settle_minutes`` long, reads
  ``[settled cursor, now - overlap]`` again, when TAP has indexed it, and writes everything else, coalesced:
  late events, rows, counts, recipients, last seen, further artifacts (one change note per incident at
  most, none when nothing an analyst cares about changed).

In a run where both are due, ingestion writes the settle pass's last batch together with the fresh pass's
window (:mod:`.ingestion`), so each incident is written once per run, with one change note at most.
The settled cursor never passes a span the settle pass has not read, so nothing is lost whatever the fresh
pass did; ``fresh_pass = False`` drops the fresh pass (one read per event; new threats then reach SOAR
after the overlap plus up to ``settle_minutes``). The first run (no cursors) settles the look-back and
freshly reads the last overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from fn_pp_tap_functions.tap.windows import WindowPlan, floor_ms, plan_windows

SETTLE = "settle"
FRESH = "fresh"


@dataclass(frozen=True)
class Passes:
    """The run's plan: the settle pass (or None when it is not due) and the fresh pass (or None)."""

    settle: WindowPlan | None
    fresh: WindowPlan | None
    fresh_start: datetime | None
    settled: datetime
    cursor: datetime

    @property
    def windows(self) -> int:
        return len(self.settle.windows if self.settle else ()) + len(self.fresh.windows if self.fresh else ())


def plan_passes(cursor: datetime | None, settled: datetime | None, *, now: datetime, lookback: timedelta,
                overlap: timedelta, settle_every: timedelta, max_windows: int, budget_windows: int | None = None,
                fresh_pass: bool = True) -> Passes:
    """The two passes from the cursors (``cursor``: fresh, ``settled``: settle; either may be missing).

    A cursor from before the two passes existed (``settled`` missing) settles from ``cursor - overlap``, as
    the old runs re-read. The settle pass reads at most ``max_windows`` windows (a catch-up continues in the
    next runs); the fresh pass (one window: it never reaches back further than the overlap) comes on top.
    ``budget_windows`` bounds both together (the SIEM budget): the fresh pass gets its window first, it is
    what an analyst must see.
    """
    now = floor_ms(now)
    if cursor is None and settled is None:
        cursor = settled = now - lookback
    elif settled is None:
        assert cursor is not None
        settled = cursor - overlap
    elif cursor is None:
        cursor = settled
    settled = min(settled, cursor)
    settle_end = now - overlap
    fresh: WindowPlan | None = None
    fresh_start = None
    budget = max_windows + 1 if budget_windows is None else budget_windows
    if fresh_pass and budget > 0:
        fresh_start = max(cursor, settle_end, settled)
        if fresh_start < now:
            fresh = plan_windows(fresh_start, now=now, max_windows=budget)
            fresh = fresh if fresh.windows else None
    left = min(max_windows, budget - (len(fresh.windows) if fresh else 0))
    settle: WindowPlan | None = None
    due = settled < settle_end and (settle_end - settled >= settle_every or not fresh_pass)
    if due and left > 0:
        settle = plan_windows(settled, settle_end, now=now, max_windows=left)
        if not settle.windows and settle.skipped is None:
            settle = None
    return Passes(settle, fresh, fresh_start, settled, cursor)
