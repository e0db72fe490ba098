"""Outside text on a terminal: control characters are shown, never acted on; widths agree everywhere."""

import pytest

from haihai_tui.core.text import cell_width, describe_char, fit_cells, one_line, safe

HOSTILE = [
    ("\x1b[2J", "\\x1b[2J"),  # screen wipe
    ("\x1b]52;c;aGk=\x07", "\\x1b]52;c;aGk=\\x07"),  # OSC 52 clipboard write
    ("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "\\x1b]8;;http://x\\x1b\\link\\x1b]8;;\\x1b\\"),
    ("a\x00b", "a\\x00b"),
    ("bell\x07", "bell\\x07"),
    ("\x9b31m", "\\x9b31m"),  # C1 CSI
    ("abc\u202edef", "abc\\u202edef"),  # bidi override
    ("a\rb", "a\\x0db"),
    ("a\tb", "a\\x09b"),
    ("del\x7f", "del\\x7f"),
    ("lone\ud800", "lone\\ud800"),
]


@pytest.mark.parametrize("raw, shown", HOSTILE)
def test_safe_shows_control_characters(raw, shown):
    assert safe(raw) == shown
    assert "\x1b" not in safe(raw) and "\x07" not in safe(raw)


def test_safe_keeps_ordinary_text():
    for text in ("髙橋 﨑 ① ㈱ ～", "山田\u3000太郎", "👨\u200d👩\u200d👧", "[bold]not markup[/]", "e\u0301"):
        assert safe(text) == text


def test_multiline_keeps_line_feeds_only():
    assert safe("line 1\nline 2\x1b[K", multiline=True) == "line 1\nline 2\\x1b[K"
    assert one_line("a\nb") == "a\\x0ab"


def test_width_is_rich_cells():
    assert cell_width("顧客") == 4
    assert cell_width("👨\u200d👩\u200d👧") == cell_width("👨")  # a ZWJ family is one glyph
    assert fit_cells("顧客一覧です", 7) == "顧客.. "
    assert fit_cells("ab", 4, right=True) == "  ab"
    assert cell_width(fit_cells("髙橋﨑①㈱", 5)) == 5


def test_describe_char():
    assert describe_char("😀") == "'😀' (U+1F600)"
    assert describe_char("\x1b") == "U+001B"
