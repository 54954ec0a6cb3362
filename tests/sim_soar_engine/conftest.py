"""Fixtures of the engine's unit tests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # make `sim` and `tests.sim_soar_engine.fakes` importable however pytest is run
    sys.path.insert(0, str(ROOT))

from tests.sim_soar_engine.fakes import FakeHost  # noqa: E402


@pytest.fixture
def host() -> FakeHost:
    return FakeHost()


@pytest.fixture
def ctx() -> dict[str, Any]:
    return {"object_type": "incident", "incident_id": 42, "artifact_id": None, "rule_properties": {},
            "workflow_instance_id": 1, "workflow": {}}


@pytest.fixture
def art_ctx() -> dict[str, Any]:
    return {"object_type": "artifact", "incident_id": 42, "artifact_id": 7, "rule_properties": {"pp_days": 3},
            "workflow_instance_id": 2, "workflow": {}}

