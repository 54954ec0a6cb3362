"""The close policy: when Proofpoint changes its mind about a threat, what happens to its incident.

The policy comes from the workflow's pre-processing script (never from code): which statuses close an
incident (falsePositive by default, optionally cleared), whether all or any of its threats must have one,
the resolution, what happens when a threat returns to active after the app closed its incident (reopen,
or a note only), and whether notes are written at all. :func:`read_close_policy` checks every input and
names a bad one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fn_pp_tap_functions.errors import InputError

STATUSES = ("active", "cleared", "falsePositive")
RESOLUTIONS = ("Not an Issue", "Resolved", "Duplicate", "Unresolved")


@dataclass(frozen=True)
class ClosePolicy:
    """Which statuses close, whether ``all`` or ``any`` threats must have one, the resolution, what a
    threat active again does to an incident the app closed (``reopen`` or ``note``), notes on or off."""

    close_statuses: frozenset[str] = frozenset({"falsePositive"})
    match: str = "all"
    resolution: str = "Not an Issue"
    reopen: str = "note"
    notes: bool = True

    def describe(self) -> dict[str, Any]:
        return {"close_statuses": sorted(self.close_statuses), "match": self.match, "resolution": self.resolution,
                "reopen": self.reopen, "notes": self.notes}


def read_close_policy(inputs: Mapping[str, Any]) -> ClosePolicy:
    """The close policy from the workflow's inputs; a bad value names the input and what is allowed."""
    def text(name: str) -> str:
        value = inputs.get(name)
        return "" if value is None else str(value).strip()

    statuses = frozenset({"falsePositive"})
    if text("pp_tap_close_statuses"):
        wanted = {s.strip() for s in text("pp_tap_close_statuses").replace(";", ",").split(",") if s.strip()}
        lowered = {s.lower(): s for s in STATUSES}
        unknown = [s for s in wanted if s.lower() not in lowered]
        if unknown or not wanted:
            raise InputError(f"pp_tap_close_statuses: {', '.join(unknown) or 'nothing'} is not a threat status "
                             f"that can close an incident; use falsePositive and/or cleared.")
        statuses = frozenset(lowered[s.lower()] for s in wanted)
        if "active" in statuses:
            raise InputError("pp_tap_close_statuses: 'active' cannot close an incident; use falsePositive "
                             "and/or cleared.")
    match = text("pp_tap_close_when").lower() or "all"
    if match not in ("all", "any"):
        raise InputError(f"pp_tap_close_when: {match!r} is not allowed; use 'all' (every threat of the "
                         "incident) or 'any' (at least one).")
    resolution = text("pp_tap_close_resolution") or "Not an Issue"
    if resolution not in RESOLUTIONS:
        raise InputError(f"pp_tap_close_resolution: {resolution!r} is not a SOAR resolution; use one of "
                         f"{', '.join(RESOLUTIONS)}.")
    reopen = text("pp_tap_reopen_policy").lower() or "note"
    if reopen not in ("reopen", "note"):
        raise InputError(f"pp_tap_reopen_policy: {reopen!r} is not allowed; use 'reopen' or 'note'.")
    notes = inputs.get("pp_tap_close_notes")
    notes = True if notes is None or notes == "" else str(notes).strip().lower() not in ("false", "no", "off", "0")
    return ClosePolicy(statuses, match, resolution, reopen, notes)
