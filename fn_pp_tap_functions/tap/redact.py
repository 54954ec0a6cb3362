"""Removing credentials from text the app did not write itself (TAP bodies, proxy pages, library messages).

TAP never echoes credentials, but what answers in its place may: a TLS-inspecting proxy, a WAF or a
captive portal that lists the request's headers in its error page, or a proxy error that quotes its own
URL. Any such text reaches the workflow error, the run log, notes and the runtime's log, so it is scrubbed
of every form a credential can take there, BEFORE it is cut to length (a cut secret would otherwise keep
its first characters):

* the secret (and the principal, and any proxy user/password from the proxy URLs), as typed; URL-encoded
  (``quote``, ``quote_plus``); JSON-escaped; HTML-escaped; base64; all of them in any letter case (a
  proxy that upper-cases what it echoes still shows the secret);
* the ``Authorization: Basic`` token, base64 of ``principal:secret`` (standard and URL-safe alphabet,
  with or without padding), and any base64 run that starts like it: a header echoed and cut by the
  proxy still carries the secret's first characters;
* a text that ENDS in the first characters (6 or more) of the secret: someone else cut it there.

What is secret: the secret, and the proxy password. The principal is an identifier, not a secret (it
opens nothing without the secret), but it names the tenant's credential and no message needs it, so
its plain forms are removed too. Its base64 alone is not a form any client sends; the part of the Basic
token that encodes it goes with the rest of the token.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, urlsplit

REDACTED = "[redacted]"
MIN_LENGTH = 3
"""Shorter values are not searched for (they would redact ordinary words); no real credential is that short."""
MIN_TAIL = 6
"""A text ending in this many first characters of the secret (or more) is taken to be a cut secret."""
_B64_RUN = r"[A-Za-z0-9+/_=-]*"


def _forms(value: str) -> set[str]:
    """The ways ``value`` can appear in an echo (letter case is handled by the pattern)."""
    raw = value.encode("utf-8", "surrogatepass")
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value), html.escape(value),
             html.escape(value, quote=False), json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        forms.add(encode(raw).decode("ascii").rstrip("="))
    return {f for f in forms if len(f) >= MIN_LENGTH}


def _basic_tokens(user: str, password: str) -> list[str]:
    """Patterns for a Basic token of ``user:password``: whole, and any base64 run that starts as it does."""
    pair = f"{user}:{password}".encode("utf-8", "surrogatepass")
    stable = 4 * (len(f"{user}:".encode("utf-8", "surrogatepass")) // 3)  # chars that encode only "user:"
    patterns = []
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        token = encode(pair).decode("ascii")
        patterns.append(re.escape(token.rstrip("=")) + "=*")
        if stable >= 8:
            patterns.append(re.escape(token[:stable]) + _B64_RUN)
    return patterns


def proxy_credentials(urls: Iterable[str | None]) -> list[tuple[str, str]]:
    """(user, password) of every proxy URL with user info (``http://user:pw@proxy:3128``), decoded."""
    found = []
    for url in urls:
        if not url:
            continue
        try:
            parts = urlsplit(url if "://" in url else "http://" + url)
        except ValueError:
            continue
        if parts.username or parts.password:
            found.append((unquote(parts.username or ""), unquote(parts.password or "")))
    return found


class Redactor:
    """Replaces every form of the given credentials by ``[redacted]``.

    ``secret`` and ``principal`` are the TAP credentials; ``proxies`` are (user, password) pairs of the
    proxies in the way (:func:`proxy_credentials`).
    """

    def __init__(self, secret: str, principal: str = "", *, proxies: Iterable[tuple[str, str]] = ()) -> None:
        secret, principal = secret or "", (principal or "").strip()
        pairs = [(principal, secret), *proxies]
        values = {secret, principal}
        for user, password in pairs[1:]:
            values.update((user, password))
        patterns: set[str] = set()
        for value in values:
            if len(value) >= MIN_LENGTH:
                patterns.update(re.escape(form) for form in _forms(value))
        for user, password in pairs:
            if password:
                patterns.update(_basic_tokens(user, password))
        ordered = sorted(patterns, key=len, reverse=True)  # the longest form first: no half-replaced token
        self._pattern = re.compile("|".join(ordered), re.IGNORECASE) if ordered else None
        self.longest = max((len(p) for p in ordered), default=0)
        self._tails = [form.lower() for value in (secret, *(p for _u, p in pairs[1:]))
                       if len(value) >= MIN_LENGTH for form in _forms(value)]

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        text = self._pattern.sub(REDACTED, text)
        low = text.lower()
        for form in self._tails:
            for size in range(len(form) - 1, min(MIN_TAIL, len(form)) - 1, -1):
                if low.endswith(form[:size]):
                    return text[:-size] + REDACTED
        return text

    def shown(self, text: str, limit: int) -> str:
        """``text`` on one line, scrubbed, then cut to ``limit`` characters (in that order)."""
        head = " ".join(text[: 4 * (limit + self.longest) + 4096].split())
        head = self(head[: limit + self.longest + 16])
        return head if len(head) <= limit else head[: limit - 3] + "..."
