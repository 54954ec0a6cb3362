"""The stream benchmark's figures, correctness checks and targets, from the phases' records.

Correctness checks come in two groups, both printed and both failing the benchmark when they fail:
``integrity`` (what the app must get right under any design: the right incidents, one per threat, exact
counts, every late-indexed event, false positives closed, SOAR calls accounted) and ``batch`` (issue 14's
"done when": the day ingested at the schedule holds the same rows and artifacts as one batch run over the
same span). The counts are exact at any settle interval except on a threat whose verdict came within the
settle horizon of some of its events (it may re-date them before a settle pass reads them): those are
bounded (:meth:`StreamDataset.expectation`) and left out of the comparison with the batch run, which has no
verdicts. Targets are reported as met / not met with the figure, never asserted.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

from bench.report import Target
from bench.stream.dataset import Expected, StreamDataset
from bench.stream.phases import PhaseResult
from bench.stream.soar_state import IncidentState

OK_STATUSES = ("completed", "nothing to do")
TARGET_RATIO = 30.0
TARGET_READS = 1.5
TARGET_NOTES = 1
TARGET_THREAT_CALLS = 1.0  # per ten open threats per sweep, when nothing changed
TARGET_CPU = 2.0
TARGET_MEMORY_MB = 200.0
DEFAULT_HORIZON = timedelta(minutes=30 + 60)  # overlap + settle interval at the defaults (production.settle_horizon)


@dataclass(frozen=True)
class Check:
    group: str  # integrity | batch
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Outcome:
    figures: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    def check(self, group: str, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(group, name, bool(ok), detail))

    @property
    def correct(self) -> bool:
        return all(c.ok for c in self.checks)


def merged(ops: Iterable[dict[str, Any]], key: str) -> dict[str, int]:
    total: Counter[str] = Counter()
    for op in ops:
        total.update(op.get(key) or {})
    return dict(total.most_common())


def total(ops: Iterable[dict[str, Any]], key: str) -> float:
    return sum(float(op.get(key) or 0) for op in ops)


def per_incident(values: list[int]) -> dict[str, float]:
    return {"mean": sum(values) / len(values) if values else 0.0, "max": max(values, default=0),
            "total": sum(values)}


def artifact_bound() -> int:
    """Artifacts one incident may hold if the shipped template's caps applied to the incident: one per
    single-value artifact, ``max`` (default :data:`DEFAULT_EACH_MAX`) per ``each`` artifact."""
    from fn_pp_tap_functions.ingest.templates import DEFAULT_EACH_MAX, SHIPPED_DEFAULT

    text = resources.files("fn_pp_tap_functions").joinpath("data", "templates", SHIPPED_DEFAULT).read_text("utf-8")
    specs = json.loads(text).get("artifacts") or []
    return sum(int(s.get("max", DEFAULT_EACH_MAX)) if s.get("each") else 1 for s in specs)


def _by_key(incidents: list[IncidentState]) -> dict[str, list[IncidentState]]:
    out: dict[str, list[IncidentState]] = {}
    for incident in incidents:
        out.setdefault(incident.key, []).append(incident)
    return out


def _example(items: dict[str, Any]) -> str:
    if not items:
        return ""
    key, value = next(iter(items.items()))
    return f"{len(items)}, e.g. {key[:20]}…: {value}"


# ------------------------------------------------------------------------------------------------ figures

def figures(ds: StreamDataset, stream: PhaseResult, batch: PhaseResult | None, baseline: PhaseResult | None,
            traced: PhaseResult | None, floor: dict[str, Any] | None) -> dict[str, Any]:
    day = stream.of("ingest", "sweep")
    ingest, sweeps = stream.of("ingest"), stream.of("sweep")
    kept_keys = {f"{e.type}:{e.id}" for e in ds.events if e.kept_for}
    out: dict[str, Any] = {
        "runs": {"ingest": len(ingest), "sweep": len(sweeps), "probe": len(stream.of("probe"))},
        "soar_calls": int(total(day, "emulator_calls")),
        "soar_calls_ingest": int(total(ingest, "emulator_calls")),
        "soar_calls_sweep": int(total(sweeps, "emulator_calls")),
        "soar_by_kind": merged(day, "by_kind"),
        "tap_pools": merged(day, "tap_pools"),
        "siem_events": int(total(ingest, "siem_events")),
        "kept_events": ds.kept_events,
        "wall_s": stream.wall_s,
        "run_wall_s": total(day, "wall_s"),
        "app_cpu_ingest_s": total(ingest, "cpu_s"), "app_cpu_sweep_s": total(sweeps, "cpu_s"),
        "soar_cpu_s": total(day, "soar_cpu_s"), "tap_cpu_s": total(day, "tap_cpu_s"),
        "max_rss_mb": max((op["max_rss_mb"] for op in stream.ops), default=None),
        "install": stream.of("install")[0] if stream.of("install") else None,
        "statuses": dict(Counter(op["report"].get("status") for op in day)),
    }
    out["reads_per_kept_event"] = out["siem_events"] / max(1, ds.kept_events)
    if floor:
        reads = floor["reads"].get("ingest", {})
        counts = [reads.get(k, 0) for k in kept_keys]
        out["kept_reads"] = {"mean": sum(counts) / max(1, len(counts)), "max": max(counts, default=0),
                             "never": sum(1 for c in counts if not c),
                             "histogram": dict(sorted(Counter(min(c, 9) for c in counts).items()))}
        # TAP delivers a threat's events again when Proofpoint changes its verdict (their creation time moves
        # to the verdict's): those reads are the verdict's, not the schedule's
        changed = {f"threat:{c.threat_id}" for c in ds.changes}
        steady = [reads.get(f"{e.type}:{e.id}", 0) for e in ds.events
                  if e.kept_for and not changed.intersection(e.kept_for)]
        out["kept_reads"]["steady_mean"] = sum(steady) / max(1, len(steady))
        out["kept_reads"]["steady_events"] = len(steady)
        out["floor_cpu_s"] = floor["cpu_s"].get("ingest", 0.0)
        out["floor_answers"] = floor["answers"].get("ingest", 0)
    notes_runs = [(op["kind"], n) for op in day for n in (op.get("notes") or {}).values()]
    out["notes_per_run"] = {kind: {"max": max((n for k, n in notes_runs if k == kind), default=0),
                                   "over_one": sum(1 for k, n in notes_runs if k == kind and n > 1),
                                   "incident_runs": sum(1 for k, _n in notes_runs if k == kind)}
                            for kind in ("ingest", "sweep")}
    out["probes"] = [{"at": p["at"], "incidents": p.get("incidents"), "soar_calls": p["emulator_calls"],
                      "siem_events": p["siem_events"], "by_kind": p["by_kind"]} for p in stream.of("probe")]
    quiet = [s for s in sweeps if not s.get("changed")]
    out["sweeps"] = {
        "count": len(sweeps), "nothing_changed": len(quiet),
        "threat_calls": int(sum((s["tap_pools"].get("threat_summary", 0)) for s in sweeps)),
        "open_threats_mean": sum(s.get("open_threats") or 0 for s in sweeps) / max(1, len(sweeps)),
        "quiet_calls_per_10": _per_ten(quiet), "all_calls_per_10": _per_ten(sweeps),
        "soar_calls_quiet_mean": total(quiet, "emulator_calls") / max(1, len(quiet))}
    out["incidents"] = _incident_figures(stream.incidents)
    out["verdict_to_close"] = _close_delays(ds, stream)
    if batch is not None:
        out["batch"] = {"runs": len(batch.of("batch")), "soar_calls": int(total(batch.of("batch"), "emulator_calls")),
                        "wall_s": total(batch.of("batch"), "wall_s"), "incidents": _incident_figures(batch.incidents),
                        "siem_events": int(total(batch.of("batch"), "siem_events")),
                        "tap_pools": merged(batch.of("batch"), "tap_pools")}
    if baseline is not None:
        runs = baseline.of("baseline")
        reports = [op["report"] for op in runs]
        out["baseline"] = {"soar_calls": int(total(runs, "emulator_calls")),
                           "soar_calls_counted": int(sum(r["soar_calls"] for r in reports)),
                           "by_kind": merged(runs, "by_kind"), "tap_pools": merged(runs, "tap_pools"),
                           "wall_s": baseline.wall_s, "run_wall_s": total(runs, "wall_s"),
                           "cpu_s": total(runs, "cpu_s"), "soar_cpu_s": total(runs, "soar_cpu_s"),
                           "events_done": sum(r["events_done"] for r in reports),
                           "created": sum(r["created"] for r in reports), "incidents": len(baseline.baseline_keys)}
        out["ratio"] = out["baseline"]["soar_calls"] / max(1, out["soar_calls"])
    if traced is not None:
        peaks = [op for op in traced.ops if op.get("trace_peak_mb") is not None]
        top = max(peaks, key=lambda op: op["trace_peak_mb"], default=None)
        out["tracemalloc_peak_mb"] = top["trace_peak_mb"] if top else None
        out["tracemalloc_peak_run"] = f"{top['kind']} at {top['at'][:16]} ({top['siem_events']:,} events read)" \
            if top else None
        out["traced_runs"] = len(peaks)
        out["traced_wall_s"] = traced.wall_s
    return out


def _close_delays(ds: StreamDataset, stream: PhaseResult) -> dict[str, Any]:
    """From each false-positive verdict to the run that closed its incident (minutes), and which run kind."""
    delays: list[float] = []
    by: Counter[str] = Counter()
    for change in ds.changes:
        key = f"threat:{change.threat_id}"
        if change.status != "falsePositive" or key not in stream.closed_at:
            continue
        kind, at = stream.closed_at[key]
        delays.append((datetime.fromisoformat(at) - change.at).total_seconds() / 60)
        by[kind] += 1
    return {"closed": len(delays), "max_min": max(delays, default=None),
            "mean_min": sum(delays) / len(delays) if delays else None, "by_run": dict(by)}


def _per_ten(sweeps: list[dict[str, Any]]) -> float | None:
    """Threat API calls per ten open threats, averaged over sweeps that had open threats."""
    rates = [s["tap_pools"].get("threat_summary", 0) * 10 / s["open_threats"] for s in sweeps if s.get("open_threats")]
    return sum(rates) / len(rates) if rates else None


def _incident_figures(incidents: list[IncidentState]) -> dict[str, Any]:
    return {"count": len(incidents), "open": sum(1 for i in incidents if i.open),
            "notes": per_incident([i.notes for i in incidents]),
            "artifacts": per_incident([len(i.artifacts) for i in incidents]),
            "rows": per_incident([i.rows for i in incidents])}


# ------------------------------------------------------------------------------------------------ checks

def checks(ds: StreamDataset, stream: PhaseResult, batch: PhaseResult | None, baseline: PhaseResult | None,
           floor: dict[str, Any] | None, out: Outcome, horizon: timedelta = DEFAULT_HORIZON) -> None:
    """``horizon``: how long after their creation a settle pass has surely read events (what the counts of a
    threat whose verdict came sooner may lack, :meth:`StreamDataset.expectation`)."""
    expect = ds.expectation(horizon)
    early = frozenset(k for k, e in expect.items() if not e.exact)
    day = stream.of("install", "ingest", "sweep", "probe")
    bad_status = [f"{op['kind']} at {op['at'][11:16]}: {op['report'].get('status')} {op['report'].get('error')}"
                  for op in day if op["report"].get("status") not in OK_STATUSES]
    out.check("integrity", "every run completed", not bad_status, _first(bad_status))
    miscounted = [op for op in day + (batch.ops if batch else []) if op["soar_calls"] != op["emulator_calls"]]
    out.check("integrity", "SOAR calls counted by the app == calls the emulator served (every run)", not miscounted,
              _first([f"{o['kind']} at {o['at'][11:16]}: {o['soar_calls']} vs {o['emulator_calls']}"
                      for o in miscounted]))
    errors = merged(day, "tap_statuses")
    failed = {code: n for code, n in errors.items() if code.isdigit() and int(code) >= 400 and code != "404"}
    out.check("integrity", "no TAP call failed (400, 401, 429, 5xx)", not failed, str(failed))
    _incident_checks("stream", expect, stream.incidents, out)
    closed = {i.key for i in stream.incidents if not i.open}
    present = {i.key for i in stream.incidents}
    closes = {k for k in ds.closes if k in present or expect[k].must_exist}
    out.check("integrity", "the incidents of the false positives are closed (close policy)", closes <= closed,
              f"{len(closes - closed)} of {len(closes)} still open")
    out.check("integrity", "no other incident is closed (cleared threats stay open: the policy closes falsePositive)",
              closed <= ds.closes, f"{len(closed - ds.closes)} closed besides the false positives")
    final = {i.key: (i.event_count, i.recipients_count) for i in stream.incidents}
    moved = {k: f"{v} at the verdict, {final.get(k)} at the end" for k, v in stream.at_verdict.items()
             if final.get(k) != v}
    out.check("integrity", f"no event counted after its threat's verdict (TAP delivers them again with the new "
              f"status; {len(stream.at_verdict)} verdicts)", len(stream.at_verdict) == len(ds.changes) and not moved,
              _example(moved) or f"{len(stream.at_verdict)} of {len(ds.changes)} verdicts applied")
    late = ds.late_events()
    if floor:
        reads = floor["reads"].get("ingest", {})
        redated = ds.redated(horizon)
        unread = [e.id for e in late if not reads.get(f"{e.type}:{e.id}") and e.id not in redated]
        maybe = sum(1 for e in late if e.id in redated)
        out.check("integrity", f"every late-indexed event ({len(late)}, indexed 10-29 min late) was read from TAP"
                  + (f" (less any of the {maybe} a verdict may have re-dated first)" if maybe else ""),
                  not unread, _first(unread))
    holders = {k for e in late for k in e.kept_for}
    state = {i.key: i for i in stream.incidents}
    wrong = [k for k in holders if (k not in state and expect[k].must_exist) or
             (k in state and not expect[k].holds(state[k].event_count, state[k].recipients_count))]
    out.check("integrity", f"every late-indexed event is counted in its incident ({len(holders)} incidents"
              f"{_bounded(holders & early)})", not wrong, _first(wrong))
    if batch is not None:
        runs = batch.of("batch")
        out.check("integrity", "batch run completed", bool(runs) and runs[-1]["report"].get("status") in OK_STATUSES,
                  str([r["report"].get("status") for r in runs]))
        _incident_checks("batch", replace(ds, changes=[]).expectation(horizon), batch.incidents, out)
        _equivalence(stream.incidents, batch.incidents, out, early)
    if baseline is not None:
        runs = baseline.of("baseline")
        done = sum(op["report"]["events_done"] for op in runs)
        out.check("integrity", "baseline: incidents == the kept threats",
                  baseline.baseline_keys == set(ds.kept_threats),
                  f"{len(baseline.baseline_keys)} vs {len(ds.kept_threats)}")
        out.check("integrity", "baseline: events processed == kept events", done == ds.kept_events,
                  f"{done} vs {ds.kept_events}")
        counted = sum(op["report"]["soar_calls"] for op in runs)
        served = int(total(runs, "emulator_calls"))
        out.check("integrity", "baseline: SOAR calls counted == calls the emulator served", counted == served,
                  f"{counted} vs {served}")


def _first(items: list[Any]) -> str:
    return f"{len(items)}, e.g. {items[0]}" if items else ""


def _bounded(keys: Iterable[str]) -> str:
    count = len(set(keys))
    return f"; on {count} whose verdict came less than the settle horizon after some of its events: at least " \
           "the events created a horizon before the verdict, at most all" if count else ""


def _incident_checks(label: str, expect: dict[str, Expected], incidents: list[IncidentState], out: Outcome) -> None:
    """One incident per kept threat, with the counts :meth:`StreamDataset.expectation` says (exact unless a
    verdict came within the settle horizon of some of the threat's events)."""
    by_key = _by_key(incidents)
    keys = set(by_key)
    must = {k for k, e in expect.items() if e.must_exist}
    maybe = f" (less any of the {len(expect) - len(must)} whose every event came within the settle horizon " \
            "before its verdict)" if len(must) < len(expect) else ""
    out.check("integrity", f"{label}: the incidents are exactly the kept threats{maybe}", must <= keys <= set(expect),
              f"missing {len(must - keys)}, unexpected {len(keys - set(expect))}")
    dup = {k: [i.id for i in v] for k, v in by_key.items() if len(v) > 1}
    out.check("integrity", f"{label}: no duplicate incident (one per threat)", not dup, _example(dup))
    wrong = {k: f"(found, expected) {(v[0].event_count, v[0].recipients_count)}, "
                f"{expect[k].text() if k in expect else None}" for k, v in by_key.items()
             if k not in expect or not expect[k].holds(v[0].event_count, v[0].recipients_count)}
    early = [k for k in keys if k in expect and not expect[k].exact]
    out.check("integrity", f"{label}: event and recipient counts exact on every incident{_bounded(early)}", not wrong,
              _example(wrong))


def _equivalence(stream: list[IncidentState], batch: list[IncidentState], out: Outcome,
                 early: frozenset[str] = frozenset()) -> None:
    """What the design promises (README, Steady state): the same incidents, counts and number of rows and
    artifacts as one batch run; WHICH events get the capped rows, and which values fill a capped artifact
    spec, depends on when they arrived, so the sets are compared only where no cap applies (an incident
    with no more events than the rows cap, the same incidents as for the rows). The batch run has no verdict
    changes: the incidents of ``early`` threats (a verdict within the settle horizon of their events) are
    left out, the integrity checks bound them."""
    ours = {k: v[0] for k, v in _by_key(stream).items() if k not in early}
    ref = {k: v[0] for k, v in _by_key(batch).items() if k not in early}
    left_out = f" ({len(early)} left out: a verdict within the settle horizon of their events)" if early else ""
    out.check("batch", f"same incidents as one batch run over the same span{left_out}", set(ours) == set(ref),
              f"only stream {len(set(ours) - set(ref))}, only batch {len(set(ref) - set(ours))}")
    common = sorted(set(ours) & set(ref))
    counts = {k: f"{ours[k].event_count}/{ours[k].recipients_count} vs {ref[k].event_count}/"
              f"{ref[k].recipients_count}" for k in common
              if (ours[k].event_count, ours[k].recipients_count) != (ref[k].event_count, ref[k].recipients_count)}
    out.check("batch", "same event and recipient counts as the batch run", not counts, _example(counts))
    rows = {k: f"{ours[k].rows} rows vs {ref[k].rows}" for k in common if ours[k].rows != ref[k].rows}
    out.check("batch", "same number of event rows as the batch run", not rows, _example(rows))
    under = [k for k in common if (ref[k].event_count or 0) <= ref[k].rows]
    keys = {k: f"{sorted(ours[k].row_keys ^ ref[k].row_keys)[:2]}" for k in under
            if ours[k].row_keys != ref[k].row_keys}
    out.check("batch", f"same event rows (by key) where every event has a row ({len(under)} incidents)", not keys,
              _example(keys))
    arts = {k: f"{len(ours[k].artifacts)} artifacts vs {len(ref[k].artifacts)}" for k in common
            if len(ours[k].artifacts) != len(ref[k].artifacts)}
    out.check("batch", "same number of artifacts as the batch run (the caps hold for the incident)", not arts,
              _example(arts))
    diff = {k: f"{sorted(ours[k].artifacts ^ ref[k].artifacts)[:2]}" for k in under
            if ours[k].artifacts != ref[k].artifacts}
    out.check("batch", f"same artifacts (type and value) where every event has a row ({len(under)} incidents)",
              not diff, _example(diff))


# ------------------------------------------------------------------------------------------------ targets

def targets(ds: StreamDataset, fig: dict[str, Any], out: Outcome, *, full_size: bool,
            ingest_minutes: float = 5.0) -> None:
    scale = "" if full_size else f" (at {ds.size:,} events over {ds.hours:g} h, not the target's 50,000 over a day)"
    ratio = fig.get("ratio")
    out.targets.append(Target(
        f">= {TARGET_RATIO:g}x fewer SOAR calls than the naive baseline on the same stream{scale}",
        None if ratio is None else ratio >= TARGET_RATIO,
        "baseline not run" if ratio is None else
        f"{ratio:.2f}x ({fig['baseline']['soar_calls']:,} baseline vs {fig['soar_calls']:,} ours)"))
    reads = fig["reads_per_kept_event"]
    steady = (fig.get("kept_reads") or {}).get("steady_mean")
    out.targets.append(Target(f"<= {TARGET_READS:g} TAP reads per kept event", reads <= TARGET_READS,
                              f"{reads:.2f} ({fig['siem_events']:,} events returned by SIEM / "
                              f"{fig['kept_events']:,} kept events"
                              + ("" if steady is None else f"; {steady:.2f} for the events of threats whose "
                                 "verdict did not change") + ")"))
    probes = fig["probes"]
    costs = sorted({p["soar_calls"] for p in probes})
    out.targets.append(Target(
        "a run finding nothing new costs a fixed number of SOAR calls, whatever the number of incidents",
        None if not probes else len(costs) == 1,
        ", ".join(f"{p['soar_calls']} calls at {p['incidents']} incidents" for p in probes) or "no probe"))
    notes = fig["notes_per_run"]
    worst = max(notes["ingest"]["max"], notes["sweep"]["max"])
    out.targets.append(Target(
        f"<= {TARGET_NOTES} change note per incident per run", worst <= TARGET_NOTES,
        f"at most {notes['ingest']['max']} notes on one incident in one ingestion run "
        f"({notes['ingest']['over_one']:,} incident-runs with more than one), {notes['sweep']['max']} in one sweep"))
    bound = artifact_bound()
    most = fig["incidents"]["artifacts"]["max"]
    out.targets.append(Target(
        f"artifacts per incident bounded (the shipped template's caps per incident: {bound})", most <= bound,
        f"mean {fig['incidents']['artifacts']['mean']:,.0f}, max {most:,} artifacts on one incident"))
    rate = fig["sweeps"]["quiet_calls_per_10"]
    out.targets.append(Target(
        f"sweep, nothing changed: <= {TARGET_THREAT_CALLS:g} Threat API call per 10 open threats per sweep",
        None if rate is None else rate <= TARGET_THREAT_CALLS,
        "no quiet sweep with open threats" if rate is None else
        f"{rate:.2f} per 10 open threats over {fig['sweeps']['nothing_changed']} sweeps with nothing changed "
        f"(all sweeps: {fig['sweeps']['all_calls_per_10']:.2f}; {fig['sweeps']['open_threats_mean']:.0f} open threats "
        "on average)"))
    floor = fig.get("floor_cpu_s")
    cpu = fig["app_cpu_ingest_s"]
    out.targets.append(Target(
        f"app CPU within {TARGET_CPU:g}x of the floor (json.loads + the app's normalisers of the same SIEM JSON)",
        None if not floor else cpu <= TARGET_CPU * floor,
        "floor not measured" if not floor else
        f"{cpu / floor:.1f}x: ingestion runs {cpu:,.1f} s CPU, floor {floor:,.1f} s"))
    close = fig["verdict_to_close"]
    close_bound = ingest_minutes + 2
    out.targets.append(Target(
        f"verdict to close, a false positive SIEM reports: at most the run interval + 2 min ({close_bound:g} min)",
        None if close["max_min"] is None else close["max_min"] <= close_bound,
        "no false positive closed" if close["max_min"] is None else
        f"longest {close['max_min']:.1f} min, mean {close['mean_min']:.1f} min over {close['closed']} closes "
        f"(closed by {', '.join(f'{k} {v}' for k, v in close['by_run'].items())}); a verdict SIEM does not "
        "carry waits for the sweep's back-off: at most sync_recheck_hours (24 h) + the sweep interval"))
    out.targets.append(Target(
        f"peak memory <= {TARGET_MEMORY_MB:g} MB at 50,000 events in ONE window", None,
        "measured by the single-window benchmark (`python -m bench`, its memory target); this stream: "
        f"tracemalloc peak {_mb(fig.get('tracemalloc_peak_mb'))}, max RSS {_mb(fig.get('max_rss_mb'))}"))


def _mb(value: float | None) -> str:
    return "not measured" if value is None else f"{value:,.1f} MB"


def analyse(ds: StreamDataset, stream: PhaseResult, batch: PhaseResult | None, baseline: PhaseResult | None,
            traced: PhaseResult | None, floor: dict[str, Any] | None, *, full_size: bool,
            ingest_minutes: float = 5.0, horizon: timedelta = DEFAULT_HORIZON) -> Outcome:
    out = Outcome()
    out.figures = figures(ds, stream, batch, baseline, traced, floor)
    checks(ds, stream, batch, baseline, floor, out, horizon)
    targets(ds, out.figures, out, full_size=full_size, ingest_minutes=ingest_minutes)
    return out
