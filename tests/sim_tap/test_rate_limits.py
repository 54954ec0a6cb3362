"""Rolling 24 h rate pools: the two SIEM pools are independent, 429 text is exact, windows age out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests

from sim.tap import TapSimulator
from tests.sim_tap.helpers import AUTH, T0, FakeClock, build_scenario

THROTTLED = "The user has made too many requests over the past 24 hours and has been throttled."


@pytest.fixture
def limited() -> Iterator[tuple[TapSimulator, FakeClock]]:
    clock = FakeClock(T0)
    limits = {"siem": 3, "siem_clicks_permitted": 2, "campaign_ids": 1, "people_vap": 1, "people_top_clickers": 1,
              "url_decode": 1}
    with TapSimulator(build_scenario(), clock=clock, limits=limits) as sim:
        yield sim, clock


def _get(sim: TapSimulator, path: str, **params: str) -> requests.Response:
    return requests.get(sim.base_url + path, params=params, auth=AUTH, timeout=5)


def test_siem_pools_are_independent(limited):
    sim, _ = limited
    for path in ("/v2/siem/all", "/v2/siem/issues", "/v2/siem/messages/blocked"):
        assert _get(sim, path, sinceSeconds="600", format="json").status_code == 200
    throttled = _get(sim, "/v2/siem/clicks/blocked", sinceSeconds="600", format="json")
    assert throttled.status_code == 429
    assert throttled.text == THROTTLED
    assert "Retry-After" not in throttled.headers
    # clicks/permitted has its own pool and is still open ...
    assert _get(sim, "/v2/siem/clicks/permitted", sinceSeconds="600", format="json").status_code == 200
    assert _get(sim, "/v2/siem/clicks/permitted", sinceSeconds="600", format="json").status_code == 200
    assert _get(sim, "/v2/siem/clicks/permitted", sinceSeconds="600", format="json").status_code == 429
    # ... and exhausting it does not touch the other pools
    assert _get(sim, "/v2/threat/summary/" + "a" * 64).status_code == 200
    pools = sim.stats()["pools"]
    assert pools["siem"]["count"] == 4 and pools["siem"]["throttled"] == 1
    assert pools["siem_clicks_permitted"]["count"] == 3 and pools["siem_clicks_permitted"]["throttled"] == 1
    assert sim.stats()["endpoints"]["/v2/siem/clicks/permitted"] == 3


def test_rejected_and_bad_requests_count_and_window_rolls(limited):
    sim, clock = limited
    assert _get(sim, "/v2/siem/all", sinceSeconds="5", format="json").status_code == 400  # charged anyway
    assert _get(sim, "/v2/siem/all", sinceSeconds="600", format="json").status_code == 200
    clock.advance(hours=12)
    assert _get(sim, "/v2/siem/all", sinceSeconds="600", format="json").status_code == 200
    assert _get(sim, "/v2/siem/all", sinceSeconds="600", format="json").status_code == 429
    clock.advance(hours=12, seconds=1)  # the first two requests have aged out; the 429 still counts
    assert _get(sim, "/v2/siem/all", sinceSeconds="600", format="json").status_code == 200
    assert _get(sim, "/v2/siem/all", sinceSeconds="600", format="json").status_code == 429
    assert sim.stats()["pools"]["siem"]["inWindow"] == 4


def test_unauthenticated_calls_are_not_charged(limited):
    sim, _ = limited
    assert requests.get(sim.base_url + "/v2/siem/all", params={"sinceSeconds": "600"}, timeout=5).status_code == 401
    assert sim.stats()["pools"]["siem"]["count"] == 0


def test_campaign_people_and_decoder_pools(limited):
    sim, _ = limited
    window = f"{(T0 - timedelta(hours=12)).isoformat()}/{T0.isoformat()}"
    assert _get(sim, "/v2/campaign/ids", interval=window).status_code == 200
    assert _get(sim, "/v2/campaign/ids", interval=window).status_code == 429
    assert _get(sim, "/v2/people/vap", window="14").status_code == 200
    assert _get(sim, "/v2/people/vap", window="14").status_code == 429
    assert _get(sim, "/v2/people/top-clickers", window="14").status_code == 200  # separate pool
    assert _get(sim, "/v2/people/top-clickers", window="30").status_code == 429
    body = {"urls": ["https://urldefense.proofpoint.com/v1/url?u=http://a.example/&k=x"]}
    assert requests.post(sim.base_url + "/v2/url/decode", json=body, timeout=5).status_code == 200
    assert requests.post(sim.base_url + "/v2/url/decode", json=body, timeout=5).status_code == 429
    # threat summary and campaign details are unthrottled by default
    for _ in range(5):
        assert _get(sim, "/v2/campaign/11111111-aaaa-4bbb-8ccc-000000000001").status_code == 200


def test_limits_can_change_at_runtime_and_reset(limited):
    sim, _ = limited
    sim.set_limits(siem=1)
    assert _get(sim, "/v2/siem/all", sinceSeconds="600", format="json").status_code == 200
    assert _get(sim, "/v2/siem/all", sinceSeconds="600", format="json").status_code == 429
    sim.reset_stats()
    assert sim.stats()["total"] == 0
    assert _get(sim, "/v2/siem/all", sinceSeconds="600", format="json").status_code == 200
    with pytest.raises(ValueError):
        sim.set_limits(nonsense=1)
