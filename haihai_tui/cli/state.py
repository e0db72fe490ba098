"""haihai-tui state migrate: copy this host's SQLite run history and sync state into the shared state.

Needs admin.toml ``[state] backend = "postgresql"`` (and its dsn). The local history's journal is written into
the SQLite file first, so outcomes HaiHai gave that were not written yet are copied too. Running it again copies
nothing new and says so. The sync modes' confirmed state is copied with it.
"""

from __future__ import annotations

import sys

from haihai_tui.cli.args import paths_of
from haihai_tui.core.run.history import History
from haihai_tui.core.run.pgmigrate import migrate_history
from haihai_tui.core.run.state import shared_state
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.text import one_line


def cmd_state(args) -> int:
    paths = paths_of(args)
    if not paths.config_dir.is_dir():
        print(f"haihai-tui state: no settings folder {one_line(paths.config_dir)}; pass --config-dir", file=sys.stderr)
        return 2
    state = shared_state(AppContext(paths).settings)
    if state is None:
        print(
            'haihai-tui state migrate: admin.toml has no [state] backend = "postgresql"; set it (with dsn = '
            '"${secret:NAME}" or "${ENV_VAR}") and run this again',
            file=sys.stderr,
        )
        return 2
    if not paths.history_db.is_file():
        print(f"no local run history at {one_line(paths.history_db)}; nothing to copy")
        return 0
    local = History(paths.history_db, paths.history_journal)  # replays the journal into the SQLite file first
    print(migrate_history(local, state).describe(state.where))
    return 0
