"""Indicators in forensic evidence, as SOAR artifacts of the right built-in types, de-duplicated.

Pure functions: evidence in, ``{"type", "value", "description"}`` out. Values come from the sandbox
and, through it, from the attacker, so each is checked for its type's shape (a "hash" that is not
hex, a "domain" with spaces, an "IP" that does not parse is dropped, not added), normalised (hashes and
host names lower-case) and stripped of control and bidi characters. Artifacts are plain values in SOAR,
never rendered as HTML, so that is all "inert" needs here.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from fn_pp_tap_functions.tap.forensics import Evidence, ForensicsReport
from fn_pp_tap_functions.text import line

URL = "URL"
DNS_NAME = "DNS Name"
IP_ADDRESS = "IP Address"
MD5 = "Malware MD5 Hash"
SHA256 = "Malware SHA-256 Hash"
FILE_NAME = "File Name"
REGISTRY_KEY = "Registry Key"
MUTEX = "Mutex"
ARTIFACT_TYPES = (URL, DNS_NAME, IP_ADDRESS, MD5, SHA256, FILE_NAME, REGISTRY_KEY, MUTEX)
"""SOAR built-in artifact types the forensics function adds (present in every org)."""

MAX_VALUE = 2000
_HEX32 = re.compile(r"[0-9a-f]{32}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HOST = re.compile(r"(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
_NO_INDICATORS = {"screenshot", "behavior", "ids"}
"""Evidence types whose ``what`` holds no indicator (a screenshot URL is Proofpoint's own)."""


@dataclass(frozen=True, slots=True)
class Indicator:
    type: str
    value: str
    description: str

    def key(self) -> tuple[str, str]:
        return self.type, self.value

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "value": self.value, "description": self.description}


def normalise(kind: str, raw: object) -> str | None:
    """The value in canonical form for ``kind``, or None when it is not a plausible value of that type."""
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    if not text or len(text) > MAX_VALUE:
        return None
    if line(text, MAX_VALUE + 1) != text:  # control, bidi or runs of white space
        if kind not in (REGISTRY_KEY, MUTEX, FILE_NAME):
            return None  # no URL, host, address or hash contains them: not a value of this type
        text = line(text, MAX_VALUE)
    if kind in (MD5, SHA256):
        text = text.lower()
        return text if (_HEX32 if kind == MD5 else _HEX64).fullmatch(text) else None
    if kind == IP_ADDRESS:
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            return None
    if kind == DNS_NAME:
        text = text.lower().rstrip(".")
        return text if _HOST.fullmatch(text) else None
    if kind == URL:
        try:
            parts = urlsplit(text)
        except ValueError:
            return None
        return text if parts.scheme.lower() in ("http", "https", "ftp") and parts.netloc else None
    if kind == FILE_NAME:
        name = re.split(r"[\\/]", text)[-1].strip()
        return name or None
    return text or None


def _extra(evidence: Evidence, name: str) -> object:
    """An undocumented ``what`` key TAP has been seen to send (``filename`` on file evidence)."""
    for key, value in evidence.what.other.items():
        if key.lower() == name:
            return value
    return None


def evidence_indicators(evidence: Evidence) -> Iterator[tuple[str, object]]:
    """(artifact type, raw value) pairs named by one evidence item (its typed ``what``)."""
    kind = (evidence.type or "").lower()
    if kind in _NO_INDICATORS:
        return
    what = evidence.what
    if kind in ("url", "attachment", "file", "dropper", "network", "dns", "cookie", "process"):
        if kind == "url":
            yield URL, what.url
        for ip in ((what.ip,) if what.ip else ()) + what.ips:
            yield IP_ADDRESS, ip
        if kind == "dns":
            yield DNS_NAME, what.host
            for cname in what.cnames:
                yield DNS_NAME, cname
        if kind == "network":
            yield DNS_NAME, what.host  # undocumented for network evidence, but sent
        if kind == "cookie":
            yield DNS_NAME, (what.domain or "").lstrip(".") or None
        if kind in ("attachment", "file", "dropper", "url"):
            yield MD5, what.md5
            yield SHA256, what.sha256
        if kind in ("attachment", "file", "dropper"):
            yield FILE_NAME, what.path or _extra(evidence, "filename") or what.name
    elif kind == "registry":
        key = f"{what.key}\\{what.name}" if what.key and what.name else what.key
        yield REGISTRY_KEY, key
    elif kind == "mutex":
        yield MUTEX, what.name


def indicators(pairs: Iterable[tuple[ForensicsReport, Evidence]], *, malicious_only: bool) -> list[Indicator]:
    """Every distinct indicator of the evidence, first occurrence wins, in evidence order."""
    out: dict[tuple[str, str], Indicator] = {}
    for report, evidence in pairs:
        if malicious_only and not evidence.malicious:
            continue
        for kind, raw in evidence_indicators(evidence):
            value = normalise(kind, raw)
            if value is None or (kind, value) in out:
                continue
            scope = (report.scope or "THREAT").lower()
            verdict = "malicious" if evidence.malicious else "not marked malicious"
            description = line(f"Proofpoint TAP forensics ({scope} {report.id or '?'}): {evidence.type or '?'} "
                                f"evidence, {verdict}: {evidence.display or ''}", 500)
            out[(kind, value)] = Indicator(kind, value, description)
    return list(out.values())


def existing_keys(artifacts: Iterable[Mapping[str, object]]) -> set[tuple[str, str]]:
    """(type, normalised value) of the incident's artifacts, to compare new indicators with."""
    keys = set()
    for artifact in artifacts:
        kind = artifact.get("type")
        if isinstance(kind, Mapping):
            kind = kind.get("name")
        kind = str(kind or "")
        value = artifact.get("value")
        if not isinstance(value, str):
            continue
        canonical = normalise(kind, value) if kind in ARTIFACT_TYPES else None
        keys.add((kind, canonical or value.strip()))
    return keys


def new_only(found: Iterable[Indicator], existing: set[tuple[str, str]]) -> list[Indicator]:
    return [item for item in found if item.key() not in existing]
