"""``python -m bench.stream [--events 50000] [--hours 24] [--seed 7] [--no-baseline] [--no-memory-run] [--json F]``

A simulated day of TAP traffic, delivered as TAP delivers it, ingested at the default schedule through the
production path, beside the naive per-event baseline on the same stream and a batch run over the same
span (the reference for the checks). Exit status 0 whatever the targets say (it is a benchmark); 1 when a
correctness check fails or a phase breaks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.__main__ import _revision
from bench.stack import ROOT, TAP_PRINCIPAL, TAP_SECRET, say, stoppable, worker_env
from bench.stream import report
from bench.stream.analysis import analyse
from bench.stream.dataset import StreamDataset, generate
from bench.stream.phases import (
    CANCEL,
    PhaseResult,
    WorkerError,
    baseline_phase,
    batch_phase,
    busiest_runs,
    stream_phase,
)
from bench.stream.production import Schedule, app_options, schedule, settle_horizon

FULL_SIZE = (50_000, 24.0)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.stream", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=FULL_SIZE[0], help="events over the span (default 50,000)")
    parser.add_argument("--hours", type=float, default=FULL_SIZE[1], help="simulated hours (default 24)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the naive per-event baseline on the same stream (default: yes)")
    parser.add_argument("--memory-run", action=argparse.BooleanOptionalAction, default=True,
                        help="repeat the day with tracemalloc on in its busiest runs, for the peak (default: yes)")
    parser.add_argument("--parallel", action=argparse.BooleanOptionalAction, default=True,
                        help="run the baseline beside the memory run, after the timed stream (default: yes)")
    parser.add_argument("--ingest-every", type=float, metavar="MINUTES",
                        help="override the ingestion interval (default: the built-in scheduler's default)")
    parser.add_argument("--sweep-every", type=float, metavar="MINUTES",
                        help="override the sweep interval (default: the built-in scheduler's default)")
    parser.add_argument("--set", action="append", default=[], metavar="SETTING=VALUE", dest="settings",
                        help="an app.config setting changed from its default, e.g. ingest_fresh_pass=false "
                             "(repeatable; default: none, the shipped defaults)")
    parser.add_argument("--json", metavar="PATH", help="write every figure, check and target as JSON")
    args = parser.parse_args(argv)
    if args.events < 100:
        parser.error("--events must be at least 100")
    if args.hours < 1:
        parser.error("--hours must be at least 1")
    if any("=" not in item for item in args.settings):
        parser.error("--set takes SETTING=VALUE")
    args.settings = dict(item.split("=", 1) for item in args.settings)
    return args


def measure_floor(path: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "bench.stream.worker", "--floor", path], capture_output=True,
                          text=True, cwd=ROOT, env=worker_env(), timeout=3600)
    if proc.returncode != 0:
        raise WorkerError(f"the floor worker failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _last_phases(args: argparse.Namespace, ds: StreamDataset, sched: Schedule, tail: timedelta, overlap: int,
                 phases: dict[str, PhaseResult], say: Callable[[str], None]) -> None:
    """The baseline and the memory run; side by side unless --no-parallel (neither is timed against a target,
    and the app's timed figures come from the stream phase, which ran alone)."""
    def baseline() -> PhaseResult:
        return baseline_phase(ds, sched, tail, overlap_minutes=overlap, say=say)

    def traced() -> PhaseResult:
        return stream_phase(ds, sched, tail, overlap_minutes=overlap, say=say, name="memory",
                            traced=busiest_runs(phases["stream"]), settings=args.settings)

    if args.baseline and args.memory_run and args.parallel:
        say("Baseline (naive per-event ingestion at the same schedule, emulator C) beside the memory run (the day "
            "again, emulator D, tracemalloc on in its busiest runs) ...")
        with ThreadPoolExecutor(1) as pool:
            running = pool.submit(baseline)
            try:
                phases["traced"] = traced()
            except BaseException:
                CANCEL.set()
                raise
            finally:
                phases["baseline"] = running.result()
        return
    if args.baseline:
        say("Baseline: naive per-event ingestion at the same schedule (emulator C) ...")
        phases["baseline"] = baseline()
    if args.memory_run:
        say("Memory: the day again (emulator D), tracemalloc on in its busiest runs ...")
        phases["traced"] = traced()


def main(argv: list[str] | None = None) -> int:
    """SIGTERM ends the benchmark like Ctrl-C: the processes it started are stopped."""
    args = parse_args(argv)
    return stoppable(lambda: _main(args))


def _main(args: argparse.Namespace) -> int:
    from fn_pp_tap_functions.settings import ingest_settings

    opts = app_options("http://127.0.0.1:1", TAP_PRINCIPAL, TAP_SECRET, args.settings)
    overlap = ingest_settings(opts).overlap_minutes
    sched = schedule(opts)
    if args.ingest_every or args.sweep_every:
        sched = Schedule(args.ingest_every or sched.ingest_minutes, args.sweep_every or sched.sync_minutes,
                         "overridden on the command line")
    # the verdicts fall at most an hour past the span whatever the settings (the same data for every setting);
    # the schedule runs on until a settle pass has read the span's last events, at any settle interval
    verdicts = timedelta(minutes=overlap + 60)
    horizon = settle_horizon(opts, sched.ingest_minutes)
    tail = max(verdicts, horizon)
    ds = generate(args.events, hours=args.hours, seed=args.seed, tail=verdicts)
    d = ds.describe()
    say(f"Proofpoint TAP stream benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; app: {_revision()}")
    say(f"Data (seed {ds.seed}): {d['events']:,} events over {ds.hours:g} simulated hours "
        f"({', '.join(f'{k} {v:,}' for k, v in d['by_type'].items())}); {d['kept_threats']:,} kept threats in bursts "
        f"of minutes to hours, {d['kept_events']:,} kept events; indexing lag median {d['lag_p50_s']:.0f} s, "
        f"{d['late_events']:,} kept events indexed 10-{d['lag_max_s'] / 60:.0f} min late; verdict changes: "
        f"{d['false_positives']} false positives, {d['cleared']} cleared.")
    changed = f" except {', '.join(f'{k} = {v}' for k, v in args.settings.items())}" if args.settings else ""
    say(f"Production path: run_ingestion and sync_threat_status with the inputs the shipped workflows' scripts set, "
        f"app.config's default settings{changed} (overlap {overlap} min), {sched.describe()}; the schedule runs "
        f"{ds.hours:g} h + {tail} (late events and verdicts settle: every span is read by a settle pass at most "
        f"{horizon} after its events were created) on a simulated clock, runs back to back.")
    say("")
    started = time.perf_counter()
    CANCEL.clear()
    phases: dict[str, PhaseResult] = {}
    floor = None
    try:
        say("Stream: the app at the schedule (SOAR emulator process A) ...")
        phases["stream"] = stream_phase(ds, sched, tail, overlap_minutes=overlap, say=say, settings=args.settings)
        bodies = phases["stream"].bodies
        if bodies:
            say("Floor: parsing and normalising the SIEM answers the app received ...")
            try:
                floor = measure_floor(bodies)
            finally:
                os.unlink(bodies)
        say("Batch: the same events in one catch-up at the end (emulator B) ...")
        phases["batch"] = batch_phase(ds, sched, tail, overlap_minutes=overlap, say=say, settings=args.settings)
        _last_phases(args, ds, sched, tail, overlap, phases, say)
    except (WorkerError, RuntimeError, TimeoutError, OSError) as err:
        say(f"BROKEN: {err}")
        return 1
    finally:
        CANCEL.set()
    say(f"(all phases: {time.perf_counter() - started:,.0f} s)")
    outcome = analyse(ds, phases["stream"], phases.get("batch"), phases.get("baseline"), phases.get("traced"), floor,
                      full_size=(args.events, args.hours) == FULL_SIZE, ingest_minutes=sched.ingest_minutes,
                      horizon=horizon)
    say("")
    report.table(ds, outcome.figures, say)
    say("")
    report.breakdown(outcome.figures, say)
    say("")
    report.checks(outcome, say)
    say("")
    report.print_targets(outcome, say)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"dataset": d, "schedule": sched.__dict__, "settings": args.settings,
                       "tail_min": tail.total_seconds() / 60, "settle_horizon_min": horizon.total_seconds() / 60,
                       "figures": outcome.figures,
                       "checks": [c.__dict__ for c in outcome.checks],
                       "targets": [{"name": t.name, "ok": t.ok, "detail": t.detail} for t in outcome.targets],
                       "phases": {k: v.to_dict() for k, v in phases.items()}}, fh, indent=1, default=str)
        say(f"\nJSON written to {args.json}")
    if not outcome.correct:
        say("\nCORRECTNESS FAILED")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
