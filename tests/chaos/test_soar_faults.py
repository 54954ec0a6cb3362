"""SOAR faults before, during and after each kind of write, in process: then runs until one completes, and
SOAR's whole state must be the scenario's truth (0 lost, 0 duplicated, exact counts).

* before: the write fails with a 500 and does not land;
* during: the write LANDS, then the client gets a 504 (a gateway that gave up on a slow SOAR; the client
  cannot know the write is there);
* after: the write lands and succeeds, and SOAR fails the request that comes next (down between two calls).

The k-th write of each kind is hit (``after`` lets the first ones through), in the run that follows a
baseline run, so creates and updates of open incidents both happen in it.
"""

from __future__ import annotations

import threading
import time

import pytest
import truth
from inprocess import LEASE_S, reference, run, settle, tap, wave2

TIMINGS = {
    "before": {"status": 500},
    "during": {"status": 504, "apply": True},
    "after": {"status": 503, "next": True},
}


def test_the_reference_run_is_itself_exact(soar, cases, make_tap, control):
    truth.check(truth.compare("no fault (reference)", reference(soar, cases, make_tap, control), None))


@pytest.mark.parametrize("timing", list(TIMINGS))
@pytest.mark.parametrize("kind", list(truth.WRITES))
def test_a_soar_fault_at_each_kind_of_write_loses_nothing_and_duplicates_nothing(soar, cases, make_tap, control,
                                                                                 kind, timing):
    expected = reference(soar, cases, make_tap, control)
    sim = tap(make_tap)
    assert run(cases, sim, control) == "completed"
    wave2(sim)
    method, path, after = truth.WRITES[kind]
    soar.add_fault(method, path.format(control=control["id"]), times=1, after=after, **TIMINGS[timing])
    faulted = run(cases, sim, control)
    fired = sum(f["fired"] for f in soar.faults.items)
    soar.clear_faults()
    assert fired == 1, f"the {kind} fault never fired (the run ended {faulted})"
    runs = truth.until_completed(lambda: run(cases, sim, control), lease_s=LEASE_S)
    runs += settle(cases, sim, control)
    truth.check(truth.compare(f"SOAR {timing} {kind}", truth.read_state(soar.client()), expected, runs=runs))


def test_a_second_writer_changing_an_incident_before_the_bookkeeping_patch_keeps_counts_exact(soar, cases, make_tap,
                                                                                              control):
    """The PATCH meets SOAR's old_value check (409) because another writer changed the incident meanwhile; the
    re-planned PATCH must still give the exact counts (finding 2's "a 409 re-plan drops the increment")."""
    expected = reference(soar, cases, make_tap, control)
    sim = tap(make_tap)
    assert run(cases, sim, control) == "completed"
    wave2(sim)
    method, path, _after = truth.WRITES["incident PATCH"]
    soar.add_fault(method, path.format(control=control["id"]), times=1, hang_seconds=1.5)
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(run(cases, sim, control)))
    worker.start()
    deadline = time.monotonic() + 30
    while soar.faults.fired() < 1:
        assert time.monotonic() < deadline, "the incident PATCH never came"
        time.sleep(0.02)
    client = soar.client()
    for group in truth.read_state(client).values():  # another writer touches every TAP incident meanwhile
        for seen in group:
            incident = client.get(f"/incidents/{seen.id}")
            props = dict(incident["properties"], pp_tap_last_seen=(incident["properties"].get("pp_tap_last_seen")
                                                                   or 0) + 1)
            client.put(f"/incidents/{seen.id}", dict(incident, properties=props), expect=(200, 204))
    worker.join(60)
    soar.clear_faults()
    runs = truth.until_completed(lambda: run(cases, sim, control), lease_s=LEASE_S)
    runs += settle(cases, sim, control)
    truth.check(truth.compare("a second writer before the PATCH (409, re-plan)", truth.read_state(client), expected,
                              runs=runs + 1))
