"""Helpers of the service tests: the app's TAP client for a simulator, and reading what SOAR holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.soar.cases import SoarCases, row_cells
from fn_pp_tap_functions.soar.control import RUNS_TABLE
from fn_pp_tap_functions.tap.client import TapClient
from sim.tap import TapSimulator

PRINCIPAL, SECRET = "sim-principal", "sim-secret"


def tap_client(sim: TapSimulator, **options: Any) -> TapClient:
    """The app's TAP client for a simulator: no retries and no sleeping, so a failure shows at once."""
    return TapClient(sim.base_url, PRINCIPAL, SECRET, **{"retries": 0, "sleep": lambda _s: None, **options})


def tap_incidents(cases: SoarCases) -> dict[str, list[dict[str, Any]]]:
    """Every TAP incident (open or closed) by group key."""
    found: dict[str, list[dict[str, Any]]] = {}
    for incident in cases.query([{"field_name": f"properties.{F.GROUP_KEY}", "method": "has_a_value"}]):
        found.setdefault(incident["properties"][F.GROUP_KEY], []).append(incident)
    return found


def one(cases: SoarCases, key: str) -> dict[str, Any]:
    """The one incident of a group (fails when there is none or more than one)."""
    incidents = tap_incidents(cases).get(key, [])
    assert len(incidents) == 1, f"{key}: {len(incidents)} incidents"
    return cases.get_incident(incidents[0]["id"])


def state(cases: SoarCases) -> dict[tuple[str, int], tuple[int, int, int]]:
    """(artifacts, rows, notes) of every TAP incident: what a replay must not change."""
    out = {}
    for key, incidents in tap_incidents(cases).items():
        for incident in incidents:
            iid = int(incident["id"])
            out[(key, iid)] = (len(cases.artifacts(iid)), len(cases.rows(iid, F.EVENTS_TABLE)), len(cases.notes(iid)))
    return out


def run_log(cases: SoarCases, control: dict[str, Any]) -> list[dict[str, Any]]:
    rows = sorted(cases.rows(int(control["id"]), RUNS_TABLE), key=lambda r: r["id"])
    return [row_cells(r) for r in rows]


def props(cases: SoarCases, incident: dict[str, Any]) -> dict[str, Any]:
    """The incident's custom fields as SOAR holds them now."""
    return dict(cases.get_incident(int(incident["id"])).get("properties") or {})


class SimClock:
    """A clock the TAP simulator, the app's TAP client and ``run_ingestion(now=...)`` share, so a test moves
    time (a day of 5-minute runs) without sleeping. ``clock()`` is now; ``advance(minutes=...)`` moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = (start or datetime.now(UTC)).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current
