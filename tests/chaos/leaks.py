"""Every form in which a credential can leak, written independently of the app's redactor (so a test that
uses this is not the redactor checking itself)."""

from __future__ import annotations

import base64
import html
import json
from urllib.parse import quote, quote_plus


def secret_forms(secret: str) -> set[str]:
    """The secret as typed, URL-encoded, JSON/HTML-escaped and base64-encoded (compared case-insensitively)."""
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), html.escape(secret),
             json.dumps(secret)[1:-1], base64.b64encode(raw).decode().rstrip("="),
             base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    return {f for f in forms if f}


def basic_token(principal: str, secret: str) -> str:
    return base64.b64encode(f"{principal}:{secret}".encode()).decode()


def leaks(text: str, principal: str, secret: str) -> list[str]:
    """What of the credentials ``text`` still shows: any form of the secret (any case), a cut Basic token
    that reaches into the secret's part, or the first 6 characters of the secret at the very end."""
    low = text.lower()
    found = [f for f in secret_forms(secret) if f.lower() in low]
    token = basic_token(principal, secret)
    stable = 4 * (len(f"{principal}:".encode()) // 3)
    for size in range(stable + 4, len(token) + 1):
        if token[:size].lower() in low:
            found.append(f"basic token prefix {token[:size]}")
            break
    for size in range(len(secret) - 1, 5, -1):
        if low.endswith(secret[:size].lower()):
            found.append(f"cut secret {secret[:size]}")
            break
    return found
