"""Printing the benchmark's results: the side-by-side table, the breakdowns, the checks and the targets."""

from __future__ import annotations

import pstats
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.runner import SizeResult

TARGET_SIZE = 50_000
TARGET_SECONDS = 60.0
TARGET_MB = 200.0  # issue 14: at most 200 MB at 50,000 events in one window (traced peak and max RSS)
TARGET_RATIO = 30.0

Say = Callable[[str], None]


@dataclass(frozen=True)
class Target:
    name: str
    ok: bool | None  # None: not measured in this run
    detail: str

    @property
    def verdict(self) -> str:
        return "n/a " if self.ok is None else ("PASS" if self.ok else "FAIL")


def _n(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def ratio(result: SizeResult) -> float | None:
    if not result.baseline or not result.ours.get("soar_calls"):
        return None
    return float(result.baseline["soar_calls"]) / float(result.ours["soar_calls"])


def table(results: list[SizeResult], say: Say) -> None:
    head = (f"{'events':>8} | {'ours: time':>10} {'events/s':>9} {'peak MB':>8} {'maxRSS MB':>9} {'SOAR calls':>10} "
            f"{'TAP calls':>9} {'created':>7} | {'baseline: time':>14} {'SOAR calls':>10} | {'calls ratio':>11}")
    say(head)
    say("-" * len(head))
    for r in results:
        o, b, m = r.ours, r.baseline, r.memory
        rate = r.size / o["wall_s"] if o.get("wall_s") else None
        star = "*" if b and b.get("extrapolated") else " "
        rat = ratio(r)
        say(f"{r.size:>8,} | {_n(o.get('wall_s'), 1) + ' s':>10} {_n(rate):>9} "
            f"{_n(m.get('tracemalloc_peak_mb'), 1):>8} {_n(o.get('max_rss_mb'), 1):>9} {_n(o.get('soar_calls')):>10} "
            f"{_n(o.get('tap_calls_total')):>9} {_n(o['report']['created']):>7} | "
            f"{(_n(b['wall_s'], 1) + ' s' + star) if b else '-':>14} "
            f"{(_n(b['soar_calls']) + star) if b else '-':>10} | "
            f"{(_n(rat, 1) + 'x' + star) if rat else '-':>11}")
    say("")
    say("ours: time = wall time of ONE run_ingestion (untraced); events/s = events in the window / that time.")
    say("peak MB = tracemalloc peak of the app's Python allocations during the same run repeated with tracing on")
    say("  (fresh SOAR org); maxRSS MB = high-water RSS of the app's worker process in the timed run")
    say("  (interpreter, imports and the run; VmHWM). Neither includes the SOAR emulator (own process) or the")
    say("  TAP simulator (the benchmark's process).")
    if any(r.baseline and r.baseline.get("extrapolated") for r in results):
        say("")
        say("*" * 100)
        for r in results:
            b = r.baseline
            if b and b.get("extrapolated"):
                say(f"* BASELINE AT {r.size:,} EVENTS IS EXTRAPOLATED: measured on the first {b['events_done']:,} of "
                    f"{b['events_total']:,} kept events")
                say(f"*   ({_n(b['wall_s_measured'], 1)} s, {_n(b['soar_calls_measured'])} SOAR calls), then")
                say("*   scaled LINEARLY per (event, threat) pair for the search and read-artifacts calls and the")
                say("*   time; creates and artifact posts (once per threat) counted as measured plus the threats")
                say("*   not seen yet.")
        say("*" * 100)


def breakdown(results: list[SizeResult], say: Say) -> None:
    say("Where the time goes (ours, timed run): app CPU = the app process's user+system CPU; SOAR CPU = the")
    say("emulator process's CPU during the run; the rest is waiting (network, TAP simulator, scheduling).")
    for r in results:
        o = r.ours
        say(f"  {r.size:>7,}: wall {_n(o['wall_s'], 1)} s = app CPU {_n(o.get('cpu_s'), 1)} s + SOAR emulator CPU "
            f"{_n(o.get('soar_cpu_s'), 1)} s + other; {_n(o['wall_s'] * 1000 / max(1, o['soar_calls']), 1)} ms "
            f"per SOAR call; traced run {_n(r.memory.get('wall_s_traced'), 1)} s")
        if r.baseline:
            b = r.baseline
            say(f"  {'':>7}  baseline: wall {_n(b.get('wall_s_measured', b['wall_s']), 1)} s measured, app CPU "
                f"{_n(b.get('cpu_s'), 1)} s, SOAR emulator CPU {_n(b.get('soar_cpu_s'), 1)} s")
    say("")
    say("SOAR calls of one run, by kind, as the emulator served them (cross-check: the app's SoarCases.calls):")
    for r in results:
        ours = _kinds(r.ours.get("emulator_calls_by_kind") or {})
        say(f"  {r.size:>7,}: ours: SoarCases.calls {_n(r.ours['soar_calls'])}, emulator "
            f"{_n(r.ours['emulator_calls'])}: {ours}")
        if r.baseline:
            b = r.baseline
            part = " in the measured part" if b.get("extrapolated") else ""
            say(f"  {'':>7}  baseline: counted {_n(b.get('soar_calls_measured', b['soar_calls']))}, emulator "
                f"{_n(b['emulator_calls'])}{part}: {b['report']['calls_by_kind']}")
    say("")
    say("Replay of the same window (control cursor set back; nothing may be created or added):")
    for r in results:
        p = r.replay
        if p:
            rep = p["report"]
            say(f"  {r.size:>7,}: {_n(p['wall_s'], 1)} s, {_n(p['soar_calls'])} SOAR calls, created {rep['created']}, "
                f"updated {rep['updated']}, unchanged {rep['unchanged']}; SOAR holds {p['state']}")


def _kinds(calls: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for pattern, count in calls.items():
        method, _, path = pattern.partition(" ")
        path = path.replace("/rest/orgs/{id}", "")
        out[f"{method} {path}"] = out.get(f"{method} {path}", 0) + count
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def checks(results: list[SizeResult], say: Say) -> bool:
    say("Correctness:")
    ok = True
    for r in results:
        bad = [(n, d) for n, good, d in r.checks if not good]
        ok = ok and not bad
        say(f"  {r.size:>7,}: {len(r.checks) - len(bad)} of {len(r.checks)} checks pass"
            + ("" if not bad else ":"))
        for name, detail in bad:
            say(f"           FAIL {name}: {detail}")
    return ok


def targets(results: list[SizeResult]) -> list[Target]:
    big = next((r for r in results if r.size == TARGET_SIZE), None)
    out: list[Target] = []
    if big is None:
        out.append(Target(f"{TARGET_SIZE:,} events in under {TARGET_SECONDS:.0f} s", None,
                          f"{TARGET_SIZE:,} not in --sizes"))
        out.append(Target(f"{TARGET_SIZE:,} events in under {TARGET_MB:.0f} MB", None,
                          f"{TARGET_SIZE:,} not in --sizes"))
    else:
        wall = big.ours["wall_s"]
        out.append(Target(f"{TARGET_SIZE:,} events in under {TARGET_SECONDS:.0f} s", wall < TARGET_SECONDS,
                          f"{wall:,.1f} s ({TARGET_SIZE / wall:,.0f} events/s)"))
        peak = big.memory.get("tracemalloc_peak_mb")
        rss = big.ours.get("max_rss_mb")
        worst = max(v for v in (peak, rss) if v is not None)
        out.append(Target(f"{TARGET_SIZE:,} events in under {TARGET_MB:.0f} MB", worst < TARGET_MB,
                          f"tracemalloc peak {_n(peak, 1)} MB, process max RSS {_n(rss, 1)} MB"))
    ratios = [(r.size, ratio(r), bool(r.baseline and r.baseline.get("extrapolated"))) for r in results]
    measured = [(s, x, e) for s, x, e in ratios if x is not None]
    if not measured:
        out.append(Target(f">= {TARGET_RATIO:.0f}x fewer SOAR calls than the baseline", None, "baseline not run"))
    else:
        text = ", ".join(f"{s:,}: {x:.1f}x{' (extrapolated)' if e else ''}" for s, x, e in measured)
        out.append(Target(f">= {TARGET_RATIO:.0f}x fewer SOAR calls than the baseline (every size)",
                          all(x >= TARGET_RATIO for _s, x, _e in measured), text))
    return out


def print_targets(found: list[Target], say: Say) -> None:
    say("Targets (this machine):")
    for t in found:
        say(f"  {t.verdict}  {t.name}: {t.detail}")


def profile_summary(path: str, say: Say, limit: int = 18) -> None:
    """The hot spots of a cProfile file: by own time, and by cumulative time inside the app."""
    stats = pstats.Stats(path)
    rows: list[tuple[float, float, int, str]] = []
    for (filename, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((tottime, cumtime, ncalls, f"{_short(filename)}:{line}({name})"))
    total = max((c for _t, c, _n2, _w in rows), default=0.0)
    say(f"  profile {path} ({total:,.1f} s profiled)")
    say("  by own time:")
    for tottime, cumtime, ncalls, where in sorted(rows, reverse=True)[:limit]:
        say(f"    {tottime:8.2f} s own {cumtime:8.2f} s cum {ncalls:>9,} calls  {where}")
    say("  by cumulative time, app code only:")
    app = [r for r in rows if "fn_pp_tap_functions" in r[3]]
    for tottime, cumtime, ncalls, where in sorted(app, key=lambda r: -r[1])[:limit]:
        say(f"    {cumtime:8.2f} s cum {tottime:8.2f} s own {ncalls:>9,} calls  {where}")


def _short(filename: str) -> str:
    root = str(Path(__file__).resolve().parents[1]) + "/"
    if filename.startswith(root):
        return filename[len(root):]
    for marker in ("site-packages/", "lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def summary_dict(results: list[SizeResult], found: list[Target]) -> dict[str, Any]:
    return {"results": [r.to_dict() for r in results],
            "targets": [{"name": t.name, "ok": t.ok, "detail": t.detail} for t in found]}
