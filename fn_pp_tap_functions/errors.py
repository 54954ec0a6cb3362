"""One exception hierarchy for the whole app.

Every error a SOC engineer can see comes from here, so that function results, logs and incident notes name
the real cause and the next step instead of a library's generic text (resilient-lib's
``RequestsCommon.execute`` would turn every failure into ``"Retry limit exceeded"``).

Rules every message follows:

* say what failed, why, and what to do about it;
* never contain a credential: the classes below take structured facts (endpoint path, status, TAP's own
  text) and the TAP client scrubs its secret from any text it did not write itself.

Layout::

    TapAppError
    +-- InputError            bad function input; no call was made
    +-- ConfigError           app.config problem
    +-- TapError              anything Proofpoint TAP (or the way to it) did
    |   +-- TapAuthError          401/403
    |   +-- TapNotFoundError      404
    |   +-- TapBadRequestError    400 (carries TAP's text)
    |   +-- TapRateLimitError     429 (which pool, when it frees)
    |   +-- TapUnavailableError   5xx / timeouts after bounded retries
    |   +-- TapConnectionError    DNS, refused, TLS, proxy
    |   +-- TapResponseError      answer we cannot use (not JSON, wrong shape)
    +-- SoarError             SOAR-side problems (subclasses are added by the SOAR modules)
"""

from __future__ import annotations

from datetime import datetime

APP_SECTION = "fn_pp_tap_functions"
"""app.config section of this app; named in messages that tell the user what to change."""


class TapAppError(Exception):
    """Base of every error this app raises on purpose.

    ``str(err)`` is the user-facing message (unlike resilient-lib's ``IntegrationError``, which quotes it).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(TapAppError, ValueError):
    """A function input is wrong; raised before any request so no API quota is spent."""


class ConfigError(TapAppError):
    """The app.config section is missing something or holds an unusable value."""


class SoarError(TapAppError):
    """Base for problems talking to SOAR itself; the SOAR-side modules add subclasses."""


class SoarRequestError(SoarError):
    """SOAR refused or failed a REST call; ``status`` is its HTTP status (None when it never answered)."""

    def __init__(self, message: str, *, status: int | None = None, what: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.what = what


class SoarConflictError(SoarError):
    """Someone else changed the same incident fields first (SOAR's old_value check failed)."""

    def __init__(self, message: str, *, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


# --------------------------------------------------------------------------------------------------- TAP


class TapError(TapAppError):
    """Base for every failure of a call to Proofpoint TAP.

    ``endpoint`` is the API path (never a full URL with credentials), ``status`` the HTTP status if TAP
    answered at all.
    """

    def __init__(self, message: str, *, endpoint: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status


class TapAuthError(TapError):
    """TAP refused the credentials (401) or the principal may not use this API (403)."""

    def __init__(self, *, endpoint: str | None = None, status: int = 401, message: str | None = None) -> None:
        if message is None:
            where = f" for {endpoint}" if endpoint else ""
            if status == 403:
                message = (
                    f"Proofpoint TAP refused access{where} (HTTP 403): the service principal is valid but not "
                    "allowed to use this API. Ask the TAP administrator to grant it, or use a principal that has it."
                )
            else:
                message = (
                    f"Proofpoint TAP rejected the service principal/secret{where} (HTTP {status}). "
                    f"Check the service principal and secret in the [{APP_SECTION}] section of app.config; "
                    "a secret is shown only once in TAP (Settings > Connected Applications), so create a new "
                    "one if it was lost or rotated."
                )
        super().__init__(message, endpoint=endpoint, status=status)


class TapNotFoundError(TapError):
    """TAP answered 404: the threat, campaign or interval has nothing.

    ``what`` is ``"threat"``, ``"campaign"``, ``"campaigns"`` (campaign-id listing), ``"forensics"`` or
    ``"resource"``; ``ident`` the id or interval asked for. Callers that list campaigns treat
    ``what == "campaigns"`` as an empty result.
    """

    def __init__(
        self, message: str, *, what: str = "resource", ident: str | None = None, endpoint: str | None = None
    ) -> None:
        super().__init__(message, endpoint=endpoint, status=404)
        self.what = what
        self.ident = ident


class TapBadRequestError(TapError):
    """TAP answered 400; its own plain-text explanation is kept in ``tap_text`` and in the message."""

    def __init__(self, tap_text: str, *, endpoint: str | None = None, message: str | None = None) -> None:
        self.tap_text = tap_text
        if message is None:
            said = f'TAP says: "{tap_text}"' if tap_text else "TAP gave no explanation"
            hint = "Correct the input and retry."
            if endpoint and endpoint.startswith("/v2/siem"):
                hint = "SIEM windows must be 30 s to 1 h long, already ended and within the last 7 days."
            message = (
                f"Proofpoint TAP rejected the request to {endpoint or 'the API'} as invalid (HTTP 400). {said}. {hint}"
            )
        super().__init__(message, endpoint=endpoint, status=400)


class TapRateLimitError(TapError):
    """TAP answered 429: one of its rolling 24-hour quotas is used up.

    ``pool`` names the quota (see ``fn_pp_tap_functions.tap.pools``), ``retry_after`` is the number of seconds
    TAP said to wait (``None`` when it did not say) and ``frees_at`` the matching UTC time.
    """

    def __init__(
        self,
        *,
        pool: str,
        pool_label: str | None = None,
        retry_after: float | None = None,
        frees_at: datetime | None = None,
        endpoint: str | None = None,
        tap_text: str | None = None,
        message: str | None = None,
    ) -> None:
        self.pool = pool
        self.retry_after = retry_after
        self.frees_at = frees_at
        self.tap_text = tap_text
        if message is None:
            label = pool_label or pool
            if retry_after is not None:
                when = f"TAP says it frees in {_human_duration(retry_after)}"
                if frees_at is not None:
                    when += f" (at {frees_at.strftime('%Y-%m-%dT%H:%M:%SZ')})"
                when += "."
            else:
                when = (
                    "TAP did not say when it frees: the quota is a rolling 24-hour window, so calls succeed "
                    "again as the oldest requests age out (up to 24 h)."
                )
            if pool.startswith("siem"):
                advice = "Lower the polling frequency or the number of SIEM endpoints polled."
            else:
                advice = "Avoid further calls to this API until then."
            message = (
                f"Proofpoint TAP throttled the request to {endpoint or 'the API'} (HTTP 429): the {label} quota is "
                f"used up. {when} {advice}"
            )
        super().__init__(message, endpoint=endpoint, status=429)


class TapUnavailableError(TapError):
    """TAP kept failing on its side (5xx) or kept timing out, after the client's bounded retries."""

    def __init__(
        self,
        *,
        attempts: int,
        endpoint: str | None = None,
        last_status: int | None = None,
        statuses: tuple[int | None, ...] = (),
        timeouts: int = 0,
        message: str | None = None,
    ) -> None:
        self.attempts = attempts
        self.last_status = last_status
        self.statuses = statuses
        self.timeouts = timeouts
        if message is None:
            server_errors = sum(1 for s in statuses if s is not None)
            parts = []
            if server_errors:
                codes = ", ".join(sorted({str(s) for s in statuses if s is not None}))
                parts.append(f"answered {server_errors} time(s) with a server error (HTTP {codes})")
            if timeouts:
                parts.append(f"timed out {timeouts} time(s)")
            others = attempts - server_errors - timeouts
            if others > 0:
                parts.append(f"dropped the connection {others} time(s)")
            what = " and ".join(parts) or "failed"
            message = (
                f"Proofpoint TAP is unavailable: {endpoint or 'the API'} {what} in {attempts} attempt(s). "
                "This is on Proofpoint's side or on the network path to it; try again later, and check "
                "Proofpoint's service status if it persists."
            )
        super().__init__(message, endpoint=endpoint, status=last_status)


class TapConnectionError(TapError):
    """No HTTP answer could be had: ``reason`` is ``"dns"``, ``"refused"``, ``"tls"``, ``"proxy"`` or ``"network"``."""

    def __init__(self, message: str, *, reason: str, endpoint: str | None = None) -> None:
        super().__init__(message, endpoint=endpoint, status=None)
        self.reason = reason


class TapResponseError(TapError):
    """TAP answered, but with something the app cannot use (not JSON, not the expected shape)."""


def _human_duration(seconds: float) -> str:
    """Render a wait like ``"1 h 5 min"`` or ``"40 s"`` for messages."""
    total = max(0, int(round(seconds)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"
