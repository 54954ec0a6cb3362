"""Printing the stream benchmark: the day side by side with the baseline, the breakdowns, checks, targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.stream.analysis import Outcome
from bench.stream.dataset import StreamDataset

Say = Callable[[str], None]


def _n(value: float | int | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _per_incident(block: dict[str, Any] | None, what: str) -> str:
    if not block:
        return "-"
    figure = block[what]
    return f"{figure['mean']:,.1f} / {figure['max']:,}"


def _pools(pools: dict[str, int] | None) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in (pools or {}).items()) or "-"


def table(ds: StreamDataset, fig: dict[str, Any], say: Say) -> None:
    base = fig.get("baseline")
    rows: list[tuple[str, str, str]] = [
        ("SOAR calls", _n(fig["soar_calls"]), _n(base["soar_calls"]) if base else "-"),
        ("  of which ingestion / sweep", f"{fig['soar_calls_ingest']:,} / {fig['soar_calls_sweep']:,}", "-"),
        ("ratio (baseline / ours)", f"{fig['ratio']:.2f}x" if "ratio" in fig else "-", ""),
        ("TAP calls per pool", _pools(fig["tap_pools"]), _pools(base["tap_pools"]) if base else "-"),
        ("TAP reads per kept event", f"{fig['reads_per_kept_event']:.2f}", ""),
        ("notes per incident (mean / max)", _per_incident(fig["incidents"], "notes"), "0 / 0" if base else "-"),
        ("artifacts per incident (mean / max)", _per_incident(fig["incidents"], "artifacts"), ""),
        ("event rows per incident (mean / max)", _per_incident(fig["incidents"], "rows"), "0 / 0" if base else "-"),
        ("incidents (open)", f"{fig['incidents']['count']:,} ({fig['incidents']['open']:,})",
         _n(base["incidents"]) if base else "-"),
        ("wall time of the phase", f"{_n(fig['wall_s'], 0)} s", f"{_n(base['wall_s'], 0)} s" if base else "-"),
        ("  in the app's runs", f"{_n(fig['run_wall_s'], 0)} s", f"{_n(base['run_wall_s'], 0)} s" if base else "-"),
        ("app CPU: ingestion / sweep", f"{fig['app_cpu_ingest_s']:,.1f} s / {fig['app_cpu_sweep_s']:,.1f} s",
         f"{base['cpu_s']:,.1f} s" if base else "-"),
        ("CPU floor (parse + normalise SIEM JSON)", f"{_n(fig.get('floor_cpu_s'), 1)} s", ""),
        ("stand-ins' CPU: SOAR emulator / TAP sim", f"{fig['soar_cpu_s']:,.1f} s / {fig['tap_cpu_s']:,.1f} s",
         f"{base['soar_cpu_s']:,.1f} s / -" if base else "-"),
        ("peak memory: tracemalloc / max RSS", f"{_n(fig.get('tracemalloc_peak_mb'), 1)} MB / "
         f"{_n(fig.get('max_rss_mb'), 1)} MB", ""),
    ]
    width = max(len(r[0]) for r in rows)
    left = max(len(r[1]) for r in rows)
    say(f"{'':<{width}} | {'ours (run_ingestion + sweep)':<{left}} | naive per-event baseline")
    say("-" * (width + left + 30))
    for label, ours, theirs in rows:
        say(f"{label:<{width}} | {ours:<{left}} | {theirs}")
    say("")
    runs = fig["runs"]
    say(f"The day: {runs['ingest']} scheduled ingestion runs and {runs['sweep']} sweeps over {ds.hours:g} h plus the "
        "tail; the first run at the start (it reads the look-back, empty) and the idle probes are not in the "
        "figures above. Reads per kept event: events returned by SIEM to the scheduled runs / distinct kept events.")
    reads = fig.get("kept_reads")
    if reads:
        hist = ", ".join(f"{'9+' if k == 9 else k}x: {v:,}" for k, v in reads["histogram"].items())
        say(f"Each kept event was returned {reads['mean']:.2f} times on average, at most {reads['max']} ({hist}); "
            f"the {reads['steady_events']:,} kept events of threats whose verdict did not change "
            f"{reads['steady_mean']:.2f} times (TAP delivers a threat's events again with a new verdict).")
    say("App CPU = the worker process (only the app runs there) during the runs; the SOAR emulator runs in its own "
        "process and the TAP simulator in the benchmark's, both measured apart. Baseline: IBM's per-event call "
        "pattern (bench/baseline.py) reading the same windows at the same schedule, each event processed once.")


def breakdown(fig: dict[str, Any], say: Say) -> None:
    say("SOAR calls of the day by kind (ours; path classes from the emulator's per-path counts):")
    for kind, count in fig["soar_by_kind"].items():
        say(f"  {count:>9,}  {kind}")
    if fig.get("baseline"):
        say("Baseline by kind: " + ", ".join(f"{k} {v:,}" for k, v in fig["baseline"]["by_kind"].items()))
    say("")
    say("Idle probes (a run right after a scheduled one, same moment: TAP holds nothing new):")
    for probe in fig["probes"]:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(probe["by_kind"].items(), key=lambda kv: -kv[1]))
        say(f"  {probe['at'][:16]}: {probe['incidents']:>6,} incidents, {probe['soar_calls']:>5,} SOAR calls, "
            f"{probe['siem_events']:>6,} events re-read ({kinds})")
    s = fig["sweeps"]
    say("")
    say(f"Sweeps: {s['count']} ({s['nothing_changed']} with no verdict change since the previous one), "
        f"{s['threat_calls']:,} Threat API calls, {s['open_threats_mean']:.0f} open threats on average; "
        f"{s['soar_calls_quiet_mean']:.1f} SOAR calls per quiet sweep.")
    notes = fig["notes_per_run"]
    say(f"Notes per incident per run: ingestion at most {notes['ingest']['max']} "
        f"({notes['ingest']['incident_runs']:,} incident-runs with a note, {notes['ingest']['over_one']:,} with more "
        f"than one); sweep at most {notes['sweep']['max']}.")
    if fig.get("tracemalloc_peak_run"):
        say(f"Memory run (the day again on a fresh emulator, tracemalloc on in its {fig['traced_runs']} busiest runs): "
            f"peak {fig['tracemalloc_peak_mb']:,.1f} MB of the app's allocations, in the "
            f"{fig['tracemalloc_peak_run']}; "
            "max RSS is the timed run's worker (VmHWM, interpreter and imports included).")
    install = fig.get("install")
    if install:
        say(f"First run (install, reads the {install['report'].get('windows_done')} look-back windows): "
            f"{install['emulator_calls']} SOAR calls, TAP {_pools(install['tap_pools'])}.")
    batch = fig.get("batch")
    if batch:
        say(f"Batch reference (second emulator, same events, no verdict changes): {batch['runs']} runs at the end, "
            f"{batch['soar_calls']:,} SOAR calls, {batch['wall_s']:,.0f} s, {batch['siem_events']:,} events read; "
            f"notes / artifacts / rows per incident (mean / max): {_per_incident(batch['incidents'], 'notes')}, "
            f"{_per_incident(batch['incidents'], 'artifacts')}, {_per_incident(batch['incidents'], 'rows')}.")
    say(f"Run statuses: {fig['statuses']}")


def checks(outcome: Outcome, say: Say) -> None:
    say("Correctness checks:")
    for group, title in (("integrity", "integrity"), ("batch", "the day == one batch run over the same span")):
        items = [c for c in outcome.checks if c.group == group]
        if not items:
            continue
        passed = sum(1 for c in items if c.ok)
        say(f"  {title}: {passed} of {len(items)} pass")
        for c in items:
            say(f"    {'PASS' if c.ok else 'FAIL'}  {c.name}" + (f": {c.detail}" if c.detail and not c.ok else ""))


def print_targets(outcome: Outcome, say: Say) -> None:
    say("Targets (issue 14; this machine; reported, never asserted):")
    for t in outcome.targets:
        verdict = "n/a    " if t.ok is None else ("met    " if t.ok else "NOT MET")
        say(f"  {verdict}  {t.name}: {t.detail}")
