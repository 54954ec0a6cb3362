"""Whatever the secret and wherever TAP or a proxy puts it, in whatever form, no part of it is shown."""

from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus

from hypothesis import given
from hypothesis import strategies as st
from leaks import leaks

from fn_pp_tap_functions.tap.redact import Redactor

secrets = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=8, max_size=40)
principals = st.text(alphabet="abcdefghijklmnop0123456789-", min_size=8, max_size=30)
around = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126) | st.just("\n"), max_size=80)
FORMS = [lambda p, s: s, lambda p, s: quote(s, safe=""), lambda p, s: quote_plus(s), lambda p, s: s.upper(),
         lambda p, s: s.lower(), lambda p, s: base64.b64encode(f"{p}:{s}".encode()).decode(),
         lambda p, s: "Basic " + base64.b64encode(f"{p}:{s}".encode()).decode()[:-3]]


@given(principals, secrets, around, around, st.sampled_from(range(len(FORMS))), st.integers(20, 400))
def test_no_form_of_the_secret_survives_scrubbing_and_cutting(principal, secret, before, after, form, limit):
    text = before + FORMS[form](principal, secret) + after
    shown = Redactor(secret, principal).shown(text, limit)
    assert len(shown) <= limit and leaks(shown, principal, secret) == [], shown
