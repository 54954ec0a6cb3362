"""TapClient against requests_mock (HTTP behaviour) — real-socket failures are in test_client_network.py."""

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import requests_mock as rm
from resilient_lib import RequestsCommon

from fn_pp_tap_functions.errors import (
    ConfigError,
    InputError,
    TapAppError,
    TapAuthError,
    TapBadRequestError,
    TapError,
    TapNotFoundError,
    TapRateLimitError,
    TapResponseError,
    TapUnavailableError,
)
from fn_pp_tap_functions.tap.client import SiemEndpoint, TapClient
from fn_pp_tap_functions.tap.pools import Pool
from fn_pp_tap_functions.tap.windows import Window

BASE = "https://tap.test"
NOW = datetime(2024, 10, 11, 15, 0, tzinfo=UTC)
WINDOW = Window(NOW - timedelta(hours=2), NOW - timedelta(hours=1))
SECRET = "S3cr3t-Zq9-never-show-me"
PRINCIPAL = "principal-7f3a"
TID = "2d8367310dc9a70341f04d39f18261641eb403c019bedbf288203d17647053cf"
CID = "aa9b3d62-4d72-4ebc-8f39-3da3833e7038"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(sleeps) -> TapClient:
    return TapClient(BASE, PRINCIPAL, SECRET, sleep=sleeps, clock=lambda: NOW)


@pytest.fixture
def mock():
    with rm.Mocker() as m:
        yield m


def _query(request) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query, keep_blank_values=True)


def _assert_no_secret(err: BaseException, caplog=None) -> None:
    for text in (str(err), repr(err), " ".join(map(str, err.args))):
        assert SECRET not in text
    if caplog is not None:
        assert SECRET not in caplog.text


# ------------------------------------------------------------------------------------------- SIEM


@pytest.mark.parametrize(
    "endpoint,path,pool",
    [
        ("all", "/v2/siem/all", Pool.SIEM),
        ("issues", "/v2/siem/issues", Pool.SIEM),
        ("clicks/blocked", "/v2/siem/clicks/blocked", Pool.SIEM),
        ("clicks_permitted", "/v2/siem/clicks/permitted", Pool.SIEM_CLICKS_PERMITTED),
        ("messagesBlocked", "/v2/siem/messages/blocked", Pool.SIEM),
        (SiemEndpoint.MESSAGES_DELIVERED, "/v2/siem/messages/delivered", Pool.SIEM),
    ],
)
def test_siem_all_six_endpoints_pool_and_format_json(client, mock, endpoint, path, pool):
    mock.get(BASE + path, json={"queryEndTime": "2024-10-11T14:00:00Z", "messagesDelivered": []})
    result = client.siem(endpoint, WINDOW)
    assert result.pool is pool and result.endpoint.path == path and result.window == WINDOW
    assert result.query_end_time == datetime(2024, 10, 11, 14, tzinfo=UTC)
    query = _query(mock.last_request)
    assert query["format"] == ["json"]
    assert query["interval"] == ["2024-10-11T13:00:00Z/2024-10-11T14:00:00Z"]
    assert client.calls == {pool.value: 1}
    assert mock.last_request.headers["Authorization"].startswith("Basic ")


def test_siem_repeated_filters(client, mock):
    mock.get(BASE + "/v2/siem/all", json={})
    client.siem(
        "all",
        (WINDOW.start, WINDOW.end),
        threat_types=["url", "attachment", "messageText"],
        threat_statuses=["active", "cleared", "falsepositive"],
    )
    query = _query(mock.last_request)
    assert query["threatType"] == ["url", "attachment", "messageText"]
    assert query["threatStatus"] == ["active", "cleared", "falsePositive"]
    assert query["format"] == ["json"]


def test_siem_events_and_empty_204(client, mock, load_ndjson):
    item = load_ndjson("elastic_test-clicks-blocked.ndjson")[0]
    mock.get(BASE + "/v2/siem/clicks/blocked", json={"clicksBlocked": [item], "queryEndTime": "2024-10-11T14:00:00Z"})
    events = client.siem("clicks/blocked", "2024-10-11T13:00:00Z/2024-10-11T14:00:00Z").events()
    assert [e.event_id for e in events] == [item["id"]]
    mock.get(BASE + "/v2/siem/all", status_code=204)
    empty = client.siem("all", WINDOW)
    assert empty.events() == [] and empty.query_end_time is None


@pytest.mark.parametrize(
    "window,match",
    [
        (Window(NOW - timedelta(hours=2), NOW - timedelta(minutes=59)), "at most 1 h"),
        (Window(NOW - timedelta(hours=1), NOW - timedelta(hours=1) + timedelta(seconds=29)), "at least 30 s"),
        (Window(NOW - timedelta(minutes=30), NOW + timedelta(minutes=1)), "not yet past"),
        (Window(NOW - timedelta(days=8), NOW - timedelta(days=8) + timedelta(hours=1)), "7 days"),
        ((datetime(2024, 10, 11, 13), datetime(2024, 10, 11, 14)), "no time zone"),
    ],
)
def test_siem_bad_windows_make_no_call(client, mock, window, match):
    with pytest.raises(InputError, match=match):
        client.siem("all", window)
    assert mock.call_count == 0 and client.calls == {}


def test_siem_bad_endpoint_and_filter_make_no_call(client, mock):
    with pytest.raises(InputError, match="Unknown SIEM endpoint"):
        client.siem("everything", WINDOW)
    with pytest.raises(InputError):
        client.siem("all", WINDOW, threat_statuses=["deleted"])
    assert mock.call_count == 0


def test_siem_syslog_body_is_a_response_error(client, mock):
    mock.get(BASE + "/v2/siem/all", text="<14>Oct 11 14:00:00 tap: clicksBlocked ...")
    with pytest.raises(TapResponseError, match="not JSON"):
        client.siem("all", WINDOW)
    mock.get(BASE + "/v2/siem/all", json=[1, 2])
    with pytest.raises(TapResponseError, match="not an object"):
        client.siem("all", WINDOW)


# ------------------------------------------------------------------------------------------ other APIs


def test_every_other_api_path_params_and_pool(client, mock, load_json):
    mock.get(BASE + f"/v2/threat/summary/{TID}", json=load_json("ibm_cp4s_car_threat_summary_cleared.json"))
    mock.get(BASE + f"/v2/campaign/{CID}", json=load_json("demisto_campaign_information.json"))
    mock.get(BASE + "/v2/campaign/ids", json=load_json("demisto_campaign_ids.json"))
    mock.get(BASE + "/v2/forensics", json=load_json("rapid7_forensics_example.json"))
    mock.get(BASE + "/v2/people/vap", json=load_json("demisto_most_attacked_users.json"))
    mock.get(BASE + "/v2/people/top-clickers", json=load_json("demisto_top_clickers.json"))
    mock.post(BASE + "/v2/url/decode", json=load_json("demisto_url_decode.json"))

    assert client.threat_summary(TID)["status"] == "cleared"
    assert client.campaign(CID)["id"] == CID
    assert len(client.campaign_ids((NOW - timedelta(days=1), NOW), page=2, size=50)["campaigns"]) == 2
    assert _query(mock.last_request) == {
        "interval": ["2024-10-10T15:00:00Z/2024-10-11T15:00:00Z"],
        "page": ["2"],
        "size": ["50"],
    }
    client.forensics(threat_id=TID, include_campaign_forensics=True)
    assert _query(mock.last_request) == {"threatId": [TID], "includeCampaignForensics": ["true"]}
    client.forensics(campaign_id=CID)
    assert _query(mock.last_request) == {"campaignId": [CID]}
    client.people_vap(window=90, size=10, page=1)
    assert _query(mock.last_request) == {"window": ["90"], "size": ["10"], "page": ["1"]}
    client.people_top_clickers(window=14, size=200)
    assert _query(mock.last_request) == {"window": ["14"], "size": ["200"]}
    client.decode_urls(["https://urldefense.com/v3/__https://x.example__;!!a$"])
    assert mock.last_request.json() == {"urls": ["https://urldefense.com/v3/__https://x.example__;!!a$"]}
    assert client.calls == {
        "threat": 1,
        "campaign": 1,
        "campaign_ids": 1,
        "forensics": 2,
        "people_vap": 1,
        "people_top_clickers": 1,
        "url_decoder": 1,
    }
    assert client.total_calls == 8


def test_input_errors_make_no_call(client, mock):
    calls = [
        lambda: client.threat_summary("../../v2/people/vap"),
        lambda: client.campaign("not-a-uuid"),
        lambda: client.campaign_ids((NOW - timedelta(days=2), NOW)),
        lambda: client.forensics(),
        lambda: client.forensics(threat_id=TID, campaign_id=CID),
        lambda: client.forensics(campaign_id=CID, include_campaign_forensics=True),
        lambda: client.people_vap(window=7),
        lambda: client.people_top_clickers(size=201),
        lambda: client.decode_urls([]),
        lambda: client.decode_urls(["file:///etc/passwd"]),
    ]
    for call in calls:
        with pytest.raises(InputError):
            call()
    assert mock.call_count == 0 and client.calls == {}


# ----------------------------------------------------------------------------------------- error mapping


def test_401_names_credentials_not_secret(client, mock, caplog):
    caplog.set_level(logging.DEBUG)
    mock.get(BASE + "/v2/siem/all", status_code=401, text=f"bad credentials for {PRINCIPAL}:{SECRET}")
    with pytest.raises(TapAuthError) as err:
        client.siem("all", WINDOW)
    message = str(err.value)
    assert "rejected the service principal/secret" in message and "[fn_pp_tap_functions]" in message
    assert err.value.status == 401 and err.value.endpoint == "/v2/siem/all"
    _assert_no_secret(err.value, caplog)


def test_403_is_an_auth_error_about_permission(client, mock):
    mock.get(BASE + "/v2/forensics", status_code=403)
    with pytest.raises(TapAuthError, match="not allowed to use this API"):
        client.forensics(threat_id=TID)


def test_404_threat_campaign_campaigns_forensics(client, mock):
    mock.get(BASE + f"/v2/threat/summary/{TID}", status_code=404, text="threatId not found")
    with pytest.raises(TapNotFoundError, match=f"Threat {TID} not found in TAP") as err:
        client.threat_summary(TID)
    assert (err.value.what, err.value.ident) == ("threat", TID)
    mock.get(BASE + f"/v2/campaign/{CID}", status_code=404)
    with pytest.raises(TapNotFoundError, match=f"Campaign {CID} not found in TAP"):
        client.campaign(CID)
    mock.get(BASE + "/v2/campaign/ids", status_code=404)
    with pytest.raises(TapNotFoundError, match="No campaigns in 2024-10-11T14:00:00Z/2024-10-11T15:00:00Z") as err:
        client.campaign_ids("2024-10-11T14:00:00Z/2024-10-11T15:00:00Z")
    assert err.value.what == "campaigns"
    mock.get(BASE + "/v2/forensics", status_code=404)
    with pytest.raises(TapNotFoundError, match=f"No forensics for campaign {CID}"):
        client.forensics(campaign_id=CID)


def test_400_carries_taps_text(client, mock):
    text = "The requested interval is too short. Requests must be for at least 30.00s of data"
    mock.get(BASE + "/v2/siem/all", status_code=400, text=text)
    with pytest.raises(TapBadRequestError) as err:
        client.siem("all", WINDOW)
    assert text in str(err.value) and err.value.tap_text == text


def test_400_echoing_the_secret_is_scrubbed(client, mock, caplog):
    mock.get(BASE + "/v2/siem/all", status_code=400, text=f"bad auth header {SECRET}")
    with pytest.raises(TapBadRequestError) as err:
        client.siem("all", WINDOW)
    assert "[redacted]" in str(err.value)
    _assert_no_secret(err.value, caplog)


def test_429_names_pool_and_when_it_frees(client, mock, sleeps):
    body = "The user has made too many requests over the past 24 hours and has been throttled."
    mock.get(BASE + "/v2/siem/clicks/permitted", status_code=429, text=body, headers={"Retry-After": "3720"})
    with pytest.raises(TapRateLimitError) as err:
        client.siem("clicks/permitted", WINDOW)
    e = err.value
    assert e.pool == "siem_clicks_permitted" and e.retry_after == 3720
    assert e.frees_at == NOW + timedelta(seconds=3720)
    assert "SIEM clicks/permitted" in str(e) and "1 h 2 min" in str(e) and "2024-10-11T16:02:00Z" in str(e)
    assert e.tap_text == body
    assert sleeps == [] and mock.call_count == 1  # a 429 is never retried


def test_429_with_http_date_and_without_hint(client, mock):
    mock.get(BASE + "/v2/people/vap", status_code=429, headers={"Retry-After": "Fri, 11 Oct 2024 15:30:00 GMT"})
    with pytest.raises(TapRateLimitError) as err:
        client.people_vap()
    assert err.value.pool == "people_vap" and err.value.retry_after == 1800
    assert "Very Attacked People" in str(err.value)
    mock.get(BASE + "/v2/campaign/ids", status_code=429)
    with pytest.raises(TapRateLimitError) as err:
        client.campaign_ids((NOW - timedelta(hours=1), NOW))
    assert err.value.retry_after is None and "did not say when it frees" in str(err.value)
    assert "Campaign IDs" in str(err.value)


def test_500_retried_then_succeeds(client, mock, sleeps):
    mock.get(
        BASE + "/v2/siem/all",
        [{"status_code": 500}, {"status_code": 503}, {"json": {"queryEndTime": "2024-10-11T14:00:00Z"}}],
    )
    result = client.siem("all", WINDOW)
    assert result.query_end_time is not None
    assert sleeps == [1.0, 2.0]  # exponential backoff
    assert client.calls == {"siem": 3}  # retries spend quota and are counted


def test_500_exhausted_is_unavailable_not_retry_limit(client, mock, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    mock.get(BASE + "/v2/threat/summary/" + TID, status_code=502, text="Bad Gateway")
    with pytest.raises(TapUnavailableError) as err:
        client.threat_summary(TID)
    message = str(err.value)
    assert "Retry limit exceeded" not in message and "Retry limit exceeded" not in caplog.text
    assert "4 time(s) with a server error (HTTP 502)" in message and "try again later" in message
    assert err.value.attempts == 4 and err.value.last_status == 502
    assert sleeps == [1.0, 2.0, 4.0] and mock.call_count == 4
    _assert_no_secret(err.value, caplog)


def test_retry_after_on_503_stretches_backoff_up_to_cap(mock):
    sleeps = Sleeps()
    client = TapClient(BASE, PRINCIPAL, SECRET, retries=2, sleep=sleeps, max_backoff=10, clock=lambda: NOW)
    mock.get(BASE + "/v2/siem/all", status_code=503, headers={"Retry-After": "5"})
    with pytest.raises(TapUnavailableError):
        client.siem("all", WINDOW)
    assert sleeps == [5.0, 5.0]
    mock.get(BASE + "/v2/siem/all", status_code=503, headers={"Retry-After": "600"})
    sleeps.clear()
    with pytest.raises(TapUnavailableError):
        client.siem("all", WINDOW)
    assert sleeps == [10, 10]


def test_timeouts_retried_then_unavailable(client, mock, sleeps):
    mock.get(BASE + "/v2/siem/all", exc=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(TapUnavailableError) as err:
        client.siem("all", WINDOW)
    assert "timed out 4 time(s)" in str(err.value) and err.value.timeouts == 4
    assert len(sleeps) == 3


def test_timeout_then_success(client, mock, sleeps):
    mock.get(
        BASE + "/v2/siem/all",
        [{"exc": requests.exceptions.ConnectTimeout("connect timed out")}, {"json": {}}],
    )
    assert client.siem("all", WINDOW).events() == []
    assert sleeps == [1.0]


def test_unexpected_status(client, mock):
    mock.get(BASE + "/v2/siem/all", status_code=418, text="teapot")
    with pytest.raises(TapError, match="HTTP 418") as err:
        client.siem("all", WINDOW)
    assert type(err.value) is TapError


def test_every_error_is_a_tap_app_error(client, mock):
    mock.get(BASE + "/v2/siem/all", status_code=500)
    with pytest.raises(TapAppError):
        client.siem("all", WINDOW)


# --------------------------------------------------------------------------------------- construction


def test_construction_and_config_errors(tmp_path):
    client = TapClient("http://127.0.0.1:8080/", "p", "s")
    assert client.base_url == "http://127.0.0.1:8080" and client.verify is True and client.timeout == 30
    assert SECRET not in repr(TapClient(BASE, PRINCIPAL, SECRET))
    with pytest.raises(ConfigError, match="principal is empty"):
        TapClient(BASE, " ", SECRET)
    with pytest.raises(ConfigError, match="secret is empty"):
        TapClient(BASE, PRINCIPAL, "")
    with pytest.raises(ConfigError, match="does not exist"):
        TapClient(BASE, PRINCIPAL, SECRET, verify=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError) as err:
        TapClient(f"https://{PRINCIPAL}:{SECRET}@tap.test", PRINCIPAL, SECRET)
    _assert_no_secret(err.value)


def test_requests_common_supplies_proxies_verify_timeout(mock):
    rc = RequestsCommon(
        opts={"integrations": {"timeout": "12"}},
        function_opts={"verify": "false", "https_proxy": "http://proxy.test:3128", "http_proxy": ""},
    )
    client = TapClient(BASE, PRINCIPAL, SECRET, rc=rc, clock=lambda: NOW)
    assert client.verify is False and client.timeout == 12
    mock.get(BASE + "/v2/siem/all", json={})
    client.siem("all", WINDOW)
    request = mock.last_request
    assert request.timeout == 12 and request.verify is False
    assert request.proxies.get("https") == "http://proxy.test:3128"
    # explicit arguments win over app.config
    explicit = TapClient(BASE, PRINCIPAL, SECRET, rc=rc, verify=True, timeout=5)
    assert explicit.verify is True and explicit.timeout == 5


def test_check_credentials_spends_no_rate_limited_quota(client, mock):
    mock.get(rm.ANY, status_code=404)
    client.check_credentials()
    assert client.calls == {"threat": 1}
    mock.get(rm.ANY, status_code=401)
    with pytest.raises(TapAuthError):
        client.check_credentials()
