"""Property tests: the TOML position scanner and the strict parse never raise anything but the store's own
error, and never hang, on arbitrary text and on mutated sample settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from haihai_tui.core.problems import SettingsFileError
from haihai_tui.core.settings import store
from haihai_tui.core.settings.tomlpos import TomlScan

SAMPLES = sorted((Path(__file__).resolve().parent.parent / "haihai_tui" / "samples").glob("*.toml*"))
TEXTS = [p.read_text(encoding="utf-8") for p in SAMPLES]
#: what TOML is made of, plus what trips scanners: escapes, quotes, brackets, control characters, wide text
TOMLISH = st.sampled_from(
    list("[]{}\"'#=.,\n\r\t \\uU0123456789abcxyz_-+:")
    + ["\\U00110000", "\\uD800", '"""', "'''", "[[", "]]", "\x00", "\x7f", "\u2028", "顧客", "＠"]
)
QUICK = settings(max_examples=150, deadline=timedelta(seconds=2), suppress_health_check=[HealthCheck.too_slow])


def strict_parse_is_calm(text: str) -> None:
    scan = TomlScan(text)  # uncached: every example is really scanned
    for path in list(scan.lines)[:50] + [("integrations", -1, "params", "gid"), ("users", 0, "permissions", -1)]:
        line = scan.locate(path)
        assert line is None or 1 <= line <= text.count("\n") + 1
    try:
        store.parse(text, "db.toml")
    except SettingsFileError as e:
        assert e.file == "db.toml" and e.message
        assert e.line is None or 1 <= e.line <= text.count("\n") + 1


@QUICK
@given(st.text(max_size=400))
def test_arbitrary_text(text):
    strict_parse_is_calm(text)


@QUICK
@given(st.lists(TOMLISH, max_size=200).map("".join))
@example('a = 1\na = 2\n"\\U00110000" = 3\n')  # found by hand: chr() out of range in the scanner
@example("x = " + "[" * 500 + "]" * 500)  # RecursionError in tomllib, tomlkit and the scanner
def test_arbitrary_toml_like_text(text):
    strict_parse_is_calm(text)


@st.composite
def mutated_sample(draw) -> str:
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        piece = draw(TOMLISH)
        if kind == "insert":
            text = text[:at] + piece + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        elif kind == "replace":
            text = text[:at] + piece + text[at + 1 :]
        else:
            text = text[:at]
    return text


@QUICK
@given(mutated_sample())
def test_mutated_sample_settings(text):
    strict_parse_is_calm(text)


@settings(max_examples=40, deadline=timedelta(seconds=2))
@given(st.sampled_from(["[", "{ a = ", "[{ a = "]), st.integers(30, 3000))
def test_deep_nesting_is_the_stores_error(opener, depth):
    strict_parse_is_calm("x = " + opener * depth)
    closer = {"[": "]", "{ a = ": "}", "[{ a = ": "}]"}[opener]
    strict_parse_is_calm("x = " + opener * depth + "1" + closer * depth)


def test_the_samples_parse_and_every_key_has_its_line():
    assert len(SAMPLES) >= 4
    for text in TEXTS:
        store.parse(text)
        scan = TomlScan(text)
        assert scan.dups == [] and scan.too_deep is None and scan.lines
