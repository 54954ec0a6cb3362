"""Echoed credentials never survive: every form, scrubbed before anything is cut (issue 11, finding 6)."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, quote_plus

import pytest
import requests_mock as rm
from leaks import basic_token, leaks
from resilient_lib import RequestsCommon

from fn_pp_tap_functions.errors import TapError
from fn_pp_tap_functions.tap.client import TapClient
from fn_pp_tap_functions.tap.redact import Redactor, proxy_credentials
from fn_pp_tap_functions.tap.windows import Window

BASE = "https://tap.test"
PRINCIPAL = "principal-7f3a-4c1e"
SECRET = "S3cr3t/Zq9+never&show me"
NOW = datetime(2024, 10, 11, 15, 0, tzinfo=UTC)
WINDOW = Window(NOW - timedelta(hours=2), NOW - timedelta(hours=1))
TOKEN = basic_token(PRINCIPAL, SECRET)

ECHOES = {
    "plain": f"secret={SECRET}",
    "basic header": f"Authorization: Basic {TOKEN}",
    "basic header, url-safe": "auth " + base64.urlsafe_b64encode(f"{PRINCIPAL}:{SECRET}".encode()).decode(),
    "basic header without padding": f"Basic {TOKEN.rstrip('=')};",
    "basic header cut by the proxy": f"Authorization: Basic {TOKEN[:len(TOKEN) - 5]}",
    "url-encoded": f"GET /x?secret={quote(SECRET, safe='')}",
    "url-encoded, lower-case hex": f"q={quote(SECRET, safe='').lower()}",
    "form-encoded": f"secret={quote_plus(SECRET)}",
    "upper case": f"SECRET={SECRET.upper()}",
    "mixed case token": f"authorization: basic {TOKEN.swapcase()}",
    "json": json.dumps({"headers": {"X-Secret": SECRET}}),
    "html": "<td>S3cr3t/Zq9+never&amp;show me</td>",
    "cut at the end": f"the proxy said: secret={SECRET[:9]}",
}


@pytest.mark.parametrize("name", sorted(ECHOES))
def test_every_form_of_the_secret_is_redacted(name):
    text = Redactor(SECRET, PRINCIPAL)(f"before {ECHOES[name]} after" if name != "cut at the end" else ECHOES[name])
    assert "[redacted]" in text and leaks(text, PRINCIPAL, SECRET) == []


def test_scrubbing_comes_before_the_cut_so_no_prefix_of_a_secret_survives():
    redact = Redactor(SECRET, PRINCIPAL)
    for offset in range(0, 60):
        text = "x" * offset + f"Authorization: Basic {TOKEN} and {SECRET}"
        for limit in (20, 40, 57, 80, 300):
            shown = redact.shown(text, limit)
            assert len(shown) <= limit and leaks(shown, PRINCIPAL, SECRET) == [], (offset, limit, shown)


def test_the_principal_is_removed_and_ordinary_text_is_kept():
    text = Redactor(SECRET, PRINCIPAL)(f"principal {PRINCIPAL.upper()} is not allowed to use this API")
    assert PRINCIPAL.lower() not in text.lower() and text.endswith("is not allowed to use this API")


def test_proxy_credentials_are_found_in_proxy_urls_and_redacted():
    pairs = proxy_credentials(["http://svc-proxy:p%40ss%3Aword@proxy.corp:3128", None, "http://proxy.corp:8080"])
    assert pairs == [("svc-proxy", "p@ss:word")]
    redact = Redactor(SECRET, PRINCIPAL, proxies=pairs)
    header = base64.b64encode(b"svc-proxy:p@ss:word").decode()
    text = redact(f"407: Proxy-Authorization: Basic {header} for p@ss:word (p%40ss%3Aword)")
    assert "p@ss" not in text and "p%40ss" not in text.lower() and header not in text


ANSWERS = [
    (400, "text/plain"), (403, "text/plain"), (418, "text/html"), (429, "text/plain"), (502, "text/html"),
    (200, "text/html"),
]


@pytest.mark.parametrize(("status", "content_type"), ANSWERS)
@pytest.mark.parametrize("name", ["basic header", "plain", "url-encoded", "upper case",
                                  "basic header cut by the proxy"])
def test_a_tap_or_proxy_answer_echoing_credentials_never_reaches_the_error_or_the_log(status, content_type, name,
                                                                                     caplog):
    caplog.set_level(logging.DEBUG)
    body = "<html>" + "padding " * 33 + ECHOES[name] + " " + ECHOES["plain"] + "</html>"
    client = TapClient(BASE, PRINCIPAL, SECRET, retries=1, sleep=lambda _s: None, clock=lambda: NOW)
    with rm.Mocker() as mock:
        mock.get(BASE + "/v2/siem/all", status_code=status, text=body, headers={"Content-Type": content_type})
        with pytest.raises(TapError) as err:
            client.siem("all", WINDOW)
    shown = [str(err.value), str(getattr(err.value, "tap_text", "") or ""), caplog.text]
    for text in shown:
        assert leaks(text, PRINCIPAL, SECRET) == [], text


def test_the_proxy_password_never_reaches_a_connection_error():
    opts = {"fn_pp_tap_functions": {"https_proxy": "http://svc-proxy:Pr0xy-Pa55@127.0.0.1:9"}}
    rc = RequestsCommon(opts=opts, function_opts=opts["fn_pp_tap_functions"])
    client = TapClient(BASE, PRINCIPAL, SECRET, rc=rc, retries=0, sleep=lambda _s: None, timeout=2, clock=lambda: NOW)
    with pytest.raises(TapError) as err:
        client.siem("all", WINDOW)
    assert "Pr0xy-Pa55" not in str(err.value) and leaks(str(err.value), PRINCIPAL, SECRET) == []
