"""What every app instance does once when it starts: the control incident, and the incident tab.

Why at start: ingestion, the sweep and the People budget all work on the control incident, and IBM's
Scheduler app (or an analyst) can only run a rule on an incident that exists. Made here, on every instance
and whatever the scheduler's intervals, a new install has it within seconds of ``resilient-circuits run``
(several instances starting together end with one in use: see :func:`~fn_pp_tap_functions.soar.control.
ensure_control`). The tab "Proofpoint TAP" shows the TAP fields on TAP incidents
(:mod:`~fn_pp_tap_functions.soar.layout`).

SOAR may refuse either step: the message names the permission, setting or field to fix. A control incident
that could not be made is tried again in the background (SOAR unreachable, a permission granted later); the tab
is checked once per start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from fn_pp_tap_functions.errors import TapAppError
from fn_pp_tap_functions.soar import control as ctl
from fn_pp_tap_functions.soar.cases import Incident, SoarCases
from fn_pp_tap_functions.soar.layout import TabOutcome, ensure_tab

LOG = logging.getLogger(__name__)
PREFIX = "Proofpoint TAP start-up"


def prepare_control(cases: SoarCases, setup: ctl.ControlSetup) -> Incident:
    """The control incident in use, created when missing, with the control type and the configured owner."""
    control = ctl.ensure_control(cases, now=ctl.utcnow(), setup=setup)
    return ctl.adopt_control(cases, control, setup)


def describe(control: Mapping[str, Any]) -> str:
    types = ", ".join(str(t) for t in control.get("incident_type_ids") or []) or "none"
    return (f"control incident {control.get('id')} is in use (incident type: {types}; owner: "
            f"{control.get('owner_id') or 'nobody'})")


class Startup:
    """Runs the start-up work: first in the caller's thread, then, while the control incident is missing, again
    every ``retry_s`` seconds (doubling to ``max_retry_s``) in a background thread until :meth:`stop`."""

    def __init__(self, opts: Mapping[str, Any], cases_factory: Callable[[], SoarCases], client_factory:
                 Callable[[], Any], setup: ctl.ControlSetup, *, retry_s: float = 60.0,
                 max_retry_s: float = 900.0) -> None:
        self.opts = opts
        self.cases_factory = cases_factory
        self.client_factory = client_factory
        self.setup = setup
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self.stop_event = threading.Event()
        self.control: Incident | None = None
        self.tab: TabOutcome | None = None
        self.thread: threading.Thread | None = None

    def make_control(self) -> bool:
        try:
            self.control = prepare_control(self.cases_factory(), self.setup)
        except TapAppError as err:
            LOG.error("%s: the control incident could not be made: %s", PREFIX, err)
            return False
        LOG.info("%s: %s", PREFIX, describe(self.control))
        return True

    def make_tab(self) -> TabOutcome:
        try:
            self.tab = ensure_tab(self.opts, self.client_factory())
        except Exception as err:  # the tab is a convenience: it must never stop the app
            self.tab = TabOutcome("refused", f"the incident tab could not be made: {type(err).__name__}: {err}")
        (LOG.error if self.tab.state == "refused" else LOG.info)("%s: %s", PREFIX, self.tab.message)
        return self.tab

    def start(self) -> None:
        made = self.make_control()
        self.make_tab()
        if not made:
            self.thread = threading.Thread(target=self._retry, name="pp-tap-startup", daemon=True)
            self.thread.start()

    def _retry(self) -> None:
        delay = self.retry_s
        while not self.stop_event.wait(delay):
            LOG.info("%s: trying the control incident again", PREFIX)
            if self.make_control():
                return
            delay = min(delay * 2, self.max_retry_s)

    def stop(self) -> None:
        self.stop_event.set()
