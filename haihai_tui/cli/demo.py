"""`haihai-tui demo`: sample settings and customers in a scratch folder, the mock HaiHai server on a free
loopback port, and the TUI pointed at it — the whole flow for a newcomer within a minute."""

from __future__ import annotations

import secrets as pysecrets
import sys
import tempfile
from pathlib import Path

import tomlkit

from haihai_tui.core.paths import Paths, create_file, ensure_private_dir
from haihai_tui.core.settings import store
from haihai_tui.core.settings.permissions import PERMISSION_NAMES, current_login
from haihai_tui.samples import sample_bytes

DEMO_PATH = "demo"  # the mock account's PATH segment


def lay_demo(base: Path, *, login: str, token: str, mock_url: str, rows: int = 5000) -> Paths:
    """Write sample settings (the current login as administrator) and sample customers under ``base``."""
    paths = Paths(ensure_private_dir(base / "config"), ensure_private_dir(base / "data"))
    for name in ("admin.toml", "db.toml", "tui.toml"):
        if not (paths.config_dir / name).exists():  # 0644 whatever the umask (secrets.toml is made 0600 below)
            create_file(paths.config_dir / name, sample_bytes(name), 0o644)

    def add_admin(doc) -> None:
        users = doc.setdefault("users", tomlkit.aot())
        if any(str(u.get("login")) == login for u in users):
            return
        u = tomlkit.table()
        u["login"] = login
        u["name"] = "デモ 管理者 (demo admin)"
        u["email"] = f"{login}@example.co.jp"
        u["permissions"] = list(PERMISSION_NAMES)
        users.append(u)

    def point_at_mock(doc) -> None:
        for g in doc.get("integrations", []):
            g["url"] = f"{mock_url}/{DEMO_PATH}/api/v1/custcsv/import"

    store.update(paths.admin, add_admin)
    store.update(paths.db, point_at_mock)

    def put_token(doc) -> None:
        doc.setdefault("tokens", tomlkit.table())["配配メール 顧客登録"] = token

    store.update(paths.secrets, put_token, backup=False)
    paths.secrets.chmod(0o600)
    _load_customers(paths, rows)
    return paths


def _load_customers(paths: Paths, rows: int) -> int:
    from haihai_tui.core.records.samples import SAMPLE_DATABASE, generate
    from haihai_tui.core.records.store import RecordStore

    rs = RecordStore.open(paths.records_dir, SAMPLE_DATABASE)
    try:
        if rs.count() == 0:
            rs.insert_rows(generate(rows), [f.id for f in SAMPLE_DATABASE.fields])
        return rs.count()
    finally:
        rs.close()


def cmd_demo(args) -> int:
    from haihai_tui.cli.check import check_report
    from haihai_tui.core.settings.context import AppContext
    from haihai_tui.mock.config import MockConfig
    from haihai_tui.mock.server import MockServerThread

    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="haihai-tui-demo-"))
    token = "demo-" + pysecrets.token_hex(12)
    login = current_login()
    with MockServerThread(MockConfig.demo(token)) as mock:
        paths = lay_demo(base, login=login, token=token, mock_url=mock.url, rows=args.rows)
        # the token in secrets.toml must match this mock run's token, also when --dir is reused
        ctx = AppContext(paths)
        note = f"demo: mock HaiHai at {mock.url} - files in {base}"
        if args.no_tui:
            for p in check_report(ctx):
                print(p)
            from haihai_tui.core.records.store import RecordStore

            db = ctx.settings.database("customers")
            rs = RecordStore.open(paths.records_dir, db)
            print(f"{note}\n{rs.count():,} customers in {db.name}; you are {ctx.who()}")
            rs.close()
            return 0
        from haihai_tui.tui.launch import run_tui

        print(note, file=sys.stderr)
        return run_tui(ctx, mock_note=note)
