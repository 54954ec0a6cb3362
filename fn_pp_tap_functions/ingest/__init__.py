"""Pure core of Proofpoint TAP event ingestion: from SIEM events to planned SOAR incident changes.

No I/O happens here (apart from reading the shipped default template from the package). The flow the
ingestion service (:mod:`fn_pp_tap_functions.services.ingestion`) runs::

    request = read_inputs(inputs, template_file_text=...)  # every input checked, the template checked once
    # ... check request.owner_rules.names() against SOAR users/groups ...
    for call in request.policy.siem_plan():                # endpoints per window, least quota cost
        events += client.siem(call.endpoint, window, **request.policy.siem_filters()).events()
    selection = select_events(events, request.policy)      # kept events + drop counts per rule
    for key, group in group_events(selection.kept, request.policy).items():
        render = lambda g, merged: apply_owner_rules(request.template.render(g, merged=merged), rules, g)
        snapshot = IncidentSnapshot.of(<incident found by pp_tap_group_key>)  # None -> plan_create(group, render)
        action = decide_closed(request.policy, snapshot, group)  # UPDATE / SKIP / NEW / REOPEN / NOTE
        evidence = lambda g, merged, filled: request.template.render(g, merged=merged, evidence_only=True,
                                                                     skip_specs=filled)
        update = plan_update(snapshot, group, evidence, request.updates.render_text, closed_policy=...)

Modules, each importing only those before it: :mod:`.errors`, :mod:`.policy` (the criteria),
:mod:`.filtering`, :mod:`.grouping`, :mod:`.samples` (groups to check templates with), :mod:`.templates`,
:mod:`.ledger` (what an incident recorded), :mod:`.state` (its evidence across runs), :mod:`.notes` (the
change note, analyst edits), :mod:`.owners`, :mod:`.inputs` (workflow inputs -> policy, templates, owner
rules), :mod:`.plan`. SOAR names
are in :mod:`fn_pp_tap_functions.fields`, the inert-text policy in :mod:`fn_pp_tap_functions.text`.
"""

from fn_pp_tap_functions.ingest.errors import TemplateError
from fn_pp_tap_functions.ingest.filtering import DROP_REASONS, KeptEvent, Selection, select_events
from fn_pp_tap_functions.ingest.grouping import Attachment, EventRow, GroupEvidence, group_events
from fn_pp_tap_functions.ingest.inputs import IngestInputs, check_templates, choose_template, read_inputs, read_policy
from fn_pp_tap_functions.ingest.ledger import Ledger
from fn_pp_tap_functions.ingest.notes import text_digest
from fn_pp_tap_functions.ingest.owners import OwnerRule, OwnerRules, apply_owner_rules
from fn_pp_tap_functions.ingest.plan import (
    ClosedAction,
    IncidentCreate,
    IncidentSnapshot,
    IncidentUpdate,
    apply_create,
    apply_update,
    decide_closed,
    new_event_keys,
    plan_create,
    plan_update,
)
from fn_pp_tap_functions.ingest.policy import ClosedPolicy, GroupBy, IngestPolicy, ScoreMinimum, SiemCall
from fn_pp_tap_functions.ingest.state import IncidentState, context_of, merged_context
from fn_pp_tap_functions.ingest.templates import ArtifactDraft, IncidentDraft, IncidentTemplate

__all__ = [
    "DROP_REASONS",
    "ArtifactDraft",
    "Attachment",
    "ClosedAction",
    "ClosedPolicy",
    "EventRow",
    "GroupBy",
    "GroupEvidence",
    "IncidentCreate",
    "IncidentDraft",
    "IncidentSnapshot",
    "IncidentTemplate",
    "IncidentUpdate",
    "IngestInputs",
    "IncidentState",
    "IngestPolicy",
    "KeptEvent",
    "Ledger",
    "OwnerRule",
    "OwnerRules",
    "ScoreMinimum",
    "Selection",
    "SiemCall",
    "TemplateError",
    "apply_create",
    "apply_owner_rules",
    "apply_update",
    "check_templates",
    "choose_template",
    "context_of",
    "decide_closed",
    "group_events",
    "merged_context",
    "new_event_keys",
    "plan_create",
    "plan_update",
    "read_inputs",
    "read_policy",
    "select_events",
    "text_digest",
]
