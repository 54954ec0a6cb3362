"""SOAR's REST API under ``/rest``, the read-only HTML view under ``/ui/`` and the emulator's own test
controls under ``/_emulator`` (fault injection, call counts, broker status), as routes over the
:class:`~sim.soar.core.Soar` facade. Requests and responses are :mod:`sim.soar.http`'s.

Every ``/rest`` and ``/_emulator`` call needs HTTP Basic with an API key id and secret of the org (wrong
or missing: 401); a ``/rest`` call the key has no permission for answers SOAR's 403
(:mod:`sim.soar.permissions`). ``/ui/`` is served without authentication (read-only, loopback only).
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sim.soar import permissions
from sim.soar.broker import Broker
from sim.soar.core import Soar
from sim.soar.errors import SoarError, bad_request, not_found
from sim.soar.faults import Faults
from sim.soar.http import Request, Response
from sim.soar.importer import Importer
from sim.soar.query import query_records
from sim.soar.ui import render_ui

LOG = logging.getLogger("sim.soar.rest")


def call_pattern(method: str, path: str) -> str:
    path = re.sub(r"/[0-9]+(?=/|$)", "/{id}", path)
    return f"{method} {path}"


ROUTES: list[tuple[str, re.Pattern, str]] = []


def route(method: str, pattern: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        ROUTES.append((method, re.compile("^" + pattern + "$"), fn.__name__))
        return fn
    return deco


class RestApi:
    """Maps requests to the facade. Paths below are relative to ``/rest/orgs/{org_id}``."""

    def __init__(self, soar: Soar, importer: Importer, broker: Broker, faults: Faults) -> None:
        self.soar = soar
        self.importer = importer
        self.broker = broker
        self.faults = faults
        self.calls: Counter[str] = Counter()
        self.path_calls: Counter[str] = Counter()  # by exact path: which incident each call touched
        self.refusals: list[dict[str, Any]] = []
        self.calls_lock = threading.Lock()

    # -- dispatch ---------------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        with self.calls_lock:
            self.calls[call_pattern(req.method, req.path)] += 1
            if not req.path.startswith("/_emulator"):
                self.path_calls[f"{req.method} {req.path}"] += 1
        if req.path == "/ui" or req.path.startswith("/ui/"):
            return render_ui(self.soar, req)
        fault = None if req.path.startswith("/_emulator") else self.faults.match(req.method, req.path)
        if fault is not None and not fault["apply"]:
            if fault["hang_seconds"]:
                time.sleep(fault["hang_seconds"])
            failed = self._fault_answer(fault)
            if failed is not None:
                return failed
        answer = self._answer(req)
        if fault is not None and fault["apply"]:  # the request landed; the client is told otherwise
            if fault["hang_seconds"]:
                time.sleep(fault["hang_seconds"])
            failed = self._fault_answer(fault)
            if failed is not None:
                failed.after_send = answer.after_send  # the write landed: its automatic rules still run
                return failed
        return answer

    @staticmethod
    def _fault_answer(fault: dict) -> Response | None:
        if fault["drop"]:
            return Response.dropped()
        if fault["status"] is None:
            return None
        body = fault["body"] if fault["body"] is not None else {
            "success": False, "title": None, "hints": [], "error_code": "injectedFault",
            "message": f"injected fault {fault['id']} (HTTP {fault['status']})"}
        return Response(fault["status"], body)

    def _answer(self, req: Request) -> Response:
        key = self._authorized(req)
        if key is None:
            return Response(401, {"success": False, "title": None, "hints": [], "error_code": "unauthorized",
                                  "message": "Unauthorized: a valid API key id and secret are required"},
                            headers={"WWW-Authenticate": 'Basic realm="SOAR emulator"'})
        req.key = key
        automation = self.soar.automation
        with automation.deferring() as changed:
            try:
                resp = self._route(req)
            except SoarError as err:
                resp = Response(err.status, err.body())
            except Exception as exc:
                LOG.exception("unhandled error on %s %s", req.method, req.path)
                resp = Response(500, {"success": False, "title": None, "hints": [], "error_code": "internal",
                                      "message": f"emulator error: {exc}"})
        # automatic rules fired by this call are evaluated once its response is written (as in SOAR)
        resp.after_send = lambda: automation.release(changed)
        return resp

    def _authorized(self, req: Request) -> dict[str, Any] | None:
        """The API key of the request's HTTP Basic credentials, or None."""
        header = req.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            key_id, _, secret = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return self.soar.org.key_for(key_id, secret)

    def _permitted(self, req: Request, route_name: str) -> bool:
        """Whether the request's key holds what the route needs (:mod:`sim.soar.permissions`); a refusal
        is logged and kept for ``GET /_emulator/refusals``."""
        if route_name.startswith("emu_"):
            return True  # the emulator's own controls: any key of the org
        key = req.key
        lacking = permissions.missing(self.soar.org.granted(key), permissions.required(route_name, req.raw))
        if not lacking:
            return True
        needed = [" or ".join(need) for need in lacking]
        LOG.info("403 %s %s: key %r lacks %s", req.method, req.path, key["name"], ", ".join(needed))
        with self.calls_lock:
            self.refusals.append({"method": req.method, "path": req.path, "route": route_name,
                                  "key": key["name"], "missing": needed, "time": time.time()})
        return False

    def _route(self, req: Request) -> Response:
        path = req.path
        if path.startswith("/rest/orgs/"):
            rest = path[len("/rest/orgs/"):]
            org, _, sub = rest.partition("/")
            if org != str(self.soar.org.org_id):
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
                if not self._permitted(req, name):
                    return Response(403, dict(permissions.FORBIDDEN_BODY))
                result = getattr(self, name)(req)
                return result if isinstance(result, Response) else Response(200, result)
        if allowed:
            raise SoarError(405, f"{req.method} is not allowed on {req.path} (allowed: {', '.join(allowed)})")
        raise not_found(f"No such resource: {req.path}")

    # -- absolute -------------------------------------------------------------------------------------
    @route("GET", "/session")
    def abs_session(self, req: Request) -> Any:
        return self.soar.org.session(req.key)

    @route("DELETE", "/session")
    def abs_session_delete(self, req: Request) -> Any:
        return Response(204)

    @route("GET", "/const")
    def abs_const(self, req: Request) -> Any:
        return self.soar.org.const()

    # -- org ------------------------------------------------------------------------------------------
    @route("GET", "")
    def org_get(self, req: Request) -> Any:
        return self.soar.org.org()

    @route("GET", "/types")
    def org_types(self, req: Request) -> Any:
        return self.soar.registry.types()

    @route("GET", r"/types/([^/]+)")
    def org_type(self, req: Request) -> Any:
        return self.soar.registry.type_named(req.arg(1))

    @route("GET", r"/types/([^/]+)/fields")
    def org_type_fields(self, req: Request) -> Any:
        name = req.arg(1)
        if name in ("incident", "actioninvocation", "__function"):
            return self.soar.registry.fields_of(name)
        return list(self.soar.registry.type_named(name)["fields"].values())

    @route("GET", r"/types/([^/]+)/fields/([^/]+)")
    def org_type_field(self, req: Request) -> Any:
        for fd in self.org_type_fields(req):
            if str(fd.get("id")) == req.arg(2) or fd.get("name") == req.arg(2):
                return fd
        raise not_found(f"Field '{req.arg(2)}' not found in type '{req.arg(1)}'")

    @route("GET", "/actions")
    def org_actions(self, req: Request) -> Any:
        return {"entities": self.soar.registry.rules(names=req.names)}

    @route("GET", r"/actions/([^/]+)")
    def org_action(self, req: Request) -> Any:
        rule = self.soar.registry.rule(req.arg(1))
        if rule is None:
            raise not_found(f"Action {req.arg(1)} not found")
        return self.soar.registry.render_rule(rule, req.names)

    @route("GET", "/connectors/queues")
    def org_connector_queues(self, req: Request) -> Any:
        return {"queues": [], "org_id": self.soar.org.org_id}

    @route("GET", "/functions")
    def org_functions(self, req: Request) -> Any:
        return {"entities": self.soar.registry.functions()}

    @route("GET", r"/functions/([^/]+)")
    def org_function(self, req: Request) -> Any:
        return self.soar.registry.function(req.arg(1))

    @route("GET", "/message_destinations")
    def org_destinations(self, req: Request) -> Any:
        return {"entities": self.soar.registry.destinations()}

    @route("GET", r"/message_destinations/([^/]+)")
    def org_destination(self, req: Request) -> Any:
        dest = self.soar.registry.destination(req.arg(1))
        if dest is None:
            raise not_found(f"Message destination {req.arg(1)} not found")
        return dest

    @route("PUT", r"/message_destinations/([0-9]+)")
    def org_destination_put(self, req: Request) -> Any:
        return self.soar.registry.update_destination(int(req.arg(1)), req.json())

    @route("GET", "/workflows")
    def org_workflows(self, req: Request) -> Any:
        return {"entities": self.soar.registry.workflows()}

    @route("GET", "/scripts")
    def org_scripts(self, req: Request) -> Any:
        return {"entities": self.soar.registry.scripts()}

    @route("POST", "/configurations/imports")
    def org_import_post(self, req: Request) -> Any:
        return self.importer.create(req.json())

    @route("GET", r"/configurations/imports/([0-9]+)")
    def org_import_get(self, req: Request) -> Any:
        return self.importer.get(int(req.arg(1)))

    @route("PUT", r"/configurations/imports/([0-9]+)")
    def org_import_put(self, req: Request) -> Any:
        return self.importer.update(int(req.arg(1)), req.json())

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
        return self.soar.list_notes(req.arg(1))

    @route("POST", r"/incidents/([0-9]+)/comments")
    def org_note_post(self, req: Request) -> Any:
        return self.soar.add_note(req.arg(1), req.json())

    @route("GET", r"/incidents/([0-9]+)/artifacts")
    def org_artifacts(self, req: Request) -> Any:
        return self.soar.list_artifacts(req.arg(1), req.names)

    @route("POST", r"/incidents/([0-9]+)/artifacts")
    def org_artifact_post(self, req: Request) -> Any:
        return self.soar.add_artifact(req.arg(1), req.json(), req.names)

    @route("POST", r"/incidents/([0-9]+)/artifacts/query_paged")
    def org_artifact_query(self, req: Request) -> Any:
        data = self.soar.list_artifacts(req.arg(1), req.names)
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
        self.soar.invoke_action(req.arg(1), body["action_id"], body.get("properties"),
                                type_id_handle=body.get("type_id_handle"))
        return Response(204)

    @route("POST", r"/incidents/([0-9]+)/artifacts/([0-9]+)/action_invocations")
    def org_artifact_action(self, req: Request) -> Any:
        body = req.json()
        if not isinstance(body, dict) or "action_id" not in body:
            raise bad_request("an action invocation needs 'action_id'")
        self.soar.invoke_action(req.arg(1), body["action_id"], body.get("properties"), artifact_id=req.arg(2),
                                type_id_handle=body.get("type_id_handle"))
        return Response(204)

    @route("GET", r"/incidents/([0-9]+)/attachments")
    def org_attachments(self, req: Request) -> Any:
        return self.soar.list_attachments(req.arg(1))

    @route("POST", r"/incidents/([0-9]+)/attachments")
    def org_attachment_post(self, req: Request) -> Any:
        ctype = req.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            raise bad_request("an attachment is uploaded as multipart/form-data with a 'file' part")
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + req.raw)
        for part in msg.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                payload = part.get_payload(decode=True)
                data = payload if isinstance(payload, bytes) else b""
                return self.soar.add_attachment(req.arg(1), part.get_filename() or "", part.get_content_type(),
                                                data)
        raise bad_request("the multipart body has no 'file' part")

    @route("GET", r"/incidents/([0-9]+)/attachments/([0-9]+)")
    def org_attachment_get(self, req: Request) -> Any:
        return self.soar.get_attachment(req.arg(1), req.arg(2))

    @route("GET", r"/incidents/([0-9]+)/attachments/([0-9]+)/contents")
    def org_attachment_contents(self, req: Request) -> Any:
        ctype, data = self.soar.attachment_contents(req.arg(1), req.arg(2))
        return Response(200, data, content_type=ctype)

    @route("GET", r"/incidents/([0-9]+)/table_data/([^/]+)")
    def org_table(self, req: Request) -> Any:
        return self.soar.table_data(req.arg(1), req.arg(2), req.names)

    @route("POST", r"/incidents/([0-9]+)/table_data/([^/]+)/row_data")
    def org_row_post(self, req: Request) -> Any:
        return self.soar.add_row(req.arg(1), req.arg(2), req.json(), req.names)

    @route("GET", r"/incidents/([0-9]+)/table_data/([^/]+)/row_data/([0-9]+)")
    def org_row_get(self, req: Request) -> Any:
        return self.soar.get_row(req.arg(1), req.arg(2), req.arg(3), req.names)

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
        return {"entities": self.soar.list_instances(inc_id=req.arg(1))}

    @route("GET", "/workflow_instances")
    def org_instances(self, req: Request) -> Any:
        inc = req.query.get("incident_id") or req.query.get("object_id")
        return {"entities": self.soar.list_instances(inc_id=inc, status=req.query.get("status"))}

    @route("GET", r"/workflow_instances/([0-9]+)")
    def org_instance(self, req: Request) -> Any:
        return self.soar.get_instance(int(req.arg(1)))

    # playbooks: listed by a paged query (there is no GET collection), one read by id (IBM's fn_utilities and
    # fn_scheduler read them so); runs by ``/playbooks/execution/query_paged`` (fn_utilities)
    @route("POST", "/playbooks/query_paged")
    def org_playbooks_query(self, req: Request) -> Any:
        full = req.query.get("return_level") == "full"
        docs = [p if full else _playbook_summary(p) for p in self.soar.registry.playbooks()]
        return query_records(req.json(), [dict(d) for d in docs], PLAYBOOK_QUERY_FIELDS)

    @route("GET", r"/playbooks/([^/]+)")
    def org_playbook(self, req: Request) -> Any:
        pb = self.soar.registry.playbook(req.arg(1))
        if pb is None:
            raise not_found(f"Playbook {req.arg(1)} not found")
        return pb

    @route("POST", "/playbooks/execution/query_paged")
    def org_playbook_executions(self, req: Request) -> Any:
        return query_records(req.json(), self.soar.list_playbook_instances(), EXECUTION_FIELDS)

    @route("GET", "/layouts")
    def org_layouts(self, req: Request) -> Any:
        return self.soar.layouts.of_type(req.query.get("type"))

    @route("GET", r"/layouts/([0-9]+)")
    def org_layout(self, req: Request) -> Any:
        return self.soar.layouts.get(req.arg(1))

    @route("PUT", r"/layouts/([0-9]+)")
    def org_layout_put(self, req: Request) -> Any:
        return self.soar.layouts.update(req.arg(1), req.json())

    @route("GET", "/users")
    def org_users(self, req: Request) -> Any:
        return self.soar.org.users()

    @route("GET", "/groups")
    def org_groups(self, req: Request) -> Any:
        return self.soar.org.groups()

    # -- emulator controls ----------------------------------------------------------------------------
    @route("GET", "/health")
    def emu_health(self, req: Request) -> Any:
        return {"ok": True, "stomp_port": self.broker.port, "org_id": self.soar.org.org_id}

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
        """Calls per pattern (ids replaced by ``{id}``) since the last reset; ``?detail=paths``: per exact path
        (without the emulator's own), so a benchmark can tell which incident each call touched."""
        with self.calls_lock:
            return dict(self.path_calls if req.query.get("detail") == "paths" else self.calls)

    @route("POST", "/reset-calls")
    def emu_reset_calls(self, req: Request) -> Any:
        with self.calls_lock:
            self.calls.clear()
            self.path_calls.clear()
            self.refusals.clear()
        return Response(204)

    @route("GET", "/refusals")
    def emu_refusals(self, req: Request) -> Any:
        """Every 403 answered so far: method, path, route, key name and the permissions it lacked."""
        with self.calls_lock:
            return list(self.refusals)

    @route("GET", "/stomp")
    def emu_stomp(self, req: Request) -> Any:
        return self.broker.status()

    @route("POST", r"/playbooks/([^/]+)/status")
    def emu_playbook_status(self, req: Request) -> Any:
        """The toggle of SOAR's playbook list (what SOAR's UI calls for it is not published)."""
        return self.soar.set_playbook_status(req.arg(1), str((req.json() or {}).get("status")))

    @route("POST", r"/rules/([^/]+)/enabled")
    def emu_rule_enabled(self, req: Request) -> Any:
        """The toggle of SOAR's Rules list (what SOAR's UI calls for it is not published)."""
        enabled = (req.json() or {}).get("enabled")
        if not isinstance(enabled, bool):
            raise bad_request(f"'enabled' must be true or false, not {enabled!r}")
        return self.soar.set_rule_enabled(req.arg(1), enabled)

    @route("POST", "/invoke")
    def emu_invoke(self, req: Request) -> Any:
        body = req.json()
        return self.soar.invoke_function(body.get("function"), body.get("inputs") or {},
                                         incident_id=body.get("incident_id"), timeout=body.get("timeout"))


def _playbook_summary(pb: dict[str, Any]) -> dict[str, Any]:
    """A row of the playbook query at the normal return level: the playbook without its content and scripts."""
    return {k: v for k, v in pb.items() if k not in ("content", "local_scripts", "fields_type")}


def _getter(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda doc: doc.get(name)


PLAYBOOK_QUERY_FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    name: _getter(name)
    for name in ("id", "name", "display_name", "uuid", "status", "activation_type", "object_type", "type")}
EXECUTION_FIELDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "id": lambda r: r.get("id"), "incident_id": lambda r: r.get("incident_id"), "status": lambda r: r.get("status"),
    "object_id": lambda r: (r.get("object") or {}).get("id"),
    "playbook_id": lambda r: (r.get("playbook") or {}).get("id"),
    "playbook_name": lambda r: (r.get("playbook") or {}).get("name")}
