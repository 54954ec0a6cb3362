"""Script objects, effects, helper.fail, the sandbox and the time limit."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from sim.soar.engine import (
    ALLOWED_MODULES,
    AddArtifact,
    AddNote,
    AddRow,
    AttrDict,
    EngineError,
    ScriptFailed,
    SetArtifactField,
    SetField,
    run_script,
    sanitize_rich_text,
)
from tests.sim_soar_engine.fakes import FakeHost, envelope


def run(host: FakeHost, ctx: dict[str, Any], text: str, kind: str = "script_task", **kw: Any):
    return run_script(text, kind=kind, host=host, context=ctx, name="t", **kw)


def fails(host: FakeHost, ctx: dict[str, Any], text: str, kind: str = "script_task", **kw: Any) -> str:
    with pytest.raises(ScriptFailed) as info:
        run(host, ctx, text, kind, **kw)
    assert "Script 't' failed" in info.value.message
    return info.value.why


# ---- incident ------------------------------------------------------------------------------------


def test_reads_builtin_and_custom_fields(host, ctx) -> None:
    out = run(host, ctx, "log.info('%s %s %s %s', incident.id, incident.severity_code, incident.properties.pp_score,"
                         " incident.description.content)")
    assert out.log == ["INFO: 42 Medium 80 reported"]


def test_missing_field_raises_like_soar(host, ctx) -> None:
    assert "AttributeError" in fails(host, ctx, "x = incident.no_such_field")
    assert "AttributeError" in fails(host, ctx, "x = incident.properties.no_such_field")
    out = run(host, ctx, "log.info(str(hasattr(incident, 'city')) + str(getattr(incident.properties, 'nope', 5)))")
    assert out.log == ["INFO: False5"]


def test_field_assignment_records_set_field_with_labels(host, ctx) -> None:
    out = run(host, ctx, "incident.resolution_id = 'Not an Issue'\nincident.resolution_summary = 'fp'\n"
                         "incident.plan_status = 'C'\nincident.properties.pp_threat_status = 'falsePositive'\n"
                         "log.info(incident.plan_status + incident.properties.pp_threat_status)")
    assert out.effects == [
        SetField("incident", 42, "resolution_id", "Not an Issue"),
        SetField("incident", 42, "resolution_summary", "fp"),
        SetField("incident", 42, "plan_status", "C"),
        SetField("incident", 42, "properties.pp_threat_status", "falsePositive"),
    ]
    assert out.log == ["INFO: CfalsePositive"]  # reads see the script's own writes
    assert host.incidents[42]["plan_status"] == "A"  # run_script applies nothing itself


def test_read_only_fields_refused(host, ctx) -> None:
    assert "cannot be assigned" in fails(host, ctx, "incident.id = 5")


def test_datetime_assignment_becomes_epoch_ms(host, ctx) -> None:
    out = run(host, ctx, "import datetime\nincident.discovered_date = datetime.datetime(2024, 1, 1)")
    assert out.effects == [SetField("incident", 42, "discovered_date", 1704067200000)]


def test_notes_artifacts_rows(host, ctx) -> None:
    out = run(host, ctx, """
incident.addNote("plain")
incident.addNote(helper.createRichText("<b>bold</b><script>alert(1)</script>"))
incident.addNote(helper.createPlainText("<i>as text</i>"))
a = incident.addArtifact("URL", "http://x.example", "from TAP")
row = incident.addRow("pp_threat_table")
row["threat_id"] = "abc"
row.classification = "phish"
log.info(a.type + a.value + row.classification + row["threat_id"])
""")
    assert out.effects == [
        AddNote(42, "text", "plain"),
        AddNote(42, "html", "<b>bold</b>"),
        AddNote(42, "text", "<i>as text</i>"),
        AddArtifact(42, "URL", "http://x.example", "from TAP"),
        AddRow(42, "pp_threat_table", {"threat_id": "abc", "classification": "phish"}),
    ]
    assert out.log == ["INFO: URLhttp://x.examplephishabc"]


def test_add_note_rejects_other_types(host, ctx) -> None:
    assert "TypeError" in fails(host, ctx, "incident.addNote(5)")


def test_rich_text_strips_scripts_and_tables() -> None:
    assert sanitize_rich_text("<p>a</p><table><tr><td>x</td></tr></table><SCRIPT>x</SCRIPT>") == "<p>a</p>x"


# ---- artifact, rule, principal -------------------------------------------------------------------


def test_artifact_object(host, art_ctx) -> None:
    out = run(host, art_ctx, "artifact.description = 'seen ' + artifact.value\nlog.info(artifact.type)\n"
                             "log.info(str(rule.properties.pp_days))\nincident.addNote('n')", object_type="artifact")
    assert out.effects == [SetArtifactField(7, "description", "seen http://evil.example/x"), AddNote(42, "text", "n")]
    assert out.log == ["INFO: URL", "INFO: 3"]
    assert "only description" in fails(host, art_ctx, "artifact.value = 'x'", object_type="artifact")


def test_rule_properties_missing_field_raises(host, ctx) -> None:
    assert "AttributeError" in fails(host, ctx, "x = rule.properties.nope", rule_properties={"a": 1})


def test_unmodelled_object_type(host, ctx) -> None:
    with pytest.raises(EngineError):
        run(host, ctx, "pass", object_type="task")


# ---- pre / post ------------------------------------------------------------------------------------


def test_pre_processing_sets_inputs_from_incident_artifact_rule(host, art_ctx) -> None:
    out = run(host, art_ctx, "inputs.pp_incident_id = incident.id\ninputs.pp_threat_id = artifact.value\n"
                             "inputs.pp_limit = rule.properties.pp_days\nlog.info(str(inputs.pp_mode))",
              kind="pre", object_type="artifact", inputs={"pp_mode": "full", "pp_limit": None},
              input_names=["pp_incident_id", "pp_threat_id", "pp_limit", "pp_mode"])
    assert out.inputs == {"pp_incident_id": 42, "pp_threat_id": "http://evil.example/x", "pp_limit": 3,
                          "pp_mode": "full"}
    assert out.log == ["INFO: full"]


def test_pre_processing_unset_input_is_none_unknown_input_raises(host, ctx) -> None:
    out = run(host, ctx, "log.info(str(inputs.pp_limit))", kind="pre", input_names=["pp_limit"])
    assert out.log == ["INFO: None"]
    assert "no input 'bogus'" in fails(host, ctx, "inputs.bogus = 1", kind="pre", input_names=["pp_limit"])


def test_pre_processing_cannot_change_incident_silently(host, ctx) -> None:
    out = run(host, ctx, """
incident.plan_status = 'C'
incident.properties.pp_threat_status = 'x'
incident.addNote('n')
a = incident.addArtifact('URL', 'v', 'd')
r = incident.addRow('pp_threat_table')
r['threat_id'] = 1
workflow.addProperty('p', {'a': 1})
log.info(incident.plan_status)
inputs.pp_limit = 3
""", kind="pre", input_names=["pp_limit"])
    assert out.effects == [] and out.new_workflow_properties == {}
    assert out.inputs == {"pp_limit": 3}
    assert "INFO: A" in out.log


def test_post_processing_results_attr_on_top_and_keys_below(host, ctx) -> None:
    env = envelope({"threatStatus": "falsePositive", "items": [{"url": "u1"}], "nested": {"a": {"b": 2}}})
    out = run(host, ctx, """
import json
assert results.success and results["success"]
assert results.content["threatStatus"] == results.get("content", {})["threatStatus"]
assert results.content["nested"]["a"].get("b") == 2
assert results.content["items"][0]["url"] == "u1"
assert json.loads(json.dumps(results.content))["threatStatus"] == "falsePositive"
assert results.reason is None and results.metrics["package"] == "x"
log.info(str(results.get("missing", "dflt")))
""", kind="post", results=env)
    assert out.log == ["INFO: dflt"]
    assert "AttributeError: 'results' has no attribute 'nope'" in fails(host, ctx, "results.nope", kind="post",
                                                                         results=env)
    assert isinstance(AttrDict(a=1), dict)


def test_nested_result_values_refuse_attribute_access_as_soar_does(host, ctx) -> None:
    env = envelope({"threatStatus": "falsePositive", "items": [{"url": "u1"}], "nested": {"a": 1}})
    for script in ("results.content.threatStatus", "results.content.nested.a", "results.content['items'][0].url",
                   "results.metrics.package"):
        why = fails(host, ctx, script, kind="post", results=env)
        assert "AttributeError: 'dict' object has no attribute" in why, (script, why)
    props = {"threat": envelope({"score": 90})}
    why = fails(host, ctx, "workflow.properties.threat.content.score", kind="post", results=env,
                workflow_properties=props)
    assert "AttributeError: 'dict' object has no attribute 'score'" in why


def test_workflow_properties_and_add_property(host, ctx) -> None:
    props = {"threat": envelope({"score": 90})}
    out = run(host, ctx, "workflow.addProperty('summary', {'n': workflow.properties.threat.content['score']})\n"
                         "log.info(str(workflow.properties.summary['n']))", workflow_properties=props)
    assert out.new_workflow_properties == {"summary": {"n": 90}}
    assert out.log == ["INFO: 90"]


def test_objects_by_kind(host, ctx) -> None:
    assert "NameError" in fails(host, ctx, "inputs.x = 1", kind="post", results={})
    assert "NameError" in fails(host, ctx, "results.success", kind="pre")
    assert "NameError" in fails(host, ctx, "workflow.properties", kind="rule")
    out = run(host, ctx, "log.info(str(principal.type))", kind="rule")
    assert out.log == ["INFO: user"]


# ---- failures ---------------------------------------------------------------------------------------


def test_helper_fail_aborts_and_records_nothing(host, ctx) -> None:
    why = fails(host, ctx, "incident.addNote('n')\nhelper.fail('not a threat')\nincident.addNote('never')")
    assert why == "helper.fail: not a threat"


def test_helper_fail_cannot_be_caught(host, ctx) -> None:
    why = fails(host, ctx, "try:\n  helper.fail('boom')\nexcept Exception:\n  pass\nexcept:\n  pass\n"
                           "incident.addNote('n')")
    assert why == "helper.fail: boom"


def test_uncaught_exception_names_type_and_line(host, ctx) -> None:
    assert fails(host, ctx, "x = 1\ny = {}['k']") == "KeyError: 'k' (line 2)"


def test_syntax_error(host, ctx) -> None:
    assert "syntax error at line 1" in fails(host, ctx, "if")


# ---- sandbox ------------------------------------------------------------------------------------------

ESCAPES = [
    "import os",
    "import subprocess",
    "from os import path",
    "import xml.etree.ElementTree",
    "import importlib",
    "open('/etc/passwd')",
    "().__class__.__mro__[1].__subclasses__()",
    "__import__('os')",
    "eval('1+1')",
    "exec('x=1')",
    "compile('1', 'f', 'eval')",
    "x = (lambda: 0).__globals__",
    "getattr(incident, '__class__')",
    "getattr(log.info, '__globals__')",
    "getattr(getattr(incident, '__class__'), '__subclasses__')",
    "hasattr(incident, '__dict__')",
    "x = incident._st",
    "getattr(incident, '_st')",
    "'{0.__class__.__mro__}'.format(incident)",
    "str.format('{0.__globals__}', log.info)",
    "'{a.__class__}'.format_map({'a': 1})",
    "g = (i for i in [1])\nf = g.gi_frame",
    "g = (i for i in [1])\nf = getattr(g, 'gi_frame')",
    "globals()",
    "vars()",
    "import json\nx = json.codecs",
    "from json import codecs",
    "import datetime\nx = datetime.sys",
    "import json\njson.dumps = None",
    "import collections\ncollections.Counter.most_common = None",
    "type('X', (), {})",
    "class A:\n  pass",
    "from json import *",
    "from . import x",
    "x = __builtins__",
    "match 1:\n  case _:\n    pass",
]


@pytest.mark.parametrize("text", ESCAPES)
def test_sandbox_escapes_refused(host, ctx, text: str) -> None:
    why = fails(host, ctx, text)
    assert "sandbox" in why or "not allowed" in why or "not available" in why, why


def test_sandbox_violation_cannot_be_caught(host, ctx) -> None:
    why = fails(host, ctx, "try:\n  getattr(incident, '__class__')\nexcept:\n  pass\nincident.addNote('n')")
    assert "sandbox" in why


def test_allowed_imports_work(host, ctx) -> None:
    out = run(host, ctx, """
import json, re, datetime, time, math, hashlib, base64
import collections
from datetime import timezone
from collections import OrderedDict, defaultdict
d = defaultdict(list)
d["a"].append(1)
log.info(json.dumps({"a": 1}))
log.info(re.sub(r"\\d", "#", "a1b2"))
log.info(datetime.datetime(2024, 1, 1, tzinfo=timezone.utc).isoformat())
log.info(hashlib.sha256(b"x").hexdigest()[:8] + base64.b64encode(b"hi").decode() + str(math.floor(2.5)))
log.info("{0} {1[0]} {k}".format("fmt", [1], k=len(OrderedDict(a=1))))
log.info(f"{incident.id:05d}")
time.sleep(0)
""")
    assert out.log == ["INFO: {\"a\": 1}", "INFO: a#b#", "INFO: 2024-01-01T00:00:00+00:00", "INFO: 2d711642aGk=2",
                       "INFO: fmt 1 1", "INFO: 00042"]
    assert {"json", "re", "datetime", "collections", "hashlib"} <= ALLOWED_MODULES


def test_script_may_bind_forbidden_builtin_names(host, ctx) -> None:
    out = run(host, ctx, "input = 3\nlog.info(str(input))")
    assert out.log == ["INFO: 3"]


def test_print_is_captured(host, ctx) -> None:
    assert run(host, ctx, "print('a', 1)").log == ["PRINT: a 1"]


def test_setattr_only_on_soar_objects(host, ctx) -> None:
    out = run(host, ctx, "setattr(incident, 'severity_code', 'High')")
    assert out.effects == [SetField("incident", 42, "severity_code", "High")]
    assert "sandbox" in fails(host, ctx, "f = lambda: 0\nf.x = 1")


# ---- time limit -----------------------------------------------------------------------------------------


def test_infinite_loop_stopped_by_time_limit(host, ctx) -> None:
    t0 = time.monotonic()
    why = fails(host, ctx, "incident.addNote('n')\nwhile True:\n  pass", time_limit=0.3)
    assert "time limit" in why
    assert time.monotonic() - t0 < 20  # stopped by the limit, not run to the end (no speed target here)


def test_time_limit_not_swallowed_by_bare_except(host, ctx) -> None:
    why = fails(host, ctx, "while True:\n  try:\n    while True:\n      pass\n  except:\n    pass", time_limit=0.3)
    assert "time limit" in why
    # the script's thread is really gone: a spinning leftover would eat a core of the emulator
    deadline = time.monotonic() + 2
    while any(t.name.startswith("soar-script") for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("soar-script")]


def test_for_loops_are_time_limited(host, ctx) -> None:
    assert "time limit" in fails(host, ctx, "for i in iter(int, 1):\n  pass", time_limit=0.3)


def test_sleep_capped_by_time_limit(host, ctx) -> None:
    t0 = time.monotonic()
    assert "time limit" in fails(host, ctx, "import time\ntime.sleep(30)", time_limit=0.3)
    assert time.monotonic() - t0 < 20  # stopped by the limit, not run to the end (no speed target here)
