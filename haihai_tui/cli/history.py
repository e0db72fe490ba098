"""haihai-tui history: the run history (システム連携状況確認) as a table or JSON lines."""

from __future__ import annotations

import json
import os
import sys

from haihai_tui.cli.args import paths_of


def cmd_history(args) -> int:
    from haihai_tui.core.run.history import History, format_table, to_json
    paths = paths_of(args)
    h = History(paths.history_db)
    h.mark_interrupted()
    recs = h.list(limit=args.limit)
    if args.json:
        for r in recs:
            print(json.dumps(to_json(r), ensure_ascii=False))
    elif not recs:
        print("no runs yet")
    else:
        width = os.get_terminal_size().columns if sys.stdout.isatty() else 120
        print(format_table(recs, width=width))
    return 0
