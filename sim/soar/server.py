"""The whole emulator in one object, and the composition root of its parts: it builds the state (store),
the org (the :class:`~sim.soar.core.Soar` facade), the importer, the STOMP broker and dispatcher, and
hands them to the REST layer and its HTTPS server. Nothing below imports this module."""

from __future__ import annotations

import configparser
import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from typing import Any

from sim.soar import builtins, certs
from sim.soar.broker import Broker
from sim.soar.core import Soar
from sim.soar.dispatch import Dispatcher
from sim.soar.faults import Faults
from sim.soar.http import TLSServer, make_server
from sim.soar.importer import Importer
from sim.soar.rest import RestApi
from sim.soar.store import Store

LOG = logging.getLogger("sim.soar")


class Emulator:
    """An emulated SOAR server: HTTPS REST + STOMP over TLS on loopback.

    ``state_path``: a SQLite file to keep state across restarts (None: memory only).
    ``cert_dir``: where the CA/server certificate and key are written (default: a fresh temp dir).
    ``no_subscriber_timeout``: how long an invocation waits for an app to subscribe before failing.
    ``function_timeout``: how long an invocation waits for the app's final reply.
    ``app_permissions``: what the app's API key may do (:func:`sim.soar.permissions.permission_set`: None
    the App Host base, a path an ``apikey_permissions.txt`` as App Host grants it, ``"all"`` every
    permission as an integration-server key with a broad role). The administrator's key may do everything.
    ``required_incident_fields``: custom incident fields of the org's own that every incident must have
    (:meth:`~sim.soar.importer.Importer.register_required_fields`): creating an incident without them is
    refused, as such an org refuses it.
    """

    def __init__(self, state_path: str | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 stomp_port: int = 0, org_name: str = builtins.DEFAULT_ORG_NAME, principals_file: str | None = None,
                 cert_dir: str | None = None, no_subscriber_timeout: float = 30.0, function_timeout: float = 600.0,
                 api_key_id: str | None = None, api_key_secret: str | None = None,
                 app_permissions: Iterable[str] | str | None = None,
                 required_incident_fields: list[dict | str] | None = None) -> None:
        self.host = host
        self.state_path = state_path
        self._req_port = port
        self._req_stomp_port = stomp_port
        self._tmp = None
        if cert_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="soar-emulator-")
            cert_dir = self._tmp.name
        self.cert_dir = cert_dir
        self.store = Store(state_path)
        self.soar = Soar(self.store, org_name=org_name, principals=builtins.load_principals(principals_file),
                         api_key_id=api_key_id, api_key_secret=api_key_secret, app_permissions=app_permissions)
        self.function_timeout = function_timeout
        self.importer = Importer(self.store, self.soar.lock, self.soar.org, self.soar.registry)
        if required_incident_fields:
            self.importer.register_required_fields(required_incident_fields)
        self.faults = Faults()
        self.no_subscriber_timeout = no_subscriber_timeout
        self.broker: Broker | None = None
        self.dispatcher: Dispatcher | None = None
        self.api: RestApi | None = None
        self.httpd: TLSServer | None = None
        self._http_thread: threading.Thread | None = None
        self.files: certs.CertFiles | None = None
        self.port = 0
        self.stomp_port = 0

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> Emulator:
        self.files = certs.generate(self.cert_dir, self.host)
        ctx = self.files.server_context()
        org = self.soar.org
        broker = Broker(ssl_context=self.files.broker_context(), host=self.host, port=self._req_stomp_port,
                        org_id=org.org_id,
                        authenticate=org.check_api_key, authorize_read=self.soar.registry.destination_authorized,
                        on_reply=lambda h, b: dispatcher.handle_reply(h, b))
        dispatcher = Dispatcher(broker, org.org_id, self.no_subscriber_timeout)
        self.broker, self.dispatcher = broker, dispatcher
        self.soar.connect(dispatcher, self.function_timeout)
        broker.start()
        self.stomp_port = broker.port
        self.api = RestApi(self.soar, self.importer, broker, self.faults)
        httpd = self.httpd = make_server(self.api.handle, self.host, self._req_port, ctx)
        self.port = httpd.server_address[1]
        self._http_thread = threading.Thread(target=httpd.serve_forever, name="soar-rest", daemon=True)
        self._http_thread.start()
        return self

    def stop(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.shutdown()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        self.soar.close()
        self.store.close()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- facts -----------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    @property
    def org_name(self) -> str:
        return self.soar.org.org_name

    @property
    def org_id(self) -> int:
        return self.soar.org.org_id

    @property
    def api_key_id(self) -> str:
        return str(self.soar.org.api_key["id"])

    @property
    def api_key_secret(self) -> str:
        return str(self.soar.org.api_key["secret"])

    @property
    def admin_key_id(self) -> str:
        return str(self.soar.org.admin_key["id"])

    @property
    def admin_key_secret(self) -> str:
        return str(self.soar.org.admin_key["secret"])

    @property
    def cafile(self) -> str:
        assert self.files is not None, "start() the emulator first"
        return self.files.ca_path

    def resilient_section(self, *, admin: bool = False) -> dict[str, str]:
        """The ``[resilient]`` settings for this emulator, with the app's key (or the administrator's)."""
        key = self.soar.org.admin_key if admin else self.soar.org.api_key
        return {"host": self.host, "port": str(self.port), "org": self.org_name, "api_key_id": str(key["id"]),
                "api_key_secret": str(key["secret"]), "stomp_port": str(self.stomp_port), "cafile": self.cafile,
                "num_workers": "10"}

    def write_app_config(self, path: str, extra_sections: str = "", *, admin: bool = False,
                         **resilient_overrides: str) -> str:
        """Write (or update) ``path`` with a complete ``[resilient]`` section for this emulator (the app's
        key; ``admin``: the administrator's, to import customizations with); other sections already in the
        file are kept, ``extra_sections`` (ini text) is merged in."""
        parser = configparser.ConfigParser(interpolation=None)
        if os.path.exists(path):
            parser.read(path, encoding="utf-8")
        if extra_sections:
            parser.read_string(extra_sections)
        if not parser.has_section("resilient"):
            parser.add_section("resilient")
        for key, value in {**self.resilient_section(admin=admin), **resilient_overrides}.items():
            parser.set("resilient", key, value)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            parser.write(fh)
        return path

    # -- conveniences for tests -------------------------------------------------------------------------
    def invoke_function(self, name: str, inputs: dict | None = None, *, incident_id: int | None = None,
                        timeout: float | None = None) -> Any:
        """Invoke a function directly (not possible on a real SOAR, where a workflow or playbook does it):
        returns the result envelope or raises ``FunctionFailed``."""
        return self.soar.invoke_function(name, inputs or {}, incident_id=incident_id, timeout=timeout)

    def import_export(self, export: dict, *, grant_api_key: bool = True) -> dict:
        """What App Host does when it installs an app (or an administrator with ``resilient-circuits
        customize -y`` and the destinations' settings): import it, then give the app's API key access to the
        imported message destinations."""
        result = self.importer.create(export)
        result = self.importer.update(result["id"], {"status": "ACCEPTED"})
        if grant_api_key:
            self.grant_destinations([d["programmatic_name"] for d in export.get("message_destinations") or []])
        return result

    def grant_destinations(self, names: list[str]) -> None:
        """Give the app's API key access to these message destinations, as an administrator does in
        SOAR's settings (and App Host does at install): ``resilient-circuits customize`` run with an
        administrator's key adds that key, not the app's."""
        registry = self.soar.registry
        for name in names:
            d = registry.destination(name)
            if d is not None:
                registry.update_destination(d["id"], {"api_keys": list(d["api_keys"]) +
                                                      [self.soar.org.api_key["handle"]]})
