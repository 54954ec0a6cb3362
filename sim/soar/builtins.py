"""What a fresh SOAR org holds before any app is imported: built-in incident fields, artifact types,
phases, incident types, and the seeded principals (users and groups).

Ids, labels and shapes follow what a real SOAR server returns (``GET /types/incident/fields``,
``GET /types/artifact``): e.g. resolutions Unresolved=53, Duplicate=54, Not an Issue=55, Resolved=56;
severities Low=50, Medium=51, High=52. ``resolution_id`` and ``resolution_summary`` are
``required: "close"`` as in a default org.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence

ORG_ID = 201
DEFAULT_ORG_NAME = "Emulated Org"

# (id, name) as a v51 server numbers them.
ARTIFACT_TYPES: list[tuple[int, str]] = [
    (1, "IP Address"), (2, "DNS Name"), (3, "URL"), (4, "RFC 822 Email Message File"), (5, "Email Subject"),
    (6, "Email Body"), (7, "Email Attachment"), (8, "Email Attachment Name"), (9, "Email Sender"),
    (12, "Malware Sample"), (13, "Malware MD5 Hash"), (14, "Malware SHA-1 Hash"), (15, "Log File"),
    (16, "Other File"), (19, "Email Sender Name"), (20, "Email Recipient"), (22, "Malware Sample Fuzzy Hash"),
    (23, "User Account"), (24, "Registry Key"), (25, "System Name"), (26, "Process Name"), (27, "Port"),
    (28, "Service"), (29, "String"), (30, "Mutex"), (31, "File Name"), (32, "Password"),
    (34, "HTTP Request Header"), (35, "HTTP Response Header"), (36, "X509 Certificate File"),
    (37, "File Path"), (38, "Malware SHA-256 Hash"), (39, "MAC Address"), (40, "URL Referer"),
    (41, "User Agent"), (42, "URI Path"), (43, "Threat CVE ID"), (44, "Network CIDR Range"),
    (45, "Malware Family/Variant"), (46, "Observed Data"), (47, "Network Traffic"),
    (48, "Malware SHA-512 Hash"),
]
# Artifact types whose value is a file (created through /artifacts/files, not a plain value).
FILE_ARTIFACT_TYPES = {4, 7, 12, 15, 16, 36}

RESOLUTIONS = [(53, "Unresolved"), (54, "Duplicate"), (55, "Not an Issue"), (56, "Resolved")]
SEVERITIES = [(50, "Low"), (51, "Medium"), (52, "High")]
PHASES = [(1004, "Initial", 0), (1003, "Engage", 1), (1005, "Detect/Analyze", 2), (1002, "Respond", 3),
          (1000, "Post-Incident", 4), (1001, "Complete", 5)]
DEFAULT_PHASE_ID = 1004
INCIDENT_TYPES = [
    (17, "Communication error (fax; email)"), (21, "Denial of Service"),
    (6, "Improper disposal: digital asset(s)"), (7, "Improper disposal: documents / files"),
    (3, "Lost PC / laptop / tablet"), (1, "Lost PDA / smartphone"), (4, "Lost documents / files / records"),
    (8, "Lost storage device / media"), (19, "Malware"), (23, "Not an Issue"), (18, "Other"),
    (22, "Phishing"), (12, "Stolen PC / laptop / tablet"), (13, "Stolen PDA / smartphone"),
    (11, "Stolen documents / files / records"), (14, "Stolen storage device / media"),
    (20, "System Intrusion"), (16, "TBD / Unknown"), (15, "Vendor / 3rd party error"),
]
NIST_ATTACK_VECTORS = [(2, "Attrition (Denial-of-Service and Brute-Force Attacks)"), (4, "E-mail"),
                       (1, "External/Removable Media"), (5, "Impersonation"), (6, "Improper Usage"),
                       (7, "Loss or Theft of Equipment"), (8, "Other"), (3, "Web")]
EXPOSURE_TYPES = [(2, "External Party"), (3, "Individual"), (1, "Unknown")]

DEFAULT_PRINCIPALS = {
    "users": [
        {"email": "admin@example.com", "fname": "SOC", "lname": "Admin"},
        {"email": "analyst1@example.com", "fname": "Analyst", "lname": "One"},
        {"email": "analyst2@example.com", "fname": "Analyst", "lname": "Two"},
    ],
    "groups": [
        {"name": "SOC Tier 1", "members": ["analyst1@example.com"]},
        {"name": "SOC Tier 2", "members": ["analyst2@example.com", "admin@example.com"]},
    ],
}

# Custom (imported) fields may use only these input types (per type of field).
CUSTOM_INPUT_TYPES = {"text", "textarea", "number", "boolean", "select", "multiselect", "datepicker",
                      "datetimepicker"}
FIELD_TYPE_IDS = {0: "incident", 1: "task", 2: "note", 3: "milestone", 4: "artifact", 5: "attachment",
                  6: "actioninvocation", 11: "__function"}
# Object types by id, as a rule or workflow names its object in the ids format.
OBJECT_TYPE_IDS = {"incident": 0, "task": 1, "note": 2, "milestone": 3, "artifact": 4, "attachment": 5}
# The type the org's UI layouts belong to: SOAR does not publish its id, so this is the emulator's own
# choice (not 8, the summary layout's type, so that a client must read it from GET /types).
ORGANIZATION_TYPE_ID = 7

_OPS_TEXT = ["equals", "not_equals", "contains", "not_contains", "changed", "changed_to", "not_changed_to",
             "has_a_value", "not_has_a_value"]
_OPS_SELECT = ["equals", "not_equals", "in", "not_in", "changed", "changed_to", "not_changed_to",
               "has_a_value", "not_has_a_value"]
_OPS_NUMBER = ["equals", "not_equals", "lt", "lte", "gt", "gte", "changed", "changed_to", "not_changed_to",
               "has_a_value", "not_has_a_value"]


def operations_for(input_type: str) -> list[str]:
    if input_type in ("select", "multiselect", "select_owner", "multiselect_members"):
        return list(_OPS_SELECT)
    if input_type in ("number", "datepicker", "datetimepicker"):
        return list(_OPS_NUMBER)
    if input_type == "boolean":
        return ["equals", "not_equals", "changed", "changed_to", "not_changed_to", "has_a_value",
                "not_has_a_value"]
    return list(_OPS_TEXT)


@functools.lru_cache(maxsize=4096)
def stable_uuid(*parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "soar-emulator/" + "/".join(str(p) for p in parts)))


def make_field(field_id: int, name: str, text: str, input_type: str, *, type_name: str = "incident",
               type_id: int = 0, prefix: str | None = None, required: str | None = None, internal: bool = True,
               read_only: bool = False, values: Sequence[tuple[object, str]] | None = None,
               tooltip: str = "", rich_text: bool = False, blank_option: bool = False) -> dict:
    """A field definition shaped as SOAR's FieldDTO."""
    return {
        "id": field_id,
        "name": name,
        "text": text,
        "prefix": prefix,
        "type_id": type_id,
        "tooltip": tooltip,
        "placeholder": "",
        "input_type": input_type,
        "required": required,
        "hide_notification": False,
        "chosen": False,
        "default_chosen_by_server": False,
        "blank_option": blank_option,
        "internal": internal,
        "uuid": stable_uuid(type_name, name),
        "operations": operations_for(input_type),
        "operation_perms": {},
        "values": [
            {"value": v, "label": label, "enabled": True, "properties": None, "default": False,
             "hidden": False, "uuid": stable_uuid(type_name, name, v)}
            for v, label in (values or [])
        ],
        "read_only": read_only,
        "changeable": not read_only,
        "rich_text": rich_text,
        "export_key": f"{type_name}/{name}",
        "templates": [],
        "deprecated": False,
        "tags": [],
        "calculated": False,
        "is_tracked": False,
        "allow_default_value": False,
    }


def builtin_incident_fields() -> list[dict]:
    """Built-in incident fields (``internal: true``). ``owner_id``/``members`` values are filled in from
    the principals at read time; ``phase_id``/``incident_type_ids`` gain imported phases/types."""
    f = make_field
    return [
        f(1, "id", "ID", "number", read_only=True),
        f(2, "name", "Name", "text", required="always"),
        f(3, "description", "Description", "textarea", rich_text=True),
        f(4, "discovered_date", "Date Discovered", "datetimepicker", required="always"),
        f(5, "create_date", "Date Created", "datetimepicker", read_only=True),
        f(6, "start_date", "Date Occurred", "datetimepicker"),
        f(7, "end_date", "Date Closed", "datetimepicker", read_only=True),
        f(8, "due_date", "Due Date", "datetimepicker", read_only=True),
        f(9, "owner_id", "Owner", "select_owner", blank_option=True),
        f(10, "members", "Members", "multiselect_members"),
        f(11, "plan_status", "Status", "select", values=[("A", "Active"), ("C", "Closed")]),
        f(12, "phase_id", "Phase", "select", values=[(i, n) for i, n, _ in PHASES]),
        f(13, "severity_code", "Severity", "select", values=SEVERITIES, blank_option=True),
        f(14, "resolution_id", "Resolution", "select", required="close", values=RESOLUTIONS, blank_option=True,
          tooltip="Select an option that accurately describes the reason for closing this incident."),
        f(15, "resolution_summary", "Resolution Summary", "textarea", required="close", rich_text=True),
        f(16, "incident_type_ids", "Incident Type", "multiselect", values=INCIDENT_TYPES),
        f(17, "confirmed", "Confirmed", "boolean"),
        f(18, "reporter", "Reporter", "text"),
        f(19, "addr", "Address", "text"),
        f(20, "city", "City", "text"),
        f(21, "zip", "Zip", "text"),
        f(22, "nist_attack_vectors", "NIST Attack Vectors", "multiselect", values=NIST_ATTACK_VECTORS),
        f(23, "negative_pr_likely", "Negative PR", "boolean"),
        f(24, "employee_involved", "Employee Involved", "boolean"),
        f(25, "exposure_type_id", "Exposure Type", "select", values=EXPOSURE_TYPES),
        f(26, "inc_training", "Training", "boolean", read_only=True),
        f(27, "inc_last_modified_date", "Last Modified", "datetimepicker", read_only=True),
    ]


BUILTIN_INCIDENT_FIELD_NAMES = {fd["name"] for fd in builtin_incident_fields()}
# Incident attributes that are not fields but are part of the IncidentDTO.
INCIDENT_DTO_EXTRA = {"vers", "properties", "artifacts", "comments", "creator_id", "creator", "org_id",
                      "perms", "actions", "timer", "workspace", "is_scenario", "hard_liability", "exposure",
                      "pii", "regulators", "tasks", "cm", "dtm", "task_changes", "assessment", "org_handle",
                      "org_name", "draft", "sequence_code", "admin_id", "state", "country", "uuid",
                      "exposure_vendor_id", "exposure_dept_id", "exposure_individual_name", "crimestatus_id",
                      "jurisdiction_name", "jurisdiction_reg_id", "data_compromised", "gdpr", "regulator_ids",
                      "playbooks", "timeframe_id", "workspace_id", "inc_start", "creator_principal"}

ARTIFACT_BUILTIN_FIELDS = {"value", "description", "type", "relating", "properties", "hits", "attachment",
                           "id", "inc_id", "created", "last_modified_time", "creator", "creator_principal",
                           "perms", "actions", "ip", "inc_name", "inc_owner", "parent_id", "pending_sources",
                           "hash", "related_incident_count", "location", "whois", "summary", "score",
                           "cumulative_score", "automatic_score", "scan_option", "pending_scan_result",
                           "global_info", "first_associated_time", "last_associated_time", "tags",
                           "playbooks", "created_by"}


def load_principals(path: str | None) -> dict:
    """Users/groups to seed: the JSON file ``{"users": [{"email", "fname", "lname"}], "groups": [{"name",
    "members": [emails]}]}`` or the defaults."""
    if not path:
        return json.loads(json.dumps(DEFAULT_PRINCIPALS))
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data.get("users"), list) or not data["users"]:
        raise ValueError(f"{path}: 'users' must be a non-empty list")
    data.setdefault("groups", [])
    return data
