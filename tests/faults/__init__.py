"""Fault injection: a misbehaving loopback HTTP server of its own (server.py) for the deadline tests."""
