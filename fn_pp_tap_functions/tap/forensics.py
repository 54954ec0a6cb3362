"""Forensics API payloads (``/v2/forensics``), normalised into reports and evidence items.

Every documented field is kept: a report's ``scope``, ``id``, ``name``, ``type`` and ``threatStatus``; an
evidence item's ``type``, ``display``, ``engine``, ``malicious``, ``note``, ``time`` (documented as always 0,
kept as TAP sends it), ``platforms[]`` (``name``, ``os``, ``version``) and its ``what``, typed per evidence type
(:class:`~fn_pp_tap_functions.tap.evidence.EvidenceWhat`; ``blacklisted`` as a boolean whether TAP sent a
boolean or 0/1).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from fn_pp_tap_functions.errors import TapResponseError
from fn_pp_tap_functions.tap import coerce
from fn_pp_tap_functions.tap.evidence import EvidenceWhat, json_safe
from fn_pp_tap_functions.tap.timestamps import iso_or_none, parse_tap_time
from fn_pp_tap_functions.tap.vocab import normalise_status


def _raw_what(value: object) -> dict[str, object]:
    """``what`` as TAP sent it (JSON-safe, ``blacklisted`` a boolean): the identity of an evidence item."""
    if not isinstance(value, Mapping):
        return {}
    out = json_safe(value)
    assert isinstance(out, dict)
    for key in list(out):
        if key.lower() == "blacklisted":
            out[key] = coerce.boolean(out[key])
    return out


@dataclass(frozen=True, slots=True)
class Platform:
    """A sandbox platform the evidence was seen on (``name`` e.g. ``Win10``, ``os`` ``win``, ``version``)."""

    name: str | None
    os: str | None
    version: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "os": self.os, "version": self.version}

    def label(self) -> str:
        """``Win10 (win, win10)``: the name, with the OS and version when they add something."""
        base = self.name or self.os or self.version or "?"
        extra = [v for v in dict.fromkeys((self.os, self.version)) if v and v != base]
        return f"{base} ({', '.join(extra)})" if extra else base


@dataclass(frozen=True, slots=True)
class Evidence:
    """One forensic observation (``forensics[]`` of a report).

    ``what`` is typed; ``raw_what`` keeps TAP's object as it came (JSON-safe) because :meth:`identity` - what
    makes an evidence item the same item across runs, e.g. a forensics table row's key - is computed on it.
    """

    type: str | None
    display: str | None
    engine: str | None
    malicious: bool | None
    note: str | None
    what: EvidenceWhat = field(default_factory=EvidenceWhat)
    platforms: tuple[Platform, ...] = ()
    time: int | None = None
    raw_what: dict[str, object] = field(default_factory=dict, hash=False, compare=False, repr=False)

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
            what=EvidenceWhat.from_api(item.get("what")),
            platforms=tuple(platforms),
            time=coerce.integer(item.get("time")),
            raw_what=_raw_what(item.get("what")),
        )

    @property
    def blacklisted(self) -> bool | None:
        return self.what.blacklisted

    def identity(self) -> dict[str, object]:
        """What identifies this evidence item: every field but ``time``, with ``what`` as TAP sent it."""
        return self._fields(self.raw_what)

    def to_dict(self) -> dict[str, object]:
        """JSON-safe form: ``what`` typed, by TAP's keys (see :meth:`EvidenceWhat.to_dict`), and ``time``."""
        return {**self._fields(self.what.to_dict()), "time": self.time}

    def _fields(self, what: dict[str, object]) -> dict[str, object]:
        return {"type": self.type, "display": self.display, "engine": self.engine, "malicious": self.malicious,
                "note": self.note, "what": what, "platforms": [p.to_dict() for p in self.platforms]}


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
