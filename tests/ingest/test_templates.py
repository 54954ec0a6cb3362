"""Incident templates: attacker data stays inert; broken templates are reported before anything."""

from __future__ import annotations

import json

import pytest
from ingest_factories import MALWARE, click, events, message, threat

from fn_pp_tap_functions.ingest import (
    IncidentTemplate,
    IngestPolicy,
    TemplateError,
    group_events,
    read_inputs,
    select_events,
)
from fn_pp_tap_functions.ingest.samples import sample_groups

HOSTILE_SUBJECT = (
    'Re: "urgent"\' invoice\r\nBcc: victim@example.com\n{{ 7*7 }} {% raw %}x{% endraw %} ${7*7} '
    "<script>alert(1)</script><img src=x onerror=alert(1)> \x00\x07\x1b[31m\x85\x9b "
    "invoice\u202efdp.exe \u2066x\u2069 \u200f"
)
HOSTILE_SENDER = '"}, "owner": "attacker@evil"{{ x }}@evil.example.net'


def hostile_group(hostile: bool = True):
    raw = message(
        threat(MALWARE, kind="attachment", classification="malware"),
        subject=HOSTILE_SUBJECT + ("A" * 100_000) if hostile else "Invoice",
        sender=HOSTILE_SENDER if hostile else "a@evil.example.net",
        header_from=HOSTILE_SENDER if hostile else "a@evil.example.net",
    )
    policy = IngestPolicy()
    url = "javascript:alert(1)" if hostile else "https://evil.example.net/x"
    batch = events(delivered=[raw], permitted=[click(MALWARE, url=url, classification="malware")])
    kept = select_events(batch, policy).kept
    return group_events(kept, policy)[f"threat:{MALWARE}"]


def _no_controls(value: str) -> None:
    assert not any(ord(c) < 32 and c not in "\t\n" for c in value)
    assert not any(0x7F <= ord(c) <= 0x9F for c in value)
    assert not any(c in value for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def test_default_template_renders_samples():
    template = IncidentTemplate.default()
    template.check(sample_groups())
    drafts = [template.render(g) for g in sample_groups()]
    assert all(d.name.startswith("Proofpoint TAP: ") and len(d.name) <= 255 for d in drafts)
    by_key = {g.key: d for g, d in zip(sample_groups(), drafts, strict=True)}
    phish = by_key["threat:" + "a" * 64]
    assert phish.severity == "High" and phish.incident_types == ("Phishing",)
    assert "delivered to 2 recipients, 1 permitted click" in phish.name
    malware = by_key["threat:" + "b" * 64]
    assert malware.incident_types == ("Malware",)
    types = {a.type for a in malware.artifacts}
    assert {"Malware SHA-256 Hash", "Malware MD5 Hash", "File Name", "Proofpoint TAP Threat ID",
            "Email Recipient", "Email Sender", "IP Address", "Proofpoint TAP Campaign ID"} <= types
    spam = by_key["threat:" + "e" * 64]
    assert spam.severity == "Low"


def test_hostile_values_are_inert_and_structure_unchanged():
    group = hostile_group()
    draft = IncidentTemplate.default().render(group)
    benign = IncidentTemplate.default().render(hostile_group(hostile=False))
    # name: one line, capped, literal braces, no control or bidi characters
    assert "\n" not in draft.name and len(draft.name) <= 255
    _no_controls(draft.name)
    # description: escaped, literal template syntax, bidi visible, capped
    assert "<script>" not in draft.description and "&lt;script&gt;" in draft.description
    assert "<img" not in draft.description
    assert "{{ 7*7 }}" in draft.description and "49" not in draft.description
    assert "{% raw %}" in draft.description
    assert "[U+202E]" in draft.description
    assert len(draft.description) <= 65536
    _no_controls(draft.description.replace("\n", ""))
    # artifacts: the subject is ONE artifact value, capped; nothing else changed
    subjects = [a for a in draft.artifacts if a.type == "Email Subject"]
    assert len(subjects) == 1 and len(subjects[0].value) <= 8192 and "\n" not in subjects[0].value
    assert subjects[0].value.startswith('Re: "urgent"\' invoice Bcc: victim@example.com {{ 7*7 }}')
    _no_controls(subjects[0].value)
    senders = [a.value for a in draft.artifacts if a.type == "Email Sender"]
    assert HOSTILE_SENDER.lower() in senders
    assert draft.owner is None and draft.members == () and draft.properties == {}
    assert {a.type for a in draft.artifacts} == {a.type for a in benign.artifacts}
    def counts(d):
        # the hostile From header parses into extra "addresses": more Email Sender values, same structure
        return {t: sum(1 for a in d.artifacts if a.type == t) for t in {a.type for a in d.artifacts} - {"Email Sender"}}

    assert counts(draft) == counts(benign)
    assert (draft.severity, draft.incident_types) == (benign.severity, benign.incident_types) == ("High", ("Malware",))
    # the dashboard link is a link; attacker URLs never are
    assert 'href="javascript' not in draft.description


def test_custom_template_fields_cannot_be_hijacked():
    text = json.dumps({
        "name": "{{ first(group.subjects) }}",
        "description": "<p>{{ first(group.senders) }}</p>",
        "severity": "High",
        "incident_types": ["Phishing"],
        "properties": {
            "my_subject": {"template": "{{ first(group.subjects) }}", "type": "textarea"},
            "my_count": {"template": "{{ group.recipients_count }}", "type": "number"},
            "my_first": {"template": "{{ group.first_seen }}", "type": "datetime"},
            "my_tags": ["{{ group.kind }}", "{{ '' }}"],
        },
        "owner": "SOC",
        "members": ["{{ 'a@example.com, b@example.com' }}"],
    })
    template = IncidentTemplate.parse(text, source="test")
    template.check(sample_groups())
    draft = template.render(hostile_group())
    assert set(draft.properties) == {"my_subject", "my_count", "my_first", "my_tags"}
    assert draft.properties["my_subject"].startswith('Re: "urgent"\' invoice\nBcc: victim@example.com')
    assert len(draft.properties["my_subject"]) <= 4000
    assert draft.properties["my_count"] == 1 and isinstance(draft.properties["my_first"], int)
    assert draft.properties["my_tags"] == ["threat"]
    assert draft.owner == "SOC" and draft.members == ("a@example.com", "b@example.com")
    assert "&#34;owner&#34;" in draft.description or "&quot;owner&quot;" in draft.description


@pytest.mark.parametrize(
    ("doc", "key", "line", "reason"),
    [
        ({"name": "x", "description": ["<p>", "ok", "{{ group.key } }}"]}, "description", 3, "unexpected '}'"),
        ({"name": "{% if %}"}, "name", 1, "Expected an expression"),
        ({"name": "x", "description": ["a", "{{ group.treat_ids }}"]}, "description", 2, "treat_ids"),
        ({"name": "{{ group.campaign_ids[0] }}"}, "name", 1, "has no element 0"),  # fails on the sparse sample
        ({"name": "{{ ''.__class__.__mro__ }}"}, "name", 1, "__class__"),
        ({"name": "{{ group.subjects | safe }}"}, "name", 1, "safe"),
        ({"name": "x", "description": "{% autoescape false %}{{ group.key }}{% endautoescape %}"}, "description", 1,
         "autoescape"),
        ({"name": "x", "severity": "{{ 'Critical' }}"}, "severity", None, "Low, Medium, High"),
        ({"name": "x", "properties": {"n": {"template": "{{ group.key }}", "type": "number"}}}, "properties.n", None,
         "not a number"),
        ({"name": "x", "properties": {"pp_tap_group_key": "x"}}, "properties.pp_tap_group_key", None, "managed"),
        ({"name": "x", "properties": {"Bad Name": "x"}}, "properties.Bad Name", None, "field API name"),
        ({"name": "x", "artifacts": [{"type": "URL", "each": "group.urls |"}]}, "artifacts[0].each", 1,
         "expected 'name'"),
        ({"name": "x", "artifacts": [{"type": "URL", "each": "group.key"}]}, "artifacts[0].each", 1, "not a list"),
        ({"name": "x", "artifacts": [{"type": "URL"}]}, "artifacts[0].value", None, "required"),
        ({"name": "x", "artifacts": [{"type": "URL", "each": "group.urls", "max": 0}]}, "artifacts[0].max", None,
         "1 to 1000"),
        ({"name": "x", "colour": "red"}, "colour", None, "unknown key"),
        ({"description": "x"}, "name", None, "required"),
        ({"name": ["x"]}, "name", None, "must be a string"),
    ],
)
def test_broken_templates_name_key_and_line(doc, key, line, reason):
    with pytest.raises(TemplateError) as caught:
        IncidentTemplate.parse(json.dumps(doc), source="workflow input pp_tap_incident_template").check(sample_groups())
    err = caught.value
    assert err.key == key
    assert reason in str(err)
    if line is not None:
        assert err.line == line
        assert f"template '{key}' line {line}:" in str(err)
    assert str(err).startswith("Incident template (workflow input pp_tap_incident_template)")


def test_syntax_error_message_reads_well():
    with pytest.raises(TemplateError) as caught:
        IncidentTemplate.parse('{"name": "x", "description": "a\\nb\\n{{ group.key } }}"}')
    assert str(caught.value) == "Incident template (workflow input): template 'description' line 3: unexpected '}'"


def test_invalid_json_names_line():
    with pytest.raises(TemplateError) as caught:
        IncidentTemplate.parse('{\n  "name": "x",\n  "description": "y"\n  "severity": "Low"\n}')
    assert caught.value.line == 4 and "not valid JSON" in str(caught.value)


def test_each_max_and_dedupe():
    text = json.dumps({"name": "x", "artifacts": [
        {"type": "Email Recipient", "each": "group.recipients", "max": 1},
        {"type": "Email Recipient", "each": "group.recipients"},
        {"type": "", "value": "skipped"},
        {"type": "String", "value": "{{ '' }}"},
    ]})
    draft = IncidentTemplate.parse(text).render(sample_groups()[0])
    assert [a.value for a in draft.artifacts] == ["alice@example.com", "bob@example.com"]


def test_context_is_immutable():
    text = json.dumps({"name": "{{ group.recipients.append('x') }}"})
    with pytest.raises(TemplateError):
        IncidentTemplate.parse(text).check(sample_groups())


def test_template_precedence_workflow_input_then_file_then_default():
    workflow = '{"name": "from workflow"}'
    file_text = '{"name": "from file"}'
    group = sample_groups()[0]

    def chosen(inputs: dict, text: str | None) -> tuple[str, str]:
        request = read_inputs(inputs, template_file_text=text, template_file_path="/x.json")
        return request.template.render(group).name, request.template_source

    assert chosen({"pp_tap_incident_template": workflow}, file_text) == ("from workflow", "workflow input")
    assert chosen({}, file_text) == ("from file", "app.config file")
    name, source = chosen({"pp_tap_incident_template": "  "}, None)
    assert name.startswith("Proofpoint TAP:") and source == "default"
    with pytest.raises(TemplateError, match=r"app.config incident_template_path /x.json"):
        read_inputs({}, template_file_text='{"name": "{{ nope }}"}', template_file_path="/x.json")


def test_the_templates_are_checked_once_per_read(monkeypatch):
    from fn_pp_tap_functions.ingest import inputs as inputs_module

    checks = []
    original = inputs_module.check_templates
    monkeypatch.setattr(inputs_module, "check_templates", lambda *t: checks.append(t) or original(*t))
    read_inputs({"pp_tap_incident_template": '{"name": "x"}', "pp_tap_update_template": '{"name": "{{ group.key }}"}'})
    assert len(checks) == 1 and checks[0][1] is not None and checks[0][2] is None


def test_templates_that_passed_are_not_rendered_again_and_a_broken_one_fails_every_time(monkeypatch):
    # a scheduled run reads the same templates every 5 minutes: the check against the samples is done once
    # per process for a set that passed; one that fails is reported on every run
    from collections import OrderedDict

    from fn_pp_tap_functions.ingest import inputs as inputs_module

    renders = []
    original = inputs_module._render_samples
    monkeypatch.setattr(inputs_module, "_CHECKED", OrderedDict())
    monkeypatch.setattr(inputs_module, "_render_samples", lambda *t: renders.append(t) or original(*t))
    good = '{"name": "checked once: {{ group.key }}"}'
    for _ in range(3):
        read_inputs({"pp_tap_incident_template": good})
    assert len(renders) == 1
    read_inputs({"pp_tap_incident_template": good, "pp_tap_update_template": '{"name": "u {{ group.key }}"}'})
    assert len(renders) == 2  # another set of templates is checked
    for _ in range(2):
        with pytest.raises(TemplateError, match="nope"):
            read_inputs({"pp_tap_incident_template": '{"name": "{{ nope.x }}"}'})
    assert len(renders) == 4


def test_evidence_only_renders_what_an_update_takes_and_nothing_else():
    template = IncidentTemplate.default()
    group = hostile_group(hostile=False)
    full = template.render(group)
    evidence = template.render(group, evidence_only=True)
    assert (evidence.severity, evidence.properties, evidence.artifacts) == (full.severity, full.properties,
                                                                           full.artifacts)
    assert full.name and full.description and evidence.name == evidence.description == ""
    assert evidence.incident_types == () and evidence.owner is None and evidence.members == ()


def test_evidence_skips_filled_specs_unless_another_spec_gives_the_same_type():
    template = IncidentTemplate.default()
    group = hostile_group(hostile=False)
    full = template.render(group, evidence_only=True)
    kinds = [a.type for a in full.artifacts]
    recipient = next(a.spec for a in full.artifacts if a.type == "Email Recipient")
    ip_specs = {n for n, art in enumerate(template._artifacts) if template._literal.get(art.type.key) == "IP Address"}
    assert "Email Recipient" in kinds and len(ip_specs) == 2
    skipped = template.render(group, evidence_only=True, skip_specs=frozenset({recipient, *ip_specs}))
    assert "Email Recipient" not in [a.type for a in skipped.artifacts]
    # the two IP Address specs de-duplicate each other: they are rendered even when named
    assert [a for a in full.artifacts if a.type == "IP Address"] == [a for a in skipped.artifacts
                                                                     if a.type == "IP Address"]


def test_update_and_close_templates_have_their_own_keys_and_are_checked():
    with pytest.raises(TemplateError, match="unknown key; allowed: name, description, severity"):
        read_inputs({"pp_tap_update_template": '{"name": "x", "artifacts": []}'})
    with pytest.raises(TemplateError, match="workflow input pp_tap_close_template.*no attribute .nope"):
        read_inputs({"pp_tap_close_template": '{"description": "{{ close.nope }}"}'})
    request = read_inputs({"pp_tap_close_template": '{"description": "closed: {{ close.status }}"}'})
    assert request.close_template is not None and request.updates is request.template
