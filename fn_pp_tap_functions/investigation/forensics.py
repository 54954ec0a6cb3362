"""``pp_tap_get_forensics``, the pure part: TAP's sandbox evidence for threats or a campaign, shaped for an incident.

What the function returns and does:

* a readable HTML report of every evidence item, uploaded as an incident attachment (a workflow script
  cannot attach files). Its name carries a digest of the evidence, so a re-run with the same evidence
  finds it and uploads nothing, and new evidence gives a new, distinguishable report;
* ``new_artifacts``: the indicators (URLs, domains, IPs, hashes, file names, registry keys, mutexes)
  the incident does not have yet, for the post-processing script to add with ``incident.addArtifact``;
* ``new_rows``: evidence rows for the ``pp_tap_forensics`` data table that it does not have yet;
* ``note_html``: a summary note, and ``changed``, true when any of the above is new: the script writes
  the note only then, so a re-run adds no duplicate note.

Without an incident ID nothing is compared or attached: everything is returned (for playbooks).
Everything from the sandbox is attacker-influenced: the report and note are rendered with autoescaping,
artifact values are checked per type (see :mod:`.indicators`) and row texts are made plain.
The calls (TAP, and SOAR for what the incident already has) are made by
:func:`fn_pp_tap_functions.services.investigation.get_forensics`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.investigation import indicators as ind
from fn_pp_tap_functions.investigation.common import digest, split_ids
from fn_pp_tap_functions.tap.evidence import LABELS
from fn_pp_tap_functions.tap.forensics import Evidence, Forensics, ForensicsReport
from fn_pp_tap_functions.tap.timestamps import iso_or_none
from fn_pp_tap_functions.tap.validation import validate_campaign_id, validate_threat_id
from fn_pp_tap_functions.text import line

MAX_LOOKUPS = 10
"""Forensics calls per run (TAP throttles Forensics by request type without publishing numbers)."""
MAX_NEW_ARTIFACTS = 100
MAX_NEW_ROWS = 200
"""Per run; a re-run adds the rest, since everything already added is recognised."""

TABLE = "pp_tap_forensics"
COL_SOURCE = "pp_tap_fx_source"
COL_TYPE = "pp_tap_fx_type"
COL_DISPLAY = "pp_tap_fx_display"
COL_MALICIOUS = "pp_tap_fx_malicious"
COL_ENGINE = "pp_tap_fx_engine"
COL_DETAIL = "pp_tap_fx_detail"
COL_NOTE = "pp_tap_fx_note"
COL_PLATFORMS = "pp_tap_fx_platforms"
COL_KEY = "pp_tap_fx_key"
COLUMNS: dict[str, str] = {
    COL_SOURCE: "text", COL_TYPE: "text", COL_DISPLAY: "text", COL_MALICIOUS: "boolean", COL_ENGINE: "text",
    COL_DETAIL: "text", COL_NOTE: "text", COL_PLATFORMS: "text", COL_KEY: "text",
}
"""Column -> SOAR input type, in display order (the key last: it is for de-duplication).

Every documented evidence field reaches the table or the report: the row has the type, what TAP saw
(``display``), the verdict, the engine, every ``what`` sub-field with a value (those documented for the
evidence type first, as ``key=value``; see :mod:`fn_pp_tap_functions.tap.evidence`), TAP's ``note`` and
the platforms with their OS and version. ``time`` is left out: TAP documents it as always 0.
"""


def targets(threat_ids: Any, campaign_ids: Any, include_campaign: bool) -> list[tuple[str, str]]:
    """``(kind, id)`` to ask TAP about, every input checked before any call."""
    threats = split_ids(threat_ids, "threat ID", validate_threat_id, limit=MAX_LOOKUPS)
    campaigns = split_ids(campaign_ids, "campaign ID", validate_campaign_id, limit=MAX_LOOKUPS)
    if threats and campaigns:
        raise InputError("Give threat IDs or campaign IDs for forensics, not both: TAP reports one or the other "
                         "(use 'include campaign forensics' to add a threat's campaign).")
    if not threats and not campaigns:
        raise InputError("Give a threat ID or a campaign ID to get forensics for.")
    if campaigns and include_campaign:
        raise InputError("'Include campaign forensics' applies to threat IDs only, not to campaign IDs.")
    return [("threat", t) for t in threats] + [("campaign", c) for c in campaigns]


def _shown(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _detail(evidence: Evidence) -> str:
    parts = [f"{key}={_shown(value)}" for key, value in evidence.what.items(evidence.type)
             if value not in ("", [], {})]
    return line("; ".join(parts), 1000)


def evidence_row(report: ForensicsReport, evidence: Evidence) -> dict[str, Any]:
    """One data-table row (cells by column) for an evidence item; the key identifies it across runs."""
    source = f"{(report.scope or 'THREAT').lower()} {report.id or '?'}"
    platforms = ", ".join(p.label() for p in evidence.platforms)
    return {
        COL_SOURCE: line(source, 200),
        COL_TYPE: line(evidence.type, 100) or None,
        COL_DISPLAY: line(evidence.display, 500) or None,
        COL_MALICIOUS: bool(evidence.malicious),
        COL_ENGINE: line(evidence.engine, 100) or None,
        COL_DETAIL: _detail(evidence) or None,
        COL_NOTE: line(evidence.note, 1000) or None,
        COL_PLATFORMS: line(platforms, 300) or None,
        COL_KEY: digest([report.scope, report.id, evidence.identity()], 24),
    }


def report_evidence(evidence: Evidence) -> dict[str, Any]:
    """An evidence item as the result (and the HTML report) shows it: :meth:`Evidence.to_dict`, plus the
    ``what`` sub-fields as labelled ``details`` (documented ones for the type first) and platform labels."""
    out = evidence.to_dict()
    out["details"] = [{"key": key, "label": LABELS.get(key, key), "value": line(_shown(value), 2000)}
                      for key, value in evidence.what.items(evidence.type) if value not in ("", [], {})]
    out["platform_labels"] = [p.label() for p in evidence.platforms]
    return out


def merge_reports(answers: Sequence[Forensics]) -> list[ForensicsReport]:
    """The reports of several answers, each (scope, id) once: with 'include campaign forensics' every
    threat of one campaign brings the same campaign report."""
    seen: set[tuple[str | None, str | None]] = set()
    out = []
    for answer in answers:
        for report in answer.reports:
            if (report.scope, report.id) in seen:
                continue
            seen.add((report.scope, report.id))
            out.append(report)
    return out


@dataclass(frozen=True)
class ForensicsFindings:
    """What the evidence holds, before it is compared with an incident: the result, indicators and rows."""

    result: dict[str, Any]
    indicators: list[ind.Indicator]
    rows: list[dict[str, Any]]


def findings(target_list: Sequence[tuple[str, str]], answers: Sequence[Forensics], not_found: Sequence[str], *,
             malicious_only: bool, include_campaign_forensics: bool, incident_id: int | None,
             profile: str | None) -> ForensicsFindings:
    """The result for TAP's answers; everything is "new" until :func:`compare` sees the incident."""
    reports = merge_reports(answers)
    pairs = [(r, e) for r in reports for e in r.evidence if e.malicious or not malicious_only]
    found = ind.indicators(pairs, malicious_only=malicious_only)
    rows = [evidence_row(r, e) for r, e in pairs]
    generated = max((a.generated for a in answers if a.generated), default=None)
    report_dicts = [{"scope": r.scope, "id": r.id, "name": r.name, "type": r.type,
                     "threat_status": r.threat_status,
                     "evidence": [report_evidence(e) for e in r.evidence if e.malicious or not malicious_only]}
                    for r in reports]
    evidence_digest = digest([report_dicts, malicious_only], 12)
    first_kind, first_id = target_list[0]
    label = first_id[:12] + (f"-and-{len(target_list) - 1}-more" if len(target_list) > 1 else "")
    attachment_name = f"proofpoint-tap-forensics-{first_kind}-{label}-{evidence_digest}.html"

    counts: dict[str, int] = {}
    for _, evidence in pairs:
        counts[evidence.type or "other"] = counts.get(evidence.type or "other", 0) + 1
    result: dict[str, Any] = {
        "targets": [f"{k} {i}" for k, i in target_list],
        "not_found": list(not_found),
        "generated": iso_or_none(generated),
        "malicious_only": malicious_only,
        "include_campaign_forensics": include_campaign_forensics,
        "reports": report_dicts,
        "evidence_count": len(pairs),
        "malicious_count": sum(1 for _, e in pairs if e.malicious),
        "counts_by_type": dict(sorted(counts.items())),
        "indicators": [i.to_dict() for i in found],
        "new_artifacts": [i.to_dict() for i in found],
        "new_rows": rows,
        "attachment": {"name": attachment_name, "added": False, "id": None},
        "incident_id": incident_id,
        "profile": profile,
        "more_to_add": False,
    }
    return ForensicsFindings(result, found, rows)


def compare(found: ForensicsFindings, artifacts: Iterable[Mapping[str, object]], row_keys: Iterable[object]) -> None:
    """Keep in the result only the indicators and rows the incident does not have yet (at most a run's worth)."""
    result = found.result
    new_artifacts = ind.new_only(found.indicators, ind.existing_keys(artifacts))
    have_rows = set(row_keys)
    new_rows = [r for r in found.rows if r[COL_KEY] not in have_rows]
    result["more_to_add"] = len(new_artifacts) > MAX_NEW_ARTIFACTS or len(new_rows) > MAX_NEW_ROWS
    result["new_artifacts"] = [i.to_dict() for i in new_artifacts[:MAX_NEW_ARTIFACTS]]
    result["new_rows"] = new_rows[:MAX_NEW_ROWS]


def mark_changed(result: dict[str, Any]) -> None:
    """``changed``: anything new (the attachment, indicators, rows), so the script writes the note only then."""
    result["changed"] = bool(result["attachment"]["added"] or result["new_artifacts"] or result["new_rows"])
