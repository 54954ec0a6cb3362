"""The TAP client against the TAP simulator over real HTTP: what the rest of the app relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fn_pp_tap_functions.errors import TapAuthError, TapBadRequestError, TapNotFoundError, TapRateLimitError
from fn_pp_tap_functions.tap.client import TapClient
from fn_pp_tap_functions.tap.threats import Campaign, ThreatSummary
from fn_pp_tap_functions.tap.windows import plan_windows
from sim.tap import TapSimulator

THREAT = "002d63a80de7ad0125703ee36b2ca7a836f60eff3b46b3399168ea24ce6550d7"
CAMPAIGN = "5d7e1f0a-8c3b-4e62-9a1d-2f6b8c4e7a90"


@pytest.fixture(scope="module")
def sim():
    with TapSimulator() as simulator:
        yield simulator


@pytest.fixture
def client(sim):
    sim.reset_stats(rate_windows=True)
    sim.set_limits(siem=1800, siem_clicks_permitted=1800, threat_summary=None)
    return TapClient(sim.base_url, "sim-principal", "sim-secret", retries=0)


def test_a_day_of_siem_windows_yields_the_default_scenario(client):
    now = datetime.now(UTC)
    plan = plan_windows(now - timedelta(hours=30), now=now)
    events = []
    for window in plan:
        events += client.siem("all", window).events()
    types = {e.event_type for e in events}
    assert {"messagesDelivered", "messagesBlocked", "clicksPermitted", "clicksBlocked"} <= types
    assert any(e.is_skeleton for e in events)  # the retro-condemned message
    assert len({e.key for e in events}) == len(events)
    assert client.calls["siem"] == len(plan)


def test_false_positives_only_when_asked(client):
    now = datetime.now(UTC)
    plan = plan_windows(now - timedelta(hours=30), now=now)
    default = [e for w in plan for e in client.siem("messages/delivered", w).events()]
    asked = [e for w in plan for e in client.siem("messages/delivered", w,
                                                   threat_statuses=("falsePositive",)).events()]
    assert "falsePositive" not in {s for e in default for s in e.statuses}
    assert asked and all("falsePositive" in e.statuses for e in asked)


def test_threat_and_campaign_summaries_normalise(client):
    threat = ThreatSummary.from_api(client.threat_summary(THREAT))
    assert (threat.status, threat.category, threat.severity_score) == ("active", "phish", 820)
    campaign = Campaign.from_api(client.campaign(CAMPAIGN))
    assert sum(campaign.counts_by_status().values()) == len(campaign.members) == 4


def test_errors_name_the_cause(sim, client):
    with pytest.raises(TapNotFoundError, match="not found in TAP"):
        client.threat_summary("0" * 64)
    with pytest.raises(TapAuthError, match="principal/secret"):
        TapClient(sim.base_url, "sim-principal", "wrong", retries=0).threat_summary(THREAT)
    sim.set_limits(siem=0)
    now = datetime.now(UTC)
    with pytest.raises(TapRateLimitError) as err:
        client.siem("all", (now - timedelta(hours=1), now - timedelta(minutes=5)))
    assert err.value.pool == "siem"
    # clicks/permitted is a pool of its own
    client.siem("clicks/permitted", (now - timedelta(hours=1), now - timedelta(minutes=5)))


def test_tap_s_own_400_text_reaches_the_user(sim, client):
    # the client refuses bad windows itself; send one the client allows but TAP refuses (sim made stricter)
    sim.inject_fault(r"^/v2/siem/", 400, times=1, body="The requested interval is too short. Requests must be for "
                                                       "at least 30.00s of data")
    now = datetime.now(UTC)
    with pytest.raises(TapBadRequestError, match="too short"):
        client.siem("all", (now - timedelta(hours=1), now - timedelta(minutes=5)))
