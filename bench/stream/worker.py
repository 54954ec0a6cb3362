"""The stream benchmark's worker: ``python -m bench.stream.worker``, the app's process for a simulated day.

It holds the app and nothing else (the SOAR emulator and the TAP simulator are other processes or the
benchmark's), so its CPU time is the app's own and its ``tracemalloc`` peak the app's allocations. It
talks JSON lines: the first line on stdin is the job, then one command per line, each answered with one
line on stdout:

* job ``{"kind": "app" | "baseline", "soar": {...}, "tap": {"base_url", "principal", "secret"},
  "start": ISO, "overlap_minutes": n, "settings": {app.config overrides}}`` -> ``{"ready": true, "control_id": n}``;
* ``{"op": "ingest" | "sweep", "now": ISO, "trace": bool}`` (kind app): one call of the function's entry
  point (:class:`bench.stream.production.App`) at that simulated moment, with ``tracemalloc`` on for
  that call alone when ``trace`` (tracing slows Python several times over: a memory run traces only the
  day's busiest runs);
* ``{"op": "baseline", "now": ISO}`` (kind baseline): the naive per-event ingestion of :mod:`bench.baseline`
  reading ``[last end - overlap, now - 2 min]`` and processing each event it has not processed before;
* ``{"op": "stop"}``.

Each answer: ``report``, ``soar_calls`` (as the app counted them), ``tap_calls`` (per pool, as the app
counted them), ``cpu_s`` (this process's user+system CPU during the call), ``wall_s``, ``max_rss_mb`` and,
with ``trace``, ``trace_peak_mb`` (the peak of the allocations made during that call and alive at once).

``python -m bench.stream.worker --floor FILE`` instead measures the CPU FLOOR of the SIEM answers recorded
in FILE (see :mod:`bench.stream.bodies`): ``json.loads`` and the app's normalisers, nothing else.
"""

from __future__ import annotations

import cProfile
import json
import logging
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bench.worker import _cpu_s, _max_rss_mb

Clock = Callable[[], datetime]


class _Clock:
    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment


def _app(job: dict[str, Any], clock: _Clock) -> tuple[int, dict[str, Callable[[], dict[str, Any]]]]:
    import resilient

    from bench.stream.production import App, app_options
    from fn_pp_tap_functions.soar.cases import SoarCases
    from fn_pp_tap_functions.soar.control import ensure_control

    opts = app_options(job["tap"]["base_url"], job["tap"]["principal"], job["tap"]["secret"],
                       job.get("settings") or {})
    # what the built-in scheduler does before it starts a rule: find (or create) the control incident
    control_id = int(ensure_control(SoarCases(resilient.get_client(job["soar"])), now=clock())["id"])
    app = App(job["soar"], opts, control_id, clock)

    def op(call: Callable[[], tuple[dict[str, Any], int, dict[str, int]]]) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            report, soar_calls, tap_calls = call()
            return {"report": report, "soar_calls": soar_calls, "tap_calls": tap_calls}
        return run
    return control_id, {"ingest": op(app.ingest), "sweep": op(app.sweep)}


def _baseline(job: dict[str, Any], clock: _Clock) -> tuple[int, dict[str, Callable[[], dict[str, Any]]]]:
    import resilient

    from bench.baseline import BaselineReport, NaiveIngest, fetch_events
    from fn_pp_tap_functions.tap.timestamps import format_interval

    client = resilient.get_client(job["soar"])
    overlap = timedelta(minutes=int(job["overlap_minutes"]))
    state = {"cursor": clock()}
    seen: set[str] = set()

    def tick() -> dict[str, Any]:
        report = BaselineReport()
        naive = NaiveIngest(client, report)
        end = clock() - timedelta(minutes=2)
        start = state["cursor"] - overlap
        events: list[tuple[str, dict]] = []
        while end - start >= timedelta(seconds=30):
            stop = min(end, start + timedelta(hours=1))
            events += fetch_events(job["tap"]["base_url"], job["tap"]["principal"], job["tap"]["secret"],
                                   format_interval(start, stop), report)
            start = stop
        state["cursor"] = end
        for kind, event in events:
            report.events_total += 1
            event_id = str(event.get("id"))
            if event_id in seen:
                continue
            seen.add(event_id)
            naive.event(kind, event)
            report.events_done += 1
        return {"report": report.to_dict(), "soar_calls": report.soar_calls,
                "tap_calls": {"siem": report.tap_calls}, "incident_keys": sorted(report.incident_keys)}
    return 0, {"baseline": tick}


def serve(lines: Any, out: Any) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    job = json.loads(next(lines))
    # BENCH_PROFILE=FILE: cProfile the app's calls (not the job's set-up) and write pstats to FILE.<kind>
    profile_to = os.environ.get("BENCH_PROFILE")
    profiler = cProfile.Profile(time.process_time) if profile_to else None  # CPU, not wall
    clock = _Clock(datetime.fromisoformat(job["start"]))
    control_id, ops = (_app if job["kind"] == "app" else _baseline)(job, clock)
    out.write(json.dumps({"ready": True, "control_id": control_id}) + "\n")
    out.flush()
    for line in lines:
        command = json.loads(line)
        if command["op"] == "stop":
            break
        clock.moment = datetime.fromisoformat(command["now"])
        trace = bool(command.get("trace"))
        if trace:
            tracemalloc.start()
        cpu, started = _cpu_s(), time.perf_counter()
        if profiler:
            profiler.enable()
        result = ops[command["op"]]()
        if profiler:
            profiler.disable()
        result.update(cpu_s=_cpu_s() - cpu, wall_s=time.perf_counter() - started,
                      trace_peak_mb=tracemalloc.get_traced_memory()[1] / 2**20 if trace else None)
        if trace:
            tracemalloc.stop()
        result["max_rss_mb"] = _max_rss_mb()
        out.write(json.dumps(result, default=str) + "\n")
        out.flush()
    if profiler:
        profiler.dump_stats(f"{profile_to}.{job['kind']}.{os.getpid()}")
    return 0


def floor(path: str) -> dict[str, Any]:
    """CPU to parse and normalise the recorded SIEM answers (per op kind), and how often each event came back."""
    from bench.stream.bodies import read_bodies
    from fn_pp_tap_functions.tap.events import normalise_siem_response

    cpu: dict[str, float] = {}
    answers: dict[str, int] = {}
    reads: dict[str, dict[str, int]] = {}
    for kind, body in read_bodies(path):
        started = time.process_time()
        payload = json.loads(body)
        events = normalise_siem_response(payload)[0]
        cpu[kind] = cpu.get(kind, 0.0) + time.process_time() - started
        answers[kind] = answers.get(kind, 0) + 1
        counts = reads.setdefault(kind, {})
        for event in events:
            counts[event.key] = counts.get(event.key, 0) + 1
    return {"cpu_s": cpu, "answers": answers, "reads": reads}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--floor"]:
        json.dump(floor(argv[1]), sys.stdout)
        return 0
    return serve(iter(sys.stdin.readline, ""), sys.stdout)


if __name__ == "__main__":
    sys.exit(main())
