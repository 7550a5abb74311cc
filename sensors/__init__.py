"""Sensors: turn raw input (bytes from readers, camera frames, taps) into Crossings.

May import ``timing.values``; never imports ``dashboard``.
"""
