"""One measured job in a process of its own: ``python -m bench.worker`` reads a JSON job on stdin and
writes a JSON result on stdout.

Jobs: ``ours`` (one :func:`run_ingestion` of the real app) and ``baseline`` (:mod:`bench.baseline`).
Running each job in a fresh process keeps what is measured clean: the process holds the app and
nothing else (the SOAR emulator is another process, the TAP simulator lives in the benchmark's
process), so ``tracemalloc``'s peak is the app's own Python allocations during the run and the
process's max RSS is the app process's high-water mark (interpreter and imports included).

The job dict: ``kind``, ``soar`` (options for ``resilient.get_client``), ``soar_base_url``, ``org_id``,
``tap`` (``base_url``, ``principal``, ``secret``), ``now`` (ISO, the run's fixed clock), ``control_id``,
``trace`` (``tracemalloc`` on), ``profile`` (a path for cProfile stats), ``soar_pid`` (the emulator's
process, whose CPU time during the run is reported as ``soar_cpu_s``) and, for the baseline,
``interval`` and ``limit``.
"""

from __future__ import annotations

import cProfile
import json
import logging
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime
from typing import Any

import resilient

from sim.soar.harness import EmulatorClient


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return float("nan")


def _max_rss_mb() -> float:
    """The process's own peak RSS (``VmHWM``). Not ``ru_maxrss``: on Linux a child started by fork and exec
    keeps its parent's high-water mark in it, so a worker started by a benchmark holding 300 MB of TAP
    data would report at least those 300 MB whatever it used itself."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_cpu_s(pid: int | None) -> float | None:
    """CPU seconds (user + system) another process has used so far, from /proc (None if unknown)."""
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _emulator(job: dict) -> EmulatorClient:
    soar = job["soar"]
    return EmulatorClient(job["soar_base_url"], job["org_id"], soar["api_key_id"], soar["api_key_secret"],
                          soar["cafile"])


def _emulator_calls(emu: EmulatorClient) -> dict[str, int]:
    return {k: v for k, v in emu.calls().items() if "/_emulator" not in k}


def run_job(job: dict) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    client = resilient.get_client(job["soar"])
    emu = _emulator(job)
    if job["kind"] == "ours":
        body = _prepare_ours(job, client)
    elif job["kind"] == "baseline":
        body = _prepare_baseline(job, client)
    else:
        raise ValueError(job["kind"])
    profiler = cProfile.Profile() if job.get("profile") else None
    emu.post("/_emulator/reset-calls", expect=(200, 204))
    rss_before = _rss_mb()
    if job.get("trace"):
        tracemalloc.start()
    if profiler:
        profiler.enable()
    soar_cpu = _process_cpu_s(job.get("soar_pid"))
    cpu = _cpu_s()
    started = time.perf_counter()
    result = body()
    wall = time.perf_counter() - started
    cpu = _cpu_s() - cpu
    soar_after = _process_cpu_s(job.get("soar_pid"))
    if profiler:
        profiler.disable()
        profiler.dump_stats(job["profile"])
    peak = None
    if job.get("trace"):
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    result.update({"wall_s": wall, "cpu_s": cpu,
                   "soar_cpu_s": None if soar_cpu is None or soar_after is None else soar_after - soar_cpu,
                   "tracemalloc_peak_mb": peak, "rss_before_mb": rss_before,
                   "max_rss_mb": _max_rss_mb(), "emulator_calls": _emulator_calls(emu)})
    return result


def _prepare_ours(job: dict[str, Any], client: Any) -> Callable[[], dict[str, Any]]:
    from fn_pp_tap_functions.ingest import read_inputs
    from fn_pp_tap_functions.services.ingestion import run_ingestion
    from fn_pp_tap_functions.settings import IngestSettings
    from fn_pp_tap_functions.soar.cases import SoarCases
    from fn_pp_tap_functions.tap.client import TapClient

    now = datetime.fromisoformat(job["now"])
    cases = SoarCases(client)
    # no retries: a failed TAP call must fail the benchmark, not hide in its time; a long timeout: the
    # simulator takes several seconds to serialise a 50,000-event answer (it is not TAP's speed)
    tap = TapClient(job["tap"]["base_url"], job["tap"]["principal"], job["tap"]["secret"], retries=0,
                    timeout=300)
    request = read_inputs({})  # blank inputs: the shipped defaults
    settings = IngestSettings()
    progress: list[str] = []

    def body() -> dict[str, Any]:
        report = run_ingestion(cases, tap, request, settings, control_id=job["control_id"], now=lambda: now,
                               progress=progress.append)
        return {"report": report.to_dict(), "soar_calls": cases.calls, "tap_calls": dict(tap.calls),
                "progress": progress}
    return body


def _prepare_baseline(job: dict[str, Any], client: Any) -> Callable[[], dict[str, Any]]:
    from bench.baseline import run_baseline

    def body() -> dict[str, Any]:
        report = run_baseline(client, job["tap"]["base_url"], job["tap"]["principal"], job["tap"]["secret"],
                              job["interval"], limit=job.get("limit"))
        return {"report": report.to_dict(), "incident_keys": sorted(report.incident_keys),
                "soar_calls": report.soar_calls, "tap_calls": {"siem": report.tap_calls}}
    return body


def main() -> int:
    job = json.load(sys.stdin)
    json.dump(run_job(job), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
