"""Incident templates: how a group's evidence becomes an incident draft.

A template is a JSON object whose STRING VALUES are Jinja2 templates, each compiled and rendered on its
own in Jinja's immutable sandbox, bounded (:class:`~fn_pp_tap_functions.sandbox.BoundedSandbox`), with
``StrictUndefined``. The JSON is parsed
once, before any data is seen; data is only ever the CONTEXT of a render, never template text, and a
rendered value is only ever a value. So an attacker's subject can never change the structure or another
field (unlike resilient-lib's ``make_payload_from_template``, which renders a whole JSON text and parses
the result): quotes, newlines, braces, ``{{ 7*7 }}`` and ``{% raw %}`` stay literal text. Every rendered
value is then made inert (:mod:`.text`: control characters removed, bidi marks made visible, single-line
fields flattened, lengths capped) and HTML-escaped where it is rich text (autoescape is on for
``description`` and ``"type": "html"`` properties; the ``safe`` filter and ``{% autoescape %}`` blocks are
refused so a template cannot switch escaping off).

Keys (unknown keys are errors; keys starting with ``_`` are comments)::

    {
      "name":        "<template>",                  required; one line, at most 255 characters
      "description": "<template>" | ["<line>", ...], HTML (autoescaped); at most 64 KB; a list is joined
                                                    with newlines (line N of the template = item N)
      "severity":    "<template>",                  must render to Low, Medium or High (or empty)
      "incident_types": ["<template>", ...],       labels; empty results are dropped
      "properties":  {"<custom_field>": "<template>" |
                      {"template": "<template>", "type": "text|textarea|html|number|datetime|boolean|select"} |
                      ["<template>", ...]  (multiselect labels)},
      "artifacts":   [{"type": "<template>", "value": "<template>", "description": "<template>"},
                      {"type": "URL", "each": "group.urls", "description": "...", "max": 50}, ...],
      "owner":       "<template>",                  a SOAR user's email or group name (owner rules win)
      "members":     ["<template>", ...]            names; a result with commas is split
    }

``each`` is a Jinja EXPRESSION giving a list; the artifact is rendered once per item (the item is
``item`` in its templates, ``value`` defaults to ``{{ item }}``), at most ``max`` times (default 50, at
most 1,000). Artifacts with an empty value are skipped; (type, value) pairs are de-duplicated.
Managed fields (``pp_tap_group_key`` ... see :mod:`fn_pp_tap_functions.fields`) cannot be set by a template:
the app writes them from the evidence so de-duplication cannot be broken by a template.

Context: ``group`` (see :meth:`.grouping.GroupEvidence.to_context`: read-only plain data), ``now`` (ISO
text) and ``now_ms``, and helpers ``first(seq, default="")``, ``join(seq, sep=", ", limit=None, width=None)``
(adds "and N more" past ``limit`` items; cuts each item to ``width`` characters),
``truncate(text, length=255)``, ``plural(n, word, words=None)``.

Which template applies (:func:`.inputs.choose_template`): the workflow input ``pp_tap_incident_template`` >
the app.config ``incident_template_path`` file > the shipped default (``data/templates/incident_default.json``).
:meth:`IncidentTemplate.parse` validates up front and :meth:`IncidentTemplate.check` renders against
sample groups (:func:`.inputs.read_inputs` does it once per run), so a broken template is reported BEFORE
any incident is created, as a
:class:`~fn_pp_tap_functions.ingest.errors.TemplateError` naming the key, the line and Jinja's reason.
Templates are written by SOC engineers (trusted to the level of a workflow script), but they run in the
sandbox anyway: no access to internals, no mutation of the context, and one incident's render (all keys)
bounded by :data:`RENDER_LIMITS` (:class:`~fn_pp_tap_functions.sandbox.BoundedSandbox`): past a bound it
is a :class:`TemplateError` naming the key, before anything of that incident is written (by
:meth:`IncidentTemplate.check` before anything at all, when the samples show it); the worker is freed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from jinja2 import (
    BaseLoader,
    Environment,
    StrictUndefined,
    Template,
    TemplateNotFound,
    TemplateSyntaxError,
    meta,
    nodes,
)

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions import text as T
from fn_pp_tap_functions.ingest.errors import TemplateError
from fn_pp_tap_functions.sandbox import BoundedSandbox, Limits, RenderLimitError, check_joined, render_session
from fn_pp_tap_functions.tap.timestamps import epoch_ms, parse_tap_time

if TYPE_CHECKING:
    from fn_pp_tap_functions.ingest.grouping import GroupEvidence

NAME_LIMIT = 255
TEXT_LIMIT = 4000
HTML_LIMIT = 65536
ARTIFACT_VALUE_LIMIT = 8192
LABEL_LIMIT = 255
MAX_TEMPLATE_CHARS = 262144
DEFAULT_EACH_MAX = 50
MAX_EACH = 1000
SEVERITIES = ("Low", "Medium", "High")
PROPERTY_TYPES = ("text", "textarea", "html", "number", "datetime", "boolean", "select")
TOP_KEYS = ("name", "description", "severity", "incident_types", "properties", "artifacts", "owner", "members")
KIND_KEYS = {"create": TOP_KEYS, "update": ("name", "description", "severity"), "close": ("name", "description")}
"""The keys each kind of template may have: the create template makes the incident; the update and close
templates re-render its name and description (and, on update, may raise its severity) from its evidence
across runs (:func:`.state.merged_context`)."""
ARTIFACT_KEYS = ("type", "value", "description", "each", "max")
SHIPPED_DEFAULT = "incident_default.json"
RENDER_LIMITS = Limits(seconds=5.0, chars=8_000_000, value=1_000_000)
"""What rendering ONE incident (every key of the template, artifacts' items included) may use."""
_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]{0,99}")


# ------------------------------------------------------------------------------------------------ drafts


@dataclass(frozen=True, slots=True)
class ArtifactDraft:
    """An artifact to add: SOAR artifact type NAME, value, plain-text description."""

    type: str
    value: str
    description: str = ""
    spec: int = 0  # which artifact spec of the template made it (its "max" applies per incident)


@dataclass(frozen=True, slots=True)
class IncidentDraft:
    """What the template made of one group: inert, length-capped values ready for SOAR.

    ``description`` is HTML; ``severity`` a label (Low/Medium/High) or ``None``; ``properties`` custom
    field name -> value (text, number, epoch ms, bool or list of labels; ``None`` = leave empty).
    """

    name: str
    description: str
    severity: str | None
    incident_types: tuple[str, ...]
    properties: dict[str, object] = field(default_factory=dict)
    artifacts: tuple[ArtifactDraft, ...] = ()
    owner: str | None = None
    members: tuple[str, ...] = ()


# -------------------------------------------------------------------------------------------- helpers


def _first(seq: object, default: object = "") -> object:
    if isinstance(seq, str):
        return seq or default
    if not isinstance(seq, Iterable):
        return default
    for item in seq:
        return item
    return default


def _join(seq: object, sep: str = ", ", limit: int | None = None, width: int | None = None) -> str:
    if seq is None:
        return ""
    if isinstance(seq, str):
        seq = [seq]
    if not isinstance(seq, Iterable):
        raise TypeError(f"join() needs a list, not {type(seq).__name__}")
    values = list(itertools.islice(seq, RENDER_LIMITS.value + 1))
    check_joined(values, sep if width is None else "")  # before any text is made
    items = ["" if v is None else str(v) for v in values]
    if width is not None and width > 0:
        items = [T.truncate(v, width) for v in items]
    if limit is not None and limit >= 0 and len(items) > limit:
        rest = len(items) - limit
        return sep.join(items[:limit]) + f" and {rest} more"
    return sep.join(items)


def _truncate(value: object, length: int = 255) -> str:
    if not isinstance(value, str):
        check_joined([value], "")
    return T.truncate("" if value is None else str(value), max(1, int(length)))


def _plural(count: object, word: str, words: str | None = None) -> str:
    try:
        number = int(count) if isinstance(count, int | float | str) else 0
    except (ValueError, OverflowError):
        number = 0
    check_joined([word, words], "")  # the words become text: refuse a huge value before making it
    return f"{number} {word if number == 1 else (words or str(word) + 's')}"


class _Loader(BaseLoader):
    """Templates by key path; the key path is also the 'filename', so tracebacks carry key and line."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self.sources = dict(sources)

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        if template not in self.sources:
            raise TemplateNotFound(template)
        return self.sources[template], template, lambda: True


def _environment(loader: _Loader, html_keys: frozenset[str]) -> BoundedSandbox:
    env = BoundedSandbox(
        loader=loader,
        undefined=StrictUndefined,
        autoescape=lambda name: name in html_keys,
        finalize=lambda value: "" if value is None else value,
        auto_reload=False,
        cache_size=0,
        limits=RENDER_LIMITS,
    )
    env.filters.pop("safe", None)
    env.globals.update(first=_first, join=_join, truncate=_truncate, plural=_plural)
    return env


# --------------------------------------------------------------------------------------- compiled parts


@dataclass(frozen=True, slots=True)
class _Text:
    """One string template: its key path and how its result is cleaned/typed."""

    key: str
    kind: str  # line | text | html | number | datetime | boolean | severity
    limit: int


@dataclass(frozen=True, slots=True)
class _Artifact:
    key: str
    type: _Text
    value: _Text
    description: _Text | None
    each: str | None
    max: int


def _fail(source: str, key: str | None, reason: str, line: int | None = None) -> TemplateError:
    return TemplateError(source=source, key=key, reason=reason, line=line)


def _line_of(err: BaseException, key: str) -> int | None:
    if isinstance(err, TemplateSyntaxError) and err.lineno:
        return err.lineno
    found = None
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename == key:
            found = frame.lineno
    return found


def _reason(err: BaseException) -> str:
    if isinstance(err, TemplateSyntaxError):
        text = err.message or "syntax error"
    elif isinstance(err, RenderLimitError):
        text = str(err)
    elif isinstance(err, MemoryError):
        text = "stopped: the template ran out of memory; it makes too much text"
    else:
        text = f"{type(err).__name__}: {err}"
    return T.line(text, 300)


class IncidentTemplate:
    """A parsed, compiled incident template (immutable after :meth:`parse`)."""

    __slots__ = ("source", "kind", "fingerprint", "_env", "_loader", "_name", "_description", "_severity", "_types",
                 "_properties", "_artifacts", "_owner", "_members", "_each", "_compiled", "_literal", "_uses_item",
                 "_own_type")

    source: str
    kind: str
    fingerprint: str  # the kind and text it was parsed from: equal fingerprints render alike
    _env: BoundedSandbox
    _loader: _Loader
    _name: _Text
    _description: _Text
    _severity: _Text
    _types: tuple[_Text, ...]
    _properties: tuple[tuple[str, _Text | tuple[_Text, ...]], ...]
    _artifacts: tuple[_Artifact, ...]
    _owner: _Text
    _members: tuple[_Text, ...]

    def __init__(self) -> None:  # use parse()
        self._each: dict[str, Callable[..., Any]] = {}
        self._compiled: dict[str, Template] = {}
        self._literal: dict[str, str] = {}  # sources without Jinja syntax: no render needed
        self._uses_item: set[str] = set()  # artifact templates that read ``item`` (rendered per item)
        # artifact specs with a literal type no other spec gives: the only ones an update may skip, since
        # specs that give the same type de-duplicate each other's values
        self._own_type: frozenset[int] = frozenset()

    # -------------------------------------------------------------------------------- parsing

    @classmethod
    def parse(cls, text: str, source: str = "workflow input", kind: str = "create") -> IncidentTemplate:
        """Parse and compile ``text``; raises :class:`TemplateError` naming the key, line and reason.

        ``kind``: ``create`` (every key, ``name`` required), ``update`` or ``close`` (see :data:`KIND_KEYS`)."""
        if not isinstance(text, str) or not text.strip():
            raise _fail(source, None, "the template is empty.")
        if len(text) > MAX_TEMPLATE_CHARS:
            raise _fail(source, None, f"the template is longer than {MAX_TEMPLATE_CHARS} characters.")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            raise _fail(source, None, f"not valid JSON: {err.msg} (column {err.colno})", err.lineno) from None
        if not isinstance(doc, dict):
            raise _fail(source, None, "the template must be a JSON object {\"name\": ..., ...}.")
        self = cls()
        self.source = source
        self.fingerprint = hashlib.sha256(f"{kind}\n{text}".encode()).hexdigest()
        sources: dict[str, str] = {}
        html: set[str] = set()

        def text_of(key: str, value: object, kind: str, limit: int) -> _Text:
            if not isinstance(value, str):
                raise _fail(source, key, f"must be a string (a Jinja template), got {type(value).__name__}.")
            sources[key] = value
            if kind == "html":
                html.add(key)
            return _Text(key, kind, limit)

        def texts_of(key: str, value: object, kind: str, limit: int) -> tuple[_Text, ...]:
            if value is None:
                return ()
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list):
                raise _fail(source, key, "must be a list of strings.")
            return tuple(text_of(f"{key}[{i}]", v, kind, limit) for i, v in enumerate(value))

        allowed_keys = KIND_KEYS[kind]
        for key in doc:
            if not isinstance(key, str) or (key not in allowed_keys and not key.startswith("_")):
                allowed = ", ".join(allowed_keys)
                raise _fail(source, str(key), f"unknown key; allowed: {allowed} (keys starting with _ are comments).")
        if "name" not in doc and kind == "create":
            raise _fail(source, "name", "is required.")
        self.kind = kind
        self._name = text_of("name", doc.get("name", ""), "line", NAME_LIMIT)
        description = doc.get("description", "")
        if isinstance(description, list) and all(isinstance(v, str) for v in description):
            description = "\n".join(description)  # readable JSON: one list item per line; line N = item N
        self._description = text_of("description", description, "html", HTML_LIMIT)
        self._severity = text_of("severity", doc.get("severity", ""), "severity", 20)
        self._types = texts_of("incident_types", doc.get("incident_types"), "line", LABEL_LIMIT)
        self._owner = text_of("owner", doc.get("owner", ""), "line", LABEL_LIMIT)
        self._members = texts_of("members", doc.get("members"), "text", TEXT_LIMIT)

        props = doc.get("properties") or {}
        if not isinstance(props, dict):
            raise _fail(source, "properties", "must be an object {\"field_name\": \"template\", ...}.")
        properties: list[tuple[str, _Text | tuple[_Text, ...]]] = []
        for name, spec in props.items():
            key = f"properties.{name}"
            if name.startswith("_"):
                continue
            if not _FIELD_NAME.fullmatch(name):
                raise _fail(source, key, "is not a SOAR field API name (lower case letters, digits, _).")
            if name in F.MANAGED_FIELDS:
                raise _fail(source, key, "is managed by the app (written from the TAP evidence); remove it.")
            if isinstance(spec, list):
                properties.append((name, texts_of(key, spec, "line", LABEL_LIMIT)))
                continue
            kind = "text"
            if isinstance(spec, dict):
                unknown = set(spec) - {"template", "type"}
                if unknown or "template" not in spec:
                    raise _fail(source, key, "an object here needs \"template\" and may have \"type\" only.")
                kind = spec.get("type", "text")
                if kind not in PROPERTY_TYPES:
                    raise _fail(source, key, f"type {str(kind)[:30]!r} is not one of: {', '.join(PROPERTY_TYPES)}.")
                spec = spec["template"]
            mapping = {"text": ("line", TEXT_LIMIT), "select": ("line", LABEL_LIMIT), "textarea": ("text", TEXT_LIMIT),
                       "html": ("html", HTML_LIMIT)}
            clean_kind, limit = mapping.get(kind, (kind, 100))
            properties.append((name, text_of(key, spec, clean_kind, limit)))
        self._properties = tuple(properties)

        arts = doc.get("artifacts") or []
        if not isinstance(arts, list):
            raise _fail(source, "artifacts", "must be a list of {\"type\", \"value\", \"description\"} objects.")
        artifacts: list[_Artifact] = []
        for index, spec in enumerate(arts):
            key = f"artifacts[{index}]"
            if not isinstance(spec, dict):
                raise _fail(source, key, "must be an object with type, value (or each) and description.")
            extra = [k for k in spec if k not in ARTIFACT_KEYS and not str(k).startswith("_")]
            if extra:
                raise _fail(source, f"{key}.{extra[0]}", f"unknown key; allowed: {', '.join(ARTIFACT_KEYS)}.")
            if "type" not in spec:
                raise _fail(source, f"{key}.type", "is required (a SOAR artifact type name such as URL).")
            each = spec.get("each")
            if each is not None and (not isinstance(each, str) or not each.strip()):
                raise _fail(source, f"{key}.each", "must be a Jinja expression giving a list, e.g. group.urls.")
            if "value" not in spec and each is None:
                raise _fail(source, f"{key}.value", "is required unless \"each\" is given.")
            limit = spec.get("max", DEFAULT_EACH_MAX)
            if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_EACH:
                raise _fail(source, f"{key}.max", f"must be a whole number from 1 to {MAX_EACH}.")
            artifacts.append(
                _Artifact(
                    key=key,
                    type=text_of(f"{key}.type", spec["type"], "line", LABEL_LIMIT),
                    value=text_of(f"{key}.value", spec.get("value", "{{ item }}"), "line", ARTIFACT_VALUE_LIMIT),
                    description=(
                        text_of(f"{key}.description", spec["description"], "text", TEXT_LIMIT)
                        if "description" in spec else None
                    ),
                    each=each,
                    max=limit,
                )
            )
        self._artifacts = tuple(artifacts)

        self._loader = _Loader(sources)
        self._env = _environment(self._loader, frozenset(html))
        for key, src in sources.items():
            try:
                ast = self._env.parse(src, name=key, filename=key)
            except TemplateSyntaxError as err:
                raise _fail(source, key, _reason(err), _line_of(err, key)) from None
            for node in ast.find_all((nodes.EvalContextModifier, nodes.Extends, nodes.Include, nodes.Import,
                                      nodes.FromImport)):
                what = "autoescape blocks" if isinstance(node, nodes.EvalContextModifier) else "extends/include/import"
                raise _fail(source, key, f"{what} are not allowed in incident templates.", node.lineno)
            if not any(mark in src for mark in ("{{", "{%", "{#")):
                self._literal[key] = src
            try:
                self._compiled[key] = self._env.get_template(key)
                if "item" in meta.find_undeclared_variables(ast):
                    self._uses_item.add(key)
            except TemplateSyntaxError as err:
                raise _fail(source, key, _reason(err), _line_of(err, key)) from None
        for art in self._artifacts:
            if art.each is not None:
                try:
                    self._each[art.key] = self._env.compile_expression(art.each, undefined_to_none=False)
                except TemplateSyntaxError as err:
                    raise _fail(source, f"{art.key}.each", _reason(err), 1) from None
        types = [self._literal.get(art.type.key) for art in self._artifacts]
        self._own_type = frozenset(n for n, t in enumerate(types) if t is not None and types.count(t) == 1)
        return self

    @classmethod
    def default(cls) -> IncidentTemplate:
        """The shipped default (``data/templates/incident_default.json``)."""
        return _shipped_default()

    # ------------------------------------------------------------------------------ rendering

    def check(self, samples: Iterable[GroupEvidence]) -> None:
        """Render against sample groups (:func:`.samples.sample_groups`); raise on any problem.

        The sparse sample (retro-condemned message: no subject, sender, campaign or click) catches
        templates that index into lists that are often empty, before they fail on real data.
        """
        now = datetime(2024, 1, 1, tzinfo=UTC)
        for sample in samples:
            try:
                self.render(sample, now=now)
            except TemplateError as err:
                raise _fail(
                    self.source, err.key, f"{err.reason} (while checking against the sample group {sample.key})",
                    err.line,
                ) from None

    def render(self, group: GroupEvidence, *, now: datetime | None = None,
               merged: Mapping[str, object] | None = None, evidence_only: bool = False,
               skip_specs: frozenset[int] = frozenset()) -> IncidentDraft:
        """The incident draft for ``group``; raises :class:`TemplateError` naming key, line and reason.

        ``merged`` (the incident's evidence across runs, :func:`.state.merged_context`) is what every key but
        ``artifacts`` renders from; artifacts always render from this run's ``group`` (every value of it).
        ``evidence_only``: only what an update takes from the create template (severity, custom fields,
        artifacts); the name, description, types, owner and members are left empty, since an update
        re-renders the name and description with :meth:`render_text` and never changes the others, and the
        description is the costliest key to render. ``skip_specs``: artifact specs (by number) not to render
        (an update skips those the incident has filled to their cap)."""
        now = now or datetime.now(UTC)
        raw = _context(group, now)
        context = raw if merged is None else dict(raw, group=merged)
        try:
            with render_session(self._env.limits):  # one budget for every key of this incident
                if evidence_only:
                    return self._evidence(context, raw, skip_specs)
                return self._draft(group, context, raw)
        except RenderLimitError as err:  # past the bounds between two keys (a limit error names no key)
            raise _fail(self.source, None, _reason(err)) from None

    def _evidence(self, context: dict[str, object], raw: dict[str, object], skip: frozenset[int]) -> IncidentDraft:
        return IncidentDraft(name="", description="", severity=self._render(self._severity, context) or None,
                             incident_types=(), properties=self._render_properties(context),
                             artifacts=self._render_artifacts(raw, skip))

    def _render_properties(self, context: dict[str, object]) -> dict[str, object]:
        properties: dict[str, object] = {}
        for prop, spec in self._properties:
            if isinstance(spec, tuple):
                properties[prop] = list(dict.fromkeys(v for v in (self._render(t, context) for t in spec) if v))
            else:
                properties[prop] = self._render(spec, context)
        return properties

    def _draft(self, group: GroupEvidence, context: dict[str, object], raw: dict[str, object]) -> IncidentDraft:
        name = self._render(self._name, context)
        if not name:
            name = T.line(f"Proofpoint TAP: {group.key}", NAME_LIMIT)
        types = tuple(dict.fromkeys(v for v in (self._render(t, context) for t in self._types) if v))
        properties = self._render_properties(context)
        members: list[str] = []
        for tmpl in self._members:
            for part in re.split(r"[,;\n]+", self._render(tmpl, context)):
                part = T.line(part, LABEL_LIMIT)
                if part and part not in members:
                    members.append(part)
        return IncidentDraft(
            name=name,
            description=self._render(self._description, context),
            severity=self._render(self._severity, context) or None,
            incident_types=types,
            properties=properties,
            artifacts=self._render_artifacts(raw),
            owner=self._render(self._owner, context) or None,
            members=tuple(members),
        )

    def _render_artifacts(self, context: dict[str, object],
                          skip: frozenset[int] = frozenset()) -> tuple[ArtifactDraft, ...]:
        seen: dict[tuple[str, str], ArtifactDraft] = {}
        skip &= self._own_type
        for number, art in enumerate(self._artifacts):
            if number in skip:
                continue
            if art.each is None:
                items: list[object] = [None]
            else:
                try:
                    result = self._each[art.key](**context)
                    if result is None or (isinstance(result, str) and result == ""):
                        result = ()
                    if isinstance(result, str | bytes | Mapping) or not isinstance(result, Iterable):
                        raise _fail(self.source, f"{art.key}.each", f"gives a {type(result).__name__}, not a list.",
                                    1)
                    items = list(itertools.islice(result, art.max))
                except TemplateError:
                    raise
                except Exception as err:  # template author code: report, never crash
                    raise _fail(self.source, f"{art.key}.each", _reason(err), 1) from None
            # parts that do not read ``item`` are rendered once per artifact spec, not once per item
            fixed: dict[str, Any] = {}
            for part in (art.type, art.description):
                if part is not None and part.key not in self._uses_item:
                    fixed[part.key] = self._render(part, context)
            for item in items:
                local = dict(context, item=item)
                kind = fixed[art.type.key] if art.type.key in fixed else self._render(art.type, local)
                if art.each is not None and self._sources_item_only(art.value):
                    check_joined([item], "")
                    value = self._convert(art.value, "" if item is None else str(item))
                else:
                    value = self._render(art.value, local)
                if not kind or not value or (kind, value) in seen:
                    continue
                if art.description is None:
                    description = ""
                elif art.description.key in fixed:
                    description = fixed[art.description.key]
                else:
                    description = self._render(art.description, local)
                seen[(kind, value)] = ArtifactDraft(kind, value, description, number)
        return tuple(seen.values())

    def artifact_caps(self) -> dict[int, int]:
        """Artifact spec number -> its ``max``: how many artifacts the spec may add to ONE incident, all runs."""
        return {index: art.max for index, art in enumerate(self._artifacts)}

    def render_text(self, merged: Mapping[str, object], *, now: datetime | None = None,
                    extra: Mapping[str, object] | None = None) -> tuple[str | None, str | None, str | None]:
        """(name, description, severity) of an update or close template over the incident's evidence across
        runs (``None``: the template does not set it, or it rendered empty); ``extra`` adds context names
        (the close template sees ``close``)."""
        context: dict[str, object] = {"group": merged, **_clock(now or datetime.now(UTC)), **(extra or {})}
        name = self._render(self._name, context) if self._loader.sources.get("name") else None
        description = self._render(self._description, context) if self._loader.sources.get("description") else None
        severity = self._render(self._severity, context) if self._loader.sources.get("severity") else None
        return name or None, description or None, severity or None

    def _sources_item_only(self, spec: _Text) -> bool:
        return self._loader.sources.get(spec.key, "").strip() in ("{{ item }}", "{{item}}")

    def _render(self, spec: _Text, context: Mapping[str, object]) -> Any:
        if spec.key in self._literal:
            return self._convert(spec, self._literal[spec.key])
        try:
            raw = self._compiled[spec.key].render(context)
            return self._convert(spec, raw)
        except TemplateError:
            raise
        except Exception as err:  # template author code (MemoryError included): report with key and line
            raise _fail(self.source, spec.key, _reason(err), _line_of(err, spec.key)) from None

    def _convert(self, spec: _Text, raw: str) -> Any:
        kind = spec.kind
        if kind == "html":
            return T.clean_html(raw, spec.limit)
        if kind == "text":
            return T.clean(raw, spec.limit, multiline=True)
        value = T.line(raw, spec.limit if kind == "line" else 200)
        if kind == "line":
            return value
        if kind == "severity":
            if not value:
                return ""
            for label in SEVERITIES:
                if value.lower() == label.lower():
                    return label
            allowed = ", ".join(SEVERITIES)
            raise _fail(self.source, spec.key, f"rendered {value[:40]!r}; severity must be one of: {allowed}.")
        if not value:
            return None
        if kind == "number":
            try:
                number = float(value)
            except ValueError:
                raise _fail(self.source, spec.key, f"rendered {value[:40]!r}, not a number.") from None
            return int(number) if number.is_integer() else number
        if kind == "boolean":
            low = value.lower()
            if low in ("true", "yes", "1"):
                return True
            if low in ("false", "no", "0"):
                return False
            raise _fail(self.source, spec.key, f"rendered {value[:40]!r}, not true/false.")
        if kind == "datetime":
            if re.fullmatch(r"-?\d{1,15}", value):
                return int(value)
            parsed = parse_tap_time(value)
            if parsed is None:
                raise _fail(self.source, spec.key, f"rendered {value[:40]!r}, not epoch ms or an ISO-8601 time.")
            return epoch_ms(parsed)
        raise AssertionError(kind)


def _context(group: GroupEvidence, now: datetime) -> dict[str, object]:
    return {"group": group.to_context(), **_clock(now)}


def _clock(now: datetime) -> dict[str, object]:
    return {"now": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "now_ms": epoch_ms(now)}


@lru_cache(maxsize=1)
def _shipped_default() -> IncidentTemplate:
    text = resources.files("fn_pp_tap_functions").joinpath("data", "templates", SHIPPED_DEFAULT).read_text("utf-8")
    return IncidentTemplate.parse(text, source="shipped default")
