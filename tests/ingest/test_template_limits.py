"""Hostile templates can neither hang a worker nor exhaust its memory (issue 11, finding 5).

Each template below ran for minutes or took gigabytes before the bounds; now each is a TemplateError that
names the key, raised within the time bound, and the same template object (and the worker) carries on.
"""

from __future__ import annotations

import json
import time

import pytest

from fn_pp_tap_functions.ingest import IncidentTemplate, TemplateError, templates
from fn_pp_tap_functions.ingest.samples import sample_groups
from fn_pp_tap_functions.sandbox import Limits
from fn_pp_tap_functions.services.rendering import render_template

FAST = Limits(seconds=1.0, chars=8_000_000, value=1_000_000)
BIG = "{% set a = 'x' * 900000 %}"

HOSTILE = {
    "repeat a text": ("{{ 'a' * 10**9 }}", "one value may have at most"),
    "repeat a list": ("{{ ['a'] * 10**9 }}", "one value may have at most"),
    "center": ("{{ 'a'|center(10**9) }}", "one value may have at most"),
    "center, literal width": ("{{ 'a'|center(1000000000) }}", "one value may have at most"),
    "ljust method": ("{{ 'a'.ljust(10**9) }}", "one value may have at most"),
    "str.format width": ("{{ '{:>1000000000}'.format(1) }}", "one value may have at most"),
    "str.format width from a value": ("{{ '{:>{w}}'.format(1, w=10**9) }}", "inside a format spec"),
    "percent width": ("{{ '%1000000000d' % 1 }}", "one value may have at most"),
    "percent star": ("{{ '%*d' % (10**9, 1) }}", "'*' widths"),
    "format filter": ("{{ '%1000000000s'|format('x') }}", "one value may have at most"),
    "power tower": ("{{ 9 ** (9 ** 9) }}", "bits"),
    "product of powers": ("{{ (7 ** 20000) * (7 ** 20000) }}", "bits"),
    "to_bytes": ("{{ (1).to_bytes(10**9, 'big') }}", "a byte string"),
    "huge join": ("{{ range(5000)|map('string')|map('center', 200)|join('x' * 100) }}", "one value"),
    "join method": ("{{ ('y' * 1000).join(range(5000)|map('string')) }}", "one value"),
    "join helper": ("{{ join(range(100000), 'z' * 1000) }}", "one value"),
    "replace": (BIG[:-2].replace("900000", "1000") + " %}{{ a|replace('x', 'y' * 10000) }}", "one value"),
    "indent": ("{{ ('a\\n' * 100000)|indent(1000) }}", "one value"),
    "wordwrap": ("{{ ('a ' * 100000)|wordwrap(1, wrapstring='-' * 1000) }}", "one value"),
    "doubling in a namespace": ("{% set ns = namespace(x='a') %}{% for i in range(40) %}{% set ns.x = ns.x ~ ns.x %}"
                                "{% endfor %}{{ ns.x }}", "one value"),
    "doubling by recursion": ("{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% else %}{{ s }}{% endif %}"
                              "{% endmacro %}{{ d('a', 40) }}", "one value"),
    "many outputs of a long text": (BIG + "{% macro m() %}" + "{{ a }}" * 10 + "{% endmacro %}{{ m() }}", "in all"),
    "a tuple of copies": (BIG + "{{ (a, a, a, a) }}", "one value"),
    "a tuple of copies, joined": (BIG + "{{ (a, a, a, a)|join }}", "one value"),
    "sum of lists": ("{{ [[1]] * 3|sum(start=[]) }}", "numbers only"),
    "nested ranges": ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "1 s"),
    "nested loops over one list": ("{% set xs = range(100000)|list %}{% for a in xs %}{% for b in xs %}{% endfor %}"
                                   "{% endfor %}", "1 s"),
    "recursive loop": ("{% for x in range(10) recursive %}{% if loop.depth < 9 %}{{ loop(range(10)) }}{% endif %}"
                       "{% endfor %}", "1 s"),
    "text made in a loop": ("{% for i in range(100000) %}{{ 'x' * 999999 }}{% endfor %}", "in all"),
    "lipsum": ("{{ lipsum(10**6) }}", "lipsum"),
}


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setattr(templates, "RENDER_LIMITS", FAST)


def parse(description: str) -> IncidentTemplate:
    return IncidentTemplate.parse(json.dumps({"name": "{{ group.key }}", "description": description}))


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_template_is_a_template_error_naming_the_key_within_the_time_bound(fast, case):
    source, reason = HOSTILE[case]
    group = sample_groups()[0]
    started = time.monotonic()
    with pytest.raises(TemplateError) as err:
        parse(source).render(group)
    elapsed = time.monotonic() - started
    assert err.value.key == "description" and reason in err.value.reason, err.value.reason
    assert "template 'description'" in str(err.value)
    assert elapsed < FAST.seconds + 4.0, f"{case}: {elapsed:.1f} s"  # generous: CI machines are shared


def test_check_reports_a_hostile_template_before_anything_is_written(fast):
    template = parse("{{ 'a' * 10**9 }}")
    with pytest.raises(TemplateError, match="while checking against the sample group") as err:
        template.check(sample_groups())
    assert err.value.key == "description"


def test_an_each_expression_is_bounded_and_named(fast):
    text = json.dumps({"name": "x", "artifacts": [
        {"type": "String", "each": "range(100000)|map('string')|map('center', 999999)", "max": 1000}]})
    with pytest.raises(TemplateError) as err:
        IncidentTemplate.parse(text).render(sample_groups()[0])
    assert err.value.key == "artifacts[0].each" and "in all" in err.value.reason


def test_the_budget_is_for_all_keys_of_one_incident_together(fast):
    big = "{{ 'x' * 900000 }}"
    text = json.dumps({"name": "x", "description": big, "properties": {f"f_{i}": big for i in range(12)}})
    with pytest.raises(TemplateError, match="in all"):
        IncidentTemplate.parse(text).render(sample_groups()[0])


def test_a_memory_error_is_a_template_error_naming_the_key(monkeypatch):
    def no_memory(*_args, **_kwargs):
        raise MemoryError()
    monkeypatch.setattr(templates.T, "clean_html", no_memory)
    with pytest.raises(TemplateError) as err:
        parse("<p>{{ group.key }}</p>").render(sample_groups()[0])
    assert err.value.key == "description" and "ran out of memory" in err.value.reason


def test_after_a_hostile_render_the_same_template_and_others_render_normally(fast):
    hostile = parse("{% if group.event_count > 1 %}{{ 'a' * 10**9 }}{% endif %}ok {{ group.key }}")
    groups = sample_groups()
    outcomes = []
    for group in groups:
        try:
            outcomes.append(hostile.render(group).description)
        except TemplateError as err:
            outcomes.append(err.key)
    assert "description" in outcomes and any(str(o).startswith("ok ") for o in outcomes)
    assert IncidentTemplate.default().render(groups[0]).name.startswith("Proofpoint TAP: ")


def test_ordinary_templates_use_loops_joins_and_formats_as_before():
    text = json.dumps({"name": "{{ '%s: %d recipients'|format(group.classification, group.recipients_count) }}",
                       "description": "{% for r in group.recipients %}{{ loop.index }}. {{ r|center(40) }}{% endfor %}"
                                      "{{ group.recipients|join(', ') }} {{ '{:>6}'.format(group.event_count) }}"
                                      "{{ group.key ~ '/' ~ group.kind }} {{ (group.urls|list + ['x'])|length }}"})
    group = sample_groups()[0]
    draft = IncidentTemplate.parse(text).render(group)
    assert draft.name.endswith(f"{group.to_context()['recipients_count']} recipients")
    assert group.key + "/" + group.kind in draft.description and "1. " in draft.description


def test_shipped_note_templates_are_bounded_too():
    huge = {"threat_id": "t", "status": "active", "category": "phish", "type": "url", "severity_score": 1,
            "name": "x" * 5_000_000, "identified_at": None, "families": [], "malware": [], "actors": [],
            "techniques": [], "brands": [], "detection_type": None, "attack_spread": None, "geo_targeted": None,
            "vertically_targeted": None, "notable": None}
    with pytest.raises(Exception, match="Proofpoint TAP's answer is too large"):
        render_template("threat_note.html.j2", threat=huge, dashboard_url=None)
