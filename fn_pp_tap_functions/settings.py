"""Everything the app reads from app.config: the TAP tenant a call talks to, ingestion's limits, the scheduler.

Profiles exist because a SOC often serves several TAP tenants from one SOAR org; a function picks
one with its optional profile input. Credentials are never inherited between tenants: a profile
with the default tenant's secret would silently query the wrong tenant.

The SOC's decisions (filters, templates, owners, close policy) are NOT here: they are workflow inputs,
so a SOC changes them in SOAR. What is here is operational: connections, limits, intervals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from resilient_lib import RequestsCommon

from fn_pp_tap_functions.errors import ConfigError, InputError
from fn_pp_tap_functions.tap.client import TapClient
from fn_pp_tap_functions.text import yes_no

SECTION = "fn_pp_tap_functions"
DEFAULT_BASE_URL = "https://tap-api-v2.proofpoint.com"
PLACEHOLDERS = {"<tap-service-principal>", "<emea-service-principal>", ""}
INHERITED = ("base_url", "verify", "timeout", "retries", "http_proxy", "https_proxy",
             "client_auth_cert", "client_auth_key", "ingest_max_windows_per_run", "ingest_overlap_minutes",
             "ingest_lease_minutes", "siem_daily_budget", "incident_template_path", "update_template_path",
             "close_template_path", "ingest_settle_minutes", "ingest_fresh_pass", "ingest_rows_per_incident",
             "run_log_quiet_hours", "soar_timeout_seconds", "sync_closed_days", "sync_recheck_hours",
             "sync_min_recheck_minutes")


@dataclass(frozen=True)
class IngestSettings:
    """Ingestion's operational limits from app.config (the SOC's decisions are workflow inputs, not here).

    ``incident_template_text`` is the content of the ``incident_template_path`` file, read with the
    settings so that an unreadable file is a configuration error before anything runs."""

    max_windows_per_run: int = 24
    overlap_minutes: int = 30
    lease_minutes: int = 15
    siem_daily_budget: int = 1500
    incident_template_path: str | None = None
    incident_template_text: str | None = field(default=None, repr=False)
    settle_minutes: int = 60
    """The settle pass runs once its span is this long: the bookkeeping lag (see services.passes)."""
    fresh_pass: bool = True
    """False: no fresh pass (one TAP read per event; new threats reach SOAR after overlap + settle)."""
    rows_per_incident: int = 5
    """Rows each incident gets in its events table, over all runs (every event is still counted)."""
    quiet_summary_hours: int = 24
    """Runs that changed nothing are counted on the control incident and summarised in one row this often."""
    soar_timeout_seconds: int = 120
    """Seconds to wait for one SOAR answer; the lease margin is three times it (at most a third of the lease)."""
    update_template_path: str | None = None
    update_template_text: str | None = field(default=None, repr=False)
    close_template_path: str | None = None
    close_template_text: str | None = field(default=None, repr=False)

    def template_files(self) -> dict[str, tuple[str | None, str | None]]:
        """kind -> (text, path) of the update and close template files (for ``read_inputs``)."""
        return {"update": (self.update_template_text, self.update_template_path),
                "close": (self.close_template_text, self.close_template_path)}


@dataclass(frozen=True)
class SweepSettings:
    """The false-positive sweep's limits: which incidents it re-checks with TAP's Threat API, and when.

    An open incident is re-checked once its last check (``pp_tap_checked``: a SIEM event read or a Threat
    API answer) is older than half its age since TAP last reported activity, at least ``min_recheck_minutes``
    and at most ``recheck_hours`` (so every open incident is re-checked at least once that often); an
    incident the app closed is re-checked the same way until ``closed_days`` after its close."""

    closed_days: int = 30
    recheck_hours: int = 24
    min_recheck_minutes: int = 60
    quiet_summary_hours: int = 24
    soar_timeout_seconds: int = 120


@dataclass(frozen=True)
class TapSettings:
    """One tenant's connection settings, with the secret kept out of repr."""

    profile: str | None
    section: str
    base_url: str
    principal: str
    secret: str
    timeout: int
    retries: int
    options: Mapping[str, Any]

    def __repr__(self) -> str:  # the secret must never reach a log line
        return f"TapSettings(profile={self.profile!r}, base_url={self.base_url!r}, principal={self.principal!r})"


def section_name(profile: str | None) -> str:
    profile = (profile or "").strip()
    return f"{SECTION}:{profile}" if profile else SECTION


def _get(section: Mapping[str, Any] | None, key: str) -> Any:
    if not section:
        return None
    value = section.get(key)
    return value if value not in (None, "") else None


def _int(value: Any, name: str, section: str, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"'{name}' in [{section}] must be a whole number, not {value!r}.") from None
    if not low <= number <= high:
        raise ConfigError(f"'{name}' in [{section}] must be between {low} and {high}, not {number}.")
    return number


def load_settings(opts: Mapping[str, Any], profile: str | None = None) -> TapSettings:
    """Resolve the settings for `profile` (None or blank: the default tenant)."""
    name = section_name(profile)
    if profile and any(ch in profile for ch in "[]\n\r"):
        raise InputError(f"Profile {profile!r} is not a valid profile name.")
    default = opts.get(SECTION) or {}
    own = opts.get(name)
    if own is None:
        if profile:
            known = sorted(k.split(":", 1)[1] for k in opts if isinstance(k, str) and k.startswith(SECTION + ":"))
            hint = f" Known profiles: {', '.join(known)}." if known else " No profiles are configured."
            raise ConfigError(f"No [{name}] section in app.config for profile '{profile}'.{hint}")
        raise ConfigError(f"No [{SECTION}] section in app.config: run `resilient-circuits config -u` and fill it in.")

    merged: dict[str, Any] = {}
    if profile:
        for key in INHERITED:
            if _get(default, key) is not None:
                merged[key] = default.get(key)
    for key in own:
        if _get(own, key) is not None:
            merged[key] = own.get(key)  # .get resolves $ENV and ^keyring values

    principal = merged.get("principal")
    secret = merged.get("secret")
    if principal is None or str(principal).strip() in PLACEHOLDERS:
        raise ConfigError(f"'principal' is not set in [{name}]: enter the TAP service principal.")
    if secret is None or str(secret).startswith("$") or str(secret).startswith("^") or str(secret).strip() == "":
        raise ConfigError(
            f"'secret' in [{name}] is empty or names a secret that could not be resolved: set the "
            "environment variable, App Host secret or keyring entry it refers to.")
    return TapSettings(
        profile=profile or None,
        section=name,
        base_url=str(merged.get("base_url") or DEFAULT_BASE_URL).rstrip("/"),
        principal=str(principal).strip(),
        secret=str(secret),
        timeout=_int(merged.get("timeout"), "timeout", name, 30, 1, 600),
        retries=_int(merged.get("retries"), "retries", name, 3, 0, 10),
        options=merged,
    )


def _read_template_file(path: str | None, section: str, setting: str = "incident_template_path") -> str | None:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as err:
        raise ConfigError(f"'{setting}' in [{section}] names {path!r}, which cannot be read "
                          f"({err.strerror}): fix the path or remove the setting.") from None


def _bool(value: Any, name: str, section: str, default: bool) -> bool:
    if value is None:
        return default
    answer = yes_no(value)
    if answer is None:
        raise ConfigError(f"'{name}' in [{section}] must be true or false, not {value!r}.")
    return answer


def ingest_settings(opts: Mapping[str, Any], profile: str | None = None) -> IngestSettings:
    """Operational limits of ingestion (not the SOC's decisions, which come from the workflow)."""
    settings = load_settings(opts, profile)
    o, name = settings.options, settings.section
    paths = {key: o.get(f"{key}_template_path") or None for key in ("incident", "update", "close")}
    return IngestSettings(
        max_windows_per_run=_int(o.get("ingest_max_windows_per_run"), "ingest_max_windows_per_run", name, 24, 1, 168),
        overlap_minutes=_int(o.get("ingest_overlap_minutes"), "ingest_overlap_minutes", name, 30, 0, 120),
        lease_minutes=_int(o.get("ingest_lease_minutes"), "ingest_lease_minutes", name, 15, 1, 240),
        siem_daily_budget=_int(o.get("siem_daily_budget"), "siem_daily_budget", name, 1500, 1, 1800),
        incident_template_path=paths["incident"],
        incident_template_text=_read_template_file(paths["incident"], name),
        settle_minutes=_int(o.get("ingest_settle_minutes"), "ingest_settle_minutes", name, 60, 0, 720),
        fresh_pass=_bool(o.get("ingest_fresh_pass"), "ingest_fresh_pass", name, True),
        rows_per_incident=_int(o.get("ingest_rows_per_incident"), "ingest_rows_per_incident", name, 5, 0, 500),
        quiet_summary_hours=_int(o.get("run_log_quiet_hours"), "run_log_quiet_hours", name, 24, 1, 24 * 31),
        soar_timeout_seconds=_int(o.get("soar_timeout_seconds"), "soar_timeout_seconds", name, 120, 5, 3600),
        update_template_path=paths["update"],
        update_template_text=_read_template_file(paths["update"], name, "update_template_path"),
        close_template_path=paths["close"],
        close_template_text=_read_template_file(paths["close"], name, "close_template_path"),
    )


def sweep_settings(opts: Mapping[str, Any], profile: str | None = None) -> SweepSettings:
    """The sweep's limits from app.config (see :class:`SweepSettings`)."""
    settings = load_settings(opts, profile)
    o, name = settings.options, settings.section
    return SweepSettings(
        closed_days=_int(o.get("sync_closed_days"), "sync_closed_days", name, 30, 0, 3650),
        recheck_hours=_int(o.get("sync_recheck_hours"), "sync_recheck_hours", name, 24, 1, 24 * 30),
        min_recheck_minutes=_int(o.get("sync_min_recheck_minutes"), "sync_min_recheck_minutes", name, 60, 0,
                                 24 * 60),
        quiet_summary_hours=_int(o.get("run_log_quiet_hours"), "run_log_quiet_hours", name, 24, 1, 24 * 31),
        soar_timeout_seconds=_int(o.get("soar_timeout_seconds"), "soar_timeout_seconds", name, 120, 5, 3600),
    )


DEFAULT_INTERVALS = {"ingest_interval_minutes": 5.0, "sync_interval_minutes": 60.0}
"""The built-in scheduler's intervals when app.config does not set them: on, at what a SOC would keep (every
run costs at least one SIEM call per quota pool; the sweep one Threat API call per open threat)."""


def interval_minutes(opts: Mapping[str, Any], key: str, *, low: float = 0.1, default: float = 0.0) -> float:
    """A scheduler interval (or delay) from [fn_pp_tap_functions]; 0 means off, unset means ``default``."""
    raw = (opts.get(SECTION) or {}).get(key)
    if raw in (None, ""):
        return default
    try:
        minutes = float(str(raw).strip())
    except ValueError:
        raise ConfigError(f"'{key}' in [{SECTION}] must be a number of minutes (0 = off), not {raw!r}.") from None
    if minutes < 0 or (0 < minutes < low):
        raise ConfigError(f"'{key}' in [{SECTION}] must be 0 (off) or at least {low:g}, not {raw!r}.")
    return minutes


def tap_client(opts: Mapping[str, Any], profile: str | None = None) -> TapClient:
    """A TAP client for one tenant, with app.config proxies, TLS and timeout applied by RequestsCommon."""
    settings = load_settings(opts, profile)
    rc = RequestsCommon(opts=opts, function_opts=settings.options)
    return TapClient(settings.base_url, settings.principal, settings.secret, rc=rc,
                     timeout=settings.timeout, retries=settings.retries)


def control_owner(opts: Mapping[str, Any]) -> str | None:
    """``control_owner``: who owns the control incident the app creates (a user's e-mail or a group's name)."""
    value = str((opts.get(SECTION) or {}).get("control_owner") or "").strip()
    return value or None
