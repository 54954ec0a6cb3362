"""One phase of the stream benchmark: a SOAR emulator process, a TAP simulator on the simulated clock, a
worker process (:mod:`bench.stream.worker`), and runs driven back to back on that clock.

The clock only moves between runs: before each run the driver sets it to the run's scheduled moment,
applies the verdict changes that fell due (each at its own moment, so TAP dates them right), then asks
the worker for the run. Every run is measured alone: the emulator's call counters are reset before it and
read after it (per exact path, so calls are known per incident), the TAP simulator's call log likewise,
and the CPU of the worker, of the emulator process and of this process (which serves TAP) is taken
around it. What the driver itself reads from SOAR between runs (incident counts before a probe or a
sweep) is therefore never counted as the app's.

Phases: :func:`stream_phase` (the app at the schedule: ingestion, the sweep, idle probes),
:func:`batch_phase` (one catch-up over the whole span, the reference for the checks) and
:func:`baseline_phase` (the naive per-event ingestion at the same schedule).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

from bench.stack import ROOT, TAP_PRINCIPAL, TAP_SECRET, EmulatorProcess, start_tap, worker_env
from bench.stream.bodies import BodyRecorder
from bench.stream.dataset import StreamDataset
from bench.stream.production import Schedule
from bench.stream.soar_state import (
    IncidentState,
    closed_keys,
    count_incidents,
    counts_of,
    open_threats,
    read_incidents,
    summarise_calls,
)
from bench.worker import _cpu_s, _process_cpu_s
from sim.tap import TapSimulator

Say = Callable[[str], None]
WORKER_OP = {"install": "ingest", "ingest": "ingest", "probe": "ingest", "batch": "ingest", "sweep": "sweep",
             "baseline": "baseline"}
PROBES = (0.125, 0.25, 0.5, 0.75, 1.0)  # idle probes at these fractions of the schedule (incident counts grow)
MAX_BATCH_RUNS = 6
CANCEL = threading.Event()  # set when the benchmark stops early: a phase running beside another ends too


class WorkerError(RuntimeError):
    pass


class SimClock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


class Worker:
    """The long-lived worker process, one JSON line per command."""

    def __init__(self, job: dict[str, Any]) -> None:
        self._err: IO[str] = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.stream.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._err, text=True, cwd=ROOT, env=worker_env())
        self.ready = self._send(job)

    def _send(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(message, default=str) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            self.proc.wait(30)
            self._err.seek(0)
            raise WorkerError(f"the worker stopped ({self.proc.returncode}):\n{self._err.read()[-4000:]}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def run(self, op: str, now: datetime, *, trace: bool = False) -> dict[str, Any]:
        return self._send({"op": op, "now": now.isoformat(), "trace": trace})

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "stop"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(5)
        self._err.close()


@dataclass
class PhaseResult:
    name: str
    control_id: int | None = None
    ops: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[IncidentState] = field(default_factory=list)
    wall_s: float = 0.0
    bodies: str | None = None  # the recorded SIEM answers (stream phase)
    baseline_keys: set[str] = field(default_factory=set)
    closed_at: dict[str, tuple[str, str]] = field(default_factory=dict)  # group key -> (run kind, ISO moment)
    # group key -> its incident's (events, recipients) when its threat's verdict came (None: no incident yet)
    at_verdict: dict[str, tuple[int | None, int | None] | None] = field(default_factory=dict)

    def of(self, *kinds: str) -> list[dict[str, Any]]:
        return [op for op in self.ops if op["kind"] in kinds]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "control_id": self.control_id, "wall_s": self.wall_s, "ops": self.ops,
                "closed_at": self.closed_at, "at_verdict": self.at_verdict,
                "incidents": [dict(asdict(i), artifacts=len(i.artifacts), row_keys=len(i.row_keys))
                              for i in self.incidents]}


def ticks(ds: StreamDataset, schedule: Schedule, tail: timedelta) -> list[tuple[datetime, bool]]:
    """The scheduled ingestion moments after the start, each with whether the sweep is due then too."""
    step = timedelta(minutes=schedule.ingest_minutes)
    sweep = timedelta(minutes=schedule.sync_minutes)
    out = []
    moment = ds.start + step
    while moment <= ds.end + tail:
        out.append((moment, (moment - ds.start) % sweep < step))
        moment += step
    return out


class Phase:
    """The stand-ins and the worker of one phase; :meth:`op` runs and measures one scheduled run."""

    def __init__(self, name: str, ds: StreamDataset, *, kind: str = "app", overlap_minutes: int = 30,
                 record: bool = False, settings: dict[str, str] | None = None) -> None:
        self.result = PhaseResult(name)
        self.ds = ds
        self.clock = SimClock(ds.start)
        self.emulator = EmulatorProcess().start()
        self.tap: TapSimulator | None = None
        self.worker: Worker | None = None
        self.recorder: BodyRecorder | None = None
        self._pending = list(ds.changes)
        try:
            self.tap = start_tap(ds.scenario(), clock=self.clock)
            if record:
                handle, path = tempfile.mkstemp(prefix="pp-tap-stream-siem-", suffix=".bin")
                os.close(handle)
                self.recorder = BodyRecorder(path)
                self.result.bodies = path
                self.tap.observe(self.recorder)
            self.worker = Worker({"kind": kind, "soar": self.emulator.opts, "start": ds.start.isoformat(),
                                  "tap": {"base_url": self.tap.base_url, "principal": TAP_PRINCIPAL,
                                          "secret": TAP_SECRET},
                                  "overlap_minutes": overlap_minutes, "settings": settings or {}})
            self.result.control_id = self.worker.ready.get("control_id") or None
        except BaseException:
            self.close()
            raise
        self._started = time.perf_counter()

    @property
    def client(self) -> Any:
        return self.emulator.client

    def apply_changes(self, upto: datetime) -> None:
        """Proofpoint's verdict changes due by ``upto``, each made at its own moment (with what the threat's
        incident counted then: a read between runs, never counted as the app's)."""
        assert self.tap is not None
        while self._pending and self._pending[0].at <= upto:
            change = self._pending.pop(0)
            key = f"threat:{change.threat_id}"
            self.result.at_verdict[key] = counts_of(self.client, key)
            self.clock.moment = change.at
            self.tap.set_threat_status(change.threat_id, change.status)
        self.clock.moment = upto

    def op(self, kind: str, moment: datetime, *, trace: bool = False, **extra: Any) -> dict[str, Any]:
        assert self.tap is not None and self.worker is not None and self.emulator.proc is not None
        if CANCEL.is_set():
            raise WorkerError(f"{self.result.name}: stopped")
        self.clock.moment = moment
        if self.recorder is not None:
            self.recorder.kind = kind
        self.emulator.reset_calls()
        self.tap.reset_stats(rate_windows=False)
        soar_cpu, own_cpu = _process_cpu_s(self.emulator.proc.pid), _cpu_s()
        answer = self.worker.run(WORKER_OP[kind], moment, trace=trace)
        own_cpu, soar_after = _cpu_s() - own_cpu, _process_cpu_s(self.emulator.proc.pid)
        paths = self.emulator.path_calls()
        tap_calls = self.tap.calls
        calls = summarise_calls(paths, self.result.control_id)
        record = {
            "kind": kind, "at": moment.isoformat(), "report": answer["report"], "soar_calls": answer["soar_calls"],
            "emulator_calls": calls.total, "by_kind": calls.by_kind, "notes": calls.notes,
            "artifact_posts": calls.artifact_posts, "row_posts": calls.row_posts,
            "tap_pools": dict(Counter(str(c["pool"]) for c in tap_calls)),
            "tap_statuses": dict(Counter(str(c["status"]) for c in tap_calls)),
            "siem_events": sum(c.get("events") or 0 for c in tap_calls),
            "cpu_s": answer["cpu_s"], "wall_s": answer["wall_s"], "max_rss_mb": answer["max_rss_mb"],
            "trace_peak_mb": answer.get("trace_peak_mb"),
            "soar_cpu_s": None if soar_cpu is None or soar_after is None else soar_after - soar_cpu,
            "tap_cpu_s": own_cpu, **extra}
        if "incident_keys" in answer:
            self.result.baseline_keys.update(answer["incident_keys"])
        if (answer["report"] or {}).get("closed"):  # which incidents: read after the run, not counted as its
            for key in closed_keys(self.client) - set(self.result.closed_at):
                self.result.closed_at[key] = (kind, moment.isoformat())
        self.result.ops.append(record)
        return record

    def finish(self, *, read_state: bool = True) -> PhaseResult:
        self.result.wall_s = time.perf_counter() - self._started
        if read_state:
            self.result.incidents = read_incidents(self.client)
        return self.result

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.recorder is not None:
            self.recorder.close()
        if self.tap is not None:
            self.tap.stop()
        self.emulator.stop()

    def __enter__(self) -> Phase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _progress(say: Say, phase: Phase, moment: datetime, started: float) -> None:
    ops = phase.result.ops
    say(f"  [{phase.result.name}] {moment - phase.ds.start} simulated: {len(ops)} runs, "
        f"{sum(o['emulator_calls'] for o in ops):,} SOAR calls, {time.perf_counter() - started:,.0f} s")


def stream_phase(ds: StreamDataset, schedule: Schedule, tail: timedelta, *, overlap_minutes: int, say: Say,
                 traced: set[tuple[str, str]] | None = None, name: str = "stream",
                 settings: dict[str, str] | None = None) -> PhaseResult:
    """The app at the schedule over the span and its tail: the first (install) run at the start, then each
    scheduled ingestion, the sweep when due, and at :data:`PROBES` an idle probe (a run at the same moment
    right after the scheduled one: TAP holds nothing it has not answered before).

    With ``traced`` (``(kind, ISO moment)`` of runs, see :func:`busiest_runs`) it is the MEMORY run: the same
    day on a fresh emulator, those runs with ``tracemalloc`` on, the SIEM answers not recorded."""
    plan = ticks(ds, schedule, tail)
    probes = {max(0, min(len(plan) - 1, round(len(plan) * f) - 1)) for f in PROBES}
    started = time.perf_counter()
    memory = traced is not None
    chosen = traced or set()
    with Phase(name, ds, overlap_minutes=overlap_minutes, record=not memory, settings=settings) as phase:
        phase.op("install", ds.start)
        for index, (moment, sweep_due) in enumerate(plan):
            phase.apply_changes(moment)
            at = moment.isoformat()
            phase.op("ingest", moment, trace=("ingest", at) in chosen)
            if sweep_due:
                open_incidents, threats = open_threats(phase.client)
                phase.op("sweep", moment, trace=("sweep", at) in chosen, open_incidents=open_incidents,
                         open_threats=threats, changed=_changed_since(ds, phase.result.of("sweep"), moment))
            if index in probes:
                phase.op("probe", moment, incidents=count_incidents(phase.client))
            if index % max(1, len(plan) // 8) == 0:
                _progress(say, phase, moment, started)
        result = phase.finish(read_state=not memory)
    return result


def busiest_runs(stream: PhaseResult, count: int = 12) -> set[tuple[str, str]]:
    """The runs a memory run traces: the ingestion runs that read the most events or made the most SOAR
    calls, and the sweeps over the most open threats."""
    ingest, sweeps = stream.of("ingest"), stream.of("sweep")
    chosen = sorted(ingest, key=lambda op: -op["siem_events"])[:count]
    chosen += sorted(ingest, key=lambda op: -op["emulator_calls"])[:count // 2]
    chosen += sorted(sweeps, key=lambda op: -(op.get("open_threats") or 0))[:2]
    return {(op["kind"], op["at"]) for op in chosen}


def _changed_since(ds: StreamDataset, sweeps: list[dict[str, Any]], moment: datetime) -> int:
    """Verdict changes since the previous sweep (the first sweep: since the start)."""
    since = datetime.fromisoformat(sweeps[-1]["at"]) if sweeps else ds.start
    return sum(1 for c in ds.changes if since < c.at <= moment)


def batch_phase(ds: StreamDataset, schedule: Schedule, tail: timedelta, *, overlap_minutes: int,
                say: Say, settings: dict[str, str] | None = None) -> PhaseResult:
    """The reference: the same events (no verdict changes) ingested by runs at the END of the schedule, back
    to back until caught up, after the same first run at the start."""
    plan = ticks(ds, schedule, tail)
    reference = StreamDataset(ds.size, ds.seed, ds.start, ds.end, ds.events, [], ds.threats, ds.kept_threats,
                              ds.expected_counts)
    with Phase("batch", reference, overlap_minutes=overlap_minutes, settings=settings) as phase:
        phase.op("install", ds.start)
        end = plan[-1][0]
        for _ in range(MAX_BATCH_RUNS):
            report = phase.op("batch", end)["report"]
            if report.get("status") != "partial":
                break
        say(f"  [batch] {len(phase.result.of('batch'))} runs at {end - ds.start} simulated")
        return phase.finish()


def baseline_phase(ds: StreamDataset, schedule: Schedule, tail: timedelta, *, overlap_minutes: int,
                   say: Say) -> PhaseResult:
    """The naive per-event ingestion at the same schedule, on the same stream (verdict changes included)."""
    plan = ticks(ds, schedule, tail)
    started = time.perf_counter()
    with Phase("baseline", ds, kind="baseline", overlap_minutes=overlap_minutes) as phase:
        for index, (moment, _sweep) in enumerate(plan):
            phase.apply_changes(moment)
            phase.op("baseline", moment)
            if index % max(1, len(plan) // 8) == 0:
                _progress(say, phase, moment, started)
        return phase.finish(read_state=False)
