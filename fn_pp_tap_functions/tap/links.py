"""TAP dashboard links for threats.

What the samples show (``tests/data/public/samples``): events carry the link as ``threatUrl``
(messages) or ``threatURL`` (clicks), of the form

    https://threatinsight.proofpoint.com/<tenant>/threat/email/<threatId>

where ``<threatId>`` is the event's threat id (where the samples are not anonymised the two match, e.g.
the clicks-permitted ``92c17aa...`` and the delivered ``b7exxx...`` entries) and ``<tenant>`` is a
per-customer UUID-like segment (anonymised in the samples). An older click shows
``https://threatinsight.proofpoint.com/#/<tenant>/threat/u/<id>``.

So the path pattern is confirmed, but the tenant segment cannot be derived from a threat id. A link for a
threat looked up by id is built only when the tenant segment is known (configured, or learnt from any
event's ``threatUrl`` with :func:`tenant_from_threat_url`); otherwise :func:`threat_dashboard_url` returns
``None`` rather than a guessed, broken link. :func:`dashboard_link` builds the link from the configured
``dashboard_url`` setting instead.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

DASHBOARD_HOST = "threatinsight.proofpoint.com"

_TENANT = re.compile(r"[A-Za-z0-9-]{1,64}")
_THREAT_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_PATH = re.compile(r"/(?:#/)?(?P<tenant>[A-Za-z0-9-]{1,64})/threat/(?:email|u)/(?P<threat>[A-Za-z0-9_-]{1,128})/?")


def tenant_from_threat_url(url: str | None) -> str | None:
    """The tenant segment of a dashboard ``threatUrl``; ``None`` if the URL is not such a link."""
    if not isinstance(url, str) or not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme != "https" or (parts.hostname or "").lower() != DASHBOARD_HOST:
        return None
    path = parts.path
    if parts.fragment:  # old form https://threatinsight.proofpoint.com/#/<tenant>/threat/u/<id>
        path = path.rstrip("/") + "/#" + parts.fragment
    match = _PATH.fullmatch(path)
    return match.group("tenant") if match else None


def threat_dashboard_url(threat_id: str | None, tenant: str | None) -> str | None:
    """``https://threatinsight.proofpoint.com/<tenant>/threat/email/<threatId>``, or ``None``.

    ``None`` when the tenant segment is unknown (it is per customer and not derivable from the threat id)
    or when either part has characters that do not belong in the path.
    """
    if not threat_id or not tenant:
        return None
    if not _TENANT.fullmatch(tenant) or not _THREAT_ID.fullmatch(threat_id):
        return None
    return f"https://{DASHBOARD_HOST}/{tenant}/threat/email/{threat_id}"


def dashboard_link(dashboard_url: str | None, threat_id: str) -> str | None:
    """The threat's page in the TAP dashboard.

    The dashboard's address holds the customer's own TAP organisation id, which the Threat API does
    not return, so it comes from the `dashboard_url` setting (e.g.
    https://threatinsight.proofpoint.com/<org-id>); without it there is no link rather than a wrong one.
    """
    if not dashboard_url:
        return None
    return f"{dashboard_url.rstrip('/')}/threat/email/{threat_id}"
