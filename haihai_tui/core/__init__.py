"""The Textual-free core: settings, records, CSV, HTTP, history, mail.

Nothing under this package may import Textual (tests/test_core_isolation.py proves it).
"""
