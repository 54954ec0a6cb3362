"""What to ingest, decided in the SOAR platform: the function inputs of ``pp_tap_ingest_events``, read once.

A workflow's pre-processing script sets the inputs as plain assignments (see the README example);
:func:`read_inputs` turns them into :class:`IngestInputs`: the criteria (:class:`~.policy.IngestPolicy`),
the incident template that applies (parsed and checked against the sample groups here, once, so a broken
template is reported before anything is read or written) and the owner rules. Every value is checked
BEFORE any TAP call; a bad one raises :class:`~fn_pp_tap_functions.errors.InputError` naming the input,
the bad value and what is allowed.

Input formats (all text as SOAR sends it; blank means the default):

* lists: comma, semicolon or newline separated (``"messagesDelivered, clicksPermitted"``) or a JSON list
  (``'["url", "attachment"]'``); a Python list also works; ``all`` means every value;
* ``pp_tap_event_types``: messagesDelivered, messagesBlocked, clicksPermitted, clicksBlocked (any case,
  ``messages_delivered`` too), or ``issues``: TAP's own "issues" set, clicksPermitted plus messagesDelivered
  carrying an ATTACHMENT threat (delivered URL threats are defused by URL Defense rewriting, so only a
  click matters; this is what the SOC in the seed thread asked for). ``issues`` together with
  ``messagesDelivered`` means all delivered messages. Default: messagesDelivered, clicksPermitted
  (what got through), so blocked events never make incidents unless asked for;
* ``pp_tap_threat_statuses``: active, cleared, falsePositive; default active;
* ``pp_tap_threat_types``: url, attachment, messageText; default all (including types TAP adds later);
* ``pp_tap_classifications``: malware, phish, spam, impostor, toad; default all (including new ones);
* ``pp_tap_min_scores``: ``phishScore>=50, malwareScore>=80`` (names spamScore, phishScore, malwareScore,
  impostorScore, with or without ``Score``; 0-100). A message passes when ANY listed score reaches its
  minimum: the scores measure different dangers, and "phish >= 50 or malware >= 80" is what a SOC means;
  ALL would drop every malware message with a low phish score. Clicks carry no scores and pass (a click
  is a person acting on a known threat). A message condemned after delivery (a threat's threatTime more
  than a minute after the message time, or a retro-condemned skeleton) also passes: its scores are from
  delivery time, when it looked clean, and these are exactly the messages that must not be lost;
* ``pp_tap_recipient_include`` / ``_exclude``, ``pp_tap_sender_include`` / ``_exclude``: shell-style
  patterns (``*@example.com``, ``ceo@*``, ``?``, ``[abc]``), case-insensitive, exclude wins;
* ``pp_tap_group_by``: threat (default) | campaign | message;
* ``pp_tap_closed_policy``: new (default) | reopen | note;
* ``pp_tap_lookback_hours``: whole hours 1-168 (7 days, TAP's limit), default 24;
* ``pp_tap_incident_template``: JSON template text (see :mod:`.templates`); it wins over the app.config
  ``incident_template_path`` file, which wins over the shipped default;
* ``pp_tap_update_template`` / ``pp_tap_close_template``: JSON templates (keys ``name``, ``description``,
  and for updates ``severity``) that re-render an incident on every update and when the app closes it; they
  win over app.config ``update_template_path`` / ``close_template_path``; blank: the create template does it
  (for a close, followed by the app's own paragraph on the close);
* ``pp_tap_owner_rules``: rule text (see :mod:`.owners`).
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.ingest.errors import TemplateError
from fn_pp_tap_functions.ingest.owners import OwnerRules
from fn_pp_tap_functions.ingest.policy import (
    CLASSIFICATIONS,
    DEFAULT_EVENT_TYPES,
    DEFAULT_LOOKBACK_HOURS,
    DEFAULT_STATUSES,
    ISSUES,
    MAX_LOOKBACK_HOURS,
    SCORE_NAMES,
    ClosedPolicy,
    GroupBy,
    IngestPolicy,
    ScoreMinimum,
)
from fn_pp_tap_functions.ingest.samples import sample_groups
from fn_pp_tap_functions.ingest.state import context_of
from fn_pp_tap_functions.ingest.templates import IncidentTemplate
from fn_pp_tap_functions.tap.vocab import (
    EventType,
    ThreatStatus,
    ThreatType,
    parse_event_type,
    parse_status,
    parse_threat_type,
)

INPUT_NAMES: tuple[str, ...] = (
    "pp_tap_event_types",
    "pp_tap_threat_statuses",
    "pp_tap_threat_types",
    "pp_tap_classifications",
    "pp_tap_min_scores",
    "pp_tap_recipient_include",
    "pp_tap_recipient_exclude",
    "pp_tap_sender_include",
    "pp_tap_sender_exclude",
    "pp_tap_group_by",
    "pp_tap_closed_policy",
    "pp_tap_lookback_hours",
    "pp_tap_incident_template",
    "pp_tap_update_template",
    "pp_tap_close_template",
    "pp_tap_owner_rules",
)


# ------------------------------------------------------------------------------------------------ parsing


def _shown(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _scalar(value: object) -> object:
    """SOAR select inputs arrive as ``{"id", "name"}``: use the name."""
    if isinstance(value, Mapping):
        return value.get("name", value.get("value"))
    return value


def _items(name: str, value: object) -> list[str] | None:
    """The items of a list input, or ``None`` when blank (= default)."""
    value = _scalar(value)
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError as err:
                raise InputError(f"{name}: {_shown(value)} starts with '[' but is not a JSON list ({err}).") from None
            if not isinstance(parsed, list):
                raise InputError(f"{name}: {_shown(value)} is not a JSON list.")
            raw: Iterable[object] = parsed
        else:
            raw = re.split(r"[,;\n\r]+", text)
    elif isinstance(value, list | tuple | set | frozenset):
        raw = value
    else:
        raise InputError(f"{name}: expected text or a list, got {type(value).__name__} {_shown(value)}.")
    items: list[str] = []
    for item in raw:
        item = _scalar(item)
        if not isinstance(item, str):
            raise InputError(f"{name}: every item must be text, got {_shown(item)}.")
        item = item.strip()
        if item and item not in items:
            items.append(item)
    return items or None


def _text(name: str, value: object) -> str | None:
    value = _scalar(value)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{name}: expected text, got {type(value).__name__} {_shown(value)}.")
    return value if value.strip() else None


Choice = TypeVar("Choice", bound=StrEnum)
Default = TypeVar("Default", frozenset[str], None)


def _choice(name: str, value: object, enum: type[Choice], default: Choice) -> Choice:
    text = _text(name, value)
    if text is None:
        return default
    squashed = text.strip().lower()
    for member in enum:
        if member.value == squashed:
            return member
    allowed = ", ".join(m.value for m in enum)
    raise InputError(f"{name}: {_shown(text)} is not allowed; use one of: {allowed} (default {default.value}).")


def _event_types(value: object) -> tuple[frozenset[str], bool]:
    name = "pp_tap_event_types"
    items = _items(name, value)
    if items is None:
        return DEFAULT_EVENT_TYPES, False
    allowed = [e.value for e in EventType] + [ISSUES, "all"]
    found: set[str] = set()
    issues = False
    for item in items:
        low = item.lower()
        if low == "all":
            found |= {e.value for e in EventType}
            continue
        if low in (ISSUES, "siemissues", "siem_issues"):
            issues = True
            continue
        kind = parse_event_type(item)
        if kind is None:
            raise InputError(f"{name}: {_shown(item)} is not an event type; use any of: {', '.join(allowed)}.")
        found.add(kind.value)
    issues_only = issues and EventType.MESSAGES_DELIVERED.value not in found
    if issues:
        found |= {EventType.MESSAGES_DELIVERED.value, EventType.CLICKS_PERMITTED.value}
    return frozenset(found), issues_only


def _vocab(name: str, value: object, parse: Callable[[str], str | None], allowed: list[str],
           default: Default) -> frozenset[str] | Default:
    """The values given; blank gives ``default``, ``all`` every allowed value (or None when the default is
    None: "all", including values TAP adds later)."""
    items = _items(name, value)
    if items is None:
        return default
    found: set[str] = set()
    for item in items:
        if item.lower() == "all":
            return default if default is None else frozenset(allowed)
        known = parse(item)
        if known is None:
            raise InputError(f"{name}: {_shown(item)} is not allowed; use any of: {', '.join(allowed)}, or all.")
        found.add(known)
    return frozenset(found)


def _classification(value: str) -> str | None:
    low = value.strip().lower()
    return low if low in CLASSIFICATIONS else None


_SCORE = re.compile(r"^\s*([A-Za-z]+?)(?:[ _-]?score)?\s*>=\s*(\d{1,3}(?:\.\d+)?)\s*$", re.IGNORECASE)


def _min_scores(value: object) -> tuple[ScoreMinimum, ...]:
    name = "pp_tap_min_scores"
    items = _items(name, value)
    if not items:
        return ()
    allowed = ", ".join(f"{n}>=N" for n in SCORE_NAMES.values())
    out: dict[str, ScoreMinimum] = {}
    for item in items:
        match = _SCORE.match(item)
        if not match or match.group(1).lower() not in SCORE_NAMES:
            raise InputError(
                f"{name}: {_shown(item)} is not a score minimum; write NAME>=NUMBER with NAME one of "
                f"{allowed} and NUMBER 0-100, e.g. \"phishScore>=50, malwareScore>=80\"."
            )
        minimum = float(match.group(2))
        if minimum > 100:
            raise InputError(f"{name}: {_shown(item)}: scores run from 0 to 100.")
        key = match.group(1).lower()
        if key in out:
            raise InputError(f"{name}: {_shown(item)}: {SCORE_NAMES[key]} is given twice; give each score once.")
        out[key] = ScoreMinimum(key, minimum)
    return tuple(out.values())


def _patterns(name: str, value: object) -> tuple[str, ...]:
    items = _items(name, value)
    if not items:
        return ()
    out: list[str] = []
    for item in items:
        if any(ch.isspace() for ch in item) or any(ord(ch) < 32 for ch in item):
            raise InputError(
                f"{name}: the pattern {_shown(item)} contains a space or control character; write one address "
                "pattern per item, e.g. \"*@example.com, ceo@*\"."
            )
        if len(item) > 320:
            raise InputError(f"{name}: the pattern {_shown(item)} is longer than 320 characters.")
        out.append(item.lower())
    return tuple(out)


def _lookback(value: object) -> int:
    name = "pp_tap_lookback_hours"
    value = _scalar(value)
    if value is None or (isinstance(value, str) and not value.strip()):
        return DEFAULT_LOOKBACK_HOURS
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d{1,6}\s*", value):
        number = int(value)
    if number is None or not 1 <= number <= MAX_LOOKBACK_HOURS:
        raise InputError(
            f"{name}: {_shown(value)} is not allowed; use whole hours from 1 to {MAX_LOOKBACK_HOURS} "
            f"(TAP keeps 7 days), default {DEFAULT_LOOKBACK_HOURS}."
        )
    return number


def read_policy(inputs: Mapping[str, object]) -> IngestPolicy:
    """The criteria from the function inputs (missing keys mean defaults); InputError names a bad input."""
    get = inputs.get
    event_types, issues_only = _event_types(get("pp_tap_event_types"))
    statuses = _vocab(
        "pp_tap_threat_statuses",
        get("pp_tap_threat_statuses"),
        lambda v: (s.value if (s := parse_status(v)) else None),
        [s.value for s in ThreatStatus],
        DEFAULT_STATUSES,
    )
    threat_types = _vocab(
        "pp_tap_threat_types",
        get("pp_tap_threat_types"),
        lambda v: (t.value if (t := parse_threat_type(v)) else None),
        [t.value for t in ThreatType],
        None,
    )
    classifications = _vocab(
        "pp_tap_classifications", get("pp_tap_classifications"), _classification, list(CLASSIFICATIONS), None
    )
    return IngestPolicy(
        event_types=event_types,
        issues_only=issues_only,
        threat_statuses=statuses,
        threat_types=threat_types,
        classifications=classifications,
        min_scores=_min_scores(get("pp_tap_min_scores")),
        recipient_include=_patterns("pp_tap_recipient_include", get("pp_tap_recipient_include")),
        recipient_exclude=_patterns("pp_tap_recipient_exclude", get("pp_tap_recipient_exclude")),
        sender_include=_patterns("pp_tap_sender_include", get("pp_tap_sender_include")),
        sender_exclude=_patterns("pp_tap_sender_exclude", get("pp_tap_sender_exclude")),
        group_by=_choice("pp_tap_group_by", get("pp_tap_group_by"), GroupBy, GroupBy.THREAT),
        closed_policy=_choice("pp_tap_closed_policy", get("pp_tap_closed_policy"), ClosedPolicy, ClosedPolicy.NEW),
        lookback_hours=_lookback(get("pp_tap_lookback_hours")),
    )


# ------------------------------------------------------------------------------------------------ inputs


@dataclass(frozen=True, slots=True)
class IngestInputs:
    """Everything one ingestion run was asked to do, each part checked.

    ``template`` is the create template that applies (workflow input, else the app.config file, else the
    shipped default), already checked against the sample groups; ``template_source`` says which one it is.
    ``update_template`` re-renders name and description on every update (None: the create template does);
    ``close_template`` does it when the app closes an incident (None: the update template, followed by the
    app's own paragraph on the close).
    """

    policy: IngestPolicy
    template: IncidentTemplate
    owner_rules: OwnerRules
    template_source: str = "default"
    update_template: IncidentTemplate | None = None
    close_template: IncidentTemplate | None = None

    @property
    def updates(self) -> IncidentTemplate:
        return self.update_template or self.template

    def describe(self) -> dict[str, object]:
        """JSON-safe summary for the function result (what the run actually applied)."""
        return {**self.policy.describe(), "incident_template": self.template_source,
                "update_template": "given" if self.update_template else "the incident template",
                "close_template": "given" if self.close_template else "the update template",
                "owner_rules": len(self.owner_rules.rules)}


def choose_template(input_text: str | None, file_text: str | None = None,
                    file_path: str | None = None, kind: str = "create") -> tuple[IncidentTemplate | None, str]:
    """``(template, source)`` by precedence: workflow input > app.config file (``incident_template_path``,
    ``update_template_path`` or ``close_template_path``, read by the caller) > the shipped default (for an
    update or close template: ``None``, see :class:`IngestInputs`). Parsed, not yet checked."""
    name = {"create": "incident", "update": "update", "close": "close"}[kind]
    if input_text is not None and input_text.strip():
        return IncidentTemplate.parse(input_text, source=f"workflow input pp_tap_{name}_template",
                                      kind=kind), "workflow input"
    if file_text is not None and file_text.strip():
        where = f"app.config {name}_template_path {file_path}" if file_path else f"app.config {name}_template_path"
        return IncidentTemplate.parse(file_text, source=where, kind=kind), "app.config file"
    return (IncidentTemplate.default(), "default") if kind == "create" else (None, "default")


SAMPLE_CLOSE = {"statuses": ("falsePositive",), "status": "falsePositive", "resolution": "Not an Issue",
                "reason": "every threat is falsePositive", "when": "2024-01-01T12:00:00Z"}


# Fingerprints of template sets that passed check_templates in this process. The check is a pure function of
# the templates' texts (fixed samples, fixed clock), and a scheduled run reads the same templates every
# 5 minutes: rendering them against every sample each time was a quarter of the app's CPU over a day.
# Only passes are kept, so a broken template is reported on every run; bounded, and shared by the
# runtime's threads under a lock.
_CHECKED: OrderedDict[tuple[str | None, ...], None] = OrderedDict()
_CHECKED_MAX = 64
_CHECKED_LOCK = threading.Lock()


def check_templates(create: IncidentTemplate | None, update: IncidentTemplate | None = None,
                    close: IncidentTemplate | None = None) -> None:
    """Render each template against the sample groups as a run would (create: artifacts from the group,
    the rest from its merged context; update and close: from the merged context); a template that cannot
    render raises TemplateError naming the key, the line and the sample, before anything is read or written.
    A set of templates that passed once in this process is not rendered again."""
    key = tuple(t.fingerprint if t is not None else None for t in (create, update, close))
    with _CHECKED_LOCK:
        if key in _CHECKED:
            _CHECKED.move_to_end(key)
            return
    _render_samples(create, update, close)
    with _CHECKED_LOCK:
        _CHECKED[key] = None
        while len(_CHECKED) > _CHECKED_MAX:
            _CHECKED.popitem(last=False)


def _render_samples(create: IncidentTemplate | None, update: IncidentTemplate | None,
                    close: IncidentTemplate | None) -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    for sample in sample_groups():
        context = context_of(sample)
        for kind, template in (("create", create), ("update", update), ("close", close)):
            if template is None:
                continue
            try:
                if kind == "create":
                    template.render(sample, now=now, merged=context)
                else:
                    template.render_text(context, now=now, extra={"close": SAMPLE_CLOSE} if kind == "close" else None)
            except TemplateError as err:
                raise TemplateError(source=template.source, key=err.key, line=err.line,
                                    reason=f"{err.reason} (while checking against the sample group {sample.key})"
                                    ) from None


def read_inputs(inputs: Mapping[str, object], *, template_file_text: str | None = None,
                template_file_path: str | None = None, template_files: Mapping[str, tuple[str | None, str | None]]
                | None = None) -> IngestInputs:
    """Read and check every ingestion input; the templates that apply are checked here, and only here.

    ``template_files``: kind (``update``, ``close``) -> (text, path) of app.config's template files (the
    create template's file is ``template_file_text``/``_path``). Raises :class:`InputError` (or its
    subclass ``TemplateError``) naming the input and the bad value.
    """
    policy = read_policy(inputs)
    template, source = choose_template(_text("pp_tap_incident_template", inputs.get("pp_tap_incident_template")),
                                       template_file_text, template_file_path)
    files = template_files or {}
    update, _ = choose_template(_text("pp_tap_update_template", inputs.get("pp_tap_update_template")),
                                *files.get("update", (None, None)), kind="update")
    close, _ = choose_template(_text("pp_tap_close_template", inputs.get("pp_tap_close_template")),
                               *files.get("close", (None, None)), kind="close")
    assert template is not None
    check_templates(template, update, close)  # a template that cannot render is reported before anything is written
    rules_text = _text("pp_tap_owner_rules", inputs.get("pp_tap_owner_rules"))
    rules = OwnerRules.parse(rules_text) if rules_text else OwnerRules.empty()
    return IngestInputs(policy, template, rules, source, update, close)
