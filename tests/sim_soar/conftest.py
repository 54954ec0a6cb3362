"""Fixtures for the SOAR emulator tests: one emulator per module, with the sample echo app imported."""

from __future__ import annotations

import pytest

from sim.soar.harness import SoarEmulator
from sim.soar.samples import echo_export


@pytest.fixture(scope="module")
def emulator():
    emu = SoarEmulator(no_subscriber_timeout=2.0, function_timeout=60.0).start()
    emu.import_export(echo_export())
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def client(emulator):
    return emulator.client()
