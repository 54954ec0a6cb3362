"""The ingestion benchmark's machinery on a tiny data set: correct results, no timing assertions.

Runs ``python -m bench`` end to end (SOAR emulator processes, the TAP simulator, worker processes, the
naive baseline, the report and the JSON) with 200 events and checks what the benchmark itself checks:
one incident per kept threat, a replay of the window that writes nothing, and fewer SOAR calls than the
per-event baseline. Speed and memory are the benchmark's business, never a test's.
"""

from __future__ import annotations

import json

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

STREAM = ["--events", "300", "--hours", "2"]


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


def test_stream_benchmark_end_to_end_tiny(tmp_path, capsys):
    from bench.stream.__main__ import main as stream_main

    out = tmp_path / "stream.json"
    status = stream_main([*STREAM, "--json", str(out)])
    printed = capsys.readouterr().out
    data = json.loads(out.read_text(encoding="utf-8"))
    checks = data["checks"]
    failed = [c for c in checks if c["group"] == "integrity" and not c["ok"]]
    assert not failed, failed
    # the day == one batch run: evaluated and reported (today's ingestion adds rows per run: see the README)
    assert {c["name"] for c in checks if c["group"] == "batch"} >= {
        "same incidents as one batch run over the same span", "same event rows as the batch run (by event key)",
        "same artifacts as the batch run (type and value)"}
    assert status == (0 if all(c["ok"] for c in checks) else 1), printed

    fig = data["figures"]
    assert fig["runs"]["ingest"] == (2 * 60 + 90) // 5 and fig["runs"]["sweep"] == (2 * 60 + 90) // 30
    assert fig["soar_calls"] == sum(fig["soar_by_kind"].values()) > 0
    assert fig["tap_pools"]["siem"] > 0 and fig["siem_events"] >= fig["kept_events"] == data["dataset"]["kept_events"]
    assert fig["kept_reads"]["never"] == 0 and fig["floor_cpu_s"] > 0 and fig["app_cpu_ingest_s"] > 0
    assert fig["baseline"]["soar_calls"] > 0 and fig["ratio"] > 0
    assert fig["tracemalloc_peak_mb"] > 0 and fig["max_rss_mb"] > 0
    assert len(fig["probes"]) >= 3 and all(p["incidents"] is not None for p in fig["probes"])
    assert fig["sweeps"]["count"] == fig["runs"]["sweep"]
    assert fig["incidents"]["count"] == fig["batch"]["incidents"]["count"] == data["dataset"]["kept_threats"]
    for block in ("notes", "artifacts", "rows"):
        assert set(fig["incidents"][block]) == {"mean", "max", "total"}
    assert len(data["targets"]) == 8 and all(t["detail"] for t in data["targets"])
    assert "Targets (issue 14" in printed and "naive per-event baseline" in printed
