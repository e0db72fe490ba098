"""The Textual-free core: settings, records, pre-flight checks, the HaiHai client, runs, history, mail.

Nothing under this package imports Textual: the `no-textual-below-tui` contract in .importlinter and
tests/test_settings.py::test_core_does_not_import_textual (a fresh interpreter) prove it.
See docs/architecture.md for the layers inside.
"""
