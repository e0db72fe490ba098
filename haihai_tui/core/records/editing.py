"""One record at a time: read it with every field, update, insert, delete; each write ONE SQLite transaction.

Two people editing the same record: the editor keeps the values it loaded, and ``update`` (and
``delete``) compare them with the row *inside* the write transaction (``BEGIN IMMEDIATE``, so no other
writer can slip in between the look and the write). When anything differs, nothing is written and
``EditConflict`` lists each changed field with the value now stored (theirs) and the value being
saved (yours); the caller reloads the record. Nothing is ever overwritten silently.

Values are checked by field type before any write (``value_problem``): e-mail (``core/addresses.py``),
number, date, select (one of the options). An empty value is allowed for every type. The characters a
value may hold for HaiHai (Windows-31J) are pre-flight's concern; the editor shows them live through
``core/checks/cell_notes.py`` and they never stop a save.

A database marked ``read_only = true`` in db.toml, or read from PostgreSQL, refuses every write here
(``RecordsReadOnly``), with the sentence of ``write_refusal``.
"""

from __future__ import annotations

import datetime
import re
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from haihai_tui.core.addresses import email_problem
from haihai_tui.core.records.store import TABLE, RecordStore, column
from haihai_tui.core.settings.model import Database, FieldDef
from haihai_tui.core.settings.permissions import User, records_refusal
from haihai_tui.core.text import one_line

__all__ = [
    "Change",
    "RecordBusy",
    "EditConflict",
    "Record",
    "RecordGone",
    "RecordValueError",
    "RecordsReadOnly",
    "delete_record",
    "get_record",
    "insert_record",
    "update_record",
    "value_problem",
    "values_problems",
    "write_refusal",
]

NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
DATE = re.compile(r"([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})")
_WIDE_DIGITS = str.maketrans("０１２３４５６７８９．－／", "0123456789.-/")


@dataclass(frozen=True)
class Record:
    """One record: its id (``rid``) and the value of every field of the database, by field id."""

    rowid: int
    values: dict[str, str]


@dataclass(frozen=True)
class Change:
    """A field someone else changed since the record was loaded."""

    field_id: str
    label: str
    loaded: str  # what the editor showed when it opened the record
    theirs: str  # what is stored now
    yours: str  # what was being saved


class RecordEditError(ValueError):
    """Base of the refusals below; the message is a sentence for the user."""


class RecordsReadOnly(RecordEditError):
    """The database is marked read-only."""


class RecordBusy(RecordEditError):
    """The record file stayed locked by another writer (an import) past SQLite's wait; nothing was written."""


class RecordGone(RecordEditError):
    """The record no longer exists (someone deleted it)."""


class RecordValueError(RecordEditError):
    """One or more values do not fit their field's type; ``problems`` maps field id -> why."""

    def __init__(self, message: str, problems: dict[str, str]):
        super().__init__(message)
        self.problems = problems


class EditConflict(RecordEditError):
    """Someone saved the record after it was loaded; ``changes`` says what, ``current`` is the stored record."""

    def __init__(self, message: str, changes: list[Change], current: Record):
        super().__init__(message)
        self.changes, self.current = changes, current


# --- checks by field type ------------------------------------------------------------------------


def value_problem(f: FieldDef, value: str) -> str | None:
    """Why ``value`` does not fit field ``f``'s type, with how to fix it; None when it fits (empty always fits)."""
    if value == "":
        return None
    if f.type == "email":
        why = email_problem(value)
        return f"not an e-mail address: {why}" if why else None
    if f.type == "number":
        if NUMBER.fullmatch(value):
            return None
        if NUMBER.fullmatch(value.translate(_WIDE_DIGITS)):
            return "full-width digits: type the number with ASCII digits 0-9 (e.g. 1200)"
        if NUMBER.fullmatch(value.replace(",", "")):
            return "no thousands separators: write 1200, not 1,200"
        return "not a number: write digits 0-9, optionally a leading - and one decimal point (e.g. -12.5)"
    if f.type == "date":
        m = DATE.fullmatch(value)
        if m is None:
            if DATE.fullmatch(value.translate(_WIDE_DIGITS)):
                return "full-width digits: type the date with ASCII digits, as 2024-01-31"
            return "not a date: write year-month-day, as 2024-01-31 (or 2024/01/31)"
        y, mo, d = int(m.group(1)), int(m.group(3)), int(m.group(4))
        try:
            datetime.date(y, mo, d)
        except ValueError as e:
            return f"not a date: {e} (write year-month-day, as 2024-01-31)"
        return None
    if f.type == "select":
        if value in f.options:
            return None
        listing = ", ".join(f"'{one_line(o)}'" for o in f.options) or "(none are set in db.toml)"
        return f"not one of the choices: {listing}"
    return None


def values_problems(database: Database, values: Mapping[str, str]) -> dict[str, str]:
    """{field id: why} for every value of ``values`` that does not fit its field (unknown field ids included)."""
    out: dict[str, str] = {}
    by_id = {f.id: f for f in database.fields}
    for fid, v in values.items():
        f = by_id.get(fid)
        if f is None:
            out[fid] = f"no field {fid!r} in the database {database.name!r}"
        elif not isinstance(v, str):
            out[fid] = "the value must be text"
        else:
            why = value_problem(f, v)
            if why:
                out[fid] = why
    return out


def write_refusal(database: Database, user: User | None = None) -> str | None:
    """None when ``user`` may edit, add and delete records of ``database`` here; else the sentence why not.

    The ``records`` rule (``permissions.records_refusal``: a database marked read-only), and a database
    read from PostgreSQL (someone else's table: this tool never writes it).
    """
    if database.engine == "postgresql":
        return (
            f"Read-only: the records of '{database.name}' are read from PostgreSQL (table {database.table}); "
            f"this tool never writes that table. Change them in the system that owns it."
        )
    return records_refusal(user, database.name, database.read_only)


def _check_writable(database: Database) -> None:
    why = write_refusal(database)
    if why:
        raise RecordsReadOnly(why)


def _check_values(database: Database, values: Mapping[str, str]) -> None:
    problems = values_problems(database, values)
    if problems:
        label = {f.id: f.label for f in database.fields}
        text = "; ".join(f"{one_line(label.get(k, k))}: {why}" for k, why in problems.items())
        raise RecordValueError(f"Not saved: {text}", problems)


# --- reading and writing -------------------------------------------------------------------------


def _select(store: RecordStore) -> tuple[list[str], str]:
    ids = [f.id for f in store.database.fields]
    return ids, f"SELECT {', '.join(map(column, ids)) or 'NULL'} FROM {TABLE} WHERE rid = ?"


def _read(conn, store: RecordStore, rowid: int) -> Record | None:
    ids, sql = _select(store)
    row = conn.execute(sql, [rowid]).fetchone()
    if row is None:
        return None
    return Record(rowid, {fid: ("" if v is None else str(v)) for fid, v in zip(ids, row, strict=False)})


@contextmanager
def _writing(store: RecordStore) -> Iterator[sqlite3.Connection]:
    """``store.transaction()``, with "database is locked" said as what it means."""
    try:
        with store.transaction() as conn:
            yield conn
    except sqlite3.OperationalError as e:
        if "locked" not in str(e) and "busy" not in str(e):
            raise
        raise RecordBusy(
            f"Not written: the record file of {one_line(store.database.name)} is busy (another program is "
            f"writing it, e.g. a CSV import); nothing was changed. Try again when it has finished."
        ) from None


def get_record(store: RecordStore, rowid: int) -> Record | None:
    """The record ``rowid`` with every field of the database; None if there is no such record."""
    with store.transaction(write=False) as conn:
        return _read(conn, store, rowid)


def _gone(store: RecordStore, rowid: int) -> RecordGone:
    return RecordGone(
        f"Record {rowid} of {one_line(store.database.name)} no longer exists: someone deleted it after you "
        f"opened it. Nothing was written."
    )


def _changes(store: RecordStore, loaded: Mapping[str, str], now: Record, yours: Mapping[str, str]) -> list[Change]:
    labels = {f.id: f.label for f in store.database.fields}
    return [
        Change(fid, labels.get(fid, fid), loaded[fid], now.values.get(fid, ""), yours.get(fid, loaded[fid]))
        for fid in loaded
        if now.values.get(fid, "") != loaded[fid]
    ]


def _conflict(store: RecordStore, changes: list[Change], now: Record, doing: str) -> EditConflict:
    lines = [
        f"  {one_line(c.label)}: theirs '{one_line(c.theirs)}', yours '{one_line(c.yours)}'"
        + ("" if c.yours != c.loaded else " (you did not change it)")
        for c in changes
    ]
    return EditConflict(
        f"Not {doing}: someone else saved record {now.rowid} after you opened it. What they changed:\n"
        + "\n".join(lines)
        + (
            "\nThe record was reloaded with their values; make your change again if it still applies."
            if doing == "saved"
            else "\nThe record was not deleted; look at it again and delete it if that still applies."
        ),
        changes,
        now,
    )


def update_record(store: RecordStore, rowid: int, loaded: Mapping[str, str], new: Mapping[str, str]) -> Record:
    """Save ``new`` (field id -> value; fields left out keep their value) over record ``rowid``.

    ``loaded`` is every value the editor showed when it opened the record. In one write transaction:
    the row is read; if any field differs from ``loaded``, EditConflict (nothing written); else the
    fields whose value differs from ``loaded`` are written. Returns the record as stored. Raises
    RecordsReadOnly, RecordValueError (before touching the file), RecordGone, EditConflict.
    """
    db = store.database
    _check_writable(db)
    _check_values(db, new)
    changed = {fid: v for fid, v in new.items() if v != loaded.get(fid)}
    with _writing(store) as conn:
        now = _read(conn, store, rowid)
        if now is None:
            raise _gone(store, rowid)
        changes = _changes(store, {k: v for k, v in loaded.items() if k in now.values}, now, new)
        if changes:
            raise _conflict(store, changes, now, "saved")
        if changed:
            sets = ", ".join(f"{column(fid)} = ?" for fid in changed)
            conn.execute(f"UPDATE {TABLE} SET {sets} WHERE rid = ?", [*changed.values(), rowid])
        return Record(rowid, {**now.values, **changed})


def insert_record(store: RecordStore, values: Mapping[str, str]) -> Record:
    """Add a record (fields left out are empty) in one transaction; returns it with its new id."""
    db = store.database
    _check_writable(db)
    _check_values(db, values)
    full = {f.id: values.get(f.id, "") for f in db.fields}
    with _writing(store) as conn:
        if full:
            cur = conn.execute(
                f"INSERT INTO {TABLE} ({', '.join(map(column, full))}) VALUES ({', '.join('?' * len(full))})",
                list(full.values()),
            )
        else:
            cur = conn.execute(f"INSERT INTO {TABLE} DEFAULT VALUES")
        return Record(int(cur.lastrowid or 0), full)


def delete_record(store: RecordStore, rowid: int, loaded: Mapping[str, str]) -> None:
    """Delete record ``rowid`` in one transaction, only if it still holds ``loaded`` (else EditConflict)."""
    _check_writable(store.database)
    with _writing(store) as conn:
        now = _read(conn, store, rowid)
        if now is None:
            raise _gone(store, rowid)
        changes = _changes(store, {k: v for k, v in loaded.items() if k in now.values}, now, {})
        if changes:
            raise _conflict(store, changes, now, "deleted")
        conn.execute(f"DELETE FROM {TABLE} WHERE rid = ?", [rowid])
