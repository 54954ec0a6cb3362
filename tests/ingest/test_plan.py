"""plan_create / plan_update: only what is new, counts derived from the ledger, one coalesced note, names and
descriptions that stay true, analyst edits kept, and idempotence under replays."""

from __future__ import annotations

import random

import pytest
from ingest_factories import CAMPAIGN, MALWARE, PHISH, SPAM, click, events, message, threat

from fn_pp_tap_functions import fields as F
from fn_pp_tap_functions.ingest import (
    ClosedAction,
    ClosedPolicy,
    IncidentSnapshot,
    IncidentTemplate,
    apply_create,
    apply_update,
    decide_closed,
    group_events,
    new_event_keys,
    plan_create,
    plan_update,
    read_policy,
    select_events,
)
from fn_pp_tap_functions.ingest import ledger as ledger_module

TEMPLATE = IncidentTemplate.default()
CAPS = TEMPLATE.artifact_caps()


def render_with(template):
    return lambda group, merged: template.render(group, merged=merged)


def evidence_with(template):
    return lambda group, merged, filled: template.render(group, merged=merged, evidence_only=True,
                                                         skip_specs=filled)


RENDER = render_with(TEMPLATE)


def render_text(merged):
    return TEMPLATE.render_text(merged)


def groups_of(batch, policy=None):
    policy = policy or read_policy({"pp_tap_event_types": "all", "pp_tap_threat_statuses": "all"})
    return group_events(select_events(batch, policy).kept, policy)


def one_group(batch, policy=None):
    groups = groups_of(batch, policy)
    assert len(groups) == 1
    return next(iter(groups.values()))


def created(group, incident_id=1, template=TEMPLATE, **kwargs):
    create = plan_create(group, render_with(template), artifact_caps=template.artifact_caps(), **kwargs)
    return create, apply_create(create, incident_id)


def update(snapshot, group, template=TEMPLATE, **kwargs):
    return plan_update(snapshot, group, evidence_with(template), template.render_text,
                       artifact_caps=template.artifact_caps(), **kwargs)


# ------------------------------------------------------------------------------------------------ create


def test_create_payload_has_managed_fields_rows_artifacts_and_a_full_ledger():
    raw = message(threat(PHISH, campaign=CAMPAIGN), recipients=["a@example.com", "b@example.com"])
    group = one_group(events(delivered=[raw], permitted=[click(PHISH, campaign=CAMPAIGN, recipient="a@example.com")]))
    create, snapshot = created(group)
    incident = create.incident
    props = incident["properties"]
    assert incident["plan_status"] == "A" and incident["severity_code"] == "High"
    assert incident["incident_type_ids"] == ["Phishing"]
    assert incident["description"]["format"] == "html"
    assert incident["discovered_date"] == props[F.FIRST_SEEN]
    assert props[F.GROUP_KEY] == f"threat:{PHISH}" and props[F.THREAT_IDS] == PHISH
    assert props[F.CAMPAIGN_ID] == CAMPAIGN and props[F.CLASSIFICATION] == "phish"
    assert props[F.THREAT_STATUS] == "active"
    assert props[F.EVENT_TYPES] == "clicksPermitted, messagesDelivered"
    assert props[F.RECIPIENTS_COUNT] == 2 and props[F.EVENT_COUNT] == 2
    assert isinstance(props[F.LAST_SEEN], int) and props[F.DASHBOARD_URL].startswith("https://")
    ledger = snapshot.ledger
    assert ledger.event_count == 2 and ledger.rows_count == 2 and ledger.recipients_count == 2
    assert len(ledger.artifacts) == len(create.artifacts)  # every artifact the app wrote is recorded
    assert len(create.rows) == 2 and {r[F.COL_EVENT_TYPE] for r in create.rows} == {"messagesDelivered",
                                                                                     "clicksPermitted"}
    assert len({(a.type, a.value) for a in create.artifacts}) == len(create.artifacts)
    assert not snapshot.edited()[0] and not snapshot.edited()[1]  # the app knows what it wrote


def test_replay_after_create_is_empty():
    batch = events(delivered=[message(), message(recipients=["b@example.com"])])
    group = one_group(batch)
    _, snapshot = created(group)
    assert update(snapshot, one_group(batch)).is_empty


# ----------------------------------------------------------------------------------------------- notes


def test_new_recipient_gives_one_note_then_nothing():
    _, snapshot = created(one_group(events(delivered=[message(recipients=["a@example.com"])])))
    later = one_group(events(delivered=[message(recipients=["a@example.com", "new<b>@example.com"])]))
    result = update(snapshot, later)
    assert len(result.notes) == 1 and "1 new recipient" in result.notes[0]
    assert "new&lt;b&gt;@example.com" in result.notes[0]
    assert result.field_changes[f"properties.{F.RECIPIENTS_COUNT}"] == 2
    assert result.field_changes[f"properties.{F.EVENT_COUNT}"] == 2
    assert len(result.new_rows) == 1 and not result.urgent  # bookkeeping: the settle pass writes it
    snapshot = apply_update(snapshot, result)
    assert update(snapshot, later).is_empty


def test_first_click_gives_one_urgent_note():
    _, snapshot = created(one_group(events(delivered=[message(recipients=["a@example.com"])])))
    clicked = one_group(events(permitted=[click(PHISH, recipient="a@example.com", click_ip="10.1.2.3")]))
    result = update(snapshot, clicked)
    assert len(result.notes) == 1 and result.urgent
    assert "First click" in result.notes[0] and "10.1.2.3" in result.notes[0] and "permitted" in result.notes[0]
    assert result.field_changes[f"properties.{F.EVENT_TYPES}"] == "clicksPermitted, messagesDelivered"
    snapshot = apply_update(snapshot, result)
    another = one_group(events(permitted=[click(PHISH, recipient="a@example.com", click_ip="10.9.9.9")]))
    second = update(snapshot, another)
    assert second.notes == () and second.new_rows and not second.urgent  # recorded, not announced


def test_first_permitted_click_after_blocked_ones():
    _, snapshot = created(one_group(events(clicks_blocked=[click(PHISH)])))
    result = update(snapshot, one_group(events(permitted=[click(PHISH)])))
    assert len(result.notes) == 1 and "First PERMITTED click" in result.notes[0]


def test_new_classification_and_status_change_notes():
    _, snapshot = created(one_group(events(delivered=[message(threat(PHISH))])))
    reclassified = one_group(events(delivered=[message(threat(PHISH, classification="malware"))]))
    result = update(snapshot, reclassified)
    assert len(result.notes) == 1 and "New classification malware" in result.notes[0] and result.urgent
    assert result.field_changes[f"properties.{F.CLASSIFICATION}"] == "malware, phish"
    snapshot = apply_update(snapshot, result)
    fp = one_group(events(delivered=[message(threat(PHISH, status="falsePositive", time="2024-03-02T00:00:00Z"))]))
    result = update(snapshot, fp)
    assert result.status_change == ("active", "falsePositive") and result.urgent
    assert len(result.notes) == 1 and "consider closing" in result.notes[0]
    snapshot = apply_update(snapshot, result)
    assert update(snapshot, fp).is_empty


def test_what_changed_is_coalesced_into_one_note_and_bookkeeping_alone_makes_none():
    _, snapshot = created(one_group(events(delivered=[message(recipients=["a@example.com"])])))
    everything = one_group(events(
        delivered=[message(threat(PHISH, classification="malware"), recipients=["b@example.com", "c@example.com"])],
        permitted=[click(PHISH, recipient="b@example.com")]))
    result = update(snapshot, everything)
    (note,) = result.notes
    assert "2 new recipients" in note and "First click" in note and "New classification malware" in note
    snapshot = apply_update(snapshot, result)
    # the same recipients again in new events: counts and rows change, nothing an analyst cares about
    again = one_group(events(delivered=[message(threat(PHISH, classification="malware"), recipients=["a@example.com"],
                                                subject="Invoice again")]))
    quiet = update(snapshot, again)
    assert quiet.field_changes[f"properties.{F.EVENT_COUNT}"] == 4 and quiet.note is None and not quiet.urgent


def test_severity_only_raised_and_analyst_fields_kept():
    _, snapshot = created(one_group(events(delivered=[message(threat(SPAM, classification="spam"))])))
    assert snapshot.severity == "Low"
    snapshot = IncidentSnapshot.build(1, "A", dict(snapshot.properties, my_field="analyst text"),
                                      name=snapshot.name, description=snapshot.description, severity="Low")
    raised = update(snapshot, one_group(events(delivered=[message(threat(SPAM, classification="phish"))])))
    assert raised.field_changes["severity_code"] == "High"
    high = IncidentSnapshot.build(1, "A", snapshot.properties, name=snapshot.name,
                                  description=snapshot.description, severity="High")
    lowered = update(high, one_group(events(delivered=[message(threat(SPAM, classification="spam"),
                                                               recipients=["z@example.com"])])))
    assert "severity_code" not in lowered.field_changes and "properties.my_field" not in lowered.field_changes


# ------------------------------------------------------------------------------------------ staying true


def test_name_and_description_are_rerendered_from_everything_so_far():
    create, snapshot = created(one_group(events(delivered=[message(recipients=["a@example.com"])])))
    assert "delivered to 1 recipient" in create.incident["name"]
    result = update(snapshot, one_group(events(delivered=[message(recipients=["b@example.com", "c@example.com"])])))
    assert "delivered to 3 recipients" in result.field_changes["name"]
    description = result.field_changes["description"]["content"]
    assert "Recipients (3):</b> a@example.com, b@example.com, c@example.com" in description
    snapshot = apply_update(snapshot, result)
    closed_fp = one_group(events(delivered=[message(threat(PHISH, status="falsePositive", time="2024-03-02T00:00:00Z"),
                                                    recipients=["a@example.com"])]))
    status = update(snapshot, closed_fp)
    assert "<b>Threat status:</b> falsePositive" in status.field_changes["description"]["content"]


def test_an_analyst_edit_is_never_overwritten_and_the_new_state_goes_into_the_note():
    _, snapshot = created(one_group(events(delivered=[message(recipients=["a@example.com"])])))
    edited = IncidentSnapshot.build(1, "A", snapshot.properties, name="Our own name", severity=snapshot.severity,
                                    description="<p>Analyst: confirmed phish, user contacted.</p>")
    assert edited.edited() == (True, True)
    result = update(edited, one_group(events(delivered=[message(recipients=["b@example.com"])])))
    assert "name" not in result.field_changes and "description" not in result.field_changes
    assert "was edited in SOAR" in result.note and "Recipients (2)" in result.note
    # SOAR re-formatting the HTML the app wrote is not an edit: only the text counts
    reformatted = IncidentSnapshot.build(1, "A", snapshot.properties, name=snapshot.name, severity=snapshot.severity,
                                         description=snapshot.description.replace("<li>", "<li >").replace("\n", ""))
    assert reformatted.edited() == (False, False)


# ------------------------------------------------------------------------------------------------ caps


def test_row_cap_per_incident_keeps_counting_from_the_ledger():
    _, snapshot = created(one_group(events(delivered=[message()])), rows_cap=3)
    more = one_group(events(delivered=[message(recipients=[f"u{i}@example.com"]) for i in range(5)]))
    result = update(snapshot, more, rows_cap=3)
    assert len(result.new_rows) == 2  # the incident's table holds 3 rows in all
    assert result.field_changes[f"properties.{F.EVENT_COUNT}"] == 6
    assert result.field_changes[f"properties.{F.RECIPIENTS_COUNT}"] == 6
    after = apply_update(snapshot, result)
    assert after.ledger.rows_count == 3 and update(after, more, rows_cap=3).is_empty


def test_artifact_caps_apply_to_the_incident_across_runs():
    template = IncidentTemplate.parse('{"name": "x", "artifacts": [{"type": "Email Recipient", '
                                      '"each": "group.recipients", "max": 3}]}')
    _, snapshot = created(one_group(events(delivered=[message(recipients=["a@x.org", "b@x.org"])])),
                          template=template)
    run2 = update(snapshot, one_group(events(delivered=[message(recipients=["c@x.org", "d@x.org"])])),
                  template=template)
    assert [a.value for a in run2.new_artifacts] == ["c@x.org"]  # 2 + 1 = the template's max of 3
    snapshot = apply_update(snapshot, run2)
    run3 = update(snapshot, one_group(events(delivered=[message(recipients=["e@x.org"])])), template=template)
    assert run3.new_artifacts == () and run3.field_changes[f"properties.{F.RECIPIENTS_COUNT}"] == 5


def test_ledger_full_notes_once_and_stays_idempotent(monkeypatch):
    monkeypatch.setattr(ledger_module, "MAX_LEDGER_ENTRIES", 10)
    template = IncidentTemplate.parse('{"name": "x"}')
    _, snapshot = created(one_group(events(delivered=[message(recipients=["a@example.com"])])), template=template)
    many = one_group(events(delivered=[message(recipients=[f"u{i}@example.com"]) for i in range(20)]))
    result = update(snapshot, many, template=template)
    assert len(result.notes) == 1 and "now tracks" in result.notes[0]
    snapshot = apply_update(snapshot, result)
    assert snapshot.ledger.full and snapshot.properties[F.EVENT_COUNT] + snapshot.properties[F.RECIPIENTS_COUNT] == 10
    assert update(snapshot, many, template=template).is_empty
    even_more = one_group(events(delivered=[message(recipients=[f"v{i}@example.com"]) for i in range(3)]))
    quiet = update(snapshot, even_more, template=template)
    assert quiet.note is None


def test_one_batch_and_many_runs_give_the_same_incident():
    batch = [message(recipients=[f"u{i}@example.com"], time=f"2024-03-01T10:{i:02d}:00.000Z",
                     subject=f"Invoice {i % 3}") for i in range(9)]  # under the template's artifact caps
    clicks = [click(PHISH, recipient="u3@example.com", time="2024-03-01T10:30:00.000Z")]
    whole, one_shot = created(one_group(events(delivered=batch, permitted=clicks)), rows_cap=20)
    _, incremental = created(one_group(events(delivered=batch[:2])), rows_cap=20)
    for part in (batch[2:4], batch[4:7] + batch[:3], clicks, batch[7:]):  # with replays and late events
        later = one_group(events(delivered=[e for e in part if "url" not in e],
                                 permitted=[e for e in part if "url" in e]))
        incremental = apply_update(incremental, update(incremental, later, rows_cap=20))
    for name in (F.EVENT_COUNT, F.RECIPIENTS_COUNT, F.THREAT_IDS, F.EVENT_TYPES, F.CLASSIFICATION, F.THREAT_STATUS,
                 F.FIRST_SEEN, F.LAST_SEEN, F.STATE):
        assert incremental.properties[name] == one_shot.properties[name], name
    assert incremental.name == one_shot.name and incremental.description == one_shot.description
    assert incremental.ledger.events == one_shot.ledger.events
    assert incremental.ledger.artifacts.keys() == one_shot.ledger.artifacts.keys()
    assert incremental.ledger.rows == one_shot.ledger.rows  # under the row cap: every event has a row


# ---------------------------------------------------------------------------------------------- closed


def test_closed_incident_decisions():
    batch = events(delivered=[message()])
    group = one_group(batch)
    _, snapshot = created(group)
    closed = IncidentSnapshot.build(1, "C", snapshot.properties, name=snapshot.name,
                                    description=snapshot.description, severity=snapshot.severity)
    policy = read_policy({})
    assert decide_closed(policy, snapshot, group) is ClosedAction.UPDATE
    assert decide_closed(policy, closed, group) is ClosedAction.SKIP  # overlap re-read right after closing
    newer = one_group(events(delivered=[message(recipients=["z@example.com"])]))
    assert decide_closed(policy, closed, newer) is ClosedAction.NEW
    assert decide_closed(ClosedPolicy.REOPEN, closed, newer) is ClosedAction.REOPEN
    assert decide_closed(read_policy({"pp_tap_closed_policy": "note"}), closed, newer) is ClosedAction.NOTE

    reopened = update(closed, newer, closed_policy="reopen")
    assert reopened.field_changes["plan_status"] == "A" and reopened.notes[0].startswith("<p><b>Reopened:</b>")
    assert reopened.urgent
    noted = update(closed, newer, closed_policy="note")
    assert "plan_status" not in noted.field_changes and "stays closed" in noted.notes[0] and not noted.urgent
    assert update(apply_update(closed, noted), newer, closed_policy="note").is_empty
    with pytest.raises(ValueError):
        update(closed, newer, closed_policy="new")

    # "new": the new incident holds only what the closed one does not
    both = one_group(events(delivered=[message(event_id=group.event_keys[0].split(":", 1)[1]),
                                       message(recipients=["q@x.org"])]))
    fresh = both.restricted_to(new_event_keys(closed, both))
    assert fresh.event_count == 1 and fresh.recipients == ("q@x.org",)


# ----------------------------------------------------------------------------------- idempotence property

RECIPIENTS = [f"user{i}@example.com" for i in range(40)] + ["CEO@Example.com", "ceo@example.com"]
THREATS = [(PHISH, "phish", "url"), (MALWARE, "malware", "attachment"), (SPAM, "spam", "url")]


def random_event(rng: random.Random, vary_status: bool):
    threat_id, classification, kind = rng.choice(THREATS)
    status = rng.choice(["active", "active", "cleared", "falsePositive"]) if vary_status else "active"
    minute = rng.randrange(0, 600)
    when = f"2024-03-01T{minute // 60 + 8:02d}:{minute % 60:02d}:00.000Z"
    if kind == "url" and rng.random() < 0.3:
        return "permitted" if rng.random() < 0.7 else "clicks_blocked", click(
            threat_id, recipient=rng.choice(RECIPIENTS), classification=classification.upper(), status=status,
            campaign=CAMPAIGN if rng.random() < 0.5 else None, time=when, guid=f"G{rng.randrange(8)}",
            click_ip=f"10.0.0.{rng.randrange(5)}")
    threats = [threat(threat_id, classification=classification, kind=kind, status=status,
                      campaign=CAMPAIGN if rng.random() < 0.5 else None, time=when)]
    if rng.random() < 0.2:
        other = rng.choice(THREATS)
        if other[0] != threat_id:
            threats.append(threat(other[0], classification=other[1], kind=other[2], status=status, time=when))
    recipients = rng.sample(RECIPIENTS, rng.choice([1, 1, 1, 2, 5]))
    return "delivered", message(*threats, recipients=recipients, guid=f"G{rng.randrange(8)}", time=when,
                                subject=rng.choice(["Invoice", "Re: {{ 7*7 }}", None]))


def random_batches(rng: random.Random, vary_status: bool):
    pool = [random_event(rng, vary_status) for _ in range(160)]
    batches = []
    start = 0
    while start < len(pool):
        size = rng.randrange(20, 90)
        overlap = rng.randrange(0, 15)
        chunk = pool[max(0, start - overlap): start + size]
        arrays: dict[str, list] = {}
        for array, raw in chunk:
            arrays.setdefault(array, []).append(raw)
        batches.append(events(**arrays))
        start += size
    return batches


def run(policy, batch, incidents):
    """One ingestion run against an in-memory SOAR (group key -> snapshot); returns the updates made."""
    updates = []
    for key, group in groups_of(batch, policy).items():
        if key not in incidents:
            incidents[key] = created(group, len(incidents) + 1)[1]
            continue
        result = update(incidents[key], group)
        incidents[key] = apply_update(incidents[key], result)
        updates.append(result)
    return updates


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("group_by", ["threat", "campaign", "message"])
def test_replay_is_empty_for_generated_runs(seed, group_by):
    rng = random.Random(seed * 31 + len(group_by))
    vary_status = seed % 3 == 0
    policy = read_policy({"pp_tap_event_types": "all", "pp_tap_threat_statuses": "all",
                                       "pp_tap_group_by": group_by})
    incidents: dict[str, IncidentSnapshot] = {}
    seen = []
    for batch in random_batches(rng, vary_status):
        run(policy, batch, incidents)
        replay = run(policy, batch, incidents)
        assert all(u.is_empty for u in replay), [u for u in replay if not u.is_empty][:1]
        seen.extend(batch)
        if not vary_status:  # with constant statuses, replaying ANY earlier events changes nothing either
            again = run(policy, rng.sample(seen, min(len(seen), 60)), incidents)
            assert all(u.is_empty for u in again)
    # counts match the distinct events and recipients seen per group
    for key, group in groups_of(seen, policy).items():
        props = incidents[key].properties
        assert props[F.EVENT_COUNT] == group.event_count
        assert props[F.RECIPIENTS_COUNT] == len(group.recipients)
