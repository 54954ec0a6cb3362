"""Forensics API payloads (``/v2/forensics``), normalised into reports and evidence items.

Evidence ``what`` objects differ per evidence type (url, dns, file, registry, ...); they are kept as
JSON-safe dicts rather than modelled field by field, except ``blacklisted``, which TAP sends as a boolean or
as 0/1 and is always a boolean here. ``time`` is always 0 in TAP's answers and is dropped.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from fn_pp_tap_functions.errors import TapResponseError
from fn_pp_tap_functions.tap import coerce
from fn_pp_tap_functions.tap.timestamps import iso_or_none, parse_tap_time
from fn_pp_tap_functions.tap.vocab import normalise_status

_MAX_DEPTH = 20


def _json_safe(value: object, depth: int = 0) -> object:
    """Copy of a JSON value with non-finite floats and over-deep nesting replaced by ``None``."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _what(value: object) -> dict[str, object]:
    if not isinstance(value, Mapping):
        return {}
    out = _json_safe(value)
    assert isinstance(out, dict)
    for key in list(out):
        if key.lower() == "blacklisted":
            out[key] = coerce.boolean(out[key])
    return out


@dataclass(frozen=True, slots=True)
class Platform:
    name: str | None
    os: str | None
    version: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "os": self.os, "version": self.version}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One forensic observation (``forensics[]`` of a report)."""

    type: str | None
    display: str | None
    engine: str | None
    malicious: bool | None
    note: str | None
    what: dict[str, object] = field(hash=False)
    platforms: tuple[Platform, ...] = ()

    @classmethod
    def from_api(cls, payload: Mapping[str, object]) -> Evidence:
        item = coerce.lower_keys(payload)
        platforms = []
        for entry in coerce.mappings(item.get("platforms")):
            low = coerce.lower_keys(entry)
            platforms.append(
                Platform(coerce.text(low.get("name")), coerce.text(low.get("os")), coerce.text(low.get("version")))
            )
        return cls(
            type=coerce.label(item.get("type")),
            display=coerce.text(item.get("display")),
            engine=coerce.label(item.get("engine")),
            malicious=coerce.boolean(item.get("malicious")),
            note=coerce.text(item.get("note")),
            what=_what(item.get("what")),
            platforms=tuple(platforms),
        )

    @property
    def blacklisted(self) -> bool | None:
        for key, value in self.what.items():
            if key.lower() == "blacklisted":
                return value if isinstance(value, bool) else None
        return None

    def to_dict(self) -> dict[str, object]:
        return {
            "type": self.type,
            "display": self.display,
            "engine": self.engine,
            "malicious": self.malicious,
            "note": self.note,
            "what": self.what,
            "platforms": [p.to_dict() for p in self.platforms],
        }


@dataclass(frozen=True, slots=True)
class ForensicsReport:
    """One report: ``scope`` is ``THREAT`` or ``CAMPAIGN``; ``id`` the threat or campaign id."""

    scope: str | None
    id: str | None
    name: str | None
    type: str | None
    threat_status: str | None
    evidence: tuple[Evidence, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "scope": self.scope,
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "threat_status": self.threat_status,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class Forensics:
    """A whole ``/v2/forensics`` answer."""

    generated: datetime | None
    reports: tuple[ForensicsReport, ...]

    @classmethod
    def from_api(cls, payload: Mapping[str, object]) -> Forensics:
        if not isinstance(payload, Mapping):
            raise TapResponseError("Proofpoint TAP returned forensics that are not a JSON object.")
        item = coerce.lower_keys(payload)
        reports = []
        for entry in coerce.mappings(item.get("reports")):
            low = coerce.lower_keys(entry)
            scope = coerce.label(low.get("scope"))
            reports.append(
                ForensicsReport(
                    scope=scope.upper() if scope else None,
                    id=coerce.text(low.get("id")),
                    name=coerce.text(low.get("name")),
                    type=coerce.label(low.get("type")),
                    threat_status=normalise_status(low.get("threatstatus")),
                    evidence=tuple(Evidence.from_api(e) for e in coerce.mappings(low.get("forensics"))),
                )
            )
        return cls(generated=parse_tap_time(item.get("generated")), reports=tuple(reports))

    def evidence(self) -> Iterator[tuple[ForensicsReport, Evidence]]:
        """Every evidence item with its report, in order."""
        for report in self.reports:
            for item in report.evidence:
                yield report, item

    def malicious(self) -> list[Evidence]:
        return [item for _, item in self.evidence() if item.malicious]

    def to_dict(self) -> dict[str, object]:
        return {"generated": iso_or_none(self.generated), "reports": [r.to_dict() for r in self.reports]}
