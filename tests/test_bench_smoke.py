"""The ingestion benchmark's machinery on a tiny data set: correct results, no timing assertions.

Runs ``python -m bench`` end to end (SOAR emulator processes, the TAP simulator, worker processes, the
naive baseline, the report and the JSON) with 200 events and checks what the benchmark itself checks:
one incident per kept threat, a replay of the window that writes nothing, and fewer SOAR calls than the
per-event baseline. Speed and memory are the benchmark's business, never a test's.
"""

from __future__ import annotations

import json
from typing import Any

from bench.__main__ import main
from bench.dataset import generate

SIZE = 200


def test_dataset_is_exact_and_has_noise_to_drop():
    ds = generate(SIZE, seed=3)
    assert ds.total == SIZE
    assert len(ds.kept_threats) == SIZE // 100
    counts = ds.counts()
    assert counts["messagesBlocked"] + counts["clicksBlocked"] > 0 and counts["clicksPermitted"] > 0
    cleared = [e for e in ds.events["messagesDelivered"]
               if all(t["threatStatus"] == "cleared" for t in e["threatsInfoMap"])]
    assert cleared and ds.kept_events == counts["messagesDelivered"] - len(cleared) + counts["clicksPermitted"]
    times = [e.get("messageTime") or e.get("clickTime") for events in ds.events.values() for e in events]
    start, end = (ds.window_start.strftime("%Y-%m-%dT%H:%M:%S"), ds.window_end.strftime("%Y-%m-%dT%H:%M:%S"))
    assert all(start <= t[:19] < end for t in times)


def test_benchmark_end_to_end_on_200_events(tmp_path, capsys):
    out = tmp_path / "bench.json"
    status = main(["--sizes", str(SIZE), "--no-memory-run", "--json", str(out)])
    printed = capsys.readouterr().out
    assert status == 0, printed
    data = json.loads(out.read_text(encoding="utf-8"))
    result = data["results"][0]
    failed = [c for c in result["checks"] if not c["ok"]]
    assert not failed, failed

    kept_threats = result["dataset"]["kept_threats"]
    ours = result["ours"]
    assert ours["report"]["created"] == kept_threats
    assert ours["state"]["incidents"] == kept_threats
    assert ours["soar_calls"] == ours["emulator_calls"]

    replay = result["replay"]
    assert replay["report"]["created"] == 0
    assert replay["state"] == ours["state"]  # no incident, artifact, row or note added

    baseline = result["baseline"]
    assert not baseline["extrapolated"]
    assert baseline["report"]["incidents"] == kept_threats
    assert ours["soar_calls"] < baseline["soar_calls"]
    assert "Targets" in printed and "calls ratio" in printed


# ------------------------------------------------------------------------------------------- the stream

STREAM = ["--events", "400", "--hours", "4"]


def test_stream_dataset_is_deterministic_and_delivered_as_tap_delivers_it():
    from datetime import UTC, datetime, timedelta

    from bench.stream.dataset import LATE, MAX_LAG, VERDICT_MARGIN
    from bench.stream.dataset import generate as stream

    start = datetime(2025, 3, 3, tzinfo=UTC)
    ds = stream(2000, hours=6, seed=3, start=start)
    again = stream(2000, hours=6, seed=3, start=start)
    assert [e.raw for e in ds.events] == [e.raw for e in again.events] and ds.changes == again.changes
    assert len(ds.events) == 2000 and len(ds.kept_threats) == 20
    assert all(start <= e.created < ds.end and timedelta(0) < e.lag <= MAX_LAG for e in ds.events)
    assert [e.visible for e in ds.events] == sorted(e.visible for e in ds.events)
    assert ds.late_events() and all(e.lag >= LATE for e in ds.late_events())
    assert ds.closes and ds.closes.isdisjoint(ds.cleared_later)
    for change in ds.changes:  # every event of a changed threat was visible long before the change
        mine = [e for e in ds.events if f"threat:{change.threat_id}" in e.kept_for]
        assert mine and max(e.visible for e in mine) + VERDICT_MARGIN <= change.at
    condemned_later = [e for e in ds.events if e.created > datetime.fromisoformat(
        (e.raw.get("messageTime") or e.raw["clickTime"]).replace("Z", "+00:00"))]
    assert condemned_later  # some messages appear only when their threat is identified, with their old time


def test_stream_expectation_is_exact_unless_a_verdict_comes_within_the_settle_horizon():
    """At the defaults every count is exact; at a long settle interval a verdict may re-date a threat's events
    before the settle pass reads them, and its counts are then bounded, from the events created a horizon
    before the verdict to all of them."""
    from datetime import UTC, datetime, timedelta

    from bench.stack import TAP_PRINCIPAL, TAP_SECRET
    from bench.stream.dataset import generate as stream
    from bench.stream.production import app_options, settle_horizon

    def horizon(**settings: str) -> timedelta:
        return settle_horizon(app_options("http://127.0.0.1:1", TAP_PRINCIPAL, TAP_SECRET, settings), 5.0)

    assert horizon() == timedelta(minutes=30 + 60)
    assert horizon(ingest_settle_minutes="360") == timedelta(minutes=30 + 360)
    assert horizon(ingest_settle_minutes="62") == timedelta(minutes=30 + 65)  # the next run after the interval
    assert horizon(ingest_settle_minutes="0") == horizon(ingest_fresh_pass="false") == timedelta(minutes=35)

    ds = stream(2000, hours=6, seed=3, start=datetime(2025, 3, 3, tzinfo=UTC))
    exact = ds.expectation(horizon())
    assert {k: (e.events, e.recipients) for k, e in exact.items()} == {
        k: ((n, n), (r, r)) for k, (n, r) in ds.expected_counts.items()}
    assert all(e.exact and e.must_exist and e.holds(*ds.expected_counts[k]) for k, e in exact.items())
    late = ds.expectation(timedelta(hours=6))
    changed = {f"threat:{c.threat_id}": c.at for c in ds.changes}
    assert changed and {k for k, e in late.items() if not e.exact} == set(changed)
    for key, e in late.items():
        n, r = ds.expected_counts[key]
        assert e.events[1] == n and e.recipients[1] == r and e.holds(n, r)
        if key in changed:
            sure = [ev for ev in ds.events if key in ev.kept_for and ev.created + timedelta(hours=6) < changed[key]]
            assert e.events[0] == len(sure) < n and not e.holds(n + 1, r) and not e.holds(len(sure) - 1, r)


def _stream(tmp_path: Any, capsys: Any, *args: str) -> tuple[int, str, dict[str, Any]]:
    from bench.stream.__main__ import main as stream_main

    out = tmp_path / "stream.json"
    status = stream_main([*args, "--json", str(out)])
    return status, capsys.readouterr().out, json.loads(out.read_text(encoding="utf-8"))


def test_stream_benchmark_end_to_end_tiny(tmp_path, capsys):
    """Four simulated hours at the default schedule, through the production path, with the baseline."""
    status, printed, data = _stream(tmp_path, capsys, *STREAM)
    failed = [c for c in data["checks"] if not c["ok"]]
    assert status == 0 and not failed, (failed, printed)
    assert {c["name"] for c in data["checks"] if c["group"] == "batch"} >= {
        "same incidents as one batch run over the same span", "same event and recipient counts as the batch run",
        "same number of event rows as the batch run", "same number of artifacts as the batch run (the caps hold "
        "for the incident)"}

    fig, ds, sched = data["figures"], data["dataset"], data["schedule"]
    assert sched["source"] == "app.config defaults"  # the built-in scheduler's intervals, not the bench's
    span = 4 * 60 + 30 + 60  # the hours plus the tail (overlap + 60 min)
    assert fig["runs"]["ingest"] == span // sched["ingest_minutes"]
    assert fig["runs"]["sweep"] == fig["sweeps"]["count"] == span // sched["sync_minutes"]
    assert set(fig["statuses"]) <= {"completed", "nothing to do"}
    # calls: every one the app counted was served, summed by kind, and far fewer than the baseline's
    assert fig["soar_calls"] == sum(fig["soar_by_kind"].values()) == fig["soar_calls_ingest"] + fig[
        "soar_calls_sweep"] > 0
    base = fig["baseline"]
    assert base["soar_calls"] == base["soar_calls_counted"] and base["events_done"] == ds["kept_events"]
    assert base["soar_calls"] > fig["soar_calls"] and fig["ratio"] == base["soar_calls"] / fig["soar_calls"]
    assert base["by_kind"]["POST incident query"] == ds["kept_events"]  # one search per event
    # TAP: every kept event found, each read at most twice unless its verdict changed (fresh + settle pass)
    reads = fig["kept_reads"]
    assert reads["never"] == 0 and 1.0 < reads["steady_mean"] <= 2.0 and reads["max"] <= 3
    assert fig["siem_events"] >= fig["kept_events"] == ds["kept_events"]
    assert fig["tap_pools"]["siem"] >= fig["runs"]["ingest"]  # at least one SIEM call per run
    # incidents: one per kept threat (as the batch run), bounded children, at most one note per run
    assert fig["incidents"]["count"] == fig["batch"]["incidents"]["count"] == ds["kept_threats"]
    for block in ("notes", "artifacts", "rows"):
        assert set(fig["incidents"][block]) == {"mean", "max", "total"}
    assert fig["incidents"]["rows"]["max"] <= 5 and fig["notes_per_run"]["ingest"]["max"] == 1
    # idle runs cost the same few calls whatever the number of incidents; no event re-read
    probes = fig["probes"]
    assert len(probes) >= 3 and len({p["soar_calls"] for p in probes}) == 1 and probes[0]["soar_calls"] <= 4
    assert all(p["siem_events"] == 0 for p in probes) and probes[-1]["incidents"] == ds["kept_threats"]
    # the false positives were closed, by the run after the verdict
    close = fig["verdict_to_close"]
    assert close["closed"] == ds["false_positives"] > 0 and close["max_min"] <= sched["ingest_minutes"] + 2
    assert fig["floor_cpu_s"] > 0 and fig["app_cpu_ingest_s"] > fig["floor_cpu_s"]
    assert fig["tracemalloc_peak_mb"] > 0 and fig["max_rss_mb"] > 0
    assert len(data["targets"]) == 9 and all(t["detail"] for t in data["targets"])
    assert "Targets (issue 14" in printed and "naive per-event baseline" in printed


def test_stream_without_the_fresh_pass_reads_each_event_once(tmp_path, capsys):
    status, printed, data = _stream(tmp_path, capsys, "--events", "200", "--hours", "1", "--no-baseline",
                                    "--no-memory-run", "--set", "ingest_fresh_pass=false")
    assert status == 0, printed
    assert data["settings"] == {"ingest_fresh_pass": "false"}
    reads = data["figures"]["kept_reads"]
    assert reads["never"] == 0 and reads["steady_mean"] == 1.0
    assert "except ingest_fresh_pass = false" in printed
