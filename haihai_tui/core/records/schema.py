"""The SQLite side of DB設定 > フィールド設定: the record table follows the database's fields without losing data.

- A new field is a new column (``add_columns``; ``RecordStore`` does the same when it opens a file).
- A removed field's column stays in the file, hidden (no screen, query or export reads a column that
  is not a field), so nothing is lost by a slip: ``kept_columns`` lists them with how many non-empty
  values each still holds. Adding a field with the same id again brings its values back.
- ``drop_kept`` deletes one kept column for good, in one transaction, after the user confirmed it; it
  is refused for a column that is still a field.

The order of the fields is db.toml's alone: queries name their columns, so reordering never touches
the file.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from haihai_tui.core.records.store import TABLE, RecordFileError, RecordStore, check_database_id, column
from haihai_tui.core.settings.model import Database

__all__ = ["Kept", "SchemaRefused", "add_columns", "drop_kept", "kept_columns", "record_file"]

PREFIX = "f_"


class SchemaRefused(ValueError):
    """A schema change that was not made; ``str()`` says why and what to do."""


@dataclass(frozen=True)
class Kept:
    """The data of a removed field, still in the record file."""

    field_id: str
    non_empty: int  # rows whose value is not ''

    def describe(self) -> str:
        return f"drop the kept data of field {self.field_id}: {self.non_empty:,} non-empty values"


def record_file(records_dir: Path, database: Database) -> Path:
    return Path(records_dir) / f"{check_database_id(database.id)}.sqlite3"


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=10)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn
    except sqlite3.DatabaseError as e:
        raise RecordFileError(f"the record database {path} cannot be used: {e}") from None


def _table_columns(conn: sqlite3.Connection) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({TABLE})")]


def add_columns(records_dir: Path, database: Database) -> list[str]:
    """Give an existing record file a column for every field it lacks; returns the field ids added.

    A database without a record file yet needs nothing: the file is made with every column when first opened.
    """
    path = record_file(records_dir, database)
    if not path.exists():
        return []
    conn = _connect(path)
    try:
        before = set(_table_columns(conn))
    finally:
        conn.close()
    with RecordStore.open(records_dir, database):  # its _ensure_table adds what is missing
        pass
    return [f.id for f in database.fields if PREFIX + f.id not in before]


def kept_columns(records_dir: Path, database: Database) -> list[Kept]:
    """The columns of removed fields still in the record file, with their non-empty value counts."""
    path = record_file(records_dir, database)
    if not path.exists():
        return []
    fields = {f.id for f in database.fields}
    conn = _connect(path)
    try:
        out = []
        for name in _table_columns(conn):
            if name.startswith(PREFIX) and name[len(PREFIX) :] not in fields:
                fid = name[len(PREFIX) :]
                n = conn.execute(f"SELECT count(*) FROM {TABLE} WHERE {column(fid)} <> ''").fetchone()[0]
                out.append(Kept(fid, n))
        return out
    finally:
        conn.close()


def drop_kept(records_dir: Path, database: Database, field_id: str) -> int:
    """Delete the kept column of removed field ``field_id`` (and any sort index on it) in one transaction.

    Returns how many non-empty values were dropped. Refused while ``field_id`` is still a field of the
    database, or when the file holds no such column.
    """
    if any(f.id == field_id for f in database.fields):
        raise SchemaRefused(
            f"field {field_id!r} is still a field of database {database.id!r}; remove it in フィールド設定 "
            "first, then drop its kept data"
        )
    path = record_file(records_dir, database)
    conn = _connect(path) if path.exists() else None
    if conn is None:
        raise SchemaRefused(f"database {database.id!r} has no record file, so there is no kept data to drop")
    name = PREFIX + field_id
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if name not in _table_columns(conn):
                raise SchemaRefused(f"the record file holds no kept data of field {field_id!r} (dropped already?)")
            n = conn.execute(f"SELECT count(*) FROM {TABLE} WHERE {column(field_id)} <> ''").fetchone()[0]
            for (index,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", [TABLE]
            ).fetchall():
                cols = [r[2] for r in conn.execute(f'PRAGMA index_info("{index.replace(chr(34), chr(34) * 2)}")')]
                if name in cols:
                    conn.execute(f'DROP INDEX "{index.replace(chr(34), chr(34) * 2)}"')
            conn.execute(f"ALTER TABLE {TABLE} DROP COLUMN {column(field_id)}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return n
    finally:
        conn.close()
