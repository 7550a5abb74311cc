"""Trackside's pure domain: track geometry, pacing plans and the event core.

Nothing in this package opens a file, a socket or a port, starts a thread or
reads a clock (``store.py`` is the single, named exception: the event log).
Time comes in with the events, so every replay reproduces every screen.
"""
