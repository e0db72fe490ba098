"""Characters a cell cannot carry in the chosen encoding, or that it carries as a different character,
and how to say so."""

from __future__ import annotations

import codecs
import functools

from haihai_tui.core.text import describe_char

# Common characters missing from Windows-31J and the Windows-31J character people usually mean (a hint only).
_CP932_TWINS = {"\u2014": "\u2015", "\u00a6": "\uffe4", "\u00a5": "\uffe5", "\u203e": "\uffe3", "\u00b7": "\u30fb"}


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
        return (
            f"{head}character {describe_char(ch)} does not exist in Windows-31J{times}{hint}; change it in "
            f"楽楽販売 (nothing is replaced automatically), or send UTF-8 if the HaiHai account has the "
            f"multi-language option"
        )
    return f"{head}character {describe_char(ch)} cannot be encoded in UTF-8{times}; correct the text in 楽楽販売"


@functools.cache
def roundtrip_changes(enc: str) -> dict[str, str]:
    """Characters ``enc`` encodes without complaint to bytes that decode to a *different* character.

    For Python's cp932 these are '〜' U+301C -> '～' U+FF5E, '‖' U+2016 -> '∥' U+2225, '−' U+2212 -> '－' U+FF0D,
    '¢' U+00A2 -> '￠' U+FFE0, '£' U+00A3 -> '￡' U+FFE1 and '¬' U+00AC -> '￢' U+FFE2: HaiHai (Windows-31J)
    stores the second one. The map is derived from the codec, never written out by hand: every character
    of the Basic Multilingual Plane goes through one encode and one decode, NUL-separated (a NUL byte is
    never part of a Windows-31J or UTF-8 multi-byte sequence); Windows-31J has nothing beyond it.
    """
    if codecs.lookup(enc).name == "utf-8":
        return {}
    chars = [chr(o) for o in range(1, 0x10000) if not 0xD800 <= o <= 0xDFFF]
    back = "\0".join(chars).encode(enc, "ignore").decode(enc, "replace").split("\0")
    if len(back) != len(chars):  # an encoding whose sequences may hold a NUL byte: one by one
        back = [c.encode(enc, "ignore").decode(enc, "replace") for c in chars]
    return {c: b for c, b in zip(chars, back, strict=True) if b and b != c}


def changed_message(ch: str, twin: str, count: int, enc: str) -> str:
    times = f" (it appears {count} times in this cell)" if count > 1 else ""
    name = "Windows-31J" if enc == "cp932" else enc
    return (
        f"character {describe_char(ch)}{times} has no {name} code of its own: it is sent as the bytes of "
        f"{describe_char(twin)}, so HaiHai will store '{twin}' instead; if that is fine, type '{twin}' in 楽楽販売 "
        f"so that the data matches what HaiHai stores; to keep '{ch}' exactly, send UTF-8 if the HaiHai account "
        f"has the multi-language option"
    )
