"""The one inert-text policy: controls, bidi and zero-width marks, newlines, surrogates, lengths, HTML cuts."""

from __future__ import annotations

from fn_pp_tap_functions import text as T


def test_controls_removed_tab_newline_kept_in_multiline():
    assert T.clean("a\x00b\x07c\x1b[31md\x7fe\x9bf\tg\r\nh\ri\u2028j\x85k", 100, multiline=True) == (
        "abc[31mdef\tg\nh\ni\nj\nk")


def test_single_line_flattens():
    assert T.line("  Re:\r\n  hello\t\tworld \n") == "Re: hello world"


def test_bidi_marks_made_visible():
    assert T.line("invoice\u202efdp.exe \u2066x\u2069\u200e\u200f\u061c") == (
        "invoice[U+202E]fdp.exe [U+2066]x[U+2069][U+200E][U+200F][U+061C]")


def test_zero_width_marks_made_visible_so_a_lookalike_is_not_the_original():
    assert T.line("pay\u200bpal.example \ufeffx\u2060y\u200dz") == (
        "pay[U+200B]pal.example [U+FEFF]x[U+2060]y[U+200D]z")
    assert T.line("paypal.example") == "paypal.example"


def test_controls_are_removed_and_white_space_collapsed_in_one_line():
    assert T.line("a\x00b\u202ec\n d") == "ab[U+202E]c d"
    assert len(T.line("x" * 1000, 50)) == 50


def test_surrogates_and_limits():
    assert T.line("a\ud800b") == "a\ufffdb"
    cut = T.line("x" * 100_000, 255)
    assert len(cut) == 255 and cut.endswith("\u2026")
    assert T.clean(None, 10) == "" and T.clean(123, 10) == "123"


def test_html_cut_never_leaves_half_a_tag():
    html = "<p>" + "a" * 20 + '<a href="https://x.example/">link</a>'
    cut = T.truncate_html(html, 30)
    assert cut.endswith("\u2026") and "<a" not in cut and len(cut) <= 30
    assert T.truncate_html("<p>&amp;&lt;</p>", 9) == "<p>&amp;\u2026"
