"""Which store holds a database's records: the SQLite file in the data folder (the default) or, for
``engine = "postgresql"``, someone else's table read through core/records/postgres.py. Every place that
reads records opens them here, so the record list, ``run`` and ``db import`` behave alike on both.

The PostgreSQL driver is imported only when such a database is opened.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from haihai_tui.core.paths import Paths
from haihai_tui.core.records.errors import ReadOnlyRecords, RecordSourceError
from haihai_tui.core.secret import Secret
from haihai_tui.core.settings import headers as hdr
from haihai_tui.core.settings.model import Database, Settings
from haihai_tui.core.text import one_line

__all__ = ["ReadOnlyRecords", "RecordSourceError", "open_records", "resolve_dsn"]


def resolve_dsn(db: Database, settings: Settings, environ: Mapping[str, str] | None = None) -> Secret:
    """The DSN of a PostgreSQL database as a Secret; RecordSourceError saying what to fix when it is not there."""
    what = f"database {one_line(db.id)!r}"
    kind, ref = hdr.parse("dsn", db.dsn)
    if kind == "literal":
        raise RecordSourceError(
            f'{what}: dsn must be "${{secret:NAME}}" or "${{ENV_VAR}}", never the connection string itself '
            "(haihai-tui check says how)"
        )
    hv = hdr.resolve("dsn", db.dsn, settings, dict(environ if environ is not None else os.environ))
    if hv.missing or not isinstance(hv.value, Secret):
        raise RecordSourceError(f"{what}: the dsn cannot be read: {hv.missing or 'it is empty'}")
    return hv.value


def open_records(
    paths: Paths, db: Database, settings: Settings, environ: Mapping[str, str] | None = None, **kw: Any
) -> Any:
    """An open store for ``db`` (``RecordStore`` or ``PgRecordStore``; same query API). Raises
    RecordSourceError when a PostgreSQL database cannot be reached or lacks its table or columns."""
    if db.engine == "postgresql":
        from haihai_tui.core.records.postgres import PgRecordStore

        return PgRecordStore(db, resolve_dsn(db, settings, environ), **kw)
    from haihai_tui.core.records.store import RecordStore

    return RecordStore.open(paths.records_dir, db)
