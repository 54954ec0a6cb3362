"""plan_create / plan_update: only what is new, notes only for news, and idempotence under replays."""

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
from fn_pp_tap_functions.ingest import plan as plan_module
from fn_pp_tap_functions.ingest.grouping import ROW_CAP_PER_RUN

TEMPLATE = IncidentTemplate.default()


def groups_of(batch, policy=None):
    policy = policy or read_policy({"pp_tap_event_types": "all", "pp_tap_threat_statuses": "all"})
    return group_events(select_events(batch, policy).kept, policy)


def one_group(batch, policy=None):
    groups = groups_of(batch, policy)
    assert len(groups) == 1
    return next(iter(groups.values()))


def created(group, incident_id=1):
    create = plan_create(group, TEMPLATE.render(group))
    return create, apply_create(create, incident_id)


def update(snapshot, group, **kwargs):
    return plan_update(snapshot, group, TEMPLATE.render(group), **kwargs)


# ------------------------------------------------------------------------------------------------ create


def test_create_payload_has_managed_fields_rows_and_artifacts():
    raw = message(threat(PHISH, campaign=CAMPAIGN), recipients=["a@example.com", "b@example.com"])
    group = one_group(events(delivered=[raw], permitted=[click(PHISH, campaign=CAMPAIGN, recipient="a@example.com")]))
    create, _ = created(group)
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
    assert len(props[F.LEDGER].split()) == 2  # the two recipients; both events have rows
    assert len(create.rows) == 2 and {r[F.COL_EVENT_TYPE] for r in create.rows} == {"messagesDelivered",
                                                                                     "clicksPermitted"}
    assert len({(a.type, a.value) for a in create.artifacts}) == len(create.artifacts)


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
    assert len(result.new_rows) == 1
    snapshot = apply_update(snapshot, result)
    assert update(snapshot, later).is_empty


def test_first_click_gives_one_note():
    _, snapshot = created(one_group(events(delivered=[message(recipients=["a@example.com"])])))
    clicked = one_group(events(permitted=[click(PHISH, recipient="a@example.com", click_ip="10.1.2.3")]))
    result = update(snapshot, clicked)
    assert len(result.notes) == 1
    assert "First click" in result.notes[0] and "10.1.2.3" in result.notes[0] and "permitted" in result.notes[0]
    assert result.field_changes[f"properties.{F.EVENT_TYPES}"] == "clicksPermitted, messagesDelivered"
    snapshot = apply_update(snapshot, result)
    another = one_group(events(permitted=[click(PHISH, recipient="a@example.com", click_ip="10.9.9.9")]))
    second = update(snapshot, another)
    assert second.notes == () and second.new_rows  # a second click is recorded, not announced


def test_first_permitted_click_after_blocked_ones():
    _, snapshot = created(one_group(events(clicks_blocked=[click(PHISH)])))
    result = update(snapshot, one_group(events(permitted=[click(PHISH)])))
    assert len(result.notes) == 1 and "First PERMITTED click" in result.notes[0]


def test_new_classification_and_status_change_notes():
    _, snapshot = created(one_group(events(delivered=[message(threat(PHISH))])))
    reclassified = one_group(events(delivered=[message(threat(PHISH, classification="malware"))]))
    result = update(snapshot, reclassified)
    assert [n for n in result.notes if "new classification malware" in n]
    assert result.field_changes[f"properties.{F.CLASSIFICATION}"] == "malware, phish"
    snapshot = apply_update(snapshot, result)
    fp = one_group(events(delivered=[message(threat(PHISH, status="falsePositive", time="2024-03-02T00:00:00Z"))]))
    result = update(snapshot, fp)
    assert result.status_change == ("active", "falsePositive")
    assert len(result.notes) == 1 and "consider closing" in result.notes[0]
    snapshot = apply_update(snapshot, result)
    assert update(snapshot, fp).is_empty


def test_severity_only_raised_and_analyst_fields_kept():
    _, snapshot = created(one_group(events(delivered=[message(threat(SPAM, classification="spam"))])))
    assert snapshot.severity == "Low"
    snapshot = IncidentSnapshot.build(1, "A", dict(snapshot.properties, my_field="analyst text"),
                                      event_keys=snapshot.event_keys, severity="Low")
    raised = update(snapshot, one_group(events(delivered=[message(threat(SPAM, classification="phish"))])))
    assert raised.field_changes["severity_code"] == "High"
    high = IncidentSnapshot.build(1, "A", snapshot.properties, event_keys=snapshot.event_keys, severity="High")
    lowered = update(high, one_group(events(delivered=[message(threat(SPAM, classification="spam"))])))
    assert "severity_code" not in lowered.field_changes


# ------------------------------------------------------------------------------------------------ caps


def test_row_cap_per_incident_keeps_counting():
    _, snapshot = created(one_group(events(delivered=[message()])))
    full = IncidentSnapshot.build(1, "A", snapshot.properties, event_keys=snapshot.event_keys,
                                  row_count=plan_module.ROW_CAP_PER_INCIDENT, severity=snapshot.severity)
    more = one_group(events(delivered=[message(recipients=[f"u{i}@example.com"]) for i in range(5)]))
    result = update(full, more)
    assert result.new_rows == ()
    assert result.field_changes[f"properties.{F.EVENT_COUNT}"] == 6
    assert result.field_changes[f"properties.{F.RECIPIENTS_COUNT}"] == 6
    after = apply_update(full, result)
    assert update(after, more).is_empty


def test_rows_beyond_run_cap_are_counted_via_ledger():
    batch = events(delivered=[message(recipients=[f"u{i}@example.com"]) for i in range(ROW_CAP_PER_RUN + 7)])
    group = one_group(batch)
    create, snapshot = created(group)
    assert len(create.rows) == ROW_CAP_PER_RUN
    assert create.incident["properties"][F.EVENT_COUNT] == ROW_CAP_PER_RUN + 7
    assert update(snapshot, one_group(batch)).is_empty


def test_ledger_full_notes_once_and_stays_idempotent(monkeypatch):
    monkeypatch.setattr(plan_module, "MAX_LEDGER_ENTRIES", 10)
    _, snapshot = created(one_group(events(delivered=[message(recipients=["a@example.com"])])))
    many = one_group(events(delivered=[message(recipients=[f"u{i}@example.com"]) for i in range(20)]))
    result = update(snapshot, many)
    full_notes = [n for n in result.notes if "now tracks" in n]
    assert len(full_notes) == 1
    snapshot = apply_update(snapshot, result)
    assert plan_module.LEDGER_FULL in snapshot.ledger
    assert update(snapshot, many).is_empty
    even_more = one_group(events(delivered=[message(recipients=[f"v{i}@example.com"]) for i in range(3)]))
    quiet = update(apply_update(snapshot, update(snapshot, many)), even_more)
    assert not [n for n in quiet.notes if "new recipient" in n or "now tracks" in n]


# ---------------------------------------------------------------------------------------------- closed


def test_closed_incident_decisions():
    batch = events(delivered=[message()])
    group = one_group(batch)
    _, snapshot = created(group)
    closed = IncidentSnapshot.build(1, "C", snapshot.properties, event_keys=snapshot.event_keys,
                                    severity=snapshot.severity)
    policy = read_policy({})
    assert decide_closed(policy, snapshot, group) is ClosedAction.UPDATE
    assert decide_closed(policy, closed, group) is ClosedAction.SKIP  # overlap re-read right after closing
    newer = one_group(events(delivered=[message(recipients=["z@example.com"])]))
    assert decide_closed(policy, closed, newer) is ClosedAction.NEW
    assert decide_closed(ClosedPolicy.REOPEN, closed, newer) is ClosedAction.REOPEN
    assert decide_closed(read_policy({"pp_tap_closed_policy": "note"}), closed, newer) is ClosedAction.NOTE

    reopened = update(closed, newer, closed_policy="reopen")
    assert reopened.field_changes["plan_status"] == "A" and reopened.notes[0].startswith("<p><b>Reopened:</b>")
    noted = update(closed, newer, closed_policy="note")
    assert "plan_status" not in noted.field_changes and "stays closed" in noted.notes[0]
    assert update(apply_update(closed, noted), newer, closed_policy="note").is_empty
    with pytest.raises(ValueError):
        update(closed, newer, closed_policy="new")

    # "new": the new incident holds only what the closed one does not
    both = one_group(events(delivered=[message(event_id=snapshot_key_id(snapshot)), message(recipients=["q@x.org"])]))
    fresh = both.restricted_to(new_event_keys(closed, both))
    assert fresh.event_count == 1 and fresh.recipients == ("q@x.org",)


def snapshot_key_id(snapshot):
    return next(iter(snapshot.event_keys)).split(":", 1)[1]


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
        draft = TEMPLATE.render(group)
        if key not in incidents:
            incidents[key] = apply_create(plan_create(group, draft), len(incidents) + 1)
            continue
        result = plan_update(incidents[key], group, draft)
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
