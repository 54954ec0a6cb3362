"""Function pp_tap_close_if_false_positive: re-check one incident's threats with TAP and apply the close policy."""

from resilient_circuits import AppFunctionComponent, FunctionResult, app_function

from fn_pp_tap_functions.closing import read_close_policy
from fn_pp_tap_functions.function_support import PACKAGE_NAME, plain_inputs, reported_errors
from fn_pp_tap_functions.services.closing import check_incident
from fn_pp_tap_functions.services.retext import Retext
from fn_pp_tap_functions.settings import ingest_settings, tap_client
from fn_pp_tap_functions.soar.cases import SoarCases

FN_NAME = "pp_tap_close_if_false_positive"


class FunctionComponent(AppFunctionComponent):
    """Inputs: pp_tap_incident_id and the close policy (see customize/scripts/false_positives/)."""

    def __init__(self, opts):
        super().__init__(opts, PACKAGE_NAME)

    @app_function(FN_NAME)
    def _app_function(self, fn_inputs):
        inputs = plain_inputs(fn_inputs)
        with reported_errors():
            policy = read_close_policy(inputs)
            retext = Retext.from_inputs(inputs, ingest_settings(self.opts, inputs.get("pp_tap_profile")))
            incident_id = inputs.get("pp_tap_incident_id")
            yield self.status_message(f"Checking the threats of incident {incident_id} with Proofpoint TAP")
            result = check_incident(SoarCases(self.rest_client()), tap_client(self.opts, inputs.get("pp_tap_profile")),
                                    incident_id, policy, retext=retext)
        yield self.status_message(f"Incident {result['incident_id']}: {result['action']} ({result['reason']})")
        yield FunctionResult(result)
