"""Not a function: the start-up work of every app instance (the control incident, the incident tab).

It is a component so that resilient-circuits runs it when the app starts, with the app's options and SOAR
client, before the app takes any function call; see services/startup.py.
"""

from resilient_circuits import ResilientComponent

from fn_pp_tap_functions.services.startup import Startup
from fn_pp_tap_functions.settings import control_owner
from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.soar.control import ControlSetup


class FunctionComponent(ResilientComponent):
    """Makes sure the control incident exists (type "Proofpoint TAP control", owner `control_owner`) and the
    incident tab "Proofpoint TAP" is in the incident layout (unless `ui_lock` is set)."""

    def __init__(self, opts):
        super().__init__(opts)
        self.startup = Startup(opts, lambda: SoarCases(self.rest_client()), self.rest_client,
                               ControlSetup(owner=control_owner(opts)))
        self.startup.start()
