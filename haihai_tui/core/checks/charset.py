"""Characters a cell cannot carry in the chosen encoding, and how to say so."""

from __future__ import annotations

from haihai_tui.core.text import describe_char

# Common characters missing from Windows-31J and the Windows-31J character people usually mean (a hint only).
_CP932_TWINS = {"\u2014": "\u2015", "\u00a6": "\uffe4", "\u00a5": "\uffe5", "\u203e": "\uffe3",
                "\u00b7": "\u30fb"}



def unencodable_chars(text: str, enc: str) -> list[tuple[str, int]]:
    """Every character of ``text`` that ``enc`` cannot encode, once each, in order, with its count."""
    bad: dict[str, int] = {}
    good: set[str] = set()
    for ch in text:
        if ch in good:
            continue
        if ch in bad:
            bad[ch] += 1
            continue
        try:
            ch.encode(enc)
            good.add(ch)
        except UnicodeEncodeError:
            bad[ch] = 1
    return list(bad.items())


def unencodable_message(ch: str, count: int, enc: str, where: str | None = None) -> str:
    times = f" (it appears {count} times in this cell)" if count > 1 else ""
    head = f"{where}: " if where else ""
    if enc == "cp932":
        twin = _CP932_TWINS.get(ch)
        hint = f"; the Windows-31J character for it is '{twin}' (U+{ord(twin):04X})" if twin else ""
        return (f"{head}character {describe_char(ch)} does not exist in Windows-31J{times}{hint}; change it in 楽楽販売 "
                f"(nothing is replaced automatically), or send UTF-8 if the HaiHai account has the multi-language "
                f"option")
    return f"{head}character {describe_char(ch)} cannot be encoded in UTF-8{times}; correct the text in 楽楽販売"
