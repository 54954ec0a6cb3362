"""``pp_tap_get_people``, the pure part: inputs checked, TAP's People answer turned into an answer per address.

TAP's People API allows 50 calls a day per report, so (the calls and the budget are in
:mod:`fn_pp_tap_functions.services.investigation`):

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

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fn_pp_tap_functions.errors import InputError
from fn_pp_tap_functions.tap.people import TopClickersReport, VapReport
from fn_pp_tap_functions.tap.pools import Pool, pool_label
from fn_pp_tap_functions.text import line

PAGE_SIZE = 1000
DAILY_LIMIT = 50
MAX_EMAILS = 200
REPORTS: dict[str, Pool] = {"vap": Pool.PEOPLE_VAP, "top_clickers": Pool.PEOPLE_TOP_CLICKERS}
_ALIASES = {"vap": "vap", "very attacked people": "vap", "veryattackedpeople": "vap",
            "top_clickers": "top_clickers", "top clickers": "top_clickers", "topclickers": "top_clickers",
            "top-clickers": "top_clickers"}
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")


def validate_report(value: Any) -> str:
    key = str(value or "vap").strip().lower()
    if key not in _ALIASES:
        raise InputError(f"The People report {line(value, 40)!r} is not known; use vap (Very Attacked People) "
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
            raise InputError(f"{line(item, 60)!r} is not an e-mail address.")
        if text not in out:
            out.append(text)
    if len(out) > MAX_EMAILS:
        raise InputError(f"{len(out)} addresses given; at most {MAX_EMAILS} are checked in one run.")
    return out


# ---------------------------------------------------------------------------------------------- answers

def budget_summary(pool: Pool, used: int | None) -> dict[str, Any]:
    """What the result says about the People budget (``used`` None: not known, no control incident)."""
    return {"pool": pool.value, "label": pool_label(pool), "daily_limit": DAILY_LIMIT,
            "used_by_app_24h": used, "left_at_most": None if used is None else max(0, DAILY_LIMIT - used),
            "known": used is not None}


def _people(report: str, payload: Mapping[str, Any]) -> tuple[list[dict[str, Any]], int | None, dict[str, Any]]:
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
        fams = ", ".join(f"{line(f.get('name'), 80)} ({f.get('score')})" for f in families)
    else:
        measure = f"{person.get('click_count')} clicks"
        fams = ", ".join(f"{line(f.get('name'), 80)} ({f.get('clicks')})" for f in families)
    who = line(" · ".join(str(x) for x in (person.get("name"), person.get("title"), person.get("department"))
                           if x), 200)
    text = line(f"Proofpoint TAP: {email} IS {what} (last {window} days): {measure}"
                 f"{'; families: ' + fams if fams else ''}{'; ' + who if who else ''}"
                 f"{'; VIP' if person.get('vip') else ''}.", 1000)
    return {"email": email, "found": True, "person": person, "description": text}


def people_result(report: str, window: int, wanted: Sequence[str], payload: Mapping[str, Any], *,
                  budget: dict[str, Any], profile: str | None) -> dict[str, Any]:
    """The function's result from one People answer: an answer per address (or, with none, the top)."""
    people, total, extra = _people(report, payload)
    complete = total is None or len(people) >= total
    by_email: dict[str, dict[str, Any]] = {}
    for person in people:
        for address in person.get("emails") or []:
            by_email.setdefault(str(address).strip().lower(), person)
    answers = [_answer(e, by_email.get(e), complete, report, window) for e in wanted]
    return {
        "report": report, "window": window, "total": total, "returned": len(people), "complete": complete,
        **extra, "answers": answers, "top": people[:20] if not wanted else [], "budget": budget, "profile": profile,
    }
