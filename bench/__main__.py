"""``python -m bench [--sizes 1000,10000,50000] [--baseline/--no-baseline] [--json out.json] ...``

Exit status 0 whatever the speed, memory or call-count results (it is a benchmark); 1 when a correctness
check fails (wrong incidents, a replay that writes, call counts that do not add up) or a run breaks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime

from bench import report
from bench.runner import (
    DEFAULT_BASELINE_SAMPLE,
    MIN_BASELINE_SAMPLE,
    Options,
    SizeResult,
    WorkerError,
    run_size,
    temp_profile_dir,
)
from bench.stack import ROOT, say, stoppable

DEFAULT_SIZES = (1_000, 10_000, 50_000)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "").strip()) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes takes whole numbers separated by commas, not {text!r}") from None
    if not sizes or any(s < 100 for s in sizes):
        raise argparse.ArgumentTypeError("every size must be at least 100 events")
    return sizes


def _sample(text: str) -> int | None:
    if text.strip().lower() == "all":
        return None
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--baseline-sample takes a number of events or 'all', not {text!r}") from None
    if value < MIN_BASELINE_SAMPLE:
        raise argparse.ArgumentTypeError(f"--baseline-sample must be at least {MIN_BASELINE_SAMPLE:,} events")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Ingestion benchmark of fn_pp_tap_functions: our run_ingestion against "
        "a naive per-event baseline, on synthetic TAP data, through the SOAR emulator and the TAP simulator.")
    parser.add_argument("--sizes", type=_sizes, default=list(DEFAULT_SIZES),
                        help="events per size, comma separated (default 1000,10000,50000)")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the naive per-event baseline (default: yes)")
    parser.add_argument("--baseline-sample", type=_sample, default=DEFAULT_BASELINE_SAMPLE, metavar="EVENTS|all",
                        help=f"when a window has more kept events, run the baseline on EVENTS of them (at least "
                             f"{MIN_BASELINE_SAMPLE:,}) and EXTRAPOLATE, saying so; 'all': always the whole "
                             f"window (default: {DEFAULT_BASELINE_SAMPLE or 'all'})")
    parser.add_argument("--memory-run", action=argparse.BooleanOptionalAction, default=True,
                        help="repeat our run with tracemalloc on for the peak (default: yes)")
    parser.add_argument("--profile", nargs="?", const="", default=None, metavar="DIR",
                        help="cProfile our timed runs (into DIR, default a temp folder) and print the hot spots")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", metavar="PATH", help="write every number and check as JSON")
    return parser.parse_args(argv)


def _revision() -> str:
    """The checkout's commit and whether files differ from it (read-only git; no index refresh)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        changed = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"],
                                 cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown revision"
    if not head:
        return "unknown revision"
    return f"commit {head}" + (f" + uncommitted changes in {len(changed)} files" if changed else "")


def main(argv: list[str] | None = None) -> int:
    """SIGTERM ends the benchmark like Ctrl-C: the emulator and worker processes it started are stopped."""
    args = parse_args(argv)
    return stoppable(lambda: _main(args))


def _main(args: argparse.Namespace) -> int:
    profile_dir = None
    if args.profile is not None:
        profile_dir = args.profile or temp_profile_dir()
        os.makedirs(profile_dir, exist_ok=True)
    options = Options(baseline=args.baseline, baseline_limit=args.baseline_sample, memory=args.memory_run,
                      profile_dir=profile_dir, seed=args.seed)
    say(f"Proofpoint TAP ingestion benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, sizes {', '.join(f'{s:,}' for s in args.sizes)}")
    say(f"App: {_revision()}")
    say("Data: per size N, N//100 kept threats, mostly delivered messages (1-3 recipients, some with two threats"
        " or a cleared one), ~10 % permitted clicks, ~5 % blocked events and ~1 % cleared-only messages (to be "
        "dropped), all in ONE SIEM window that ended 30 minutes before the run's clock (the run settles it in one "
        "pass).")
    say("Stand-ins: a fresh SOAR emulator PROCESS per run (`python -m sim.soar`)"
        + "; the TAP simulator in the benchmark's process; the app and the baseline each in a worker process.")
    say("")

    results: list[SizeResult] = []
    broken = False
    for size in args.sizes:
        try:
            results.append(run_size(size, options, say=say))
        except (WorkerError, RuntimeError, TimeoutError, OSError) as err:
            say(f"[{size:,}] BROKEN: {err}")
            broken = True
            break
    if not results:
        return 1

    say("")
    report.table(results, say)
    say("")
    report.breakdown(results, say)
    say("")
    correct = report.checks(results, say)
    say("")
    found = report.targets(results)
    report.print_targets(found, say)
    if profile_dir:
        say("")
        say("Hot spots of our timed runs (cProfile, app process only):")
        for r in results:
            if r.ours.get("profile"):
                report.profile_summary(r.ours["profile"], say)
    elif any(t.ok is False for t in found):
        say("")
        say("A target failed: `python -m bench --sizes 50000 --no-baseline --profile` shows where the time goes.")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(report.summary_dict(results, found), fh, indent=2, default=str)
        say(f"\nJSON written to {args.json}")
    if broken or not correct:
        say("\nCORRECTNESS FAILED" if not correct else "\nA RUN BROKE")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
