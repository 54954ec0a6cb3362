"""Incident templates: any JSON gives a template or a TemplateError naming the key; any template built from
the dangerous parts of Jinja renders within the time bound or is a TemplateError, never a hang, a bare error
or gigabytes; an attacker's values stay values."""

from __future__ import annotations

import json
import time
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import hostile_text, json_values

from fn_pp_tap_functions.ingest import IncidentTemplate, TemplateError, templates
from fn_pp_tap_functions.ingest.samples import sample_groups
from fn_pp_tap_functions.sandbox import Limits

FAST = Limits(seconds=0.3, chars=2_000_000, value=500_000)
KEYS = ["name", "description", "severity", "incident_types", "properties", "artifacts", "owner", "members", "_c"]


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(templates, "RENDER_LIMITS", FAST)


@given(st.dictionaries(st.sampled_from(KEYS), json_values | hostile_text, max_size=6) | json_values)
def test_any_json_is_a_template_or_a_template_error(doc):
    try:
        template = IncidentTemplate.parse(json.dumps(doc))
    except TemplateError as err:
        assert str(err).startswith("Incident template")
        return
    try:
        draft = template.render(sample_groups()[0])
    except TemplateError:
        return
    assert "\n" not in draft.name and len(draft.name) <= 255


BIG = st.sampled_from(["10**9", "1000000000", "99999", "2**40", "100000"])
SMALL = st.sampled_from(["'a'", "group.key", "group.recipients", "range(100000)", "group.urls|list", "'{:>9}'"])
expressions = st.recursive(SMALL, lambda e: st.one_of(
    st.builds("({} * {})".format, e, BIG), st.builds("({}|center({}))".format, e, BIG),
    st.builds("({}|join({} * {}))".format, e, e, BIG), st.builds("({} ~ {})".format, e, e),
    st.builds("({}|string|replace('a', {} * {}))".format, e, e, BIG), st.builds("({} ** {})".format, BIG, BIG),
    st.builds("('%' ~ {} ~ 'd') % 1".format, BIG), st.builds("{}.format(1)".format, e),
    st.builds("({}|list|sum(start=0))".format, e), st.builds("({}|wordwrap(1))".format, e)), max_leaves=4)
statements = st.recursive(expressions.map("{{{{ {} }}}}".format), lambda body: st.one_of(
    st.builds("{{% for x in {} %}}{}{{% endfor %}}".format, expressions, body),
    st.builds("{{% macro m(s) %}}{}{{{{ s ~ s }}}}{{% endmacro %}}{{{{ m({}) }}}}".format, body, expressions),
    st.builds("{}{}".format, body, body)), max_leaves=4)


@settings(max_examples=30)
@given(statements)
def test_templates_made_of_jinjas_dangerous_parts_end_in_time(description):
    template = IncidentTemplate.parse(json.dumps({"name": "x", "description": description}))
    started = time.monotonic()
    try:
        template.render(sample_groups()[0])
    except TemplateError as err:
        assert err.key in ("description", None), err
    elapsed = time.monotonic() - started
    assert elapsed < FAST.seconds + 5.0, (description, elapsed)  # generous: CI machines are shared


def test_the_worst_of_those_parts_together_stay_within_a_bounded_amount_of_memory():
    description = ("{% macro m(s) %}{% for x in range(100000) %}{{ s ~ s }}{{ (s * 100000)|center(10**9) }}"
                   "{% endfor %}{% endmacro %}{{ m('a' * 99999) }}{{ group.recipients|join('x' * 10**6) }}")
    template = IncidentTemplate.parse(json.dumps({"name": "x", "description": description}))
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError):
            template.render(sample_groups()[0])
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100 * 2**20, peak


@given(hostile_text)
def test_a_value_from_tap_is_never_template_text(value):
    group = sample_groups()[0]
    hostile = type(group)(**{**{f: getattr(group, f) for f in group.__dataclass_fields__}, "subjects": (value,)})
    draft = IncidentTemplate.parse(json.dumps({"name": "{{ group.subjects|first }}",
                                               "description": "{{ group.subjects|join }}"})).render(hostile)
    assert "49" not in draft.name or "49" in value
