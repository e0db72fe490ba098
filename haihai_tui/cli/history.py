"""haihai-tui history: the run history (システム連携状況確認) as a table or JSON lines.

Everything goes to stdout in one ``print``: outside text (names, memos, server messages) is already made
terminal-safe (the table through ``one_line``; the JSON with every unsafe character as a ``\\uXXXX``
escape, so it stays valid JSON that decodes to the exact stored text).
"""

from __future__ import annotations

import json
import os
import sys

from haihai_tui.cli.args import paths_of
from haihai_tui.core.run.history_text import format_table, to_json
from haihai_tui.core.run.state import open_history
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.text import is_unsafe


def json_line(data: object) -> str:
    """``data`` as one line of JSON, readable Japanese kept, but no character a terminal would act on."""
    text = json.dumps(data, ensure_ascii=False)
    if text.isprintable():
        return text
    out = []
    for ch in text:  # outside strings JSON is ASCII: anything unsafe is inside a string, where \u is valid
        if is_unsafe(ch):
            o = ord(ch)
            if o > 0xFFFF:  # a surrogate pair, as JSON spells it
                o -= 0x10000
                out.append(f"\\u{0xD800 + (o >> 10):04x}\\u{0xDC00 + (o & 0x3FF):04x}")
            else:
                out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out)


def cmd_history(args) -> int:
    paths = paths_of(args)
    h = open_history(paths, AppContext(paths).settings if paths.config_dir.is_dir() else None)
    h.mark_interrupted()
    recs = h.list(limit=args.limit)
    if args.json:
        text = "\n".join(json_line(to_json(r)) for r in recs)
    elif not recs:
        text = "no runs yet"
    else:
        width = os.get_terminal_size().columns if sys.stdout.isatty() else 120
        text = format_table(recs, width=width)
    if text:
        print(text)
    return 0
