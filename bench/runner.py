"""One benchmark size end to end: data, stand-ins, our run, its checks, the replay, the memory run, the baseline.

Every run of the app (and of the baseline) happens in a worker process (:mod:`bench.worker`) against a
SOAR emulator process of its own:

* emulator A: the TIMED run (no tracing), the correctness checks, then the REPLAY (cursor set back over
  the same window: nothing may be created or added);
* emulator B: the MEMORY run, the same work again with ``tracemalloc`` on (tracing slows Python down, so
  it is never the timed run);
* emulator C: the naive BASELINE over the same window.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import resilient

from bench.dataset import Dataset, fmt, generate
from bench.stack import ROOT, TAP_PRINCIPAL, TAP_SECRET, EmulatorProcess, start_tap, worker_env
from fn_pp_tap_functions.fields import EVENT_COUNT, EVENTS_TABLE, GROUP_KEY, RECIPIENTS_COUNT
from fn_pp_tap_functions.settings import IngestSettings
from fn_pp_tap_functions.soar.cases import SoarCases
from fn_pp_tap_functions.soar.control import CURSOR_FIELD, SETTLED_FIELD, ensure_control
from fn_pp_tap_functions.tap.timestamps import parse_tap_time
from sim.soar.harness import EmulatorClient

OVERLAP = timedelta(minutes=IngestSettings().overlap_minutes)
DATA_AGE = timedelta(minutes=40)
"""The data set's clock is this far behind the real one, and the run's clock is ``ds.now + RUN_AFTER``: the
window [ds.now - 60 min, ds.now - 2 min] then ends where the run's SETTLE pass ends (the run's clock minus the
overlap: TAP has indexed it all), so the settle pass reads it in ONE window, as a cold run or a catch-up
does; the run's fresh pass reads the empty half hour after it (services.passes)."""
RUN_AFTER = OVERLAP - timedelta(minutes=2)
MIN_BASELINE_SAMPLE = 5000
DEFAULT_BASELINE_SAMPLE: int | None = None  # the whole window (at 50,000 events about 11 minutes here)

Say = Callable[[str], None]


class WorkerError(RuntimeError):
    pass


@dataclass
class SizeResult:
    size: int
    dataset: dict[str, Any]
    ours: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    replay: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] | None = None
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append((name, bool(ok), detail))

    @property
    def correct(self) -> bool:
        return all(ok for _n, ok, _d in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "dataset": self.dataset, "ours": self.ours, "memory": self.memory,
                "replay": self.replay, "baseline": self.baseline,
                "checks": [{"name": n, "ok": ok, "detail": d} for n, ok, d in self.checks]}


# ------------------------------------------------------------------------------------------------ workers

def run_worker(job: dict[str, Any], *, timeout: float = 3600) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "bench.worker"], input=json.dumps(job), capture_output=True,
                          text=True, cwd=ROOT, env=worker_env(), timeout=timeout)
    if proc.returncode != 0:
        raise WorkerError(f"worker {job['kind']} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _job(kind: str, emulator: EmulatorProcess, tap_url: str, **extra: Any) -> dict[str, Any]:
    assert emulator.client is not None
    assert emulator.proc is not None
    return {"kind": kind, "soar": emulator.opts, "soar_base_url": emulator.client.base_url,
            "soar_pid": emulator.proc.pid,
            "org_id": emulator.client.org_id,
            "tap": {"base_url": tap_url, "principal": TAP_PRINCIPAL, "secret": TAP_SECRET}, **extra}


# ------------------------------------------------------------------------------------------------ SOAR side

SETTLE = timedelta(minutes=IngestSettings().settle_minutes)


def _cursor_text(ds: Dataset) -> str:
    """The cursors that make a run (with now = run_now(ds)) settle the data set's window: the settle pass is
    due once its span is the settle interval long, so the span starts that long before the window's end."""
    return fmt(min(ds.window_start, ds.window_end - SETTLE))


def run_now(ds: Dataset) -> str:
    return (ds.now + RUN_AFTER).isoformat()


def prepare_control(emulator: EmulatorProcess, ds: Dataset) -> int:
    """The control incident, with its cursors placed so that the next run reads the data set's window."""
    cases = SoarCases(resilient.get_client(emulator.opts))
    control = ensure_control(cases, now=ds.now)
    set_cursor(cases, int(control["id"]), _cursor_text(ds))
    return int(control["id"])


def set_cursor(cases: SoarCases, control_id: int, text: str) -> None:
    """Both cursors (fresh and settled) to ``text``: a replay of everything after it."""
    fresh = cases.get_incident(control_id)
    cases.patch_incident(fresh, {f"properties.{CURSOR_FIELD}": text, f"properties.{SETTLED_FIELD}": text})


def tap_state(client: EmulatorClient) -> dict[str, Any]:
    """Every TAP incident by group key, with its counts of artifacts, table rows and notes."""
    incidents: list[dict] = []
    start = 0
    while True:
        body = {"filters": [{"conditions": [{"field_name": f"properties.{GROUP_KEY}", "method": "has_a_value"}]}],
                "start": start, "length": 500, "sorts": [{"field_name": "id", "type": "asc"}]}
        page = client.post("/incidents/query_paged?return_level=full&handle_format=names", body)
        incidents += page["data"]
        start += len(page["data"])
        if not page["data"] or start >= page["recordsTotal"]:
            break
    by_key: dict[str, list[int]] = {}
    children: dict[int, tuple[int, int, int]] = {}
    counts: dict[int, tuple[object, object]] = {}
    for inc in incidents:
        by_key.setdefault(inc["properties"][GROUP_KEY], []).append(inc["id"])
        counts[inc["id"]] = (inc["properties"].get(EVENT_COUNT), inc["properties"].get(RECIPIENTS_COUNT))
        artifacts = client.get(f"/incidents/{inc['id']}/artifacts")
        rows = client.get(f"/incidents/{inc['id']}/table_data/{EVENTS_TABLE}")["rows"]
        notes = client.get(f"/incidents/{inc['id']}/comments")
        children[inc["id"]] = (len(artifacts), len(rows), len(notes))
    return {"by_key": by_key, "children": children, "counts": counts,
            "totals": {"incidents": len(incidents), "artifacts": sum(c[0] for c in children.values()),
                       "rows": sum(c[1] for c in children.values()), "notes": sum(c[2] for c in children.values())}}


# ------------------------------------------------------------------------------------------------ one size

def _calls_total(calls: dict[str, int]) -> int:
    return sum(calls.values())


@dataclass(frozen=True)
class Options:
    baseline: bool = True
    baseline_limit: int | None = DEFAULT_BASELINE_SAMPLE  # baseline on at most N kept events, then extrapolated
    memory: bool = True  # the extra tracemalloc run
    profile_dir: str | None = None  # cProfile the timed run into this folder
    seed: int = 7


def run_size(size: int, options: Options = Options(), *, say: Say = print) -> SizeResult:
    ds = generate(size, seed=options.seed, now=datetime.now(UTC) - DATA_AGE)
    result = SizeResult(size, {"events": ds.total, "by_type": ds.counts(), "kept_events": ds.kept_events,
                               "kept_threats": len(ds.kept_threats),
                               "window": f"{fmt(ds.window_start)}/{fmt(ds.window_end)}"})
    say(f"[{size:,}] {ds.total:,} events ({', '.join(f'{k} {v:,}' for k, v in ds.counts().items())}); "
        f"{len(ds.kept_threats):,} kept threats, {ds.kept_events:,} kept events; window {result.dataset['window']}")
    tap = start_tap(ds.scenario())
    try:
        _ours(ds, tap.base_url, result, say, options)
        if options.memory:
            _memory(ds, tap.base_url, result, say, options)
        if options.baseline:
            _baseline(ds, tap.base_url, result, say, options)
        result.dataset["tap_stats"] = {k: v for k, v in tap.stats().items() if k != "calls"}
    finally:
        tap.stop()
    return result


def _ours(ds: Dataset, tap_url: str, result: SizeResult, say: Say, options: Options) -> None:
    with EmulatorProcess() as emulator:
        control_id = prepare_control(emulator, ds)
        profile = os.path.join(options.profile_dir, f"ours-{ds.size}.prof") if options.profile_dir else None
        say(f"[{ds.size:,}] ours: timed run ...")
        run = run_worker(_job("ours", emulator, tap_url, now=run_now(ds), control_id=control_id,
                              profile=profile))
        report = run["report"]
        result.ours = {"wall_s": run["wall_s"], "cpu_s": run["cpu_s"], "soar_cpu_s": run["soar_cpu_s"],
                       "duration_s": report["duration_s"], "max_rss_mb": run["max_rss_mb"],
                       "rss_before_mb": run["rss_before_mb"], "soar_calls": run["soar_calls"],
                       "emulator_calls": _calls_total(run["emulator_calls"]),
                       "emulator_calls_by_kind": run["emulator_calls"], "tap_calls": run["tap_calls"],
                       "tap_calls_total": sum(run["tap_calls"].values()), "report": report, "profile": profile}
        assert emulator.client is not None
        state = tap_state(emulator.client)
        result.ours["state"] = state["totals"]
        _check_first_run(ds, result, report, run, state)

        say(f"[{ds.size:,}] ours: replay of the same window ...")
        cases = SoarCases(resilient.get_client(emulator.opts))
        set_cursor(cases, control_id, _cursor_text(ds))
        again = run_worker(_job("ours", emulator, tap_url, now=run_now(ds), control_id=control_id))
        after = tap_state(emulator.client)
        rep = again["report"]
        result.replay = {"wall_s": again["wall_s"], "soar_calls": again["soar_calls"],
                         "emulator_calls": _calls_total(again["emulator_calls"]), "report": rep,
                         "state": after["totals"]}
        result.check("replay: status completed", rep["status"] == "completed", rep["status"])
        result.check("replay: same window read again", rep["window"] == report["window"],
                     f"{rep['window']} vs {report['window']}")
        result.check("replay: nothing created", rep["created"] == 0, f"created {rep['created']}")
        result.check("replay: no incident, artifact, row or note added", after == state,
                     _diff(state, after))
        if rep["updated"]:
            result.check("replay: no incident updated", False, f"updated {rep['updated']} incidents")


def _check_first_run(ds: Dataset, result: SizeResult, report: dict, run: dict, state: dict) -> None:
    keys = set(state["by_key"])
    dup = {k: v for k, v in state["by_key"].items() if len(v) > 1}
    result.check("run: status completed", report["status"] == "completed", f"{report['status']} {report['error']}")
    settle = report.get("passes", {}).get("settle", "")
    start, end = (parse_tap_time(part) for part in (settle.partition("/")[::2]))
    covered = start is not None and end is not None and start <= ds.window_start and end >= ds.window_end
    result.check("run: the settle pass read the data set's window", covered,
                 f"settle {settle or 'none'} vs {result.dataset['window']} ({report['windows_done']} windows)")
    result.check("run: events read == delivered + permitted with an active threat",
                 report["events_read"] == ds.kept_events, f"{report['events_read']} vs {ds.kept_events}")
    result.check("run: events kept == expected", report["kept"] == ds.kept_events,
                 f"{report['kept']} vs {ds.kept_events}; dropped {report['dropped']}")
    result.check("run: incidents created == distinct kept threats", report["created"] == len(ds.kept_threats),
                 f"{report['created']} vs {len(ds.kept_threats)}")
    result.check("run: incidents in SOAR are exactly the kept threats", keys == set(ds.kept_threats),
                 f"missing {len(set(ds.kept_threats) - keys)}, unexpected {len(keys - set(ds.kept_threats))}")
    result.check("run: one incident per threat", not dup, f"{len(dup)} threats with several incidents")
    wrong = {k: (state["counts"][ids[0]], ds.expected_counts.get(k)) for k, ids in state["by_key"].items()
             if tuple(state["counts"][ids[0]]) != ds.expected_counts.get(k)}
    result.check("run: each incident's event and recipient counts are right", not wrong,
                 f"{len(wrong)} wrong, e.g. (found, expected) {next(iter(wrong.items()), None)}")
    result.check("run: SOAR calls counted by the app == calls the emulator served",
                 run["soar_calls"] == _calls_total(run["emulator_calls"]),
                 f"{run['soar_calls']} vs {_calls_total(run['emulator_calls'])}")


def _diff(before: dict, after: dict) -> str:
    if before == after:
        return ""
    return f"before {before['totals']}, after {after['totals']}"


def _memory(ds: Dataset, tap_url: str, result: SizeResult, say: Say, options: Options) -> None:
    say(f"[{ds.size:,}] ours: memory run (tracemalloc on, fresh SOAR org) ...")
    with EmulatorProcess() as emulator:
        control_id = prepare_control(emulator, ds)
        run = run_worker(_job("ours", emulator, tap_url, now=run_now(ds), control_id=control_id, trace=True))
    report = run["report"]
    result.memory = {"tracemalloc_peak_mb": run["tracemalloc_peak_mb"], "max_rss_mb": run["max_rss_mb"],
                     "rss_before_mb": run["rss_before_mb"], "wall_s_traced": run["wall_s"],
                     "created": report["created"]}
    result.check("memory run: same incidents created", report["created"] == len(ds.kept_threats),
                 f"{report['created']} vs {len(ds.kept_threats)}")


def _baseline(ds: Dataset, tap_url: str, result: SizeResult, say: Say, options: Options) -> None:
    limit = options.baseline_limit
    if limit is not None and limit < ds.kept_events:
        limit = max(limit, MIN_BASELINE_SAMPLE)
    if limit is not None and limit >= ds.kept_events:
        limit = None
    say(f"[{ds.size:,}] baseline: naive per-event run on "
        f"{'ALL events' if limit is None else f'the first {limit:,} events (EXTRAPOLATED)'} ...")
    with EmulatorProcess() as emulator:
        interval = f"{fmt(ds.window_start)}/{fmt(ds.window_end)}"
        run = run_worker(_job("baseline", emulator, tap_url, interval=interval, limit=limit))
    rep = run["report"]
    measured_calls = run["soar_calls"]
    out = {"wall_s": run["wall_s"], "cpu_s": run["cpu_s"], "soar_cpu_s": run["soar_cpu_s"],
           "soar_calls": measured_calls, "emulator_calls": _calls_total(run["emulator_calls"]),
           "tap_calls_total": rep["tap_calls"], "report": rep, "extrapolated": limit is not None,
           "events_done": rep["events_done"], "events_total": rep["events_total"]}
    result.check("baseline: SOAR calls counted == calls the emulator served",
                 measured_calls == out["emulator_calls"], f"{measured_calls} vs {out['emulator_calls']}")
    if limit is None:
        result.check("baseline: incidents == distinct kept threats", rep["incidents"] == len(ds.kept_threats),
                     f"{rep['incidents']} vs {len(ds.kept_threats)}")
        result.check("baseline: events processed == kept events", rep["events_done"] == ds.kept_events,
                     f"{rep['events_done']} vs {ds.kept_events}")
    else:
        out.update(_extrapolate(rep, run["wall_s"], len(ds.kept_threats)))
    result.baseline = out


def _extrapolate(rep: dict, wall: float, threats: int) -> dict[str, Any]:
    """Linear in the (event, threat) pairs for the per-pair calls (search, read artifacts) and the time;
    creates and artifact posts happen once per threat, so they are counted as measured plus the threats
    not seen yet (at the measured rate per threat)."""
    scale = rep["pairs_total"] / max(1, rep["pairs"])
    kinds = rep["calls_by_kind"]
    per_pair = kinds.get("search", 0) + kinds.get("read artifacts", 0)
    once = kinds.get("create incident", 0) + kinds.get("add artifact", 0)
    per_threat = once / max(1, rep["created"])
    est_calls = round(per_pair * scale + once + per_threat * max(0, threats - rep["created"]))
    return {"soar_calls_measured": rep["soar_calls"], "wall_s_measured": wall, "soar_calls": est_calls,
            "wall_s": wall * scale}


def temp_profile_dir() -> str:
    return tempfile.mkdtemp(prefix="pp-tap-bench-prof-")
