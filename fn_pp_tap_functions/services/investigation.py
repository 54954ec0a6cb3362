"""The investigation functions' I/O: the TAP calls and SOAR reads and writes around the pure decisions.

Each function checks its inputs (:mod:`fn_pp_tap_functions.investigation`) before any call, asks TAP,
compares with what the incident already holds and returns exactly what is new. Writes that a workflow
script can do (notes, artifacts, rows, fields) are left to the script; the function itself only uploads
attachments (a script cannot), updates existing data-table rows (a script can only add rows) and counts
the People calls on the control incident.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from fn_pp_tap_functions.errors import SoarConflictError, SoarError, TapNotFoundError, TapRateLimitError
from fn_pp_tap_functions.investigation import enrichment, forensics, people, url_decoding
from fn_pp_tap_functions.services.rendering import render_template
from fn_pp_tap_functions.soar import control as ctl
from fn_pp_tap_functions.soar.cases import Incident, SoarCases, row_cells
from fn_pp_tap_functions.tap.client import TapClient
from fn_pp_tap_functions.tap.forensics import Forensics
from fn_pp_tap_functions.tap.pools import Pool, pool_label
from fn_pp_tap_functions.tap.threats import Campaign, ThreatSummary
from fn_pp_tap_functions.tap.urldecode import parse_decoded_urls
from fn_pp_tap_functions.tap.validation import validate_people_window, validate_urls
from fn_pp_tap_functions.text import clean_html

LOG = logging.getLogger(__name__)
NOTE_LIMIT = 20_000
REPORT_LIMIT = 5_000_000
"""The forensics note and report show sandbox values (paths, registry values, file names an attacker chose):
after autoescaping, control characters go and format characters become visible (:func:`.text.clean_html`)."""


# ---------------------------------------------------------------------------------------------- enrichment

def enrich(client: TapClient, threat_ids: Any, campaign_ids: Any = None, *, dashboard_url: str | None = None,
           profile: str | None = None, cases: SoarCases | None = None,
           incident_id: int | None = None) -> dict[str, Any]:
    """Look up every threat and campaign, merge them, and (with an incident) refresh its members table.

    Raises InputError before any call for a malformed ID or when no ID is given, and TapNotFoundError
    when TAP knows none of them; other TAP errors (auth, throttling, outage) fail the whole run.
    """
    threats_wanted, campaigns_wanted = enrichment.wanted_ids(threat_ids, campaign_ids)
    threats: list[dict[str, Any]] = []
    campaigns: list[tuple[str, Campaign]] = []
    not_found: list[str] = []
    for tid in threats_wanted:
        try:
            summary = ThreatSummary.from_api(client.threat_summary(tid))
        except TapNotFoundError:
            not_found.append(f"threat {tid}")
            continue
        threats.append(enrichment.threat_entry(summary, tid, dashboard_url))
    for cid in campaigns_wanted:
        try:
            campaigns.append((cid, Campaign.from_api(client.campaign(cid))))
        except TapNotFoundError:
            not_found.append(f"campaign {cid}")
    if not threats and not campaigns:
        raise TapNotFoundError(f"Proofpoint TAP knows none of the IDs given: {', '.join(not_found)}. Check the "
                               "incident's threat and campaign IDs.", what="threat")
    result = enrichment.merge(threats, campaigns, not_found, profile=profile)
    result["note_html"] = render_template("enrich_note.html.j2", result=result)
    result["members_table"] = None
    if cases is not None and incident_id is not None and campaigns:
        result["members_table"] = sync_members(cases, incident_id, [c for _, c in campaigns])
    return result


def sync_members(cases: SoarCases, incident_id: int, campaigns: list[Campaign]) -> dict[str, int]:
    """Bring the incident's members table in line with TAP; returns the counts of rows added/updated."""
    table = enrichment.MEMBERS_TABLE
    wanted = [row for campaign in campaigns for row in enrichment.member_rows(campaign)]
    existing = [(int(r["id"]), row_cells(r)) for r in cases.rows(incident_id, table) if r.get("id") is not None]
    adds, updates = enrichment.plan_member_changes(existing, wanted)
    for cells in adds:
        cases.add_row(incident_id, table, cells)
    for row_id, cells in updates:
        cases.update_row(incident_id, table, row_id, cells)
    return {"added": len(adds), "updated": len(updates), "unchanged": len(wanted) - len(adds) - len(updates)}


# ---------------------------------------------------------------------------------------------- forensics

def get_forensics(client: TapClient, threat_ids: Any = None, campaign_ids: Any = None, *,
                  include_campaign_forensics: bool = False, malicious_only: bool = True,
                  cases: SoarCases | None = None, incident_id: int | None = None,
                  profile: str | None = None) -> dict[str, Any]:
    """TAP's forensics for the threats or campaigns; with an incident, only what it lacks, and the report
    attached once (its name carries a digest of the evidence)."""
    target_list = forensics.targets(threat_ids, campaign_ids, include_campaign_forensics)
    answers: list[Forensics] = []
    not_found: list[str] = []
    for kind, ident in target_list:
        try:
            if kind == "threat":
                payload = client.forensics(threat_id=ident, include_campaign_forensics=include_campaign_forensics)
            else:
                payload = client.forensics(campaign_id=ident)
        except TapNotFoundError:
            not_found.append(f"{kind} {ident}")
            continue
        answers.append(Forensics.from_api(payload))
    if not answers:
        raise TapNotFoundError(f"Proofpoint TAP has no forensics for {', '.join(not_found)}: the threat or campaign "
                               "is unknown or was not sandboxed.", what="forensics")
    found = forensics.findings(target_list, answers, not_found, malicious_only=malicious_only,
                               include_campaign_forensics=include_campaign_forensics, incident_id=incident_id,
                               profile=profile)
    result = found.result
    if cases is not None and incident_id is not None:
        rows = cases.rows(incident_id, forensics.TABLE)
        forensics.compare(found, cases.artifacts(incident_id), (row_cells(r).get(forensics.COL_KEY) for r in rows))
        name = result["attachment"]["name"]
        if name not in {a.get("name") for a in cases.attachments(incident_id)}:
            html = clean_html(render_template("forensics_report.html.j2", result=result,
                                              generated=result["generated"]), REPORT_LIMIT)
            added = cases.add_attachment(incident_id, name, html.encode("utf-8"), "text/html")
            result["attachment"] = {"name": name, "added": True,
                                    "id": added.get("id") if isinstance(added, Mapping) else None}
    forensics.mark_changed(result)
    result["note_html"] = clean_html(render_template("forensics_note.html.j2", result=result), NOTE_LIMIT)
    return result


# ---------------------------------------------------------------------------------------------- people

class PeopleBudget:
    """The app's People calls of the last 24 h, kept on the control incident (None: not known)."""

    def __init__(self, cases: SoarCases | None, now: Callable[[], datetime]) -> None:
        self.cases = cases
        self.now = now
        self.control: Incident | None = None
        self.budget: ctl.Budget | None = None
        self.recorded = False
        if cases is None:
            return
        try:
            self.control = ctl.find_control(cases)
        except SoarError as err:
            LOG.warning("People budget unknown: %s", err)
            return
        if self.control is not None:
            self.budget = ctl.Budget.parse(ctl.props(self.control).get(ctl.PEOPLE_BUDGET_FIELD), now=self.now())

    def used(self, pool: Pool) -> int | None:
        return None if self.budget is None else self.budget.used_24h(pool.value)

    def record(self, pool: Pool) -> None:
        """Add one call, with SOAR's old_value check; on a conflict re-read and try again (3 times)."""
        if self.cases is None or self.control is None:
            return
        field = ctl.PEOPLE_BUDGET_FIELD
        for _ in range(3):
            text = ctl.props(self.control).get(field)
            budget = ctl.Budget.parse(text, now=self.now())
            budget.add({pool.value: 1}, now=self.now())
            try:
                self.cases.patch_incident(self.control, {f"properties.{field}": budget.text()},
                                          expected={f"properties.{field}": text})
                self.budget, self.recorded = budget, True
                return
            except SoarConflictError:
                self.control = self.cases.get_incident(int(self.control["id"]))
            except SoarError as err:
                LOG.warning("People call not recorded: %s", err)
                return

    def summary(self, pool: Pool) -> dict[str, Any]:
        return people.budget_summary(pool, self.used(pool))


def lookup_people(client: TapClient, emails: Any = None, *, report: Any = "vap", window: Any = 30,
                  cases: SoarCases | None = None, now: Callable[[], datetime] | None = None,
                  profile: str | None = None) -> dict[str, Any]:
    """One People call; answers for each address (or, with none, the top of the list)."""
    kind = people.validate_report(report)
    days = validate_people_window(30 if window in (None, "") else window)
    wanted = people.validate_emails(emails)
    pool = people.REPORTS[kind]
    budget = PeopleBudget(cases, now or ctl.utcnow)
    used = budget.used(pool)
    if used is not None and used >= people.DAILY_LIMIT:
        raise TapRateLimitError(pool=pool.value, endpoint=None, message=(
            f"Not calling Proofpoint TAP: this app already made {used} calls to the {pool_label(pool)} in the last "
            "24 hours (counted on the ingestion control incident), so TAP would answer 429. The budget frees as "
            "those calls age out of the rolling 24-hour window; try again later."))
    try:
        if kind == "vap":
            payload = client.people_vap(days, size=people.PAGE_SIZE)
        else:
            payload = client.people_top_clickers(days, size=min(people.PAGE_SIZE, 200))
    except TapRateLimitError:
        budget.record(pool)  # TAP counts a throttled call too
        raise
    budget.record(pool)
    result = people.people_result(kind, days, wanted, payload, budget=budget.summary(pool), profile=profile)
    result["note_html"] = render_template("people_note.html.j2", result=result)
    return result


# ---------------------------------------------------------------------------------------------- URL decoding

def decode_urls(urls: Any, tap: Callable[[], TapClient], *, cases: SoarCases | None = None,
                incident_id: int | None = None, profile: str | None = None) -> dict[str, Any]:
    """Decode each URL locally where possible; the rest in one TAP call (``tap`` builds the client only then)."""
    checked = validate_urls(urls)
    results, for_tap = url_decoding.decode_locally(checked)
    tap_calls = 0
    if for_tap:
        tap_calls = 1
        url_decoding.add_tap_answers(results, parse_decoded_urls(tap().decode_urls(for_tap)))
    entries = [results[url] for url in checked]
    if cases is not None and incident_id is not None:
        url_decoding.mark_present(entries, cases.artifacts(incident_id))
    return url_decoding.summary(entries, tap_calls=tap_calls, profile=profile)
