"""Errors of a record source outside this tool (a PostgreSQL database), shared by the engines and their callers.

Kept apart from core/records/postgres.py so that catching them never imports the PostgreSQL driver.
"""

from __future__ import annotations


class RecordSourceError(RuntimeError):
    """The records cannot be read: the database is unreachable, the connection was lost, or the table,
    a column or a permission is missing. The message names the host and the driver's reason, never the
    connection string or its password, and says what to do."""


class ReadOnlyRecords(RecordSourceError):
    """A write (import, edit) was asked of a database this tool only reads (engine = "postgresql")."""
