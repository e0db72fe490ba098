"""A real PostgreSQL server for the tests (tests/pg/server.py)."""
