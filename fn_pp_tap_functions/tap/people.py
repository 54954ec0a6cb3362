"""People API payloads (``/v2/people/vap`` and ``/v2/people/top-clickers``), normalised.

Both endpoints allow 50 calls per 24 h, so their answers are worth keeping whole: identities, per-family
statistics and the report totals are all read. ``to_dict()`` gives JSON-safe output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fn_pp_tap_functions.errors import TapResponseError
from fn_pp_tap_functions.tap import coerce


def _object(payload: object, what: str) -> dict[str, object]:
    if not isinstance(payload, Mapping):
        raise TapResponseError(f"Proofpoint TAP returned a {what} that is not a JSON object.")
    return coerce.lower_keys(payload)


def _sub(item: Mapping[str, object], key: str) -> dict[str, object]:
    """A nested object with lower-cased keys, ``{}`` when absent or not an object."""
    value = item.get(key)
    return coerce.lower_keys(value) if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class PersonIdentity:
    """``identity`` of a People API user."""

    guid: str | None
    customer_user_id: str | None
    emails: tuple[str, ...]
    name: str | None
    department: str | None
    location: str | None
    title: str | None
    vip: bool | None

    @classmethod
    def from_api(cls, payload: object) -> PersonIdentity:
        item = coerce.lower_keys(payload) if isinstance(payload, Mapping) else {}
        return cls(
            guid=coerce.text(item.get("guid")),
            customer_user_id=coerce.text(item.get("customeruserid")),
            emails=coerce.texts(item.get("emails")),
            name=coerce.text(item.get("name")),
            department=coerce.text(item.get("department")),
            location=coerce.text(item.get("location")),
            title=coerce.text(item.get("title")),
            vip=coerce.boolean(item.get("vip")),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "guid": self.guid,
            "customer_user_id": self.customer_user_id,
            "emails": list(self.emails),
            "name": self.name,
            "department": self.department,
            "location": self.location,
            "title": self.title,
            "vip": self.vip,
        }


@dataclass(frozen=True, slots=True)
class FamilyCount:
    """A threat family with its VAP score or its click count."""

    name: str | None
    value: int | None


def _families(value: object, count_key: str) -> tuple[FamilyCount, ...]:
    out = []
    for entry in coerce.mappings(value):
        low = coerce.lower_keys(entry)
        out.append(FamilyCount(coerce.text(low.get("name")), coerce.integer(low.get(count_key))))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class VapUser:
    """A Very Attacked Person: identity, attack index and per-family scores."""

    identity: PersonIdentity
    attack_index: int | None
    families: tuple[FamilyCount, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            **self.identity.to_dict(),
            "attack_index": self.attack_index,
            "families": [{"name": f.name, "score": f.value} for f in self.families],
        }


@dataclass(frozen=True, slots=True)
class VapReport:
    users: tuple[VapUser, ...]
    total_vap_users: int | None
    interval: str | None
    average_attack_index: float | None
    vap_attack_index_threshold: float | None

    @classmethod
    def from_api(cls, payload: Mapping[str, object]) -> VapReport:
        item = _object(payload, "Very Attacked People report")
        users = []
        for entry in coerce.mappings(item.get("users")):
            low = coerce.lower_keys(entry)
            stats = _sub(low, "threatstatistics")
            users.append(
                VapUser(
                    identity=PersonIdentity.from_api(low.get("identity")),
                    attack_index=coerce.integer(stats.get("attackindex")),
                    families=_families(stats.get("families"), "score"),
                )
            )
        return cls(
            users=tuple(users),
            total_vap_users=coerce.integer(item.get("totalvapusers")),
            interval=coerce.text(item.get("interval")),
            average_attack_index=coerce.real(item.get("averageattackindex")),
            vap_attack_index_threshold=coerce.real(item.get("vapattackindexthreshold")),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "users": [u.to_dict() for u in self.users],
            "total_vap_users": self.total_vap_users,
            "interval": self.interval,
            "average_attack_index": self.average_attack_index,
            "vap_attack_index_threshold": self.vap_attack_index_threshold,
        }


@dataclass(frozen=True, slots=True)
class TopClicker:
    identity: PersonIdentity
    click_count: int | None
    families: tuple[FamilyCount, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            **self.identity.to_dict(),
            "click_count": self.click_count,
            "families": [{"name": f.name, "clicks": f.value} for f in self.families],
        }


@dataclass(frozen=True, slots=True)
class TopClickersReport:
    users: tuple[TopClicker, ...]
    total_top_clickers: int | None
    interval: str | None

    @classmethod
    def from_api(cls, payload: Mapping[str, object]) -> TopClickersReport:
        item = _object(payload, "top clickers report")
        users = []
        for entry in coerce.mappings(item.get("users")):
            low = coerce.lower_keys(entry)
            stats = _sub(low, "clickstatistics")
            users.append(
                TopClicker(
                    identity=PersonIdentity.from_api(low.get("identity")),
                    click_count=coerce.integer(stats.get("clickcount")),
                    families=_families(stats.get("families"), "clicks"),
                )
            )
        return cls(
            users=tuple(users),
            total_top_clickers=coerce.integer(item.get("totaltopclickers")),
            interval=coerce.text(item.get("interval")),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "users": [u.to_dict() for u in self.users],
            "total_top_clickers": self.total_top_clickers,
            "interval": self.interval,
        }
