"""Function pp_tap_ingest_events: one ingestion run, decided by the workflow's inputs."""

from resilient_circuits import AppFunctionComponent, FunctionError, FunctionResult, app_function

from fn_pp_tap_functions.closing import read_close_policy
from fn_pp_tap_functions.function_support import PACKAGE_NAME, plain_inputs, reported_errors, reported_progress
from fn_pp_tap_functions.ingest import read_inputs
from fn_pp_tap_functions.services.ingestion import run_ingestion
from fn_pp_tap_functions.settings import ingest_settings, tap_client
from fn_pp_tap_functions.soar.cases import SoarCases

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
            settings = ingest_settings(self.opts, profile)
            request = read_inputs(inputs, template_file_text=settings.incident_template_text,
                                  template_file_path=settings.incident_template_path,
                                  template_files=settings.template_files())
            close_policy = read_close_policy(inputs)
            tap = tap_client(self.opts, profile)
            cases = SoarCases(self.rest_client(), timeout=settings.soar_timeout_seconds)
            control_id = inputs.get("pp_tap_incident_id")

            def work(progress):
                return run_ingestion(cases, tap, request, settings, control_id=control_id, progress=progress,
                                     close_policy=close_policy)

            report = yield from reported_progress(self, work)
        if report.status == "failed":
            raise FunctionError(f"Proofpoint TAP ingestion stopped: {report.error} (the run log on the control "
                                "incident has the details; the next run continues where this one stopped)", trace=False)
        yield FunctionResult(report.to_dict())
