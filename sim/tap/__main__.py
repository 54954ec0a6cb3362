"""Command line: ``python -m sim.tap --scenario FILE --port N``.

Prints exactly one line, ``Proofpoint TAP simulator listening on <base URL>``, once the port is bound
and serving, then runs until SIGTERM or SIGINT and exits 0.  End-to-end tests start it as a
subprocess, read that line to learn the URL, and steer it through ``/_sim/``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from .scenario import ScenarioError
from .server import TapSimulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sim.tap", description="Proofpoint TAP API simulator")
    parser.add_argument("--scenario", help="scenario JSON/YAML file (default: the shipped default scenario)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument("--principal", default="sim-principal")
    parser.add_argument("--secret", default="sim-secret")
    parser.add_argument("--indexing-lag", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a freshly generated certificate")
    parser.add_argument("--ca-out", metavar="PATH", help="where to write the CA certificate (PEM); needs --tls")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.tls != bool(args.ca_out):
        _parser().error("--tls and --ca-out go together")
    try:
        sim = TapSimulator(args.scenario, principal=args.principal, secret=args.secret, host=args.host,
                           port=args.port, indexing_lag_seconds=args.indexing_lag, tls=args.tls,
                           ca_out=args.ca_out, verbose=args.verbose)
    except (OSError, ValueError, ScenarioError) as exc:
        print(f"tap-sim: cannot load scenario: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        url = sim.start()
    except OSError as exc:
        print(f"tap-sim: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    print(f"Proofpoint TAP simulator listening on {url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
