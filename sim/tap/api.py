"""The TAP endpoints: routing, authentication, rate pools, injected faults and each API's answer.

Order of checks for every ``/v2/`` request, and why:
1. route (unknown path -> 404, wrong method -> 405);
2. HTTP Basic authentication (missing or wrong -> 401).  The URL decoder alone may be called without
   credentials (it then omits the per-recipient fields); *wrong* credentials there are still a 401;
3. rate pool: the request is charged, and refused with 429 if the pool was already exhausted;
4. injected fault (after charging, so a retry storm against a failing server burns budget, as it
   would against a real one);
5. parameter validation (400) and the answer.

Stricter choices beyond tap-api.md (the documentation is silent on these):
- a malformed threat or campaign id (characters outside ``A-Za-z0-9._-`` or longer than 200) is a 400,
  not a 404, so a client cannot mistake its own bug for "threat no longer exists";
- unknown query parameters are refused with 400 on every endpoint;
- ``/v2/campaign/ids``: ``size`` is 1..200 (default 100), ``page`` >= 1; an empty result *page* is 404;
- ``/v2/people/*``: ``window`` is required; sizes default to 100;
- ``/v2/url/decode`` requires ``Content-Type: application/json`` (415 otherwise) and a non-empty list;
- ``includeCampaignForensics`` only with ``threatId`` and only ``true``/``false``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from .faults import DEFAULT_BODIES, FaultTable
from .ratelimit import THROTTLED_TEXT, RatePools
from .responses import ApiError, Response, json_response, text_response
from .siem import ENDPOINT_ARRAYS, parse_siem_query, render_json, render_syslog
from .state import TapState
from .timeutil import format_ms, parse_interval
from .urldefense import decode_url

_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_MAX_CAMPAIGN_INTERVAL = timedelta(days=1)


class Headers(Protocol):
    """Request headers looked up by name, case-insensitively (``http.client.HTTPMessage`` does)."""

    def get(self, name: str, /) -> str | None: ...


@dataclass(frozen=True)
class Request:
    """What the HTTP layer hands over."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes


@dataclass(frozen=True)
class Route:
    """A matched TAP endpoint: its template (for stats), rate pool, method and handler."""

    endpoint: str
    pool: str
    method: str
    handler: Callable[[Request, dict[str, list[str]], str, bool], Response]
    anonymous_ok: bool = False


class TapService:
    """Answers TAP requests from a ``TapState``; keeps the call log used by ``calls``/``stats()``."""

    def __init__(
        self,
        state: TapState,
        pools: RatePools,
        faults: FaultTable,
        credentials: dict[str, str],
        clock: Callable[[], datetime],
        indexing_lag: timedelta,
    ) -> None:
        self.state = state
        self.pools = pools
        self.faults = faults
        self.credentials = credentials
        self.clock = clock
        self.indexing_lag = indexing_lag
        self._log_lock = threading.Lock()
        self._calls: list[dict[str, Any]] = []
        self.observers: list[Callable[[dict[str, Any], Response], None]] = []

    # ----------------------------------------------------------------- bookkeeping
    def calls(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return [dict(call) for call in self._calls]

    def stats(self) -> dict[str, Any]:
        """Counts of requests per endpoint template, per HTTP status and per rate pool."""
        with self._log_lock:
            endpoints: dict[str, int] = {}
            statuses: dict[str, int] = {}
            for call in self._calls:
                endpoints[call["endpoint"]] = endpoints.get(call["endpoint"], 0) + 1
                statuses[str(call["status"])] = statuses.get(str(call["status"]), 0) + 1
            total = len(self._calls)
        return {"total": total, "endpoints": endpoints, "statuses": statuses, "pools": self.pools.stats(self.clock())}

    def reset_stats(self, rate_windows: bool = True) -> None:
        with self._log_lock:
            self._calls.clear()
        self.pools.reset(windows=rate_windows)

    def _record(self, request: Request, endpoint: str, pool: str | None, status: int, principal: str | None,
                response: Response | None = None) -> None:
        """Log the call (SIEM answers with their number of events) and show it to the observers."""
        call = {
            "time": format_ms(self.clock()),
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "endpoint": endpoint,
            "pool": pool,
            "status": status,
            "principal": principal,
            "events": response.events if response is not None else None,
        }
        with self._log_lock:
            self._calls.append(call)
        if response is not None:
            for observer in self.observers:
                observer(dict(call), response)

    # ----------------------------------------------------------------- dispatch
    def _route(self, path: str) -> tuple[Route | None, str]:
        if path in ENDPOINT_ARRAYS:
            pool = "siem_clicks_permitted" if path == "/v2/siem/clicks/permitted" else "siem"
            return Route(path, pool, "GET", self._siem), ""
        if path.startswith("/v2/threat/summary/") and path.count("/") == 4:
            return Route("/v2/threat/summary/{threatId}", "threat_summary", "GET", self._threat), path.rsplit("/", 1)[1]
        if path == "/v2/campaign/ids":
            return Route(path, "campaign_ids", "GET", self._campaign_ids), ""
        if path.startswith("/v2/campaign/") and path.count("/") == 3:
            return Route("/v2/campaign/{campaignId}", "campaign", "GET", self._campaign), path.rsplit("/", 1)[1]
        if path == "/v2/forensics":
            return Route(path, "forensics", "GET", self._forensics), ""
        if path == "/v2/people/vap":
            return Route(path, "people_vap", "GET", self._people), "vap"
        if path == "/v2/people/top-clickers":
            return Route(path, "people_top_clickers", "GET", self._people), "topClickers"
        if path == "/v2/url/decode":
            return Route(path, "url_decode", "POST", self._url_decode, anonymous_ok=True), ""
        return None, ""

    def _authenticate(self, headers: Headers) -> tuple[bool, str | None]:
        """(present, principal-if-valid).  Constant-time comparison of the secret."""
        header = headers.get("Authorization")
        if not header:
            return False, None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return True, None
        try:
            principal, sep, secret = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return True, None
        expected = self.credentials.get(principal)
        if not sep or expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
            return True, None
        return True, principal

    def handle(self, request: Request) -> Response:
        route, arg = self._route(request.path)
        if route is None:
            self._record(request, "(unknown)", None, 404, None)
            return text_response("Not Found", 404)
        if request.method != route.method:
            self._record(request, route.endpoint, None, 405, None)
            response = text_response("Method Not Allowed", 405)
            response.headers["Allow"] = route.method
            return response
        present, principal = self._authenticate(request.headers)
        if principal is None and (present or not route.anonymous_ok):
            self._record(request, route.endpoint, None, 401, None)
            return text_response("The request could not be authenticated.", 401)
        if not self.pools.charge(route.pool, self.clock()):
            self._record(request, route.endpoint, route.pool, 429, principal)
            return text_response(THROTTLED_TEXT, 429)
        delay = 0.0
        fault = self.faults.take(request.path)
        if fault is not None:
            if fault.status is not None:
                self._record(request, route.endpoint, route.pool, fault.status, principal)
                body = fault.render_body(request.headers.get)
                if body is None:
                    body = DEFAULT_BODIES.get(fault.status, "Injected fault")
                response = text_response(body, fault.status)
                if fault.content_type:
                    response.content_type = fault.content_type
                response.delay = fault.delay
                return response
            delay = fault.delay
        if delay:
            time.sleep(delay)
        try:
            params = urllib.parse.parse_qs(request.query, keep_blank_values=True)
            response = route.handler(request, params, arg, principal is not None)
        except ApiError as exc:
            response = exc.response()
        self._record(request, route.endpoint, route.pool, response.status, principal, response)
        return response

    # ----------------------------------------------------------------- SIEM
    def _siem(self, request: Request, params: dict[str, list[str]], _arg: str, _auth: bool) -> Response:
        now = self.clock()
        query = parse_siem_query(params, now)
        arrays = self.state.select_events(
            ENDPOINT_ARRAYS[request.path],
            query.start,
            query.end,
            set(query.statuses),
            set(query.threat_types) if query.threat_types else None,
            now - self.indexing_lag,
            indexed_by=now,
        )
        count = sum(len(events) for events in arrays.values())
        if query.fmt == "json":
            return Response(200, render_json(query.end, arrays), "application/json", events=count)
        return Response(200, render_syslog(arrays, now), "text/plain; charset=utf-8", events=count)

    # ----------------------------------------------------------------- Threat / Campaign
    @staticmethod
    def _checked_id(raw: str, what: str) -> str:
        value = urllib.parse.unquote(raw)
        if not _ID_RE.match(value):
            raise ApiError(400, f"Invalid {what}")
        return value

    @staticmethod
    def _no_params(params: dict[str, list[str]]) -> None:
        if params:
            raise ApiError(400, f"Unknown parameter: {sorted(params)[0]}")

    def _threat(self, _req: Request, params: dict[str, list[str]], arg: str, _auth: bool) -> Response:
        self._no_params(params)
        threat_id = self._checked_id(arg, "threatId")
        summary = self.state.threat_summary(threat_id)
        if summary is None:
            raise ApiError(404, "threatId not found")
        return json_response(summary)

    def _campaign(self, _req: Request, params: dict[str, list[str]], arg: str, _auth: bool) -> Response:
        self._no_params(params)
        campaign_id = self._checked_id(arg, "campaignId")
        details = self.state.campaign(campaign_id)
        if details is None:
            raise ApiError(404, "campaignId not found")
        return json_response(details)

    @staticmethod
    def _int_param(params: dict[str, list[str]], name: str, default: int, low: int, high: int | None) -> int:
        values = params.get(name)
        if values is None:
            return default
        if len(values) != 1 or not values[0].isdigit():
            raise ApiError(400, f"The {name} parameter must be a whole number")
        value = int(values[0])
        if value < low or (high is not None and value > high):
            limit = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ApiError(400, f"The {name} parameter must be {limit}")
        return value

    @staticmethod
    def _allow_params(params: dict[str, list[str]], allowed: set[str]) -> None:
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise ApiError(400, f"Unknown parameter: {unknown[0]}")

    def _campaign_ids(self, _req: Request, params: dict[str, list[str]], _arg: str, _auth: bool) -> Response:
        self._allow_params(params, {"interval", "page", "size"})
        values = params.get("interval")
        if not values or len(values) != 1 or not values[0]:
            raise ApiError(400, "The interval parameter is required")
        try:
            start, end = parse_interval(values[0])
        except ValueError as exc:
            raise ApiError(400, f"The interval parameter is not a valid ISO-8601 interval: {exc}") from exc
        if end < start:
            raise ApiError(400, "")
        if end - start > _MAX_CAMPAIGN_INTERVAL:
            raise ApiError(400, "The requested interval is too long. Requests must be for at most 1.00d of data")
        page = self._int_param(params, "page", 1, 1, None)
        size = self._int_param(params, "size", 100, 1, 200)
        campaigns = self.state.campaign_ids(start, end)[(page - 1) * size : page * size]
        if not campaigns:
            raise ApiError(404, "No campaigns found in the requested interval")
        return json_response({"campaigns": campaigns})

    # ----------------------------------------------------------------- Forensics
    def _forensics(self, _req: Request, params: dict[str, list[str]], _arg: str, _auth: bool) -> Response:
        self._allow_params(params, {"threatId", "campaignId", "includeCampaignForensics"})
        for name, values in params.items():
            if len(values) != 1 or not values[0]:
                raise ApiError(400, f"The {name} parameter must be given once, with a value")
        threat_id = params.get("threatId", [None])[0]
        campaign_id = params.get("campaignId", [None])[0]
        include = params.get("includeCampaignForensics", [None])[0]
        if (threat_id is None) == (campaign_id is None):
            raise ApiError(400, "Exactly one of the threatId or campaignId parameters is required")
        if include is not None and (campaign_id is not None or include not in ("true", "false")):
            raise ApiError(400, "includeCampaignForensics must be true or false and needs threatId")
        if threat_id is not None:
            checked = self._checked_id(threat_id, "threatId")
            reports = self.state.forensics_for_threat(checked, include == "true")
            missing = "threatId not found"
        else:
            checked = self._checked_id(str(campaign_id), "campaignId")
            reports = self.state.forensics_for_campaign(checked)
            missing = "campaignId not found"
        if reports is None:
            raise ApiError(404, missing)
        return json_response({"generated": format_ms(self.clock()), "reports": reports})

    # ----------------------------------------------------------------- People
    def _people(self, _req: Request, params: dict[str, list[str]], kind: str, _auth: bool) -> Response:
        self._allow_params(params, {"window", "size", "page"})
        windows = params.get("window")
        if not windows or len(windows) != 1 or windows[0] not in ("14", "30", "90"):
            raise ApiError(400, "The window parameter must be one of 14, 30 or 90")
        size = self._int_param(params, "size", 100, 1, 200 if kind == "topClickers" else None)
        page = self._int_param(params, "page", 1, 1, None)
        return json_response(self.state.people(kind, int(windows[0]), size, page, self.clock()))

    # ----------------------------------------------------------------- URL decoder
    def _url_decode(self, request: Request, params: dict[str, list[str]], _arg: str, authed: bool) -> Response:
        self._no_params(params)
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise ApiError(415, "Content-Type must be application/json")
        try:
            payload = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, f"The request body is not valid JSON: {exc}") from exc
        urls = payload.get("urls") if isinstance(payload, dict) else None
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise ApiError(400, "The request body must be {\"urls\": [<string>, ...]} with at least one URL")
        results = []
        for url in urls:
            outcome = decode_url(url)
            item: dict[str, Any] = {"encodedUrl": url}
            if outcome.success:
                item["decodedUrl"] = outcome.decoded
                item["success"] = True
                if authed:
                    context = self.state.url_context.get(url, {})
                    item["messageGuid"] = context.get("messageGuid")
                    item["clusterName"] = context.get("clusterName", self.state.cluster_name)
                    item["recipientEmail"] = context.get("recipientEmail")
            else:
                item["success"] = False
                item["error"] = outcome.error
            results.append(item)
        return json_response({"urls": results})
