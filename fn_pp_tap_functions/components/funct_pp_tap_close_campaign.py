"""Function pp_tap_close_campaign: apply the close policy to every open incident of one TAP campaign."""

from resilient_circuits import AppFunctionComponent, FunctionResult, app_function

from fn_pp_tap_functions.closing import read_close_policy
from fn_pp_tap_functions.function_support import PACKAGE_NAME, plain_inputs, reported_errors
from fn_pp_tap_functions.services.closing import close_campaign
from fn_pp_tap_functions.services.retext import Retext
from fn_pp_tap_functions.settings import ingest_settings, tap_client
from fn_pp_tap_functions.soar.cases import SoarCases

FN_NAME = "pp_tap_close_campaign"


class FunctionComponent(AppFunctionComponent):
    """Inputs: pp_tap_campaign_id and the close policy."""

    def __init__(self, opts):
        super().__init__(opts, PACKAGE_NAME)

    @app_function(FN_NAME)
    def _app_function(self, fn_inputs):
        inputs = plain_inputs(fn_inputs)
        with reported_errors():
            policy = read_close_policy(inputs)
            retext = Retext.from_inputs(inputs, ingest_settings(self.opts, inputs.get("pp_tap_profile")))
            campaign_id = inputs.get("pp_tap_campaign_id")
            yield self.status_message(f"Checking the open incidents of campaign {campaign_id}")
            result = close_campaign(SoarCases(self.rest_client()), tap_client(self.opts, inputs.get("pp_tap_profile")),
                                    campaign_id, policy, retext=retext)
        yield self.status_message(f"Campaign {result['campaign_id']}: {result['closed']} of {result['incidents']} "
                                  "open incidents closed")
        yield FunctionResult(result)
