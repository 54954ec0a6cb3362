"""Function pp_tap_get_campaign: a Proofpoint TAP campaign and its member threats, by its ID."""

from resilient_circuits import AppFunctionComponent, FunctionResult, app_function

from fn_pp_tap_functions.function_support import PACKAGE_NAME, reported_errors
from fn_pp_tap_functions.services.lookups import get_campaign
from fn_pp_tap_functions.settings import load_settings, tap_client

FN_NAME = "pp_tap_get_campaign"


class FunctionComponent(AppFunctionComponent):
    """Inputs: pp_tap_campaign_id, pp_tap_profile (optional). Output: see payload_samples/pp_tap_get_campaign."""

    def __init__(self, opts):
        super().__init__(opts, PACKAGE_NAME)

    @app_function(FN_NAME)
    def _app_function(self, fn_inputs):
        campaign_id = getattr(fn_inputs, "pp_tap_campaign_id", None)
        profile = getattr(fn_inputs, "pp_tap_profile", None) or None
        with reported_errors():
            settings = load_settings(self.opts, profile)
            yield self.status_message(f"Looking up campaign {campaign_id} in Proofpoint TAP ({settings.section})")
            result = get_campaign(tap_client(self.opts, profile), campaign_id, profile=profile)
        counts = ", ".join(f"{k} {v}" for k, v in result["counts_by_status"].items()) or "no member threats"
        yield self.status_message(f"Campaign '{result.get('name') or result['campaign_id']}': {counts}")
        yield FunctionResult(result)
