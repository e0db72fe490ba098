"""The command line's arguments: one parser for every command, and the folders they name."""

from __future__ import annotations

import argparse
from pathlib import Path

from haihai_tui.core.paths import Paths, resolve

EPILOG = """\
settings: --config-dir, $HAIHAI_TUI_CONFIG_DIR or $XDG_CONFIG_HOME/haihai-tui
data:     --data-dir, $HAIHAI_TUI_DATA_DIR or $XDG_DATA_HOME/haihai-tui
You act as the account running this program; no flag acts as someone else."""


def _common(p: argparse.ArgumentParser, top: bool = False) -> None:
    # On subcommands the default is SUPPRESS, so a --config-dir given before the command is not reset to None.
    default = None if top else argparse.SUPPRESS
    p.add_argument(
        "--config-dir", metavar="DIR", default=default, help="settings folder (admin.toml, db.toml, secrets.toml)"
    )
    p.add_argument(
        "--data-dir", metavar="DIR", default=default, help="data folder (records, history, report-mail outbox)"
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="haihai-tui",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Keyboard-driven console for the 楽楽販売 -> 配配メール customer\n"
        "sync. Without a command it opens the TUI.",
        epilog=EPILOG,
    )
    _common(p, top=True)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("tui", help="open the TUI (the default)")
    _common(t)

    d = sub.add_parser(
        "demo",
        help="sample settings and customers in a scratch folder, the local mock "
        "HaiHai server, and the TUI pointed at it",
    )
    _common(d)
    d.add_argument("--dir", metavar="DIR", help="scratch folder to use (default: a new temporary folder)")
    d.add_argument("--rows", type=int, default=5000, help="sample customers to generate (default 5000)")
    d.add_argument("--no-tui", action="store_true", help="set everything up, print the check and stop")

    r = sub.add_parser(
        "run",
        help="run one integration without screens (for cron)",
        description="Run an integration attached to a record-list menu on the rows matching the "
        "conditions. Exit 0 done (also: nothing changed, nothing sent), 1 error, 2 bad usage, "
        "3 outcome unknown, 4 another run of this integration is going (the lock).",
    )
    _common(r)
    r.add_argument("--menu", required=True, help="record-list menu name (メニュー)")
    r.add_argument("--integration", required=True, help="システム連携名 attached to that menu")
    r.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="COND",
        help="LABEL=VALUE (equals) or LABEL~TEXT (contains); repeat to AND",
    )
    r.add_argument("--search", default="", help="free text over the menu's columns")
    r.add_argument("--memo", default="", help="メモ recorded in the history")
    r.add_argument("--dry-run", action="store_true", help="print the exact request (token masked), send nothing")
    r.add_argument(
        "--yes",
        action="store_true",
        help="confirm a dangerous run (delete from the whole HaiHai database) or a mirror run's removals",
    )
    r.add_argument(
        "--sync",
        choices=("full", "changes", "mirror"),
        help="override the integration's sync mode: full (every row), changes (only new, changed or "
        "refused rows), mirror (changes, then remove from the gid/spid who left the result)",
    )
    r.add_argument(
        "--retry-failed",
        type=int,
        metavar="RUN",
        help="send again exactly the rows HaiHai reported 失敗 in history run RUN, with their current values",
    )
    r.add_argument("--split", action="store_true", help="over the per-request limit: send several requests")
    r.add_argument(
        "--allow-warnings",
        action="store_true",
        help="send although pre-flight found warnings (duplicates); errors always block",
    )

    c = sub.add_parser("check", help="validate every settings file; file:line: message per problem")
    _common(c)

    i = sub.add_parser(
        "init", help="write the commented sample settings into the settings folder (never overwrites a file)"
    )
    _common(i)

    db = sub.add_parser("db", help="record databases")
    _common(db)
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    imp = dbsub.add_parser("import", help="load records from CSV (Windows-31J or UTF-8, detected)")
    _common(imp)
    imp.add_argument("database", metavar="DATABASE", help="database id from db.toml")
    imp.add_argument("file", metavar="FILE", type=Path)
    imp.add_argument("--replace", action="store_true", help="empty the database first (same transaction)")

    h = sub.add_parser("history", help="the run history (システム連携状況確認)")
    _common(h)
    h.add_argument("--json", action="store_true", help="one JSON object per run, newest first")
    h.add_argument("--limit", type=int, default=50, help="how many runs, newest first (default 50)")

    st = sub.add_parser("state", help='the shared run state (admin.toml [state] backend = "postgresql")')
    _common(st)
    stsub = st.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    mig = stsub.add_parser(
        "migrate",
        help="copy this host's SQLite run history and sync state into the shared PostgreSQL state (idempotent)",
    )
    _common(mig)

    m = sub.add_parser("mock-server", help="the local HaiHai Mail mock server")
    _common(m)
    m.add_argument("--host", default="127.0.0.1")
    m.add_argument("--port", type=int, default=8787)
    m.add_argument(
        "--config",
        metavar="FILE",
        type=Path,
        help="mock accounts (TOML); default: the demo account, token from $HAIHAI_MOCK_TOKEN",
    )
    return p


def paths_of(args: argparse.Namespace) -> Paths:
    return resolve(getattr(args, "config_dir", None), getattr(args, "data_dir", None))
