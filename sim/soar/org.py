"""The org itself: its id and name, its API keys, the seeded users and groups, and what a session,
``GET /orgs/{id}`` and ``GET /const`` show of them.

The API keys are generated once and kept in the store (so they survive a restart with ``--state``); a
different ``api_key_id`` asked for at start replaces the app's.
"""

from __future__ import annotations

import base64
import copy
import uuid as uuidlib
from collections.abc import Iterable
from typing import Any

from sim.soar import builtins
from sim.soar.catalog import Principals
from sim.soar.documents import Doc
from sim.soar.permissions import ALL, permission_set
from sim.soar.store import Store


def _stored_key(store: Store, meta: str, key_id: str | None, secret: str | None, handle: int, name: str
                ) -> dict[str, Any]:
    """A key generated once and kept in the store; a different ``key_id`` asked for replaces it."""
    key = store.meta(meta)
    if not key or (key_id and key.get("id") != key_id):
        key = {"id": key_id or str(uuidlib.uuid4()),
               "secret": secret or base64.urlsafe_b64encode(uuidlib.uuid4().bytes * 2).decode()[:43],
               "handle": handle, "uuid": str(uuidlib.uuid4()), "name": name}
        store.set_meta(meta, key)
    return dict(key)


class Org:
    """One org of an emulated SOAR server, and its two API keys: the app's (``api_key``, holding what
    ``app_permissions`` grants, see :mod:`sim.soar.permissions`) and an administrator's (``admin_key``,
    holding every permission and the administrator role: what a test, a user or an admin importing
    customizations acts with)."""

    def __init__(self, store: Store, *, org_name: str = builtins.DEFAULT_ORG_NAME, principals: dict | None = None,
                 api_key_id: str | None = None, api_key_secret: str | None = None,
                 app_permissions: Iterable[str] | str | None = None) -> None:
        self.org_id = builtins.ORG_ID
        self.org_name = org_name
        self.principals = Principals(principals or builtins.load_principals(None))
        self.api_key: dict[str, Any] = _stored_key(store, "api_key", api_key_id, api_key_secret, 7,
                                                   "SOAR emulator app key")
        self.admin_key: dict[str, Any] = _stored_key(store, "admin_key", None, None, 8,
                                                     "SOAR emulator administrator key")
        self.app_permissions = permission_set(app_permissions)

    @property
    def keys(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.api_key, self.admin_key

    @property
    def api_principal(self) -> Doc:
        return {"id": self.api_key["handle"], "type": "apikey", "name": self.api_key["id"],
                "display_name": self.api_key["name"]}

    def key_for(self, key_id: str | None, secret: str | None) -> dict[str, Any] | None:
        """The key with this id and secret, or None."""
        for key in self.keys:
            if key_id == key["id"] and secret == key["secret"]:
                return key
        return None

    def check_api_key(self, key_id: str | None, secret: str | None) -> bool:
        return self.key_for(key_id, secret) is not None

    def granted(self, key: dict[str, Any]) -> frozenset[str]:
        """The permissions ``key`` holds."""
        return ALL if key is self.admin_key else self.app_permissions

    def key_by_ref(self, ref: Any) -> dict[str, Any] | None:
        """The key ``ref`` names (by handle, uuid or id), as a destination's ``api_keys`` may."""
        for key in self.keys:
            if ref in (key["handle"], key["uuid"], key["id"]):
                return key
        return None

    def is_api_key(self, ref: Any) -> bool:
        """Whether ``ref`` names one of the org's keys."""
        return self.key_by_ref(ref) is not None

    def users(self) -> list[Doc]:
        return [copy.deepcopy(u) for u in self.principals.users]

    def groups(self) -> list[Doc]:
        return [copy.deepcopy(g) for g in self.principals.groups]

    def session(self, key: dict[str, Any] | None = None) -> Doc:
        key = key or self.api_key
        return {"orgs": [self.summary()], "user_id": None, "user_email": None,
                "user_fname": key["name"], "user_lname": "", "api_key_handle": key["handle"],
                "api_key_id": key["id"], "csrf_token": uuidlib.uuid4().hex, "is_ldap": False,
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
