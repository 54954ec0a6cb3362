"""`resilient-circuits selftest -l fn_pp_tap_functions`: can this app reach TAP with its credentials?

One call per configured tenant, to the Threat API (it has no published quota), asking about a threat
id nobody has: TAP answers 404 only after it has accepted the credentials. A People API call would
prove the same but spends one of its 50 calls a day, so it is never used here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fn_pp_tap_functions.errors import TapAppError
from fn_pp_tap_functions.settings import SECTION, configured_profiles, tap_client, tls_warnings

log = logging.getLogger(__name__)


def selftest_function(opts: Mapping[str, Any]) -> dict[str, str]:
    """Return {"state": "success"|"failure", "reason": ...} naming every tenant that failed and why.

    A tenant with TLS verification off still passes (the credentials work), but the reason starts with
    the warning and the warning is logged: a selftest is where an administrator checks a new setup."""
    profiles = configured_profiles(opts)
    if not profiles:
        return {"state": "failure",
                "reason": f"No [{SECTION}] section in app.config: run `resilient-circuits config -u`."}
    problems, good = [], []
    for profile in profiles:
        name = f"[{SECTION}:{profile}]" if profile else f"[{SECTION}]"
        try:
            client = tap_client(opts, profile)
            client.check_credentials()
        except TapAppError as err:
            problems.append(f"{name}: {err}")
            continue
        good.append(f"{name}: Proofpoint TAP at {client.base_url} accepted the credentials")
    warnings = [f"WARNING: {w}" for w in tls_warnings(opts)]
    for warning in warnings:
        log.warning(warning)
    if problems:
        return {"state": "failure", "reason": " | ".join(warnings + problems + good)}
    return {"state": "success", "reason": "; ".join(warnings + good)}
