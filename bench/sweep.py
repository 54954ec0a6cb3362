"""``python -m bench.sweep [--incidents 1000] [--false-positives 100]``: the false-positive sweep at scale.

Creates N open TAP incidents (one threat each) in a fresh SOAR emulator, marks some of their threats
false positives in the TAP simulator, runs the real sweep (``services.closing.sync_threat_status``) through
a resilient client, and prints wall time, SOAR calls and TAP calls; then sweeps again, when nothing has
changed, to show the steady-state cost. Correctness is checked (exactly the false positives closed, one
note each, nothing written on the second sweep); exit 1 if it is not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import resilient

from fn_pp_tap_functions.closing import ClosePolicy
from fn_pp_tap_functions.services.closing import sync_threat_status
from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.soar.control import ensure_control, utcnow
from fn_pp_tap_functions.tap.client import TapClient
from sim.soar.harness import SoarEmulator
from sim.tap import TapSimulator

EXPORT = Path(__file__).resolve().parents[1] / "fn_pp_tap_functions" / "util" / "data" / "export.res"


def tid(n: int) -> str:
    return hashlib.sha256(f"sweep-{n}".encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--false-positives", type=int, default=100)
    args = parser.parse_args(argv)
    n, fps = args.incidents, min(args.false_positives, args.incidents)

    threats = [{"id": tid(i), "identifiedAt": "now-1d", "name": f"https://t{i}.bad.example/", "type": "url",
                "category": "phish", "status": "active", "severityScore": 500} for i in range(n)]
    emulator = SoarEmulator(app_permissions=str(Path(__file__).resolve().parents[1] / "apikey_permissions.txt"))
    with emulator, TapSimulator({"threats": threats}) as tap_sim:
        emulator.import_export(json.loads(EXPORT.read_text(encoding="utf-8")))
        setup = SoarCases(resilient.get_client(emulator.app_opts()))
        control = ensure_control(setup, now=utcnow())
        print(f"Creating {n} open TAP incidents ...", flush=True)
        for i in range(n):
            setup.create_incident({"name": f"TAP threat {i}", "discovered_date": int(time.time() * 1000),
                                   "properties": {"pp_tap_group_key": f"threat:{tid(i)}", "pp_tap_threat_ids": tid(i),
                                                  "pp_tap_threat_status": "active"}})
        for i in range(fps):
            tap_sim.set_threat_status(tid(i), "falsePositive")
        ok = True
        for label in ("first sweep", "second sweep (nothing changed)"):
            cases = SoarCases(resilient.get_client(emulator.app_opts()))
            tap = TapClient(tap_sim.base_url, "sim-principal", "sim-secret")
            emulator.client().post("/_emulator/reset-calls", expect=(200, 204))
            started = time.perf_counter()
            report = sync_threat_status(cases, tap, ClosePolicy(), control_id=control["id"], progress=lambda _m: None,
                                        check_campaigns=False)
            elapsed = time.perf_counter() - started
            server_calls = sum(emulator.client().calls().values()) if isinstance(emulator.client().calls(), dict) \
                else None
            print(f"{label}: {report.incidents} incidents, {report.threats} threats, {report.closed} closed in "
                  f"{elapsed:.1f} s; SOAR calls {cases.calls} (emulator counted {server_calls}), TAP calls "
                  f"{report.tap_calls}; status {report.status}", flush=True)
            expected_closed = fps if label == "first sweep" else 0
            if report.closed != expected_closed or report.status != "completed":
                print(f"  CHECK FAILED: expected {expected_closed} closed and status completed", flush=True)
                ok = False
            if label == "first sweep" and fps:
                first_fp = setup.find_by_values("pp_tap_group_key", [f"threat:{tid(0)}"])[f"threat:{tid(0)}"][0]
                closing = [x for x in setup.notes(first_fp["id"]) if "incident closed" in json.dumps(x)]
                if len(closing) != 1:
                    print(f"  CHECK FAILED: {len(closing)} close notes on a closed incident", flush=True)
                    ok = False
        print("Per sweep: one Threat API call per distinct threat of the incidents that are due (never checked, or "
              "last checked longer ago than their age, at most 24 h), one query page per 500 incidents, one PATCH "
              "(plus one note) per incident that changes, and one bulk PATCH recording the check times.")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
