"""The two encodings a CSV may use, by every name people write them: the one place they are mapped.

Each encoding has three names that must never drift apart:

- the word written in db.toml ``csv_encoding`` (``"sjis"`` or ``"utf-8"``, as the product's screen says),
- the Python codec that reads and writes the bytes (always ``cp932`` for Shift_JIS: Python's ``shift_jis``
  rejects everyday characters such as 髙 﨑 ① ㈱ ～),
- the MIME charset label sent in the CSV part's ``Content-Type`` (``Shift_JIS`` or ``UTF-8``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CsvEncoding:
    setting: str  # the word in db.toml csv_encoding
    codec: str  # the Python codec
    charset: str  # the MIME charset label of the CSV part
    name: str  # what people call it
    label: str  # how the settings screen offers it


CP932 = CsvEncoding("sjis", "cp932", "Shift_JIS", "Windows-31J", "SJIS = Windows-31J (cp932)")
UTF8 = CsvEncoding("utf-8", "utf-8", "UTF-8", "UTF-8", "UTF-8 (multi-language option)")

#: db.toml ``csv_encoding`` word -> encoding, in the order the settings screen offers them
SETTING_ENCODINGS: dict[str, CsvEncoding] = {e.setting: e for e in (CP932, UTF8)}
#: Python codec -> the name people know it by
ENCODING_NAMES = {e.codec: e.name for e in (CP932, UTF8)}

_ALIASES = {
    "cp932": CP932,
    "sjis": CP932,
    "windows-31j": CP932,
    "ms932": CP932,
    "mskanji": CP932,
    "utf-8": UTF8,
    "utf8": UTF8,
}
_REFUSED = ("shift-jis", "shiftjis", "sjis-2004", "shift-jis-2004")


def csv_encoding(name: str) -> CsvEncoding:
    """The encoding ``name`` stands for ("sjis", "cp932", "Windows-31J", "utf-8", "UTF8", ...); ValueError otherwise."""
    key = name.strip().lower().replace("_", "-")
    if key in _REFUSED:
        raise ValueError(
            f"encoding {name!r}: use cp932 (Windows-31J); Python's shift_jis rejects everyday "
            f"characters such as 髙 﨑 ① ㈱ ～"
        )
    if key not in _ALIASES:
        raise ValueError(f"encoding {name!r}: must be cp932 (Windows-31J) or utf-8")
    return _ALIASES[key]


def normalize_encoding(name: str) -> str:
    """ "cp932"/"sjis"/"Windows-31J" -> "cp932", "utf-8"/"utf8" -> "utf-8"; anything else is refused."""
    return csv_encoding(name).codec


def mime_charset(name: str) -> str:
    """The charset label for the CSV part: cp932/sjis -> "Shift_JIS", utf-8 -> "UTF-8"; ValueError otherwise."""
    return csv_encoding(name).charset
