"""Encodings have one home (core/encodings.py): db.toml's word, the Python codec and the MIME charset agree."""

from __future__ import annotations

import pytest

from haihai_tui.core.encodings import SETTING_ENCODINGS, csv_encoding, mime_charset, normalize_encoding
from haihai_tui.core.haihai.multipart import build_layout
from haihai_tui.core.settings.model import Integration


@pytest.mark.parametrize(("setting", "codec", "charset"), [("sjis", "cp932", "Shift_JIS"), ("utf-8", "utf-8", "UTF-8")])
def test_every_name_of_an_encoding_agrees_from_db_toml_to_the_wire(setting, codec, charset):
    assert list(SETTING_ENCODINGS) == ["sjis", "utf-8"]  # what validation accepts and the form offers, in order
    g = Integration(name="x", url="https://h/p/api/v1/custcsv/import", csv_encoding=setting)
    assert g.python_encoding == codec == normalize_encoding(setting) == SETTING_ENCODINGS[setting].codec
    layout = build_layout(
        boundary="b",
        json_name="import_settings",
        params={},
        csv_name="customer_list",
        csv_filename="c.csv",
        csv_encoding=g.python_encoding,
        csv_size=0,
    )
    assert f"Content-Type: text/csv; charset={charset}\r\n".encode() in layout.csv_head
    for alias in {setting, codec, codec.upper(), SETTING_ENCODINGS[setting].name}:
        assert csv_encoding(alias) is SETTING_ENCODINGS[setting], alias
        assert mime_charset(alias) == charset
    "髙﨑①㈱～".encode(codec)  # the characters Python's shift_jis would refuse
    with pytest.raises(ValueError, match="use cp932"):
        mime_charset("shift_jis")
