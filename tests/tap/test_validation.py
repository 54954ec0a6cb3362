from datetime import UTC, datetime, timedelta

import pytest

from fn_pp_tap_functions.errors import ConfigError, InputError
from fn_pp_tap_functions.tap import validation as v

REAL_THREAT_ID = "2d8367310dc9a70341f04d39f18261641eb403c019bedbf288203d17647053cf"


def _sample_threat_ids(load_ndjson, load_json):
    ids = []
    for name in (
        "elastic_test-clicks-blocked.ndjson",
        "elastic_test-clicks-permitted.ndjson",
        "elastic_test-message-blocked.ndjson",
        "elastic_test-message-delivered.ndjson",
    ):
        for obj in load_ndjson(name):
            if "threatID" in obj:
                ids.append(obj["threatID"])
            ids += [t["threatID"] for t in obj.get("threatsInfoMap") or []]
    ids += [m["id"] for m in load_json("ibm_soar_campaign_with_members.json")["campaignMembers"]]
    ids.append(load_json("ibm_cp4s_car_threat_summary_cleared.json")["id"])
    ids.append(load_json("demisto_threat_summary.json")["id"])
    return ids


def test_every_threat_id_in_the_samples_is_accepted(load_ndjson, load_json):
    ids = _sample_threat_ids(load_ndjson, load_json)
    assert len(ids) > 15
    for tid in ids:
        assert v.validate_threat_id(tid) == tid


def test_every_campaign_id_in_the_samples_is_accepted(load_ndjson, load_json):
    ids = [c["id"] for c in load_json("demisto_campaign_ids.json")["campaigns"]]
    ids.append(load_json("ibm_soar_campaign_with_members.json")["id"])
    ids += [o["campaignId"] for o in load_ndjson("elastic_test-clicks-blocked.ndjson")]
    for cid in ids:
        assert v.validate_campaign_id(cid) == cid


def test_threat_id_is_trimmed():
    assert v.validate_threat_id(f"  {REAL_THREAT_ID}\n") == REAL_THREAT_ID


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "",
        "   ",
        "abc def",
        "abc/def",
        "../summary",
        "..",
        "abc?x=1",
        "abc#frag",
        "abc%2F",
        "abc&d",
        "abc+d",
        "abc.def",
        "22a340fea5cb89908a7576b5e387ce6b296a61a8ac35aac574...",
        "a" * 129,
        "ａｂｃ",  # full-width letters
        123,
    ],
)
def test_threat_id_rejects(bad):
    with pytest.raises(InputError):
        v.validate_threat_id(bad)


@pytest.mark.parametrize(
    "bad", ["", "not-a-uuid", "aa9b3d62-4d72-4ebc-8f39-3da3833e703", "aa9b3d62/4d72-4ebc-8f39-3da3833e7038", "x" * 36]
)
def test_campaign_id_rejects(bad):
    with pytest.raises(InputError):
        v.validate_campaign_id(bad)


def test_windows():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert v.validate_window(start, start + timedelta(minutes=5)) == (start, start + timedelta(minutes=5))
    with pytest.raises(InputError, match="start before it ends"):
        v.validate_window("2024-01-01T00:00:00Z", "2024-01-01T01:00:00+01:00")  # the same instant
    with pytest.raises(InputError, match="start before it ends"):
        v.validate_window(start, start)
    with pytest.raises(InputError, match="no time zone"):
        v.validate_window(datetime(2024, 1, 1), start)
    with pytest.raises(InputError, match="no time zone"):
        v.validate_window("2024-01-01T00:00:00", start + timedelta(hours=1))
    with pytest.raises(InputError, match="not an ISO-8601"):
        v.validate_window("yesterday", start)
    with pytest.raises(InputError, match="at least 30 s"):
        v.validate_window(start, start + timedelta(seconds=29), min_span=timedelta(seconds=30))
    with pytest.raises(InputError, match="at most 1 h"):
        v.validate_window(start, start + timedelta(minutes=61), max_span=timedelta(hours=1))
    with pytest.raises(InputError):
        v.parse_interval_text("2024-01-01T00:00:00Z")


def test_window_in_other_zone_is_converted():
    start, end = v.validate_window("2024-01-01T02:00:00+02:00", "2024-01-01T01:00:00Z")
    assert start == datetime(2024, 1, 1, 0, 0, tzinfo=UTC) and end.tzinfo is UTC


def test_filters():
    assert v.validate_threat_types(["URL", "attachment", "message_text", "url"]) == ("url", "attachment", "messageText")
    assert v.validate_threat_statuses("falsepositive") == ("falsePositive",)
    assert v.validate_threat_statuses(None) == ()
    with pytest.raises(InputError, match="one of"):
        v.validate_threat_statuses(["deleted"])
    with pytest.raises(InputError):
        v.validate_threat_types(["exe"])


def test_people_and_sizes():
    assert v.validate_people_window(14) == 14 and v.validate_people_window("90") == 90
    for bad in (7, 31, "thirty", True, None):
        with pytest.raises(InputError):
            v.validate_people_window(bad)
    assert v.validate_top_clickers_size(200) == 200
    with pytest.raises(InputError, match="at most 200"):
        v.validate_top_clickers_size(201)
    with pytest.raises(InputError):
        v.validate_page(0)
    with pytest.raises(InputError):
        v.validate_size(-1)


def test_urls():
    assert v.validate_urls("https://a.example/x  http://b.example/y\nhttps://a.example/x") == (
        "https://a.example/x",
        "http://b.example/y",
    )
    assert v.validate_urls(["https://urldefense.com/v3/__https://x.example__;!!abc$"])
    for bad in (None, "", [], ["ftp://x.example"], ["javascript:alert(1)"], ["https://"], ["https://x\x00y"]):
        with pytest.raises(InputError):
            v.validate_urls(bad)
    with pytest.raises(InputError, match="at most"):
        v.validate_urls([f"https://x.example/{i}" for i in range(v.MAX_URLS_PER_DECODE + 1)])
    with pytest.raises(InputError, match="characters long"):
        v.validate_urls(["https://x.example/" + "a" * v.MAX_URL_LENGTH])


def test_base_url():
    assert v.validate_base_url("https://tap-api-v2.proofpoint.com/") == "https://tap-api-v2.proofpoint.com"
    assert v.validate_base_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    for bad in ("", None, "tap-api-v2.proofpoint.com", "ftp://x", "https://x?y=1", "https://x:99999"):
        with pytest.raises(ConfigError):
            v.validate_base_url(bad)
    with pytest.raises(ConfigError) as err:
        v.validate_base_url("https://user:hunter2@tap-api-v2.proofpoint.com")
    assert "hunter2" not in str(err.value)
