"""The ``what`` of a forensics evidence item, typed.

TAP's Forensics API documents a different ``what`` object per evidence type (:data:`DOCUMENTED`, from
Proofpoint's Forensics API page, https://help.proofpoint.com/Threat_Insight_Dashboard/API_Documentation/Forensics_API;
the same per-type lists are in Proofpoint's own Python client, pfptcommunity/tap-api-python
``src/tap_api/v2/endpoints/forensics/evidence_types.py``). This table is the one list of them: the tests
(``tests/documented_fields.py``) read it from here.

:class:`EvidenceWhat` holds the union of these sub-fields, each in one Python type whatever the evidence type
(a ``url`` on a behaviour is still a URL), with the quirks read away: keys in any case, ``blacklisted`` as a
boolean or as 0/1, numbers as numbers or numeric text, a list field given as one string. Keys TAP sends that
no page documents (``host`` on network evidence, ``filename``, ...) are kept as they came in ``other``.
Values are attacker-influenced (the sandbox saw what the attacker's file did): they are kept verbatim;
rendering them safely is the job of the code that shows them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from fn_pp_tap_functions.tap import coerce

DOCUMENTED: dict[str, tuple[str, ...]] = {
    "attachment": ("sha256", "blacklisted", "md5", "offset", "rule", "size"),
    "behavior": ("rule", "note"),
    "cookie": ("action", "domain", "key", "value"),
    "dns": ("host", "cnames", "ips", "nameservers", "nameserversList"),
    "dropper": ("path", "rule", "url"),
    "file": ("action", "md5", "path", "rule", "sha256", "size"),
    "ids": ("name", "signatureId"),
    "mutex": ("name", "path"),
    "network": ("action", "ip", "port", "type"),
    "process": ("action", "path"),
    "registry": ("action", "key", "name", "rule", "value"),
    "rule": ("rule",),
    "screenshot": ("url",),
    "url": ("url", "blacklisted", "ip", "httpStatus", "md5", "offset", "rule", "sha256", "size"),
}
"""Evidence type -> the ``what`` keys Proofpoint documents for it (TAP's spelling; network's ``type`` is the
protocol, tcp or udp), in the order a report shows them."""

_TEXT = ("url", "ip", "host", "domain", "path", "action", "key", "name", "value", "rule", "note", "sha256",
         "md5", "type")
_NUMBER = ("offset", "size", "port", "httpStatus", "signatureId")
_LIST = ("ips", "cnames", "nameservers", "nameserversList")
_FLAG = ("blacklisted",)
_ATTRIBUTE = {"type": "protocol", "httpStatus": "http_status", "signatureId": "signature_id",
              "nameserversList": "nameservers_list"}
_KNOWN = {key.lower(): key for key in _TEXT + _NUMBER + _LIST + _FLAG}
_MAX_DEPTH = 20

LABELS: dict[str, str] = {
    "url": "URL", "ip": "IP", "ips": "IPs", "host": "Host", "cnames": "CNAMEs", "nameservers": "Name servers",
    "nameserversList": "Name server list", "domain": "Domain", "path": "Path", "action": "Action", "key": "Key",
    "name": "Name", "value": "Value", "rule": "Rule", "note": "Note", "sha256": "SHA-256", "md5": "MD5",
    "size": "Size", "offset": "Offset", "blacklisted": "Blocklisted", "httpStatus": "HTTP status",
    "port": "Port", "type": "Protocol", "signatureId": "Signature ID",
}
"""How a report names each documented sub-field (TAP key -> label)."""


def json_safe(value: object, depth: int = 0) -> object:
    """Copy of a JSON value with non-finite floats and over-deep nesting replaced by ``None``."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@dataclass(frozen=True, slots=True)
class EvidenceWhat:
    """Every documented ``what`` sub-field (see the module docstring), ``None``/``()`` when absent.

    Attribute names are TAP's keys in snake case, except ``protocol`` (network evidence's ``type``).
    """

    url: str | None = None
    ip: str | None = None
    ips: tuple[str, ...] = ()
    host: str | None = None
    cnames: tuple[str, ...] = ()
    nameservers: tuple[str, ...] = ()
    nameservers_list: tuple[str, ...] = ()
    domain: str | None = None
    path: str | None = None
    action: str | None = None
    key: str | None = None
    name: str | None = None
    value: str | None = None
    rule: str | None = None
    note: str | None = None
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    offset: int | None = None
    blacklisted: bool | None = None
    http_status: int | None = None
    port: int | None = None
    protocol: str | None = None
    signature_id: int | None = None
    other: Mapping[str, object] = field(default_factory=dict, hash=False)

    @classmethod
    def from_api(cls, payload: object) -> EvidenceWhat:
        if not isinstance(payload, Mapping):
            return cls()
        values: dict[str, object] = {}
        other: dict[str, object] = {}
        for raw_key, raw in payload.items():
            tap_key = _KNOWN.get(str(raw_key).lower())
            if tap_key is None:
                other[str(raw_key)] = json_safe(raw)
                continue
            attribute = _ATTRIBUTE.get(tap_key, tap_key)
            if attribute in values and values[attribute] not in (None, ()):
                continue  # two spellings of one key: the first usable value wins
            if tap_key in _TEXT:
                values[attribute] = coerce.text(raw)
            elif tap_key in _NUMBER:
                values[attribute] = coerce.integer(raw)
            elif tap_key in _LIST:
                values[attribute] = coerce.texts(raw)
            else:
                values[attribute] = coerce.boolean(raw)
        return cls(**values, other=other)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, object]:
        """The documented sub-fields that have a value, by TAP's key, then the undocumented ones."""
        out: dict[str, object] = {}
        for tap_key, attribute in _PAIRS:
            value = getattr(self, attribute)
            if value is None or value == ():
                continue
            out[tap_key] = list(value) if isinstance(value, tuple) else value
        for key, value in self.other.items():
            out.setdefault(key, value)
        return out

    def items(self, evidence_type: str | None = None) -> list[tuple[str, object]]:
        """``(TAP key, value)`` with a value, those documented for ``evidence_type`` first, in its order."""
        shown = self.to_dict()
        first = [k for k in DOCUMENTED.get((evidence_type or "").lower(), ()) if k in shown]
        return [(k, shown[k]) for k in first] + [(k, v) for k, v in shown.items() if k not in first]


_PAIRS: tuple[tuple[str, str], ...] = tuple(
    (next((k for k, a in _ATTRIBUTE.items() if a == f.name), f.name), f.name)
    for f in fields(EvidenceWhat) if f.name != "other"
)
"""(TAP key, attribute) for every documented sub-field, in attribute order."""
