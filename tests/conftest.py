"""Make the repository's own folders (sim/, customize/, tests' helper modules) importable in every test."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "tests" / "functions", ROOT / "tests" / "e2e", ROOT / "tests" / "services",
             ROOT / "tests" / "chaos", ROOT / "tests" / "sim_soar"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
