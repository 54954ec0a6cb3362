from datetime import UTC, datetime

import pytest

from fn_pp_tap_functions import errors as e
from fn_pp_tap_functions.tap import coerce


def test_hierarchy():
    for cls in (e.InputError, e.ConfigError, e.TapError, e.SoarError):
        assert issubclass(cls, e.TapAppError)
    for cls in (
        e.TapAuthError,
        e.TapNotFoundError,
        e.TapBadRequestError,
        e.TapRateLimitError,
        e.TapUnavailableError,
        e.TapConnectionError,
        e.TapResponseError,
    ):
        assert issubclass(cls, e.TapError)
    assert issubclass(e.InputError, ValueError)


def test_str_is_the_plain_message():
    err = e.InputError("The threat ID is empty.")
    assert str(err) == "The threat ID is empty." and err.message == str(err)


def test_auth_message():
    err = e.TapAuthError(endpoint="/v2/siem/all")
    assert "rejected the service principal/secret for /v2/siem/all (HTTP 401)" in str(err)
    assert "[fn_pp_tap_functions]" in str(err)


def test_rate_limit_messages():
    err = e.TapRateLimitError(
        pool="siem",
        pool_label="SIEM API",
        retry_after=59,
        frees_at=datetime(2024, 1, 1, 12, 0, 59, tzinfo=UTC),
        endpoint="/v2/siem/all",
    )
    assert err.pool == "siem" and err.retry_after == 59
    assert "SIEM API quota is used up" in str(err) and "59 s" in str(err) and "2024-01-01T12:00:59Z" in str(err)
    assert "rolling 24-hour" in str(e.TapRateLimitError(pool="people_vap"))


def test_unavailable_message_mixes_causes():
    err = e.TapUnavailableError(attempts=4, endpoint="/v2/siem/all", statuses=(500, 503), timeouts=1, last_status=503)
    text = str(err)
    assert "2 time(s) with a server error (HTTP 500, 503)" in text
    assert "timed out 1 time(s)" in text and "dropped the connection 1 time(s)" in text and "4 attempt(s)" in text


def test_bad_request_without_text():
    assert "TAP gave no explanation" in str(e.TapBadRequestError("", endpoint="/v2/siem/all"))


@pytest.mark.parametrize("seconds,text", [(0, "0 s"), (61, "1 min 1 s"), (3600, "1 h"), (3720, "1 h 2 min")])
def test_human_duration(seconds, text):
    assert e._human_duration(seconds) == text


def test_coercion_edges():
    assert coerce.integer("42") == 42 and coerce.integer(42.0) == 42 and coerce.integer(True) is None
    assert coerce.integer("4.5") is None and coerce.integer("1e3") == 1000 and coerce.integer(None) is None
    assert coerce.real("0.0") == 0.0 and coerce.real(float("inf")) is None and coerce.real("x") is None
    assert coerce.boolean("na") is None and coerce.boolean(1) is True and coerce.boolean(0) is False
    assert coerce.boolean("TRUE") is True and coerce.boolean(2) is None
    assert coerce.texts(None) == () and coerce.texts("a") == ("a",) and coerce.texts(["a", "", None, 3]) == ("a", "3")
    assert coerce.text("  ") is None and coerce.text(" x ") == " x "  # verbatim, not trimmed
    assert coerce.refs([{"id": 1, "name": "TA505"}, {"id": 2}, "X", {}]) == (
        coerce.Ref("1", "TA505"), coerce.Ref("2", None), coerce.Ref(None, "X"))
    assert coerce.refs({"ID": "a", "Name": "b"}) == (coerce.Ref("a", "b"),) and coerce.refs(None) == ()
    assert coerce.ref_names(coerce.refs([{"id": "i"}, {"name": "n"}])) == ["i", "n"]
    assert coerce.lower_keys({"threatURL": None, "threatUrl": "u"}) == {"threaturl": "u"}
