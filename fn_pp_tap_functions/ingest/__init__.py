"""Pure core of Proofpoint TAP event ingestion: from SIEM events to planned SOAR incident changes.

No I/O happens here (apart from reading the shipped default template from the package). The flow the
SOAR I/O layer runs::

    policy = IngestPolicy.from_inputs(inputs)            # every input checked, template and rules parsed
    template = select_template(policy.template, file_text, file_path)
    # ... check policy.owner_rules.names() against SOAR users/groups ...
    for call in policy.siem_plan():                      # endpoints per window, least quota cost
        payload = client.siem(call.endpoint, window, **policy.siem_filters()).payload
    selection = select_events(events, policy)            # kept events + drop counts per rule
    for key, group in group_events(selection.kept, policy).items():
        draft = apply_owner_rules(template.render(group), policy.owner_rules, group)
        snapshot = <find incident by pp_tap_group_key>   # None -> plan_create(group, draft)
        action = decide_closed(policy, snapshot, group)  # UPDATE / SKIP / NEW / REOPEN / NOTE
        update = plan_update(snapshot, group, draft, closed_policy=policy.closed_policy)

Modules: :mod:`.policy` (inputs), :mod:`.filtering`, :mod:`.grouping`, :mod:`.templates`, :mod:`.owners`,
:mod:`.plan`, :mod:`.fields` (SOAR names), :mod:`.text` (making attacker text inert), :mod:`.errors`.
"""

from fn_pp_tap_functions.ingest.errors import TemplateError
from fn_pp_tap_functions.ingest.filtering import DROP_REASONS, KeptEvent, Selection, select_events
from fn_pp_tap_functions.ingest.grouping import Attachment, EventRow, GroupEvidence, group_events
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
from fn_pp_tap_functions.ingest.templates import ArtifactDraft, IncidentDraft, IncidentTemplate, select_template

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
    "IngestPolicy",
    "KeptEvent",
    "OwnerRule",
    "OwnerRules",
    "ScoreMinimum",
    "Selection",
    "SiemCall",
    "TemplateError",
    "apply_create",
    "apply_owner_rules",
    "apply_update",
    "decide_closed",
    "group_events",
    "new_event_keys",
    "plan_create",
    "plan_update",
    "select_events",
    "select_template",
]
