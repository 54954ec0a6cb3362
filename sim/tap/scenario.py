"""Loading scenario files (JSON or YAML) into the plain structure the simulator state is built from.

A scenario holds what a TAP tenant would have seen: threats, campaigns, SIEM events (raw, exactly as
TAP emits them, grouped by SIEM type), forensics reports, People data, and optionally credentials,
rate limits and URL-decoder context.  Times may be absolute ISO-8601 or relative to the moment the
scenario is loaded (``now``, ``now-3h20m``, ``now-2d``, ``now+5m``) so a shipped scenario never falls
outside TAP's 7-day look-back.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from .timeutil import format_ms, resolve_relative

EVENT_TYPES: tuple[str, ...] = ("messagesDelivered", "messagesBlocked", "clicksPermitted", "clicksBlocked")
DEFAULT_SCENARIO_PATH = Path(__file__).with_name("data") / "default_scenario.json"
_TIME_KEYS = {"generated", "messageTime", "clickTime", "threatTime", "identifiedAt", "lastUpdatedAt", "startDate"}


class ScenarioError(ValueError):
    """The scenario is not usable; the message says where."""


def _is_time_key(key: str) -> bool:
    return key in _TIME_KEYS or key.endswith(("Time", "At", "Date"))


def resolve_times(value: Any, base: datetime, key: str = "") -> Any:
    """Return a copy of ``value`` with relative times (``now-1h``) under time-like keys made absolute."""
    if isinstance(value, dict):
        return {k: resolve_times(v, base, k) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_times(item, base, key) for item in value]
    if isinstance(value, str) and _is_time_key(key):
        moment = resolve_relative(value, base)
        if moment is not None:
            return format_ms(moment)
    return value


def read_scenario_file(path: str | Path) -> dict[str, Any]:
    """Read a ``.json``, ``.yaml`` or ``.yml`` scenario file."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: a scenario must be a mapping at the top level")
    return data


def normalize_events(raw: Any) -> list[dict[str, Any]]:
    """Accept ``{"messagesDelivered": [...], ...}`` or ``[{"type": ..., "event": {...}}, ...]``.

    Returns the list form.  Each event must be an object; its SIEM type must be one of the four. In the list
    form an item may say when TAP indexed the event (``"indexedAt"``: an ISO time or ``now-5m``); until
    then no SIEM query returns it (see :mod:`.state`).
    """
    items: list[dict[str, Any]] = []
    if raw is None:
        return items
    if isinstance(raw, dict):
        for event_type, events in raw.items():
            if event_type not in EVENT_TYPES:
                raise ScenarioError(f"unknown SIEM event type {event_type!r}; known: {EVENT_TYPES}")
            if not isinstance(events, list):
                raise ScenarioError(f"events.{event_type} must be a list")
            items.extend({"type": event_type, "event": event} for event in events)
    elif isinstance(raw, list):
        items = list(raw)
    else:
        raise ScenarioError("events must be a mapping of SIEM type to list, or a list of {type, event}")
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.get("type") not in EVENT_TYPES or not isinstance(item.get("event"), dict):
            raise ScenarioError(f"event #{index}: needs 'type' in {EVENT_TYPES} and an 'event' object")
        if not set(item) <= {"type", "event", "indexedAt"}:
            raise ScenarioError(f"event #{index}: unknown keys {sorted(set(item) - {'type', 'event', 'indexedAt'})}")
    return [{k: item[k] for k in ("type", "event", "indexedAt") if k in item} for item in items]


def _normalize_forensics(raw: Any) -> dict[str, dict[str, list[dict[str, Any]]]]:
    out: dict[str, dict[str, list[dict[str, Any]]]] = {"threats": {}, "campaigns": {}}
    if not raw:
        return out
    if not isinstance(raw, dict):
        raise ScenarioError("forensics must be a mapping with 'threats' and/or 'campaigns'")
    for scope in ("threats", "campaigns"):
        for key, reports in (raw.get(scope) or {}).items():
            if isinstance(reports, dict):
                reports = reports.get("reports", [])
            if not isinstance(reports, list):
                raise ScenarioError(f"forensics.{scope}.{key} must be a list of reports")
            out[scope][key] = reports
    return out


def normalize_scenario(data: dict[str, Any], base: datetime) -> dict[str, Any]:
    """Validate the top-level shape, resolve relative times and return a fresh, normalised copy."""
    data = resolve_times(copy.deepcopy(data), base)
    known = {"name", "description", "threats", "campaigns", "events", "forensics", "people", "credentials",
             "limits", "urlDecode", "clusterName"}
    unknown = set(data) - known
    if unknown:
        raise ScenarioError(f"unknown scenario keys: {sorted(unknown)}")
    threats = data.get("threats") or []
    campaigns = data.get("campaigns") or []
    if not isinstance(threats, list) or not all(isinstance(t, dict) and t.get("id") for t in threats):
        raise ScenarioError("threats must be a list of objects with an 'id'")
    if not isinstance(campaigns, list) or not all(isinstance(c, dict) and c.get("id") for c in campaigns):
        raise ScenarioError("campaigns must be a list of objects with an 'id'")
    people = data.get("people") or {}
    credentials = data.get("credentials") or []
    if not all(isinstance(c, dict) and c.get("principal") and c.get("secret") for c in credentials):
        raise ScenarioError("credentials must be a list of {principal, secret}")
    return {
        "name": data.get("name", "unnamed"),
        "threats": threats,
        "campaigns": campaigns,
        "events": normalize_events(data.get("events")),
        "forensics": _normalize_forensics(data.get("forensics")),
        "people": {"vap": people.get("vap") or {}, "topClickers": people.get("topClickers") or {}},
        "credentials": credentials,
        "limits": data.get("limits") or {},
        "urlDecode": data.get("urlDecode") or {},
        "clusterName": data.get("clusterName", "sim_hosted"),
    }


def load_scenario(source: dict[str, Any] | str | Path | None, base: datetime) -> dict[str, Any]:
    """Load a scenario from a dict, a file path, or (None) the shipped default scenario."""
    if source is None:
        source = DEFAULT_SCENARIO_PATH
    data = source if isinstance(source, dict) else read_scenario_file(source)
    return normalize_scenario(data, base)
