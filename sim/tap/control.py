"""The ``/_sim/`` control API: the simulator's Python controls over HTTP (JSON in and out, no auth).

End-to-end tests run the simulator as a subprocess, so everything a test can do in-process it can also
do here.  These routes are not TAP's and never count towards stats or rate pools.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any, Protocol

from .faults import FaultTable
from .responses import Response, json_response
from .state import TapState, UnknownObject

PREFIX = "/_sim/"


class Controls(Protocol):
    """What the control API steers: :class:`~sim.tap.server.TapSimulator`'s Python controls.

    A protocol rather than an import of the simulator, so the server that calls this module and the
    simulator it steers stay one object without an import running back up."""

    state: TapState
    faults: FaultTable
    base_url: str

    def now_iso(self) -> str: ...
    def stats(self) -> dict[str, Any]: ...
    @property
    def calls(self) -> list[dict[str, Any]]: ...
    def reset_stats(self, rate_windows: bool = True) -> None: ...
    def add_events(self, events: list[dict[str, Any]] | dict[str, list[dict[str, Any]]]) -> int: ...
    def add_threat(self, threat: dict[str, Any], campaign_id: str | None = None) -> None: ...
    def set_threat_status(self, threat_id: str, status: str) -> None: ...
    def set_threat_campaign(self, threat_id: str, campaign_id: str | None) -> None: ...
    def set_limits(self, **limits: int | None) -> dict[str, int | None]: ...
    def inject_fault(self, path_regex: str, status: int | None, times: int = 1, body: str | None = None,
                     delay: float = 0.0, content_type: str | None = None, after: int = 0) -> None: ...
    def clear_faults(self) -> None: ...
    def set_indexing_lag(self, seconds: float) -> None: ...


def _error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def _body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    payload = json.loads(raw.decode("utf-8"))
    if not isinstance(payload, dict):
        raise ValueError("the request body must be a JSON object")
    return payload


def handle_control(sim: Controls, method: str, path: str, raw_body: bytes) -> Response:
    """Dispatch one control request; unknown routes are 404, bad input 400, unknown objects 404."""
    route = path[len(PREFIX) :].rstrip("/")
    try:
        body = _body(raw_body) if method in ("POST", "PUT") else {}
        return _dispatch(sim, method, route, body)
    except UnknownObject as exc:
        return _error(404, f"unknown: {exc.args[0]}")
    except (ValueError, TypeError) as exc:
        return _error(400, str(exc))


def _dispatch(sim: Controls, method: str, route: str, body: dict[str, Any]) -> Response:
    if (method, route) == ("GET", "health"):
        return json_response({"ok": True, "now": sim.now_iso(), "baseUrl": sim.base_url})
    if (method, route) == ("GET", "stats"):
        return json_response(sim.stats())
    if (method, route) == ("GET", "calls"):
        return json_response({"calls": sim.calls})
    if (method, route) == ("POST", "reset-stats"):
        sim.reset_stats(rate_windows=bool(body.get("rateWindows", True)))
        return json_response({"ok": True})
    if (method, route) == ("POST", "events"):
        if "events" not in body:
            raise ValueError('expected {"events": [...]}')
        return json_response({"added": sim.add_events(body["events"])})
    if (method, route) == ("POST", "threats"):
        threat = body.get("threat", body)
        sim.add_threat(threat, campaign_id=body.get("campaignId"))
        return json_response({"ok": True, "threat": sim.state.threat_summary(threat["id"])})
    if method == "POST" and route.startswith("threats/"):
        threat_id = urllib.parse.unquote(route[len("threats/") :])
        if not body or not set(body) <= {"status", "campaignId"}:
            raise ValueError('expected {"status": ...} and/or {"campaignId": ...}')
        if "status" in body:
            sim.set_threat_status(threat_id, body["status"])
        if "campaignId" in body:
            sim.set_threat_campaign(threat_id, body["campaignId"])
        return json_response({"ok": True, "threat": sim.state.threat_summary(threat_id)})
    if (method, route) == ("POST", "limits"):
        return json_response({"limits": sim.set_limits(**body)})
    if (method, route) == ("POST", "faults"):
        if "path" not in body:
            raise ValueError('expected {"path": <regex>, "status": <int|null>, "times": n, "body": .., "delay": s, '
                             '"contentType": .., "after": n}')
        sim.inject_fault(body["path"], body.get("status"), int(body.get("times", 1)), body.get("body"),
                         delay=float(body.get("delay", 0.0)), content_type=body.get("contentType"),
                         after=int(body.get("after", 0)))
        return json_response({"ok": True, "faults": sim.faults.pending()})
    if (method, route) == ("GET", "faults"):
        return json_response({"faults": sim.faults.pending()})
    if (method, route) == ("DELETE", "faults"):
        sim.clear_faults()
        return json_response({"ok": True})
    if (method, route) == ("POST", "indexing-lag"):
        sim.set_indexing_lag(float(body["seconds"]))
        return json_response({"ok": True})
    return _error(404, f"no control route {method} /_sim/{route}")
