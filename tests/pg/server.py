"""A real PostgreSQL server for the tests, started in a temporary folder and stopped at the end.

initdb + pg_ctl from the machine's PostgreSQL (PATH, else /usr/lib/postgresql/*/bin), listening on a Unix
socket only. Run as root (CI), the server runs as the unprivileged ``postgres`` user through ``runuser``.
Without the binaries the tests that need it are skipped with one line saying how to enable them; with
``CI`` or ``HAIHAI_PG_TESTS=required`` set they fail instead (.ci/run sets both and installs PostgreSQL).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ENABLE_HINT = (
    "PostgreSQL tests skipped: no initdb/pg_ctl found; install the server (Debian: apt-get install postgresql) "
    "to run them (CI=1 or HAIHAI_PG_TESTS=required makes them mandatory)"
)
DB = "haihai"
SUPERUSER = "haihai_admin"


def pg_bin() -> Path | None:
    """The folder of initdb and pg_ctl ($HAIHAI_PG_BIN, else PATH, else the newest /usr/lib/postgresql/*/bin);
    None when PostgreSQL is not installed (HAIHAI_PG_BIN=none pretends so, to see the skip)."""
    chosen = os.environ.get("HAIHAI_PG_BIN")
    if chosen:
        return None if chosen == "none" else Path(chosen)
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    cands = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4] or 0))
    return Path(cands[-1]).parent if cands else None


def required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("HAIHAI_PG_TESTS") == "required"


@dataclass
class PgServer:
    bindir: Path
    folder: Path
    socket_dir: Path
    port: int = 5432

    def dsn(self, user: str = SUPERUSER, password: str = "", dbname: str = DB) -> str:
        pw = f" password={password}" if password else ""
        return f"host={self.socket_dir} port={self.port} dbname={dbname} user={user}{pw} connect_timeout=5"

    def connect(self, **kw):
        import psycopg

        return psycopg.connect(self.dsn(), autocommit=True, **kw)


def _as_server_user(cmd: list[str], as_root: bool) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if as_root else cmd


def start() -> PgServer:
    bindir = pg_bin()
    if bindir is None:
        if required():
            pytest.fail("PostgreSQL tests are mandatory here (CI / HAIHAI_PG_TESTS=required) but initdb is missing")
        pytest.skip(ENABLE_HINT)
    as_root = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="hhpg-", dir="/tmp"))  # short: a socket path has ~100 bytes
    folder.chmod(0o755)
    data, sock = folder / "data", folder / "sock"
    sock.mkdir()
    if as_root:
        pw = pwd.getpwnam("postgres")
        for p in (folder, sock):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    run = lambda *cmd: subprocess.run(  # noqa: E731
        _as_server_user([str(c) for c in cmd], as_root), check=True, capture_output=True, text=True, timeout=120
    )
    try:
        run(bindir / "initdb", "-D", data, "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        opts = f"-k {sock} -c listen_addresses='' -p 5432 -c fsync=off -c full_page_writes=off -c shared_buffers=128MB"
        run(bindir / "pg_ctl", "-D", data, "-o", opts, "-l", folder / "log", "-w", "-t", "60", "start")
        srv = PgServer(bindir, folder, sock)
        with srv.connect(dbname="postgres") as c:
            c.execute(f"CREATE DATABASE {DB}")
        return srv
    except subprocess.CalledProcessError as e:
        log = (folder / "log").read_text(errors="replace") if (folder / "log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {e.cmd}: {e.stderr}\n{log}")


def stop(srv: PgServer) -> None:
    as_root = os.geteuid() == 0
    subprocess.run(
        _as_server_user(
            [str(srv.bindir / "pg_ctl"), "-D", str(srv.folder / "data"), "-m", "immediate", "stop"], as_root
        ),
        capture_output=True,
        timeout=60,
    )
    shutil.rmtree(srv.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    srv = start()
    yield srv
    stop(srv)


def load_table(conn, table: str, field_ids, rows, *, key: str = "id", text_type: str = "text") -> int:
    """(Re)create ``table`` (``key`` bigint primary key 1..N in the rows' order, one text column per field) and
    COPY ``rows`` into it; returns how many."""
    cols = ", ".join(f'"{f}" {text_type}' for f in field_ids)
    conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    conn.execute(f'CREATE TABLE {table} ("{key}" bigint PRIMARY KEY, {cols})')
    n = 0
    with conn.cursor() as cur:
        with cur.copy(
            f'COPY {table} ("{key}", {", ".join(chr(34) + f + chr(34) for f in field_ids)}) FROM STDIN'
        ) as cp:
            for n, row in enumerate(rows, 1):
                cp.write_row((n, *row))
    conn.execute(f"ANALYZE {table}")
    return n


def after_customers_id(text: str) -> int:
    """Where a key can be added to the sample database "customers" of a db.toml text (after its id line)."""
    m = re.search(r'^id = "customers".*\n', text, re.M)
    assert m, 'the sample db.toml has no line id = "customers": adapt tests/pg/server.py'
    return m.end()


def to_postgres(paths, dsn: str, table: str = "sales.customers", *, secret: str = "customers-dsn") -> None:
    """Turn the sample database "customers" of a settings folder into engine = "postgresql" reading ``table``,
    its DSN in secrets.toml as [tokens] ``secret`` (db.toml holds only "${secret:...}")."""
    text = paths.db.read_text(encoding="utf-8")
    i = after_customers_id(text)
    text = text[:i] + f'engine = "postgresql"\ndsn = "${{secret:{secret}}}"\ntable = "{table}"\n' + text[i:]
    paths.db.write_text(text, encoding="utf-8")
    sec = paths.secrets.read_text(encoding="utf-8")
    j = sec.index("[tokens]\n") + len("[tokens]\n")
    paths.secrets.write_text(sec[:j] + f'"{secret}" = "{dsn}"\n' + sec[j:], encoding="utf-8")
    paths.secrets.chmod(0o600)


# --- one line instead of a skip per test (hooked in tests/conftest.py) ---------------------------------------

_left_out: list[str] = []


def needs_server(item) -> bool:
    callspec = getattr(item, "callspec", None)
    return "pg_server" in item.fixturenames or bool(callspec and "postgresql" in callspec.params.values())


def leave_out_without_server(config, items: list) -> None:
    """Without PostgreSQL (and not required), take the tests that need it out of the run; summary_line says so."""
    if pg_bin() is not None or required():
        return
    out = [i for i in items if needs_server(i)]
    if out:
        _left_out[:] = [i.nodeid for i in out]
        items[:] = [i for i in items if not needs_server(i)]
        config.hook.pytest_deselected(items=out)


def summary_line(terminalreporter) -> None:
    if _left_out:
        terminalreporter.write_line(f"SKIPPED {len(_left_out)} {ENABLE_HINT}", yellow=True, bold=True)
