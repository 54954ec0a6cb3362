"""Property-based tests of the pure parsers (hypothesis). Deterministic in CI (``derandomize``: the same
examples every run, so a failure is reproducible), no example database written into the work tree."""

import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))  # strategies.py

settings.register_profile("project", derandomize=True, database=None, deadline=None, max_examples=50,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("project")
