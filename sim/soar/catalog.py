"""Field definitions and value conversions: SOAR's "ids" and "names" handle formats.

Incidents are stored the way SOAR stores them: select values as option ids, owners/members as
principal ids, dates as epoch ms. Reading with ``handle_format=names`` turns ids into labels
(owners into emails or group names). Writing accepts either form (an id, a label, or
``{"id": ...}`` / ``{"name": ...}``) and refuses anything else with a 400 naming the field.
"""

from __future__ import annotations

from typing import Any

from sim.soar import builtins
from sim.soar.errors import bad_request

_MISSING = object()


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, (list, dict)):
        if isinstance(value, dict) and "content" in value:
            return is_empty(value.get("content"))
        return len(value) == 0
    return False


def text_content(value: Any) -> tuple[str | None, str | None]:
    """(content, format) of a text/rich-text value given as a string or ``{"format", "content"}``."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        fmt = value.get("format", "text")
        if fmt not in ("text", "html", "unformatted"):
            raise ValueError(f"unknown text format '{fmt}'")
        content = value.get("content")
        if content is not None and not isinstance(content, str):
            raise ValueError("content must be a string")
        return content, fmt
    if isinstance(value, str):
        return value, None
    raise ValueError(f"expected a string or {{format, content}}, got {type(value).__name__}")


class Principals:
    """Seeded users and groups; ids share one space as in SOAR (owner_id may name either)."""

    def __init__(self, data: dict) -> None:
        self.users: list[dict] = []
        self.groups: list[dict] = []
        next_id = 1
        for u in data["users"]:
            email = u["email"]
            self.users.append({"id": next_id, "email": email, "fname": u.get("fname", ""),
                               "lname": u.get("lname", ""), "status": "A", "enabled": True, "locked": False,
                               "is_external": False, "group_ids": [], "display_name":
                               (f"{u.get('fname', '')} {u.get('lname', '')}".strip() or email)})
            next_id += 1
        for g in data.get("groups", []):
            members = []
            for ref in g.get("members", []):
                user = self.user(ref)
                if user is None:
                    raise ValueError(f"group '{g['name']}': unknown member '{ref}'")
                members.append(user)
            group = {"id": next_id, "name": g["name"], "display_name": g["name"],
                     "members": [u["id"] for u in members], "description": g.get("description", "")}
            self.groups.append(group)
            for user in members:
                user["group_ids"].append(next_id)
            next_id += 1

    def user(self, ref: Any) -> dict | None:
        for u in self.users:
            if ref == u["id"] or (isinstance(ref, str) and ref.lower() == u["email"].lower()):
                return u
        return None

    def group(self, ref: Any) -> dict | None:
        for g in self.groups:
            if ref == g["id"] or ref == g["name"]:
                return g
        return None

    def resolve(self, ref: Any) -> dict | None:
        """A user (by id or email) or a group (by id or name); also ``{"id"}``/``{"name"}`` forms."""
        if isinstance(ref, dict):
            ref = ref.get("id", ref.get("name", ref.get("email")))
        if isinstance(ref, str) and ref.isdigit():
            ref = int(ref)
        return self.user(ref) or self.group(ref)

    def handle(self, pid: int | None) -> str | None:
        """The names-format handle: a user's email or a group's name."""
        if pid is None:
            return None
        u = self.user(pid)
        if u:
            return u["email"]
        g = self.group(pid)
        return g["name"] if g else None

    def select_values(self) -> list[tuple[int, str]]:
        out = [(u["id"], f"{u['display_name']} ({u['email']})") for u in self.users]
        out += [(g["id"], g["name"]) for g in self.groups]
        return out


def option_values(field: dict) -> list[dict]:
    return [v for v in field.get("values") or []]


def resolve_option(field: dict, value: Any, where: str) -> Any:
    """An option's stored value from an id, a label, an option uuid or ``{"id"|"name"}``."""
    ref = value
    if isinstance(ref, dict):
        ref = ref.get("id", ref.get("name"))
    for opt in option_values(field):
        if ref == opt["value"] or ref == opt["label"] or (isinstance(ref, str) and ref == opt.get("uuid")):
            if not opt.get("enabled", True):
                raise bad_request(f"'{ref}' is not an enabled value of field '{where}'")
            return opt["value"]
    if isinstance(ref, str) and ref.isdigit():
        return resolve_option(field, int(ref), where)
    labels = ", ".join(repr(o["label"]) for o in option_values(field) if o.get("enabled", True))
    raise bad_request(f"'{ref}' is not a valid value for field '{where}' (valid: {labels})")


def option_label(field: dict, stored: Any) -> Any:
    for opt in option_values(field):
        if opt["value"] == stored:
            return opt["label"]
    return stored


def to_internal(field: dict, value: Any, where: str, principals: Principals) -> Any:
    """Validate and convert an incoming value for ``field``; raise a 400 naming ``where``."""
    input_type = field["input_type"]
    if value is None:
        return [] if input_type in ("multiselect", "multiselect_members") else None
    if input_type == "select":
        return resolve_option(field, value, where)
    if input_type == "multiselect":
        if not isinstance(value, list):
            raise bad_request(f"field '{where}' is a multiselect: expected a list, got {type(value).__name__}")
        return [resolve_option(field, v, where) for v in value]
    if input_type == "select_owner":
        p = principals.resolve(value)
        if p is None:
            raise bad_request(f"'{value}' is not a known user or group for field '{where}'")
        return p["id"]
    if input_type == "multiselect_members":
        if not isinstance(value, list):
            raise bad_request(f"field '{where}' expects a list of users or groups")
        out = []
        for v in value:
            p = principals.resolve(v)
            if p is None:
                raise bad_request(f"'{v}' is not a known user or group for field '{where}'")
            if p["id"] not in out:
                out.append(p["id"])
        return out
    if input_type == "boolean":
        if not isinstance(value, bool):
            raise bad_request(f"field '{where}' is a boolean: got {value!r}")
        return value
    if input_type == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad_request(f"field '{where}' is a number: got {value!r}")
        return value
    if input_type in ("datepicker", "datetimepicker"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad_request(f"field '{where}' is a date (epoch milliseconds): got {value!r}")
        return int(value)
    if input_type in ("text", "textarea"):
        try:
            content, _fmt = text_content(value)
        except ValueError as exc:
            raise bad_request(f"field '{where}': {exc}") from None
        if input_type == "text" and isinstance(value, dict):
            raise bad_request(f"field '{where}' is plain text: expected a string")
        return content or None  # an empty text is stored as no value (null), as SOAR shows a cleared field
    raise bad_request(f"field '{where}' has an input type ({input_type}) the emulator cannot write")


def to_output(field: dict, stored: Any, names: bool, principals: Principals) -> Any:
    if not names or stored is None:
        return stored
    input_type = field["input_type"]
    if field["name"] == "plan_status":
        return stored
    if input_type == "select":
        return option_label(field, stored)
    if input_type == "multiselect":
        return [option_label(field, v) for v in stored]
    if input_type == "select_owner":
        return principals.handle(stored)
    if input_type == "multiselect_members":
        return [principals.handle(v) for v in stored]
    return stored


def builtin_artifact_types() -> list[dict]:
    out = []
    for type_id, name in builtins.ARTIFACT_TYPES:
        out.append({"id": type_id, "name": name, "programmatic_name": name, "desc": name, "enabled": True,
                    "system": True, "multi_aware": True, "use_for_relationships": True,
                    "file": type_id in builtins.FILE_ARTIFACT_TYPES, "parse_as_csv": False,
                    "uuid": builtins.stable_uuid("artifacttype", type_id)})
    return out
