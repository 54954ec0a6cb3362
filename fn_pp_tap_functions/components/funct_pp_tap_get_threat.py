"""Function pp_tap_get_threat: what Proofpoint TAP knows about one threat, by its ID."""

from resilient_circuits import AppFunctionComponent, FunctionResult, app_function

from fn_pp_tap_functions.function_support import PACKAGE_NAME, reported_errors
from fn_pp_tap_functions.services.lookups import get_threat
from fn_pp_tap_functions.settings import load_settings, tap_client

FN_NAME = "pp_tap_get_threat"


class FunctionComponent(AppFunctionComponent):
    """Inputs: pp_tap_threat_id, pp_tap_profile (optional). Output: see payload_samples/pp_tap_get_threat."""

    def __init__(self, opts):
        super().__init__(opts, PACKAGE_NAME)

    @app_function(FN_NAME)
    def _app_function(self, fn_inputs):
        threat_id = getattr(fn_inputs, "pp_tap_threat_id", None)
        profile = getattr(fn_inputs, "pp_tap_profile", None) or None
        with reported_errors():
            settings = load_settings(self.opts, profile)
            yield self.status_message(f"Looking up threat {threat_id} in Proofpoint TAP ({settings.section})")
            result = get_threat(tap_client(self.opts, profile), threat_id,
                                dashboard_url=settings.options.get("dashboard_url"), profile=profile)
        yield self.status_message(f"Threat {result['threat_id']} is {result.get('status') or 'of unknown status'}")
        yield FunctionResult(result)
