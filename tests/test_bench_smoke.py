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
