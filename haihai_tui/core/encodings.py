"""The two encodings a CSV part may use, by the names people write them; the one place they are mapped."""

from __future__ import annotations

ENCODING_NAMES = {"cp932": "Windows-31J", "utf-8": "UTF-8"}
_ALIASES = {"cp932": "cp932", "sjis": "cp932", "windows-31j": "cp932", "ms932": "cp932", "mskanji": "cp932",
            "utf-8": "utf-8", "utf8": "utf-8"}


def normalize_encoding(name: str) -> str:
    """"cp932"/"sjis"/"Windows-31J" -> "cp932", "utf-8"/"utf8" -> "utf-8"; anything else is refused."""
    key = name.strip().lower().replace("_", "-")
    if key in ("shift-jis", "shiftjis", "sjis-2004", "shift-jis-2004"):
        raise ValueError(f"encoding {name!r}: use cp932 (Windows-31J); Python's shift_jis rejects everyday "
                         f"characters such as 髙 﨑 ① ㈱ ～")
    if key not in _ALIASES:
        raise ValueError(f"encoding {name!r}: must be cp932 (Windows-31J) or utf-8")
    return _ALIASES[key]
