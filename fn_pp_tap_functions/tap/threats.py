"""Threat API and Campaign API payloads, normalised.

``/v2/threat/summary/{id}`` changed field names over time (``severity`` -> ``severityScore``, ``verticals``
-> ``verticallyTargeted``, ``geographies`` -> ``geoTargeted``); both are read. Statuses and threat types are
put in one spelling (see :mod:`fn_pp_tap_functions.tap.vocab`) because the app compares them to close
incidents on ``cleared``/``falsePositive``. Named lists (actors, families, malware, techniques, brands)
are ``{"id", "name"}`` objects in TAP's answers and become tuples of :class:`~.coerce.Ref` (both kept).

``to_dict()`` gives JSON-safe output (ISO-8601 strings) for function results: the named lists as names,
which is what notes, fields and scripts show, and their TAP ids under ``named_ids`` (``{"actors": [...], ...}``,
in the same order) for a playbook that wants to match an actor or family across threats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from fn_pp_tap_functions.errors import TapResponseError
from fn_pp_tap_functions.tap import coerce
from fn_pp_tap_functions.tap.coerce import Ref, ref_names
from fn_pp_tap_functions.tap.timestamps import iso_or_none, parse_tap_time
from fn_pp_tap_functions.tap.vocab import (
    ThreatStatus,
    normalise_classification,
    normalise_status,
    normalise_threat_type,
)


def _object(payload: object, what: str) -> dict[str, object]:
    if not isinstance(payload, Mapping):
        raise TapResponseError(f"Proofpoint TAP returned a {what} that is not a JSON object.")
    return coerce.lower_keys(payload)


NAMED_LISTS: tuple[str, ...] = ("actors", "families", "malware", "techniques", "brands")
"""The named lists a threat summary and a campaign share, by their attribute (= TAP key) names."""


def _named_output(item: object) -> dict[str, object]:
    """The named lists as names, plus their ids under ``named_ids`` (see the module docstring)."""
    lists: dict[str, tuple[Ref, ...]] = {name: getattr(item, name) for name in NAMED_LISTS}
    out: dict[str, object] = {name: ref_names(values) for name, values in lists.items()}
    out["named_ids"] = {name: [v.id for v in values] for name, values in lists.items()}
    return out


@dataclass(frozen=True, slots=True)
class ThreatSummary:
    """``/v2/threat/summary/{threatId}``: what TAP currently says about one threat."""

    threat_id: str | None
    identified_at: datetime | None
    name: str | None
    type: str | None
    category: str | None
    status: str | None
    detection_type: str | None
    severity_score: int | None
    attack_spread: int | None
    notable: bool | None
    vertically_targeted: bool | None
    geo_targeted: bool | None
    actors: tuple[Ref, ...]
    families: tuple[Ref, ...]
    malware: tuple[Ref, ...]
    techniques: tuple[Ref, ...]
    brands: tuple[Ref, ...]

    @classmethod
    def from_api(cls, payload: Mapping[str, object]) -> ThreatSummary:
        item = _object(payload, "threat summary")
        return cls(
            threat_id=coerce.text(item.get("id")),
            identified_at=parse_tap_time(item.get("identifiedat")),
            name=coerce.text(item.get("name")),
            type=normalise_threat_type(item.get("type")),
            category=normalise_classification(item.get("category")),
            status=normalise_status(item.get("status")),
            detection_type=coerce.label(item.get("detectiontype")),
            severity_score=coerce.integer(coerce.pick(item, "severityscore", "severity")),
            attack_spread=coerce.integer(item.get("attackspread")),
            notable=coerce.boolean(item.get("notable")),
            vertically_targeted=coerce.boolean(coerce.pick(item, "verticallytargeted", "verticals")),
            geo_targeted=coerce.boolean(coerce.pick(item, "geotargeted", "geographies")),
            actors=coerce.refs(item.get("actors")),
            families=coerce.refs(item.get("families")),
            malware=coerce.refs(item.get("malware")),
            techniques=coerce.refs(item.get("techniques")),
            brands=coerce.refs(item.get("brands")),
        )

    @property
    def is_false_positive(self) -> bool:
        return self.status == ThreatStatus.FALSE_POSITIVE

    @property
    def is_cleared(self) -> bool:
        return self.status == ThreatStatus.CLEARED

    def to_dict(self) -> dict[str, object]:
        return {
            "threat_id": self.threat_id,
            "identified_at": iso_or_none(self.identified_at),
            "name": self.name,
            "type": self.type,
            "category": self.category,
            "status": self.status,
            "detection_type": self.detection_type,
            "severity_score": self.severity_score,
            "attack_spread": self.attack_spread,
            "notable": self.notable,
            "vertically_targeted": self.vertically_targeted,
            "geo_targeted": self.geo_targeted,
            **_named_output(self),
        }


@dataclass(frozen=True, slots=True)
class CampaignMember:
    """One threat of a campaign (``campaignMembers[]``); ``threat_id`` is the member's ``id``.

    ``threat`` is the member's ``threat`` (the URL, hash or address), or its ``name`` where an answer calls it
    so (Proofpoint's own Python client reads ``name``); ``sub_type`` is TAP's ``subType`` (e.g.
    ``COMPROMISED_WEBSITE``).
    """

    threat_id: str | None
    threat: str | None
    status: str | None
    type: str | None
    sub_type: str | None
    threat_time: datetime | None

    @classmethod
    def from_api(cls, payload: Mapping[str, object]) -> CampaignMember:
        item = coerce.lower_keys(payload)
        return cls(
            threat_id=coerce.text(coerce.pick(item, "id", "threatid")),
            threat=coerce.text(coerce.pick(item, "threat", "name")),
            status=normalise_status(coerce.pick(item, "threatstatus", "status")),
            type=normalise_threat_type(item.get("type")),
            sub_type=coerce.label(item.get("subtype")),
            threat_time=parse_tap_time(item.get("threattime")),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "threat_id": self.threat_id,
            "threat": self.threat,
            "status": self.status,
            "type": self.type,
            "sub_type": self.sub_type,
            "threat_time": iso_or_none(self.threat_time),
        }


@dataclass(frozen=True, slots=True)
class Campaign:
    """``/v2/campaign/{campaignId}``."""

    id: str | None
    name: str | None
    description: str | None
    start_date: datetime | None
    notable: bool | None
    actors: tuple[Ref, ...]
    families: tuple[Ref, ...]
    malware: tuple[Ref, ...]
    techniques: tuple[Ref, ...]
    brands: tuple[Ref, ...]
    members: tuple[CampaignMember, ...]

    @classmethod
    def from_api(cls, payload: Mapping[str, object]) -> Campaign:
        item = _object(payload, "campaign")
        return cls(
            id=coerce.text(item.get("id")),
            name=coerce.text(item.get("name")),
            description=coerce.text(item.get("description")),
            start_date=parse_tap_time(item.get("startdate")),
            notable=coerce.boolean(item.get("notable")),
            actors=coerce.refs(item.get("actors")),
            families=coerce.refs(item.get("families")),
            malware=coerce.refs(item.get("malware")),
            techniques=coerce.refs(item.get("techniques")),
            brands=coerce.refs(item.get("brands")),
            members=tuple(CampaignMember.from_api(m) for m in coerce.mappings(item.get("campaignmembers"))),
        )

    def counts_by_status(self) -> dict[str, int]:
        """Members per status; the three known statuses are always present (0 when none), others added."""
        counts = {s.value: 0 for s in ThreatStatus}
        for member in self.members:
            status = member.status or "unknown"
            counts[status] = counts.get(status, 0) + 1
        return counts

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "start_date": iso_or_none(self.start_date),
            "notable": self.notable,
            **_named_output(self),
            "members": [m.to_dict() for m in self.members],
            "counts_by_status": self.counts_by_status(),
        }


@dataclass(frozen=True, slots=True)
class CampaignRef:
    """One entry of ``/v2/campaign/ids``."""

    id: str | None
    last_updated_at: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "last_updated_at": iso_or_none(self.last_updated_at)}


def parse_campaign_ids(payload: Mapping[str, object] | None) -> tuple[CampaignRef, ...]:
    """Campaign references from ``/v2/campaign/ids`` (``None``/empty payload gives ``()``)."""
    if payload is None:
        return ()
    item = _object(payload, "campaign list")
    refs = []
    for entry in coerce.mappings(item.get("campaigns")):
        low = coerce.lower_keys(entry)
        refs.append(CampaignRef(coerce.text(low.get("id")), parse_tap_time(low.get("lastupdatedat"))))
    return tuple(refs)
