"""The org itself: its id and name, the app's API key, the seeded users and groups, and what a session,
``GET /orgs/{id}`` and ``GET /const`` show of them.

The API key is generated once and kept in the store (so it survives a restart with ``--state``); a
different ``api_key_id`` asked for at start replaces it.
"""

from __future__ import annotations

import base64
import copy
import uuid as uuidlib
from typing import Any

from sim.soar import builtins
from sim.soar.catalog import Principals
from sim.soar.documents import Doc
from sim.soar.store import Store


class Org:
    """One org of an emulated SOAR server, and the one API key the app uses."""

    def __init__(self, store: Store, *, org_name: str = builtins.DEFAULT_ORG_NAME, principals: dict | None = None,
                 api_key_id: str | None = None, api_key_secret: str | None = None) -> None:
        self.org_id = builtins.ORG_ID
        self.org_name = org_name
        self.principals = Principals(principals or builtins.load_principals(None))
        key = store.meta("api_key")
        if not key or (api_key_id and key.get("id") != api_key_id):
            key = {"id": api_key_id or str(uuidlib.uuid4()),
                   "secret": api_key_secret or base64.urlsafe_b64encode(uuidlib.uuid4().bytes * 2).decode()[:43],
                   "handle": 7, "uuid": str(uuidlib.uuid4()), "name": "SOAR emulator app key"}
            store.set_meta("api_key", key)
        self.api_key: dict[str, Any] = key

    @property
    def api_principal(self) -> Doc:
        return {"id": self.api_key["handle"], "type": "apikey", "name": self.api_key["id"],
                "display_name": self.api_key["name"]}

    def check_api_key(self, key_id: str | None, secret: str | None) -> bool:
        return key_id == self.api_key["id"] and secret == self.api_key["secret"]

    def is_api_key(self, ref: Any) -> bool:
        """Whether ``ref`` names this key (by handle, uuid or id), as a destination's ``api_keys`` may."""
        return ref in (self.api_key["handle"], self.api_key["uuid"], self.api_key["id"])

    def users(self) -> list[Doc]:
        return [copy.deepcopy(u) for u in self.principals.users]

    def groups(self) -> list[Doc]:
        return [copy.deepcopy(g) for g in self.principals.groups]

    def session(self) -> Doc:
        return {"orgs": [self.summary()], "user_id": None, "user_email": None,
                "user_fname": self.api_key["name"], "user_lname": "", "api_key_handle": self.api_key["handle"],
                "api_key_id": self.api_key["id"], "csrf_token": uuidlib.uuid4().hex, "is_ldap": False,
                "is_saml": False, "saml_alias": None, "session_ip": "127.0.0.1"}

    def summary(self) -> Doc:
        return {"id": self.org_id, "name": self.org_name, "enabled": True, "uuid": builtins.stable_uuid(
            "org", self.org_name), "cloud_account": None, "attachments_enabled": True, "tasks_private": False,
            "has_saml": False, "require_saml": False, "supports_ldap": False, "twofactor_auth_domain": None,
            "perms": {"administrator": False, "observer": False, "master_administrator": False,
                      "create_incs": True}}

    def org(self) -> Doc:
        out = self.summary()
        out.update({"actions_framework_enabled": True, "playbooks_enabled": False, "incident_deletion_allowed":
                    True, "users": {str(u["id"]): u for u in self.users()},
                    "groups": {str(g["id"]): g for g in self.groups()}})
        return out

    @staticmethod
    def const() -> Doc:
        return {"server_version": {"major": 51, "minor": 0, "build_number": 9339, "version": "51.0.0.0.9339",
                                   "v": 51, "r": 0, "f": 0, "m": 0},
                "incident_statuses": {"A": {"id": "A", "name": "Active"}, "C": {"id": "C", "name": "Closed"}},
                "max_artifacts": 1000, "max_page_size": 1000, "actions_framework": {"enabled": True},
                "script_languages": ["python3"]}
