"""haihai-tui db import: load records from a CSV file, all or nothing."""

from __future__ import annotations

import sys

from haihai_tui.cli.args import paths_of
from haihai_tui.core.settings.context import AppContext
from haihai_tui.core.text import one_line


def cmd_db_import(args) -> int:
    from haihai_tui.core.records.importer import RecordImportError
    from haihai_tui.core.records.store import DatabaseIdError, RecordFileError, RecordStore

    paths = paths_of(args)
    ctx = AppContext(paths)
    db = ctx.settings.database(args.database)
    if db is None:
        known = ", ".join(one_line(d.id) for d in ctx.settings.databases) or "(none: add [[databases]] to db.toml)"
        print(f"no database {args.database!r} in {paths.db}; databases: {known}", file=sys.stderr)
        return 2
    if not args.file.is_file():
        print(f"{args.file}: no such file", file=sys.stderr)
        return 2
    if db.engine == "postgresql":
        print(
            f"database {one_line(db.id)!r} is read from PostgreSQL (table {one_line(db.table)}); this tool never "
            "writes there: load the records in the system that owns that table\nnothing was imported",
            file=sys.stderr,
        )
        return 2
    try:
        rs = RecordStore.open(paths.records_dir, db)
    except DatabaseIdError as e:
        print(f"{paths.db}: {e}\nnothing was imported", file=sys.stderr)
        return 2
    except RecordFileError as e:
        print(f"{e}\nnothing was imported", file=sys.stderr)
        return 1
    except OSError as e:
        print(
            f"cannot open the record database in {paths.records_dir}: {e.strerror or e}\nnothing was imported",
            file=sys.stderr,
        )
        return 1
    try:
        res = rs.import_csv(args.file, replace=args.replace)
        total = rs.count()
    except RecordImportError as e:
        print(f"{args.file}: {e}\nnothing was imported", file=sys.stderr)
        return 1
    finally:
        rs.close()
    print(
        f"imported {res.rows:,} records into {one_line(db.name)} ({one_line(db.id)}) from {args.file} "
        f"({res.encoding}); the database now holds {total:,}"
    )
    return 0
