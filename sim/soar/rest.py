"""The HTTPS server: SOAR's REST API under ``/rest``, the read-only HTML view under ``/ui/`` and the
emulator's own test controls under ``/_emulator`` (fault injection, call counts, broker status).

Every ``/rest`` and ``/_emulator`` call needs HTTP Basic with the API key id and secret (wrong or
missing: 401). ``/ui/`` is served without authentication (read-only, loopback only).
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import logging
import re
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from sim.soar.errors import SoarError, bad_request, not_found

if TYPE_CHECKING:
    from sim.soar.server import Emulator

LOG = logging.getLogger("sim.soar.rest")


class Faults:
    """Injected failures: ``{"method", "path_regex", "status", "times", "after", "hang_seconds", "body"}``.

    A matching request first waits ``hang_seconds`` (if any), then answers ``status`` with a SOAR-shaped
    error body (if a status is given) or is processed normally; ``after`` lets that many matching
    requests through first (a failure on the 37th of 100 creates), ``times`` bounds how often the fault
    fires (omitted or null: always)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[dict] = []

    def add(self, spec: dict) -> dict:
        if not isinstance(spec, dict) or not spec.get("path_regex"):
            raise bad_request("a fault needs 'path_regex'")
        try:
            re.compile(spec["path_regex"])
        except re.error as exc:
            raise bad_request(f"bad path_regex: {exc}") from None
        status = spec.get("status")
        if status is not None and not (isinstance(status, int) and 100 <= status <= 599):
            raise bad_request("'status' must be an HTTP status code")
        fault = {"id": len(self.items) + 1, "method": (spec.get("method") or "*").upper(),
                 "path_regex": spec["path_regex"], "status": status, "times": spec.get("times"),
                 "hang_seconds": float(spec.get("hang_seconds") or 0), "body": spec.get("body"), "fired": 0,
                 "after": int(spec.get("after") or 0), "passed": 0}
        with self.lock:
            self.items.append(fault)
        return fault

    def clear(self) -> None:
        with self.lock:
            self.items.clear()

    def match(self, method: str, path: str) -> dict | None:
        with self.lock:
            for fault in self.items:
                if fault["method"] not in ("*", method):
                    continue
                if not re.search(fault["path_regex"], path):
                    continue
                if fault["times"] is not None and fault["fired"] >= fault["times"]:
                    continue
                if fault["passed"] < fault["after"]:
                    fault["passed"] += 1
                    continue
                fault["fired"] += 1
                return dict(fault)
        return None


def call_pattern(method: str, path: str) -> str:
    path = re.sub(r"/[0-9]+(?=/|$)", "/{id}", path)
    return f"{method} {path}"


class Response:
    def __init__(self, status: int = 200, body: Any = None, content_type: str = "application/json",
                 headers: dict | None = None) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or {}

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")


class Request:
    def __init__(self, method: str, path: str, query: dict[str, str], headers: Any, raw: bytes) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.raw = raw
        self.match: re.Match | None = None

    @property
    def names(self) -> bool:
        return self.query.get("handle_format") == "names" or self.headers.get("handle_format") == "names"

    def json(self) -> Any:
        if not self.raw:
            raise bad_request("a JSON body is required")
        try:
            return json.loads(self.raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"the body is not valid JSON: {exc}") from None

    def arg(self, index: int) -> str:
        assert self.match is not None
        return urllib.parse.unquote(self.match.group(index))


ROUTES: list[tuple[str, re.Pattern, str]] = []


def route(method: str, pattern: str) -> Any:
    def deco(fn: Any) -> Any:
        ROUTES.append((method, re.compile("^" + pattern + "$"), fn.__name__))
        return fn
    return deco


class RestApi:
    """Maps requests to the core. Paths below are relative to ``/rest/orgs/{org_id}``."""

    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator
        self.soar = emulator.soar
        self.faults = Faults()
        self.calls: Counter[str] = Counter()
        self.calls_lock = threading.Lock()

    # -- dispatch ---------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        with self.calls_lock:
            self.calls[call_pattern(req.method, req.path)] += 1
        if req.path == "/ui" or req.path.startswith("/ui/"):
            from sim.soar.ui import render_ui

            return render_ui(self.emu, req)
        if not req.path.startswith("/_emulator"):
            fault = self.faults.match(req.method, req.path)
            if fault:
                if fault["hang_seconds"]:
                    time.sleep(fault["hang_seconds"])
                if fault["status"] is not None:
                    body = fault["body"] if fault["body"] is not None else {
                        "success": False, "title": None, "hints": [], "error_code": "injectedFault",
                        "message": f"injected fault {fault['id']} (HTTP {fault['status']})"}
                    return Response(fault["status"], body)
        if not self._authorized(req):
            return Response(401, {"success": False, "title": None, "hints": [], "error_code": "unauthorized",
                                  "message": "Unauthorized: a valid API key id and secret are required"},
                            headers={"WWW-Authenticate": 'Basic realm="SOAR emulator"'})
        try:
            return self._route(req)
        except SoarError as err:
            return Response(err.status, err.body())
        except Exception as exc:
            LOG.exception("unhandled error on %s %s", req.method, req.path)
            return Response(500, {"success": False, "title": None, "hints": [], "error_code": "internal",
                                  "message": f"emulator error: {exc}"})

    def _authorized(self, req: Request) -> bool:
        header = req.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            key_id, _, secret = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return self.soar.check_api_key(key_id, secret)

    def _route(self, req: Request) -> Response:
        path = req.path
        if path.startswith("/rest/orgs/"):
            rest = path[len("/rest/orgs/"):]
            org, _, sub = rest.partition("/")
            if org != str(self.soar.org_id):
                raise SoarError(403, f"You are not a member of organization '{org}'", error_code="forbidden")
            path = "/" + sub if sub else ""
            space = "org"
        elif path.startswith("/rest/"):
            path = path[len("/rest"):]
            space = "abs"
        elif path.startswith("/_emulator"):
            path = path[len("/_emulator"):]
            space = "emu"
        else:
            raise not_found(f"No such resource: {req.path}")
        allowed = []
        for method, pattern, name in ROUTES:
            if not name.startswith(space + "_"):
                continue
            m = pattern.match(path)
            if m:
                if method != req.method:
                    allowed.append(method)
                    continue
                req.match = m
                result = getattr(self, name)(req)
                return result if isinstance(result, Response) else Response(200, result)
        if allowed:
            raise SoarError(405, f"{req.method} is not allowed on {req.path} (allowed: {', '.join(allowed)})")
        raise not_found(f"No such resource: {req.path}")

    # -- absolute -------------------------------------------------------------------------------------
    @route("GET", "/session")
    def abs_session(self, req: Request) -> Any:
        return self.soar.session()

    @route("DELETE", "/session")
    def abs_session_delete(self, req: Request) -> Any:
        return Response(204)

    @route("GET", "/const")
    def abs_const(self, req: Request) -> Any:
        return self.soar.const()

    # -- org ------------------------------------------------------------------------------------------
    @route("GET", "")
    def org_get(self, req: Request) -> Any:
        return self.soar.org()

    @route("GET", "/types")
    def org_types(self, req: Request) -> Any:
        return self.soar.types()

    @route("GET", r"/types/([^/]+)")
    def org_type(self, req: Request) -> Any:
        return self.soar.type_named(req.arg(1))

    @route("GET", r"/types/([^/]+)/fields")
    def org_type_fields(self, req: Request) -> Any:
        name = req.arg(1)
        if name in ("incident", "actioninvocation", "__function"):
            return self.soar.fields_of(name)
        return list(self.soar.type_named(name)["fields"].values())

    @route("GET", r"/types/([^/]+)/fields/([^/]+)")
    def org_type_field(self, req: Request) -> Any:
        for fd in self.org_type_fields(req):
            if str(fd.get("id")) == req.arg(2) or fd.get("name") == req.arg(2):
                return fd
        raise not_found(f"Field '{req.arg(2)}' not found in type '{req.arg(1)}'")

    @route("GET", "/actions")
    def org_actions(self, req: Request) -> Any:
        return {"entities": self.soar.rules(names=req.names)}

    @route("GET", r"/actions/([^/]+)")
    def org_action(self, req: Request) -> Any:
        rule = self.soar.rule(req.arg(1))
        if rule is None:
            raise not_found(f"Action {req.arg(1)} not found")
        return self.soar.render_rule(rule, req.names)

    @route("GET", "/connectors/queues")
    def org_connector_queues(self, req: Request) -> Any:
        return {"queues": [], "org_id": self.soar.org_id}

    @route("GET", "/functions")
    def org_functions(self, req: Request) -> Any:
        return {"entities": self.soar.functions()}

    @route("GET", r"/functions/([^/]+)")
    def org_function(self, req: Request) -> Any:
        return self.soar.function(req.arg(1))

    @route("GET", "/message_destinations")
    def org_destinations(self, req: Request) -> Any:
        return {"entities": self.soar.destinations()}

    @route("GET", r"/message_destinations/([^/]+)")
    def org_destination(self, req: Request) -> Any:
        dest = self.soar.destination(req.arg(1))
        if dest is None:
            raise not_found(f"Message destination {req.arg(1)} not found")
        return dest

    @route("PUT", r"/message_destinations/([0-9]+)")
    def org_destination_put(self, req: Request) -> Any:
        return self.soar.update_destination(int(req.arg(1)), req.json())

    @route("GET", "/workflows")
    def org_workflows(self, req: Request) -> Any:
        return {"entities": self.soar.workflows()}

    @route("GET", "/scripts")
    def org_scripts(self, req: Request) -> Any:
        return {"entities": [self.soar._public_field(s) for s in self.soar.store.values("script")]}

    @route("POST", "/configurations/imports")
    def org_import_post(self, req: Request) -> Any:
        return self.emu.importer.create(req.json())

    @route("GET", r"/configurations/imports/([0-9]+)")
    def org_import_get(self, req: Request) -> Any:
        return self.emu.importer.get(int(req.arg(1)))

    @route("PUT", r"/configurations/imports/([0-9]+)")
    def org_import_put(self, req: Request) -> Any:
        return self.emu.importer.update(int(req.arg(1)), req.json())

    # incidents
    @route("GET", "/incidents")
    def org_incidents(self, req: Request) -> Any:
        return self.soar.list_incidents(req.names)

    @route("POST", "/incidents")
    def org_incident_post(self, req: Request) -> Any:
        return self.soar.create_incident(req.json(), req.names)

    @route("PUT", "/incidents/patch")
    def org_incident_bulk_patch(self, req: Request) -> Any:
        return self.soar.bulk_patch(req.json(), req.names)

    @route("POST", "/incidents/query_paged")
    def org_incident_query_paged(self, req: Request) -> Any:
        return self.soar.query_incidents(req.json(), req.names, req.query.get("return_level", "normal"))

    @route("POST", "/incidents/query")
    def org_incident_query(self, req: Request) -> Any:
        return self.soar.query_incidents(req.json(), req.names, req.query.get("return_level", "normal"),
                                         paged=False)

    @route("GET", r"/incidents/([0-9]+)")
    def org_incident_get(self, req: Request) -> Any:
        return self.soar.get_incident(req.arg(1), req.names)

    @route("PUT", r"/incidents/([0-9]+)")
    def org_incident_put(self, req: Request) -> Any:
        return self.soar.update_incident_put(req.arg(1), req.json(), req.names)

    @route("PATCH", r"/incidents/([0-9]+)")
    def org_incident_patch(self, req: Request) -> Any:
        return self.soar.patch_incident(req.arg(1), req.json(), req.names)

    @route("DELETE", r"/incidents/([0-9]+)")
    def org_incident_delete(self, req: Request) -> Any:
        self.soar.delete_incident(req.arg(1))
        return Response(204)

    @route("GET", r"/incidents/([0-9]+)/comments")
    def org_notes(self, req: Request) -> Any:
        return self.soar.notes(req.arg(1))

    @route("POST", r"/incidents/([0-9]+)/comments")
    def org_note_post(self, req: Request) -> Any:
        return self.soar.add_note(req.arg(1), req.json())

    @route("GET", r"/incidents/([0-9]+)/artifacts")
    def org_artifacts(self, req: Request) -> Any:
        return self.soar.artifacts(req.arg(1), req.names)

    @route("POST", r"/incidents/([0-9]+)/artifacts")
    def org_artifact_post(self, req: Request) -> Any:
        return self.soar.add_artifact(req.arg(1), req.json(), req.names)

    @route("POST", r"/incidents/([0-9]+)/artifacts/query_paged")
    def org_artifact_query(self, req: Request) -> Any:
        data = self.soar.artifacts(req.arg(1), req.names)
        return {"data": data, "recordsTotal": len(data), "recordsFiltered": len(data)}

    @route("GET", r"/incidents/([0-9]+)/artifacts/([0-9]+)")
    def org_artifact_get(self, req: Request) -> Any:
        return self.soar.get_artifact(req.arg(1), req.arg(2), req.names)

    @route("PUT", r"/incidents/([0-9]+)/artifacts/([0-9]+)")
    def org_artifact_put(self, req: Request) -> Any:
        return self.soar.update_artifact(req.arg(1), req.arg(2), req.json(), req.names)

    @route("POST", r"/incidents/([0-9]+)/action_invocations")
    def org_incident_action(self, req: Request) -> Any:
        body = req.json()
        if not isinstance(body, dict) or "action_id" not in body:
            raise bad_request("an action invocation needs 'action_id'")
        self.soar.invoke_action(req.arg(1), body["action_id"], body.get("properties"))
        return Response(204)

    @route("POST", r"/incidents/([0-9]+)/artifacts/([0-9]+)/action_invocations")
    def org_artifact_action(self, req: Request) -> Any:
        body = req.json()
        if not isinstance(body, dict) or "action_id" not in body:
            raise bad_request("an action invocation needs 'action_id'")
        self.soar.invoke_action(req.arg(1), body["action_id"], body.get("properties"), artifact_id=req.arg(2))
        return Response(204)

    @route("GET", r"/incidents/([0-9]+)/attachments")
    def org_attachments(self, req: Request) -> Any:
        return self.soar.attachments(req.arg(1))

    @route("POST", r"/incidents/([0-9]+)/attachments")
    def org_attachment_post(self, req: Request) -> Any:
        ctype = req.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            raise bad_request("an attachment is uploaded as multipart/form-data with a 'file' part")
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + req.raw)
        for part in msg.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                data = part.get_payload(decode=True) or b""
                return self.soar.add_attachment(req.arg(1), part.get_filename() or "", part.get_content_type(),
                                                data)
        raise bad_request("the multipart body has no 'file' part")

    @route("GET", r"/incidents/([0-9]+)/attachments/([0-9]+)")
    def org_attachment_get(self, req: Request) -> Any:
        return self.soar.attachment(req.arg(1), req.arg(2))

    @route("GET", r"/incidents/([0-9]+)/attachments/([0-9]+)/contents")
    def org_attachment_contents(self, req: Request) -> Any:
        ctype, data = self.soar.attachment(req.arg(1), req.arg(2), content=True)
        return Response(200, data, content_type=ctype)

    @route("GET", r"/incidents/([0-9]+)/table_data/([^/]+)")
    def org_table(self, req: Request) -> Any:
        return self.soar.table_data(req.arg(1), req.arg(2), req.names)

    @route("POST", r"/incidents/([0-9]+)/table_data/([^/]+)/row_data")
    def org_row_post(self, req: Request) -> Any:
        return self.soar.add_row(req.arg(1), req.arg(2), req.json(), req.names)

    @route("GET", r"/incidents/([0-9]+)/table_data/([^/]+)/row_data/([0-9]+)")
    def org_row_get(self, req: Request) -> Any:
        with self.soar.lock:
            return self.soar.render_row(self.soar._get_row(req.arg(1), req.arg(2), req.arg(3)), req.names)

    @route("PUT", r"/incidents/([0-9]+)/table_data/([^/]+)/row_data/([0-9]+)")
    def org_row_put(self, req: Request) -> Any:
        return self.soar.update_row(req.arg(1), req.arg(2), req.arg(3), req.json(), req.names)

    @route("DELETE", r"/incidents/([0-9]+)/table_data/([^/]+)/row_data/([0-9]+)")
    def org_row_delete(self, req: Request) -> Any:
        self.soar.delete_row(req.arg(1), req.arg(2), req.arg(3))
        return Response(204)

    @route("GET", r"/incidents/([0-9]+)/workflow_instances")
    def org_incident_instances(self, req: Request) -> Any:
        self.soar.get_incident(req.arg(1))
        return {"entities": self.soar.instances(inc_id=req.arg(1))}

    @route("GET", "/workflow_instances")
    def org_instances(self, req: Request) -> Any:
        inc = req.query.get("incident_id") or req.query.get("object_id")
        return {"entities": self.soar.instances(inc_id=inc, status=req.query.get("status"))}

    @route("GET", r"/workflow_instances/([0-9]+)")
    def org_instance(self, req: Request) -> Any:
        return self.soar.instance(int(req.arg(1)))

    @route("GET", "/users")
    def org_users(self, req: Request) -> Any:
        return self.soar.users()

    @route("GET", "/groups")
    def org_groups(self, req: Request) -> Any:
        return self.soar.groups()

    # -- emulator controls ----------------------------------------------------------------------------
    @route("GET", "/health")
    def emu_health(self, req: Request) -> Any:
        return {"ok": True, "stomp_port": self.emu.stomp_port, "org_id": self.soar.org_id}

    @route("POST", "/faults")
    def emu_fault_add(self, req: Request) -> Any:
        return self.faults.add(req.json())

    @route("DELETE", "/faults")
    def emu_fault_clear(self, req: Request) -> Any:
        self.faults.clear()
        return Response(204)

    @route("GET", "/faults")
    def emu_faults(self, req: Request) -> Any:
        return self.faults.items

    @route("GET", "/calls")
    def emu_calls(self, req: Request) -> Any:
        with self.calls_lock:
            return dict(self.calls)

    @route("POST", "/reset-calls")
    def emu_reset_calls(self, req: Request) -> Any:
        with self.calls_lock:
            self.calls.clear()
        return Response(204)

    @route("GET", "/stomp")
    def emu_stomp(self, req: Request) -> Any:
        return self.emu.broker.status()

    @route("POST", "/invoke")
    def emu_invoke(self, req: Request) -> Any:
        body = req.json()
        return self.emu.invoke_function(body.get("function"), body.get("inputs") or {},
                                        incident_id=body.get("incident_id"), timeout=body.get("timeout"))


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed-ACK stalls
    protocol_version = "HTTP/1.1"
    server_version = "SOAR-emulator/51.0"
    api: RestApi

    def log_message(self, fmt: str, *args: Any) -> None:
        LOG.debug("%s - %s", self.address_string(), fmt % args)

    def _serve(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        req = Request(self.command, parsed.path.rstrip("/") or "/", query, self.headers, raw)
        if parsed.path.startswith("/ui"):
            req.path = parsed.path
        resp = self.api.handle(req)
        payload = resp.payload()
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type + ("; charset=utf-8" if resp.content_type in
                                                              ("application/json", "text/html") else ""))
        self.send_header("Content-Length", str(len(payload)))
        for key, value in resp.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], handler: type, ssl_context: Any) -> None:
        super().__init__(addr, handler)
        self.ssl_context = ssl_context

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        sock.settimeout(60)
        return self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except OSError:
            return
        super().finish_request(request, client_address)


def make_server(api: RestApi, host: str, port: int, ssl_context: Any) -> TLSServer:
    handler = type("Handler", (_Handler,), {"api": api})
    return TLSServer((host, port), handler, ssl_context)
