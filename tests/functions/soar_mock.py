"""The SOAR side for pytest-resilient-circuits function tests.

BasicResilientMock answers every `GET /functions/<name>` with one canned function, so the runtime
would subscribe our functions under the wrong definition. This subclass answers with the function
definitions from our own export.res, the way SOAR does after `resilient-circuits customize`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import requests_mock
from pytest_resilient_circuits import BasicResilientMock
from resilient.resilient_rest_mock import resilient_endpoint

EXPORT = Path(__file__).resolve().parents[2] / "fn_pp_tap_functions" / "util" / "data" / "export.res"


def _functions() -> dict[str, dict]:
    export = json.loads(EXPORT.read_text(encoding="utf-8"))
    return {f["name"]: f for f in export["functions"]}


class TapAppResilientMock(BasicResilientMock):
    """SOAR answering with this app's own function definitions."""

    @resilient_endpoint("GET", "/functions/.*$")
    def functions_get_xxx(self, request):
        name = re.search(r"/functions/([^/?]+)", request.url).group(1)
        fn = _functions().get(name)
        if fn is None:
            return requests_mock.create_response(request, status_code=404, json={"message": f"{name} not found"})
        return requests_mock.create_response(request, status_code=200, json=fn)
