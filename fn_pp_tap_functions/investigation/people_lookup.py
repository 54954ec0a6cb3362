"""``pp_tap_get_people``: is an address a Very Attacked Person (or a top clicker), and how attacked.

TAP's People API allows 50 calls a day per report, so:

* one call serves a whole run: the function fetches one page of up to :data:`PAGE_SIZE` people and
  answers for every address given from it. When TAP has more people than the page holds and an address
  is not on it, the answer is "unknown", never a wrong "no";
* the app's People calls are counted in SOAR, on the ingestion control incident's field
  ``pp_tap_people_budget`` (calls per hour over 24 h, like the SIEM budget), so the result can say how
  many calls are left at most. Other tools using the same TAP principal also spend that budget, so the
  count is a floor; without a control incident (ingestion never ran) the budget is "unknown";
* when the app's own count shows the budget spent, the function does not call TAP at all; a 429 from TAP
  is explained (which pool, when it frees if TAP says) and never retried (the TAP client never retries a 429).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fn_pp_tap_functions import control as ctl
from fn_pp_tap_functions.errors import InputError, SoarConflictError, SoarError, TapRateLimitError
from fn_pp_tap_functions.investigation.common import inert
from fn_pp_tap_functions.investigation.soar_io import InvestigationCases
from fn_pp_tap_functions.rendering import render_template
from fn_pp_tap_functions.tap.client import TapClient
from fn_pp_tap_functions.tap.people import TopClickersReport, VapReport
from fn_pp_tap_functions.tap.pools import Pool, pool_label
from fn_pp_tap_functions.tap.validation import validate_people_window

LOG = logging.getLogger(__name__)

PAGE_SIZE = 1000
DAILY_LIMIT = 50
MAX_EMAILS = 200
BUDGET_FIELD = "pp_tap_people_budget"
REPORTS: dict[str, Pool] = {"vap": Pool.PEOPLE_VAP, "top_clickers": Pool.PEOPLE_TOP_CLICKERS}
_ALIASES = {"vap": "vap", "very attacked people": "vap", "veryattackedpeople": "vap",
            "top_clickers": "top_clickers", "top clickers": "top_clickers", "topclickers": "top_clickers",
            "top-clickers": "top_clickers"}
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")


def validate_report(value: Any) -> str:
    key = str(value or "vap").strip().lower()
    if key not in _ALIASES:
        raise InputError(f"The People report {inert(value, 40)!r} is not known; use vap (Very Attacked People) "
                         "or top_clickers.")
    return _ALIASES[key]


def validate_emails(value: Any) -> list[str]:
    """Addresses (text split on commas, semicolons and spaces, or a list), lower-cased, duplicates dropped."""
    if value in (None, ""):
        return []
    items = re.split(r"[\s,;]+", value) if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        if item in ("", None):
            continue
        text = str(item).strip().strip("<>").lower()
        if len(text) > 254 or not _EMAIL.fullmatch(text):
            raise InputError(f"{inert(item, 60)!r} is not an e-mail address.")
        if text not in out:
            out.append(text)
    if len(out) > MAX_EMAILS:
        raise InputError(f"{len(out)} addresses given; at most {MAX_EMAILS} are checked in one run.")
    return out


# ---------------------------------------------------------------------------------------------- budget

class PeopleBudget:
    """The app's People calls of the last 24 h, kept on the control incident (None: not known)."""

    def __init__(self, cases: InvestigationCases | None, now: Callable[[], datetime]) -> None:
        self.cases = cases
        self.now = now
        self.control: dict | None = None
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
            self.budget = ctl.Budget.parse(ctl.props(self.control).get(BUDGET_FIELD), now=self.now())

    def used(self, pool: Pool) -> int | None:
        return None if self.budget is None else self.budget.used_24h(pool.value)

    def record(self, pool: Pool) -> None:
        """Add one call, with SOAR's old_value check; on a conflict re-read and try again (3 times)."""
        if self.cases is None or self.control is None:
            return
        for _ in range(3):
            text = ctl.props(self.control).get(BUDGET_FIELD)
            budget = ctl.Budget.parse(text, now=self.now())
            budget.add({pool.value: 1}, now=self.now())
            try:
                self.cases.patch_incident(self.control, {f"properties.{BUDGET_FIELD}": budget.text()},
                                          expected={f"properties.{BUDGET_FIELD}": text})
                self.budget, self.recorded = budget, True
                return
            except SoarConflictError:
                self.control = self.cases.get_incident(int(self.control["id"]))
            except SoarError as err:
                LOG.warning("People call not recorded: %s", err)
                return

    def summary(self, pool: Pool) -> dict[str, Any]:
        used = self.used(pool)
        return {"pool": pool.value, "label": pool_label(pool), "daily_limit": DAILY_LIMIT,
                "used_by_app_24h": used, "left_at_most": None if used is None else max(0, DAILY_LIMIT - used),
                "known": used is not None}


# ---------------------------------------------------------------------------------------------- lookup

def _people(report: str, payload: dict) -> tuple[list[dict[str, Any]], int | None, dict[str, Any]]:
    if report == "vap":
        vap = VapReport.from_api(payload)
        extra = {"interval": vap.interval, "average_attack_index": vap.average_attack_index,
                 "vap_attack_index_threshold": vap.vap_attack_index_threshold}
        return [u.to_dict() for u in vap.users], vap.total_vap_users, extra
    top = TopClickersReport.from_api(payload)
    return [u.to_dict() for u in top.users], top.total_top_clickers, {"interval": top.interval}


def _answer(email: str, person: dict[str, Any] | None, complete: bool, report: str, window: int) -> dict[str, Any]:
    what = "a Very Attacked Person" if report == "vap" else "a top clicker"
    if person is None:
        found = False if complete else None
        if found is False:
            text = f"Proofpoint TAP: {email} is not {what} (last {window} days)."
        else:
            text = (f"Proofpoint TAP: unknown whether {email} is {what}: not among the first {PAGE_SIZE} people TAP "
                    f"returned (last {window} days).")
        return {"email": email, "found": found, "person": None, "description": text}
    families = person.get("families") or []
    if report == "vap":
        measure = f"attack index {person.get('attack_index')}"
        fams = ", ".join(f"{inert(f.get('name'), 80)} ({f.get('score')})" for f in families)
    else:
        measure = f"{person.get('click_count')} clicks"
        fams = ", ".join(f"{inert(f.get('name'), 80)} ({f.get('clicks')})" for f in families)
    who = inert(" · ".join(str(x) for x in (person.get("name"), person.get("title"), person.get("department"))
                           if x), 200)
    text = inert(f"Proofpoint TAP: {email} IS {what} (last {window} days): {measure}"
                 f"{'; families: ' + fams if fams else ''}{'; ' + who if who else ''}"
                 f"{'; VIP' if person.get('vip') else ''}.", 1000)
    return {"email": email, "found": True, "person": person, "description": text}


def lookup_people(client: TapClient, emails: Any = None, *, report: Any = "vap", window: Any = 30,
                  cases: InvestigationCases | None = None, now: Callable[[], datetime] | None = None,
                  profile: str | None = None) -> dict[str, Any]:
    """One People call; answers for each address (or, with none, the top of the list)."""
    report = validate_report(report)
    window = validate_people_window(30 if window in (None, "") else window)
    wanted = validate_emails(emails)
    pool = REPORTS[report]
    clock = now or (lambda: datetime.now(UTC))
    budget = PeopleBudget(cases, clock)
    used = budget.used(pool)
    if used is not None and used >= DAILY_LIMIT:
        raise TapRateLimitError(pool=pool.value, endpoint=None, message=(
            f"Not calling Proofpoint TAP: this app already made {used} calls to the {pool_label(pool)} in the last "
            "24 hours (counted on the ingestion control incident), so TAP would answer 429. The budget frees as "
            "those calls age out of the rolling 24-hour window; try again later."))
    try:
        if report == "vap":
            payload = client.people_vap(window, size=PAGE_SIZE)
        else:
            payload = client.people_top_clickers(window, size=min(PAGE_SIZE, 200))
    except TapRateLimitError:
        budget.record(pool)  # TAP counts a throttled call too
        raise
    budget.record(pool)
    people, total, extra = _people(report, payload)
    complete = total is None or len(people) >= total
    by_email: dict[str, dict[str, Any]] = {}
    for person in people:
        for address in person.get("emails") or []:
            by_email.setdefault(str(address).strip().lower(), person)
    answers = [_answer(e, by_email.get(e), complete, report, window) for e in wanted]
    result: dict[str, Any] = {
        "report": report, "window": window, "total": total, "returned": len(people), "complete": complete,
        **extra, "answers": answers, "top": people[:20] if not wanted else [],
        "budget": budget.summary(pool), "profile": profile,
    }
    result["note_html"] = render_template("people_note.html.j2", result=result)
    return result
