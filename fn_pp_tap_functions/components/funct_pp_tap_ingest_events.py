"""Function pp_tap_ingest_events: one ingestion run, decided by the workflow's inputs."""

from resilient_circuits import AppFunctionComponent, FunctionError, FunctionResult, app_function

from fn_pp_tap_functions.function_support import PACKAGE_NAME, plain_inputs, reported_errors, reported_progress
from fn_pp_tap_functions.ingest import IngestPolicy
from fn_pp_tap_functions.ingestion import run_ingestion
from fn_pp_tap_functions.settings import ingest_settings, tap_client
from fn_pp_tap_functions.soar_cases import SoarCases
from fn_pp_tap_functions.threat_status import ClosePolicy

FN_NAME = "pp_tap_ingest_events"


class FunctionComponent(AppFunctionComponent):
    """Inputs: the control incident and the SOC's decisions (see customize/scripts/ingest_events/pre.py)."""

    def __init__(self, opts):
        super().__init__(opts, PACKAGE_NAME)

    @app_function(FN_NAME)
    def _app_function(self, fn_inputs):
        inputs = plain_inputs(fn_inputs)
        profile = inputs.get("pp_tap_profile") or None
        with reported_errors():
            policy = IngestPolicy.from_inputs(inputs)
            close_policy = ClosePolicy.from_inputs(inputs)
            settings, template_text = ingest_settings(self.opts, profile)
            tap = tap_client(self.opts, profile)
            cases = SoarCases(self.rest_client())
            control_id = inputs.get("pp_tap_incident_id")

            def work(progress):
                return run_ingestion(cases, tap, policy, settings, control_id=control_id,
                                     template_file_text=template_text, progress=progress, close_policy=close_policy)

            report = yield from reported_progress(self, work)
        if report.status == "failed":
            raise FunctionError(f"Proofpoint TAP ingestion stopped: {report.error} (the run log on the control "
                                "incident has the details; the next run continues where this one stopped)", trace=False)
        yield FunctionResult(report.to_dict())
